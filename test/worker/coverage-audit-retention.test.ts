/**
 * Audit retention through the grant object's alarm and AUDIT_RETENTION_DAYS
 * (issue 21), not only by calling `prune`: the writes set the alarm, the alarm
 * deletes what is past retention, comes back while anything remains, and
 * stops once the grant's storage is empty.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/audit/record.ts";
import { AuditLog } from "../../src/grant-object/audit.ts";
import { GrantObject } from "../../src/grant-object/grant-object.ts";
import { createGrant, gateway, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

const DAY = 86_400_000;
const PRUNE_INTERVAL_MS = 15 * 60_000;

/** An operator's record dated `daysAgo` days back, as the grant's trail stores it. */
const oldRecord = (grantId: string, daysAgo: number): AuditRecord => {
  const at = Date.now() - daysAgo * DAY;
  return { kind: "admin", id: `aud_old_${daysAgo}_${crypto.randomUUID()}`, time: new Date(at).toISOString(), grant: { id: grantId, label: "retention" }, action: "counter.reset", by: `${daysAgo}-days-ago`, target: grantId, detail: {} } as AuditRecord;
};

const stub = (grantId: string) => env.GRANT_OBJECT.getByName(grantId);
const appendOld = (grantId: string, days: number[]) =>
  runInDurableObject(stub(grantId), (_instance, state) => new AuditLog(state.storage.sql).append(days.map((daysAgo) => oldRecord(grantId, daysAgo))));
/** The ages in days (rounded) of the records the grant's object holds, oldest first, and its alarm. */
const stored = (grantId: string) =>
  runInDurableObject(stub(grantId), async (_instance, state) => ({
    ages: state.storage.sql.exec<{ at: number }>("SELECT at FROM audit ORDER BY at").toArray().map((row) => Math.round((Date.now() - row.at) / DAY)),
    alarm: await state.storage.getAlarm(),
  }));

async function trail(gw: Gateway, grantId: string): Promise<AuditRecord[]> {
  const response = await gw.fetch(`https://gateway.test/admin/api/grants/${grantId}/audit?limit=100`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
  return ((await response.json()) as { records: AuditRecord[] }).records;
}

/** A grant whose agent made `calls` calls, their records stored (written off the agent's path). */
async function grantWithCalls(calls: number) {
  const { token, record: grant } = await createGrant(await putPolicy({ version: "1", default: "allow" }), { label: "retention" });
  const gw = gateway();
  const agent = await rawAgent(gw, token);
  for (let i = 0; i < calls; i++) await agent.call("get_campaigns", {});
  const deadline = Date.now() + 10_000;
  while ((await stored(grant.id)).ages.length < calls && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return { gw, grant };
}

describe("audit retention runs on the grant object's alarm", () => {
  it("the writes set the alarm; it deletes records past 7 days (the default), keeps the rest, comes back while any remain, and stops when none do", async () => {
    const { gw, grant } = await grantWithCalls(2);
    const written = await stored(grant.id);
    expect(written.ages).toEqual([0, 0]);
    // Writing the trail asked for the alarm, within the prune interval.
    expect(written.alarm).not.toBeNull();
    expect(written.alarm!).toBeLessThanOrEqual(Date.now() + PRUNE_INTERVAL_MS);

    await appendOld(grant.id, [30, 8, 6]);
    expect((await trail(gw, grant.id)).length).toBe(5);
    expect(await runDurableObjectAlarm(stub(grant.id))).toBe(true);

    const pruned = await stored(grant.id);
    expect(pruned.ages).toEqual([6, 0, 0]);
    const kept = await trail(gw, grant.id);
    expect(kept.map((record) => (record.kind === "admin" ? record.by : record.kind))).toEqual(["call", "call", "6-days-ago"]);
    // Records remain: the alarm is set again, a prune interval on.
    expect(pruned.alarm).not.toBeNull();
    expect(pruned.alarm!).toBeGreaterThan(Date.now() + PRUNE_INTERVAL_MS - 60_000);

    // Everything ages past retention: the next run empties the trail and sets no further alarm.
    await runInDurableObject(stub(grant.id), (_instance, state) => void state.storage.sql.exec("UPDATE audit SET at = at - ?", 8 * DAY));
    expect(await runDurableObjectAlarm(stub(grant.id))).toBe(true);
    expect(await stored(grant.id)).toEqual({ ages: [], alarm: null });
    expect(await trail(gw, grant.id)).toEqual([]);
  });

  it("AUDIT_RETENTION_DAYS sets the period the alarm keeps, shorter or longer than the default", async () => {
    const { grant } = await grantWithCalls(1);
    await appendOld(grant.id, [40, 20, 3, 1]);
    const alarmWith = (days: string) =>
      runInDurableObject(stub(grant.id), (_instance, state) => new GrantObject(state, { ...env, AUDIT_RETENTION_DAYS: days } as never).alarm());

    await alarmWith("30");
    expect((await stored(grant.id)).ages).toEqual([20, 3, 1, 0]);
    await alarmWith("2");
    expect((await stored(grant.id)).ages).toEqual([1, 0]);
    // With the deployment's own setting (the default, 7), the runtime's alarm keeps both.
    expect(await runDurableObjectAlarm(stub(grant.id))).toBe(true);
    expect((await stored(grant.id)).ages).toEqual([1, 0]);
  });
});
