/**
 * What one agent can make the approvals hold, and what an operator's list
 * costs then: pending approvals per grant are capped, a call too large to
 * review is refused, lists are paged by count and bytes whatever the
 * arguments weigh, and an approval binds everything that is forwarded.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { APPROVAL_INDEX_NAME } from "../../src/approval-index/approval-index.ts";
import { approvalInputRequired, ownRetry } from "../../src/approvals/call.ts";
import type { ApprovalRecord, ApprovalSummary } from "../../src/approvals/record.ts";
import { createGrant, decisionOf, gateway, newTag, putPolicy, rawAgent, upstreamLog, signInCookie, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const APPROVE_EMAILS = { version: "1", default: "deny", tools: { send_email: { action: "approve" }, send_campaign: { action: "approve" } } };

async function admin(gw: Gateway, path: string, init: RequestInit = {}) {
  const response = await gw.fetch(`${ORIGIN}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  return { status: response.status, bytes: Number(response.headers.get("content-length") ?? 0), body: (await response.json()) as any };
}

/** Every row of a list, walking its cursor, and the size of each page's JSON. */
async function walk(gw: Gateway, query: string): Promise<{ rows: ApprovalSummary[]; pageBytes: number[] }> {
  const rows: ApprovalSummary[] = [];
  const pageBytes: number[] = [];
  let cursor: string | null = null;
  do {
    const answer = await admin(gw, `/approvals?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(answer.status).toBe(200);
    pageBytes.push(JSON.stringify(answer.body).length);
    rows.push(...answer.body.approvals);
    cursor = answer.body.cursor;
  } while (cursor !== null && rows.length < 10_000);
  return { rows, pageBytes };
}

const emailWith = (i: number, bytes: number) => ({ campaignId: 7, recipientEmail: `r${i}@example.com`, dataFields: { blob: "x".repeat(bytes) } });

describe("one agent takes the approvals list down for everyone (issue 16, defect 2)", () => {
  it("a call needing approval with arguments over MAX_APPROVAL_ARGUMENT_BYTES is refused as too large to review, naming the limit, and nothing is kept", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(APPROVE_EMAILS), { label: `big-${newTag()}` });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    const answer = await agent.call("send_email", emailWith(0, 900_000));
    expect(decisionOf(answer)).toMatchObject({ decision: "approval_limit" });
    expect(answer.result?.content?.[0]?.text).toContain("too large to review: at most 65536 bytes (64 KiB) can be approved");
    const listed = await walk(gw, "status=pending&limit=200");
    expect(listed.rows.filter((row) => row.grant.id === grant.id)).toEqual([]);
  });

  it("a grant has at most MAX_PENDING_APPROVALS pending: the next distinct call is refused (approval_limit), an identical one still sees its own, and a decision frees a place", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(APPROVE_EMAILS), { label: `cap-${newTag()}` });
    const gw = gateway({ MAX_PENDING_APPROVALS: "5" });
    const agent = await rawAgent(gw, token);
    for (let i = 0; i < 5; i++) expect(decisionOf(await agent.call("send_campaign", { campaignId: 100 + i }))).toMatchObject({ decision: "approval_required" });
    const sixth = await agent.call("send_campaign", { campaignId: 105 });
    expect(decisionOf(sixth)).toMatchObject({ decision: "approval_limit" });
    expect(sixth.result?.content?.[0]?.text).toContain("this grant already has 5 approvals waiting for a decision, the most it may have (5)");
    // A call that has its pending approval is told where it stands, cap or not.
    const again = await agent.call("send_campaign", { campaignId: 101 });
    expect(decisionOf(again)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
    // The refusal is audited as approval_limit.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const trail = await admin(gw, `/grants/${grant.id}/audit?decision=approval_limit`);
    expect(trail.body.records).toHaveLength(1);
    // An operator's denial frees a place.
    const first = (decisionOf(again) as { approval: { id: string } }).approval.id;
    expect((await admin(gw, `/approvals/${first}/deny`, { method: "POST", body: "{}" })).status).toBe(200);
    expect(decisionOf(await agent.call("send_campaign", { campaignId: 105 }))).toMatchObject({ decision: "approval_required" });
  });

  it("50 pending approvals with 60 KB arguments, and an old one with 1 MB: every list answers 200, pages stay small, the cursor reaches each one, and the console page opens", async () => {
    const label = `flood-${newTag()}`;
    const { token, record: grant } = await createGrant(await putPolicy(APPROVE_EMAILS), { label });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    for (let i = 0; i < 50; i++) expect(decisionOf(await agent.call("send_email", emailWith(i, 60_000)))).toMatchObject({ decision: "approval_required" });
    expect(decisionOf(await agent.call("send_email", emailWith(50, 10)))).toMatchObject({ decision: "approval_limit" });
    // An approval stored before arguments were bounded, straight into the index as an older version wrote it.
    const old = { ...oldApproval(grant.id, label), arguments: { blob: "y".repeat(1_000_000) } };
    await env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME).upsert([{ record: old, revision: 1 }]);

    const started = Date.now();
    const listed = await walk(gw, "status=pending&limit=200");
    expect(Date.now() - started).toBeLessThan(5_000);
    const mine = listed.rows.filter((row) => row.grant.id === grant.id);
    expect(mine).toHaveLength(51);
    for (const page of listed.pageBytes) expect(page).toBeLessThan(300 * 1024);
    const oldRow = mine.find((row) => row.id === old.id)!;
    expect(oldRow.argumentsBytes).toBe(1_000_011); // {"blob":"y…"}
    expect(oldRow.argumentsPreview.length).toBeLessThanOrEqual(160);
    expect(oldRow).not.toHaveProperty("arguments");
    // The whole record is one request away.
    expect((await admin(gw, `/approvals/${mine[0]!.id}`)).body.arguments.dataFields.blob).toHaveLength(60_000);
    // The console's list and the CLI's (the same API) open.
    const cookie = await signInCookie(gw);
    const page = await gw.fetch(`${ORIGIN}/admin/approvals`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect((await page.text()).length).toBeLessThan(200_000);
    // Denying them all leaves the lists as they were: nothing grows.
    for (const row of mine.filter((row) => row.id !== old.id)) expect((await admin(gw, `/approvals/${row.id}/deny`, { method: "POST", body: "{}" })).status).toBe(200);
    expect((await walk(gw, "limit=200")).pageBytes.every((bytes) => bytes < 300 * 1024)).toBe(true);
  });
});

describe("the approvals list hides real approvals behind a flood (issue 16, defect 15)", () => {
  it("another grant's pending approval is reachable however many pending approvals a flood made, and the flood caused at most MAX_PENDING_APPROVALS webhooks", async () => {
    const quiet = await createGrant(await putPolicy(APPROVE_EMAILS), { label: `/ok/${newTag()}` });
    const gw = gateway();
    const victim = await rawAgent(gw, quiet.token);
    const real = (decisionOf(await victim.call("send_campaign", { campaignId: 1 })) as { approval: { id: string } }).approval.id;
    // Three flooding grants, each at its cap, all newer than the real one.
    const floods = await Promise.all([0, 1, 2].map(async () => createGrant(await putPolicy(APPROVE_EMAILS), { label: `/ok/${newTag()}` })));
    for (const flood of floods) {
      const agent = await rawAgent(gw, flood.token);
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => agent.call("send_campaign", { campaignId: 1000 + i })));
      const decisions = answers.map((answer) => (decisionOf(answer) as { decision: string }).decision);
      expect(decisions.filter((d) => d === "approval_required")).toHaveLength(50);
      expect(decisions.filter((d) => d === "approval_limit")).toHaveLength(10);
    }
    const listed = await walk(gw, "status=pending&limit=50");
    expect(listed.rows.map((row) => row.id)).toContain(real);
    // Webhooks went out for the approvals that were opened, and no more.
    const webhooks = async (label: string) => (await (await fetch(new URL(`__received${label}`, env.WEBHOOK_SINK_URL))).json<unknown[]>()).length;
    const deadline = Date.now() + 10_000;
    while ((await webhooks(floods[0]!.record.label)) < 50 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await webhooks(floods[0]!.record.label)).toBe(50);
  });
});

describe("an approval binds less than what is forwarded (issue 16, defect 14)", () => {
  it("params other than name and arguments are bound and shown; the protocol's own _meta keys are not; approving lets exactly that call through once", async () => {
    const { token } = await createGrant(await putPolicy(APPROVE_EMAILS), { label: `bind-${newTag()}` });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    const call = (extra: object) => agent.rpc("tools/call", { name: "send_campaign", arguments: { campaignId: 9 }, ...extra });
    const first = await call({ _meta: { progressToken: "p1", "com.example/route": "eu" } });
    const { id } = (decisionOf(first) as { approval: { id: string } }).approval;
    const record = (await admin(gw, `/approvals/${id}`)).body as ApprovalRecord;
    expect(record.params).toEqual({ _meta: { "com.example/route": "eu" } });
    const cookie = await signInCookie(gw);
    const page = await (await gw.fetch(`${ORIGIN}/admin/approvals/${id}`, { headers: { cookie } })).text();
    expect(page).toContain("Also sent with the call");
    expect(page).toContain("com.example/route");
    expect((await admin(gw, `/approvals/${id}/approve`, { method: "POST", body: "{}" })).status).toBe(200);
    // Another value of the bound key is another call: its own approval, nothing sent.
    const other = await call({ _meta: { progressToken: "p2", "com.example/route": "us" } });
    expect(decisionOf(other)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
    expect((decisionOf(other) as { approval: { id: string } }).approval.id).not.toBe(id);
    // Without the key it is another call too.
    expect(decisionOf(await call({}))).toMatchObject({ decision: "approval_required" });
    // The approved one (a new progress token does not matter) goes through, with what was approved.
    const approved = await call({ _meta: { progressToken: "p3", "com.example/route": "eu" } });
    expect(approved.result?.isError).toBeFalsy();
    const forwarded = (await upstreamLog(agent.tag)).filter((entry) => entry.body.includes('"tools/call"'));
    expect(forwarded).toHaveLength(1);
    expect(JSON.parse(forwarded[0]!.body).params._meta).toEqual({ progressToken: "p3", "com.example/route": "eu" });
  });

  it("agent headers reach the upstream only from the allow-list: the protocol's, trace context and FORWARD_HEADERS", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "allow" }));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {}, { "x-iterable-dry-run": "false", "x-forwarded-for": "10.0.0.1", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", cookie: "a=b" });
    const [entry] = (await upstreamLog(agent.tag)).filter((e) => e.body.includes('"tools/call"'));
    expect(entry!.headers.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(entry!.headers["x-sandbox-tag"]).toBe(agent.tag); // FORWARD_HEADERS in vitest.config.ts
    for (const name of ["x-iterable-dry-run", "x-forwarded-for", "cookie", "authorization"]) expect(entry!.headers, name).not.toHaveProperty(name);
  });

  it("a requestState binds the tool as well as the grant and the call's hash", async () => {
    const approval = { ...oldApproval("g_bind", "x"), tool: "send_campaign", argumentsHash: "a".repeat(64) };
    const secret = env.SESSION_SECRET;
    const issued = (await approvalInputRequired(1, approval, secret)).result as unknown as { requestState: string };
    const params = { requestState: issued.requestState, inputResponses: { "mcp-policy-gateway/approval": { action: "accept" } } };
    expect(await ownRetry(params, secret, { grantId: "g_bind", tool: "send_campaign", argumentsHash: "a".repeat(64) })).toEqual({ approvalId: approval.id, accepted: true });
    expect(await ownRetry(params, secret, { grantId: "g_bind", tool: "delete_user_by_email", argumentsHash: "a".repeat(64) })).toBe("forged");
    expect(await ownRetry(params, secret, { grantId: "g_other", tool: "send_campaign", argumentsHash: "a".repeat(64) })).toBe("forged");
  });
});

function oldApproval(grantId: string, label: string): ApprovalRecord {
  const now = Date.now();
  return {
    id: `apr_${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`,
    grant: { id: grantId, label },
    tool: "send_email",
    arguments: {},
    params: null,
    argumentsHash: "0".repeat(64),
    policy: { name: "p", version: "v1" },
    session: null,
    status: "pending",
    requestedAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    decidedAt: null,
    decidedBy: null,
    note: null,
    url: "https://gateway.test/admin/approvals/x",
  };
}
