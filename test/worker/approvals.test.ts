/**
 * Approvals through the gateway Worker with its real Durable Objects and the
 * sandbox upstream: a call that needs approval waits for a human, bound to
 * exactly that call (grant, tool, canonical arguments, policy version), and
 * is used once, atomically with the call's limits.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { APPROVAL_RETENTION_MS } from "../../src/approval-index/approval-index.ts";
import type { ApprovalRecord, ApprovalSummary } from "../../src/approvals/record.ts";
import { Approvals } from "../../src/grant-object/approvals.ts";
import { closeClients, connectV1, connectV2, viaGateway } from "./clients.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

afterEach(closeClients);

const FAULTY_UPSTREAM = new URL("mcp", env.FAULT_URL).href;
const APPROVE_SENDS = { version: "1", default: "deny", tools: { send_campaign: { action: "approve" }, trigger_campaign: { action: "approve" } } };

/** The admin API, as an operator's script calls it. */
async function admin(gw: Gateway, path: string, init: RequestInit = {}, token = env.ADMIN_TOKEN) {
  const response = await gw.fetch(`https://gateway.test/admin/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  return { status: response.status, body: (await response.json()) as any };
}
const approve = (gw: Gateway, id: string, body: object = {}) => admin(gw, `/approvals/${id}/approve`, { method: "POST", body: JSON.stringify(body) });
const deny = (gw: Gateway, id: string, body: object = {}) => admin(gw, `/approvals/${id}/deny`, { method: "POST", body: JSON.stringify(body) });

async function agentOn(policy: object, vars: Record<string, string> = {}) {
  const { token, record } = await createGrant(await putPolicy(policy as never), { label: "approvals-agent" });
  const gw = gateway(vars);
  const agent = await rawAgent(gw, token);
  await agent.rpc("tools/list", {});
  return { gw, agent, token, grant: record };
}

const sends = async (agent: { tag: string }, tool = "send_campaign") =>
  (await (await fetch(new URL(`__log?tag=${agent.tag}`, env.SANDBOX_URL))).json<Array<{ body: string }>>()).filter(
    (entry) => entry.body.includes('"tools/call"') && entry.body.includes(`"${tool}"`),
  ).length;

const approvalOf = (answer: Parameters<typeof decisionOf>[0]) => decisionOf(answer)?.approval as { id: string; status: string; expiresAt: string; url: string } | undefined;

describe("an approval is bound to exactly one call and used once", () => {
  it("pending → approved → consumed by one retry → the next identical call is pending again", async () => {
    const { gw, agent, grant } = await agentOn(APPROVE_SENDS);
    const first = await agent.call("send_campaign", { campaignId: 42 });
    expect(first.result?.isError).toBe(true);
    expect(decisionOf(first)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
    const { id, url, expiresAt } = approvalOf(first)!;
    expect(id).toMatch(/^apr_[A-Za-z0-9_-]{22}$/);
    expect(url).toBe(`https://gateway.test/admin/approvals/${id}`);
    expect(first.result?.content?.[0]?.text).toContain(`approval ${id} is pending for exactly this call (these arguments) until ${expiresAt}`);
    expect(first.result?.content?.[0]?.text).toContain("Call send_campaign again with the same arguments once it is approved");
    expect(await sends(agent)).toBe(0);

    const listed = await admin(gw, "/approvals?status=pending");
    expect(listed.body.approvals.map((approval: ApprovalRecord) => approval.id)).toContain(id);
    const record = (await admin(gw, `/approvals/${id}`)).body as ApprovalRecord;
    expect(record).toMatchObject({ id, grant: { id: grant.id, label: "approvals-agent" }, tool: "send_campaign", arguments: { campaignId: 42 }, status: "pending", session: agent.sessionId });
    expect(record.argumentsHash).toMatch(/^[0-9a-f]{64}$/);

    const approved = await approve(gw, id, { note: "campaign 42 is the holiday sale", by: "alice" });
    expect(approved).toMatchObject({ status: 200, body: { status: "approved", decidedBy: "alice", note: "campaign 42 is the holiday sale" } });
    expect((await approve(gw, id)).status).toBe(409);

    const retry = await agent.call("send_campaign", { campaignId: 42 });
    expect(retry.result?.isError).toBeFalsy();
    expect(await sends(agent)).toBe(1);
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("consumed");

    const again = await agent.call("send_campaign", { campaignId: 42 });
    expect(decisionOf(again)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
    expect(approvalOf(again)!.id).not.toBe(id);
    expect(await sends(agent)).toBe(1);
  });

  it("identical calls while one is pending share it; a denied one answers with the operator's note", async () => {
    const { gw, agent } = await agentOn(APPROVE_SENDS);
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) ids.add(approvalOf(await agent.call("send_campaign", { campaignId: 7 }))!.id);
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(await deny(gw, id!, { note: "campaign 7 is the staff newsletter, not for customers" })).toMatchObject({ status: 200, body: { status: "denied" } });
    const refused = await agent.call("send_campaign", { campaignId: 7 });
    expect(decisionOf(refused)).toMatchObject({ decision: "deny", approval: { id, status: "denied" } });
    expect(refused.result?.content?.[0]?.text).toContain(`send_campaign was denied by an operator`);
    expect(refused.result?.content?.[0]?.text).toContain(`an operator denied approval ${id}: campaign 7 is the staff newsletter, not for customers. This call is refused until`);
    expect(await sends(agent)).toBe(0);
  });

  it("key order does not matter; a changed value, another grant or a new policy version never match", async () => {
    const name = await putPolicy(APPROVE_SENDS as never);
    const [a, b] = await Promise.all([createGrant(name), createGrant(name)]);
    const gw = gateway({ CACHE_TTL_MS: "100" });
    const agent = await rawAgent(gw, a.token);
    const other = await rawAgent(gw, b.token);
    const args = { campaignId: 5, listIds: [1, 2], dataFields: { season: "winter", discount: 10 } };
    const reordered = { dataFields: { discount: 10, season: "winter" }, listIds: [1, 2], campaignId: 5 };
    const { id } = approvalOf(await agent.call("trigger_campaign", args))!;
    expect((await approve(gw, id)).status).toBe(200);

    // Another grant's identical call: its own, new approval.
    expect(approvalOf(await other.call("trigger_campaign", args))!.id).not.toBe(id);
    // A changed value anywhere: a new approval.
    expect(approvalOf(await agent.call("trigger_campaign", { ...args, listIds: [1, 2, 3] }))!.id).not.toBe(id);
    expect(approvalOf(await agent.call("trigger_campaign", { ...args, dataFields: { season: "winter", discount: 11 } }))!.id).not.toBe(id);
    // A new policy version: the approval does not carry over.
    await env.POLICIES.put(name, JSON.stringify({ ...APPROVE_SENDS, approval: { ttl: "2h" } }));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(approvalOf(await agent.call("trigger_campaign", reordered))!.id).not.toBe(id);
    // Back to the approved version: the same arguments in another key order use it.
    await env.POLICIES.put(name, JSON.stringify(APPROVE_SENDS));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await agent.call("trigger_campaign", reordered)).result?.isError).toBeFalsy();
    expect(await sends(agent, "trigger_campaign")).toBe(1);
  });

  it("10 concurrent identical retries of one approval: exactly one is forwarded", async () => {
    const { gw, agent } = await agentOn(APPROVE_SENDS);
    const { id } = approvalOf(await agent.call("send_campaign", { campaignId: 9 }))!;
    await approve(gw, id);
    const answers = await Promise.all(Array.from({ length: 10 }, () => agent.call("send_campaign", { campaignId: 9 })));
    expect(answers.filter((answer) => answer.result && !answer.result.isError)).toHaveLength(1);
    expect(answers.filter((answer) => decisionOf(answer)?.decision === "approval_required")).toHaveLength(9);
    expect(await sends(agent)).toBe(1);
  });

  it("expires: a pending approval past its ttl says so once, then the next call asks anew", async () => {
    const { gw, agent } = await agentOn({ ...APPROVE_SENDS, approval: { ttl: "1s" } });
    const { id } = approvalOf(await agent.call("send_campaign", { campaignId: 3 }))!;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("expired");
    expect((await approve(gw, id)).status).toBe(409);
    const expired = await agent.call("send_campaign", { campaignId: 3 });
    expect(decisionOf(expired)).toMatchObject({ decision: "approval_required", approval: { id, status: "expired" } });
    expect(expired.result?.content?.[0]?.text).toContain(`approval ${id} expired`);
    const renewed = await agent.call("send_campaign", { campaignId: 3 });
    expect(approvalOf(renewed)).toMatchObject({ status: "pending" });
    expect(approvalOf(renewed)!.id).not.toBe(id);
  });
});

