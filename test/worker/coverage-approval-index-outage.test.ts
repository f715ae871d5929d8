/**
 * The approval index unreachable when an approval is created (issue 21): the
 * grant's object keeps the approval, its alarm sends it again until the index
 * has it, and from then on the operator's list, page and API find it (and the
 * webhook goes out), as if the index had never been away.
 *
 * The outage: the gateway's GRANT_OBJECT binding is overridden (as other tests
 * simulate a binding outage) so that `authorize` runs in the grant's real
 * Durable Object (its storage, its alarm) by a GrantObject whose own
 * APPROVAL_INDEX binding cannot be reached. The alarm is then run by the
 * runtime with the real bindings (runDurableObjectAlarm), the index back.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/audit/record.ts";
import { Approvals } from "../../src/grant-object/approvals.ts";
import { GrantObject, type AuthorizeRequest } from "../../src/grant-object/grant-object.ts";
import { createGrant, decisionOf, gateway, newTag, putPolicy, rawAgent, signInCookie, upstreamLog, type Gateway } from "./gateway.ts";

const APPROVE_SENDS = { version: "1", default: "deny", tools: { send_campaign: { action: "approve" } } };
const INDEX_RETRY_MS = 30_000;

/** The index's binding as the grant's object sees it during the outage: every call fails as an unreachable object's does. */
const INDEX_DOWN = { getByName: () => ({ upsert: () => Promise.reject(new Error("Network connection lost.")) }) };

/** The grant objects, except that each one's approval index cannot be reached while it authorizes a call. */
function grantObjectsWithIndexDown(): typeof env.GRANT_OBJECT {
  return {
    ...env.GRANT_OBJECT,
    getByName: (name: string) => {
      const stub = env.GRANT_OBJECT.getByName(name);
      return {
        authorize: (request: AuthorizeRequest) => runInDurableObject(stub, (_instance, state) => new GrantObject(state, { ...env, APPROVAL_INDEX: INDEX_DOWN } as never).authorize(request)),
        rollback: (reservation: string) => stub.rollback(reservation),
        recordAudit: (records: AuditRecord[]) => stub.recordAudit(records),
        awaitDecision: (id: string, timeoutMs: number, holdId?: string) => stub.awaitDecision(id, timeoutMs, holdId),
        releaseHold: (id: string, holdId: string) => stub.releaseHold(id, holdId),
      };
    },
  } as never;
}