describe("approvals and limits, one atomic step", () => {
  const LIMITED = { version: "1", default: "deny", tools: { send_campaign: { action: "approve", limits: [{ counter: "sends", window: "hour", max: 1 }] } } };

  it("a limit still refuses an approved call, without using its approval", async () => {
    const { gw, agent } = await agentOn(LIMITED);
    const first = approvalOf(await agent.call("send_campaign", { campaignId: 1 }))!;
    await approve(gw, first.id);
    expect((await agent.call("send_campaign", { campaignId: 1 })).result?.isError).toBeFalsy();

    const second = approvalOf(await agent.call("send_campaign", { campaignId: 2 }))!;
    await approve(gw, second.id);
    const limited = await agent.call("send_campaign", { campaignId: 2 });
    expect(decisionOf(limited)).toMatchObject({ decision: "rate_limited" });
    expect((await admin(gw, `/approvals/${second.id}`)).body.status).toBe("approved");
    expect(await sends(agent)).toBe(1);
  });

  it("a call waiting for approval is not counted", async () => {
    const { gw, agent } = await agentOn(LIMITED);
    for (let i = 0; i < 3; i++) expect(decisionOf(await agent.call("send_campaign", { campaignId: 1 }))).toMatchObject({ decision: "approval_required" });
    const { id } = approvalOf(await agent.call("send_campaign", { campaignId: 1 }))!;
    await approve(gw, id);
    expect((await agent.call("send_campaign", { campaignId: 1 })).result?.isError).toBeFalsy();
  });

  it("restored when the upstream provably did not run the call, kept when it may have", async () => {
    const { gw, agent } = await agentOn(APPROVE_SENDS, { UPSTREAM_URL: FAULTY_UPSTREAM });
    const { id } = approvalOf(await agent.call("send_campaign", { campaignId: 11 }))!;
    await approve(gw, id);
    const refusedUpstream = await agent.call("send_campaign", { campaignId: 11 }, { "x-fault": "error:-32602" });
    expect(refusedUpstream.error?.code).toBe(-32602);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the restore runs after the answer
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("approved");

    const mayHaveRun = await agent.call("send_campaign", { campaignId: 11 }, { "x-fault": "error-after:-32603" });
    expect(mayHaveRun.error?.code).toBe(-32603);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("consumed");
    expect(decisionOf(await agent.call("send_campaign", { campaignId: 11 }))).toMatchObject({ decision: "approval_required" });
  });

  it("monitor mode asks no human: the call is logged as needing approval and forwarded", async () => {
    const { gw, agent } = await agentOn({ ...APPROVE_SENDS, mode: "monitor" });
    expect((await agent.call("send_campaign", { campaignId: 1 })).result?.isError).toBeFalsy();
    expect((await admin(gw, "/approvals?status=pending")).body.approvals.filter((approval: ApprovalSummary) => approval.tool === "send_campaign" && approval.grant.label === "approvals-agent" && approval.argumentsPreview === '{"campaignId":1}' && approval.session === agent.sessionId)).toEqual([]);
  });
});