async function admin(gw: Gateway, path: string, init: RequestInit = {}) {
  const response = await gw.fetch(`https://gateway.test/admin/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function page(gw: Gateway, path: string, cookie: string) {
  const response = await gw.fetch(`https://gateway.test${path}`, { headers: { cookie } });
  return { status: response.status, html: await response.text() };
}

const webhooks = async (path: string): Promise<Array<{ headers: Record<string, string> }>> => (await fetch(new URL(`__received${path}`, env.WEBHOOK_SINK_URL))).json();

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What the grant's object holds: the alarm's time and the approvals the index has not confirmed. */
const objectState = (grantId: string) =>
  runInDurableObject(env.GRANT_OBJECT.getByName(grantId), async (_instance, state) => ({
    alarm: await state.storage.getAlarm(),
    unindexed: new Approvals(state.storage.sql).unindexed(Date.now()).map((entry) => entry.record.id),
  }));

/** An agent whose first send_campaign opens an approval while the index is down. */
async function approvalDuringOutage() {
  const sinkPath = `/ok/${newTag()}`;
  const { token, record: grant } = await createGrant(await putPolicy(APPROVE_SENDS), { label: sinkPath });
  const agent = await rawAgent(gateway({ GRANT_OBJECT: grantObjectsWithIndexDown() }), token);
  await agent.rpc("tools/list", {});
  const before = Date.now();
  const answer = await agent.call("send_campaign", { campaignId: 42 });
  expect(decisionOf(answer)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
  return { token, grant, sinkPath, before, id: decisionOf(answer).approval.id as string };
}

describe("the approval index unreachable when an approval is created", () => {
  it("the grant's alarm sends it again; afterwards the list, the page and the API find it, the webhook goes out, and an approval lets the call through", async () => {
    const { token, grant, sinkPath, before, id } = await approvalDuringOutage();
    const gw = gateway();
    const cookie = await signInCookie(gw);

    // The index never heard of it: no operator surface can find it yet.
    expect((await admin(gw, `/approvals/${id}`)).status).toBe(404);
    expect((await admin(gw, "/approvals?status=pending&limit=200")).body.approvals.map((approval: { id: string }) => approval.id)).not.toContain(id);
    expect((await page(gw, `/admin/approvals/${id}`, cookie)).status).toBe(404);
    expect((await page(gw, "/admin/approvals", cookie)).html).not.toContain(id);
    // The grant's object kept it, unconfirmed, and set its alarm to try again within INDEX_RETRY_MS.
    const kept = await objectState(grant.id);
    expect(kept.unindexed).toEqual([id]);
    expect(kept.alarm).not.toBeNull();
    expect(kept.alarm!).toBeGreaterThanOrEqual(before);
    expect(kept.alarm!).toBeLessThanOrEqual(Date.now() + INDEX_RETRY_MS);

    // The index is back; the alarm runs.
    expect(await runDurableObjectAlarm(env.GRANT_OBJECT.getByName(grant.id))).toBe(true);
    const after = await objectState(grant.id);
    expect(after.unindexed).toEqual([]);
    // Nothing left to send: the alarm comes back only to prune, not in 30 s.
    expect(after.alarm!).toBeGreaterThan(Date.now() + 10 * 60_000);

    expect(await admin(gw, `/approvals/${id}`)).toMatchObject({ status: 200, body: { id, status: "pending", tool: "send_campaign", arguments: { campaignId: 42 }, grant: { id: grant.id } } });
    expect((await admin(gw, "/approvals?status=pending&limit=200")).body.approvals.map((approval: { id: string }) => approval.id)).toContain(id);
    const approvalPage = await page(gw, `/admin/approvals/${id}`, cookie);
    expect(approvalPage.status).toBe(200);
    expect(approvalPage.html).toContain("send_campaign");
    expect((await page(gw, "/admin/approvals", cookie)).html).toContain(id);
    const delivered = await eventually(() => webhooks(sinkPath), (list) => list.length > 0);
    expect(delivered.map((delivery) => delivery.headers["x-approval-id"])).toEqual([id]);

    // Decided through the API it now finds, the approval lets the agent's retry through, once.
    expect(await admin(gw, `/approvals/${id}/approve`, { method: "POST", body: JSON.stringify({ by: "alice" }) })).toMatchObject({ status: 200, body: { status: "approved" } });
    const agent = await rawAgent(gw, token);
    const retry = await agent.call("send_campaign", { campaignId: 42 });
    expect(retry.result?.isError).toBeFalsy();
    expect((await upstreamLog(agent.tag)).filter((entry) => entry.body.includes('"send_campaign"'))).toHaveLength(1);
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("consumed");
  });

  it("still unreachable when the alarm first runs: the alarm sets itself again within INDEX_RETRY_MS, and a later run delivers", async () => {
    const { grant, id } = await approvalDuringOutage();
    const gw = gateway();
    // The alarm, run while the index is still down (by the object's own alarm handler, with the failing binding).
    await runInDurableObject(env.GRANT_OBJECT.getByName(grant.id), (_instance, state) => new GrantObject(state, { ...env, APPROVAL_INDEX: INDEX_DOWN } as never).alarm());
    const retried = await objectState(grant.id);
    expect(retried.unindexed).toEqual([id]);
    expect(retried.alarm!).toBeLessThanOrEqual(Date.now() + INDEX_RETRY_MS);
    expect((await admin(gw, `/approvals/${id}`)).status).toBe(404);

    expect(await runDurableObjectAlarm(env.GRANT_OBJECT.getByName(grant.id))).toBe(true);
    expect((await objectState(grant.id)).unindexed).toEqual([]);
    expect(await admin(gw, `/approvals/${id}`)).toMatchObject({ status: 200, body: { id, status: "pending" } });
  });
});