describe("a held call waits for the decision and goes ahead in the same request", () => {
  const HELD = { ...APPROVE_SENDS, approval: { hold: "30s" } };

  it("approved while held: forwarded, with keep-alives and progress notifications meanwhile", async () => {
    const { token } = await createGrant(await putPolicy(HELD as never));
    const gw = gateway({ SSE_KEEPALIVE_MS: "100" });
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    const started = Date.now();
    const response = gw.fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.sessionId, "x-sandbox-tag": agent.tag },
      body: JSON.stringify({ jsonrpc: "2.0", id: 77, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 21 }, _meta: { progressToken: "p-21" } } }),
    });
    const held = await response;
    expect(held.headers.get("content-type")).toContain("text/event-stream");
    let pending: ApprovalRecord | undefined;
    while (!pending) {
      pending = (await admin(gw, "/approvals?status=pending")).body.approvals.find((approval: ApprovalRecord) => approval.session === agent.sessionId);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await sends(agent)).toBe(0);
    await approve(gw, pending.id);
    const text = await held.text();
    expect(Date.now() - started).toBeLessThan(10_000);
    const messages = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as { id?: number; method?: string; result?: { isError?: boolean }; params?: { progressToken?: string; message?: string } });
    expect(messages.filter((message) => message.method === "notifications/progress").length).toBeGreaterThanOrEqual(1);
    expect(messages.find((message) => message.method === "notifications/progress")?.params).toMatchObject({ progressToken: "p-21", message: expect.stringContaining(pending.id) });
    const answer = messages.find((message) => message.id === 77);
    expect(answer?.result?.isError).toBeFalsy();
    expect(await sends(agent)).toBe(1);
    expect((await admin(gw, `/approvals/${pending.id}`)).body.status).toBe("consumed");
  });

  it("not decided within the hold: answered as pending, nothing forwarded, the approval still open", async () => {
    const { gw, agent } = await agentOn({ ...APPROVE_SENDS, approval: { hold: "1s" } }, { SSE_KEEPALIVE_MS: "200" });
    const answer = await agent.call("send_campaign", { campaignId: 22 });
    expect(answer.contentType).toContain("text/event-stream");
    expect(decisionOf(answer)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
    expect(await sends(agent)).toBe(0);
    await approve(gw, approvalOf(answer)!.id);
    expect((await agent.call("send_campaign", { campaignId: 22 })).result?.isError).toBeFalsy();
  });

  it("an upstream that fails after approval while held: the held call still gets a JSON-RPC error for its id", async () => {
    const { gw, agent } = await agentOn(HELD, { UPSTREAM_URL: FAULTY_UPSTREAM, SSE_KEEPALIVE_MS: "200" });
    const call = agent.call("send_campaign", { campaignId: 24 }, { "x-fault": "reset-before" });
    let pending: ApprovalRecord | undefined;
    while (!pending) {
      pending = (await admin(gw, "/approvals?status=pending")).body.approvals.find((approval: ApprovalRecord) => approval.session === agent.sessionId);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await approve(gw, pending.id);
    const answer = await call;
    expect(answer).toMatchObject({ id: expect.any(Number), error: { code: -32003, message: expect.stringContaining("Upstream unreachable") } });
  });

  it("denied while held: the held call gets the note", async () => {
    const { gw, agent } = await agentOn(HELD, { SSE_KEEPALIVE_MS: "200" });
    const call = agent.call("send_campaign", { campaignId: 23 });
    let pending: ApprovalRecord | undefined;
    while (!pending) {
      pending = (await admin(gw, "/approvals?status=pending")).body.approvals.find((approval: ApprovalRecord) => approval.session === agent.sessionId);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await deny(gw, pending.id, { note: "not today" });
    const answer = await call;
    expect(decisionOf(answer)).toMatchObject({ decision: "deny", approval: { status: "denied" } });
    expect(answer.result?.content?.[0]?.text).toContain("not today");
  });
});

describe("in the client: URL elicitation opens the approval page", () => {
  it("2025-11-25 with elicitation.url: -32042 with the page's URL; after approval the retry goes through", async () => {
    const { token } = await createGrant(await putPolicy(APPROVE_SENDS as never));
    const gw = gateway();
    const to = viaGateway(gw, token);
    const { client } = await connectV1(to, { capabilities: { elicitation: { url: {} } } });
    const error = await client.callTool({ name: "send_campaign", arguments: { campaignId: 31 } }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: -32042 });
    const [elicitation] = (error as { data: { elicitations: Array<{ mode: string; url: string; elicitationId: string; message: string }> } }).data.elicitations;
    expect(elicitation).toMatchObject({ mode: "url", url: `https://gateway.test/admin/approvals/${elicitation!.elicitationId}`, message: expect.stringContaining("must approve") });
    await approve(gw, elicitation!.elicitationId);
    const result = await client.callTool({ name: "send_campaign", arguments: { campaignId: 31 } });
    expect(result.isError).toBeFalsy();
  });

  it("a client without elicitation.url gets the pending result instead", async () => {
    const { token } = await createGrant(await putPolicy(APPROVE_SENDS as never));
    const { client } = await connectV1(viaGateway(gateway(), token), { capabilities: { elicitation: { form: {} } } });
    const result = await client.callTool({ name: "send_campaign", arguments: { campaignId: 32 } });
    expect(result.isError).toBe(true);
  });

  it("2026-07-28 with elicitation.url: an input_required round; the client opens the page, a human approves, the retry goes through", async () => {
    const { token } = await createGrant(await putPolicy(APPROVE_SENDS as never));
    const gw = gateway();
    const client = await connectV2(viaGateway(gw, token), { elicitation: { url: {} } });
    const opened: string[] = [];
    client.setRequestHandler("elicitation/create", async (request) => {
      const params = request.params as { mode?: string; url?: string };
      opened.push(params.url ?? "");
      // The human, in the browser the client opened, approves.
      const id = (params.url ?? "").split("/").at(-1)!;
      expect((await approve(gw, id, { by: "bob" })).status).toBe(200);
      return { action: "accept" };
    });
    const result = await client.callTool({ name: "send_campaign", arguments: { campaignId: 33 } });
    expect(result.isError).toBeFalsy();
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatch(/^https:\/\/gateway\.test\/admin\/approvals\/apr_/);
  });

  it("2026-07-28: a requestState the gateway did not issue is refused, never forwarded", async () => {
    const { token } = await createGrant(await putPolicy(APPROVE_SENDS as never));
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": { elicitation: { url: {} } },
    };
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "send_campaign",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 5,
        method: "tools/call",
        params: { name: "send_campaign", arguments: { campaignId: 34 }, requestState: "mcpgw-approval.e30.AAAA", inputResponses: { "mcp-policy-gateway/approval": { action: "accept" } }, _meta: meta },
      }),
    });
    expect(decisionOf((await response.json()) as never)).toMatchObject({ decision: "invalid_arguments", reason: expect.stringContaining("requestState") });
  });
});

describe("the admin API is a separate door", () => {
  it("no token, a wrong token, or a grant token: 401; the admin token never opens /mcp; without ADMIN_TOKEN: 404", async () => {
    const { gw, token } = await agentOn(APPROVE_SENDS);
    expect((await gw.fetch("https://gateway.test/admin/api/approvals")).status).toBe(401);
    expect((await admin(gw, "/approvals", {}, "wrong-token")).status).toBe(401);
    expect((await admin(gw, "/approvals", {}, token)).status).toBe(401);
    expect((await admin(gw, "/approvals")).status).toBe(200);
    const mcp = await gw.fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(mcp.status).toBe(401);
    const closed = gateway({ ADMIN_TOKEN: "" });
    expect((await admin(closed, "/approvals")).status).toBe(404);
    expect((await closed.fetch("https://gateway.test/admin/api/approvals/apr_0000000000000000000000")).status).toBe(404);
  });

  it("an ADMIN_TOKEN too short to be safe keeps the door closed, saying why", async () => {
    const response = await gateway({ ADMIN_TOKEN: "short-token" }).fetch("https://gateway.test/admin/api/approvals", { headers: { authorization: "Bearer short-token" } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ message: expect.stringContaining("at least 24 characters") });
  });

  it("unknown ids are 404, bad bodies 400", async () => {
    const gw = gateway();
    expect((await admin(gw, "/approvals/apr_0000000000000000000000")).status).toBe(404);
    expect((await approve(gw, "apr_0000000000000000000000")).status).toBe(404);
    expect((await admin(gw, "/approvals/apr_0000000000000000000000/approve", { method: "POST", body: "{nope" })).status).toBe(400);
    expect((await admin(gw, "/approvals/apr_0000000000000000000000/approve", { method: "POST", body: JSON.stringify({ note: 5 }) })).status).toBe(400);
    expect((await admin(gw, "/approvals?status=maybe")).status).toBe(400);
  });
});

describe("storage stays bounded", () => {
  it("approvals are deleted once older than the retention period (7 days)", async () => {
    const { agent, grant } = await agentOn(APPROVE_SENDS);
    await agent.call("send_campaign", { campaignId: 50 });
    const stub = env.GRANT_OBJECT.getByName(grant.id);
    const counts = await runInDurableObject(stub, (_instance, state) => {
      const approvals = new Approvals(state.storage.sql);
      return [approvals.prune(Date.now(), APPROVAL_RETENTION_MS), approvals.prune(Date.now() + APPROVAL_RETENTION_MS + 1, APPROVAL_RETENTION_MS)];
    });
    expect(counts).toEqual([1, 0]);
  });
});

describe("expiry, with a controlled clock", () => {
  it("pending past its ttl reads as expired, is reported once, and the next call opens a new one; an approved one expires unused", async () => {
    const stub = env.GRANT_OBJECT.getByName(`clock-${crypto.randomUUID()}`);
    const states = await runInDurableObject(stub, (_instance, state) => {
      const approvals = new Approvals(state.storage.sql);
      const request = {
        server: "iterable",
        tool: "send_campaign",
        arguments: '{"campaignId":1}',
        argumentsHash: "a".repeat(64),
        policy: { name: "p", version: "v1" },
        grant: { id: "g", label: "agent" },
        session: null,
        ttlMs: 60_000,
        pageBase: "https://gateway.test",
        params: null,
        maxPending: 50,
      };
      const t0 = Date.parse("2026-11-25T12:00:00Z");
      const first = approvals.resolve(request, t0, "apr_first00000000000000000");
      const stillPending = approvals.resolve(request, t0 + 59_999, "apr_unused0000000000000000");
      const lapsed = approvals.resolve(request, t0 + 60_000, "apr_unused0000000000000000");
      const renewed = approvals.resolve(request, t0 + 60_001, "apr_second0000000000000000");
      approvals.decide("apr_second0000000000000000", "approve", { by: "alice" }, t0 + 61_000);
      const approvedLater = approvals.resolve(request, t0 + 60_001 + 59_999, "apr_unused0000000000000000");
      const approvedLapsed = approvals.resolve(request, t0 + 60_001 + 60_000, "apr_unused0000000000000000");
      return [first, stillPending, lapsed, renewed, approvedLater, approvedLapsed].map((state) => ("approval" in state ? [state.kind, state.approval.id, state.approval.status] : [state.kind]));
    });
    expect(states).toEqual([
      ["pending", "apr_first00000000000000000", "pending"],
      ["pending", "apr_first00000000000000000", "pending"],
      ["expired", "apr_first00000000000000000", "expired"],
      ["pending", "apr_second0000000000000000", "pending"],
      ["approved", "apr_second0000000000000000", "approved"],
      ["expired", "apr_second0000000000000000", "expired"],
    ]);
  });
});
