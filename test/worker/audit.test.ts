/**
 * The audit trail through the gateway Worker with its real Durable Objects:
 * one record per decision, argument values kept only when the policy says so,
 * queried newest first with filters and a cursor, bounded by retention, and
 * written off the agent's path.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { AuditLog } from "../../src/grant-object/audit.ts";
import { createGrant, gateway, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

const FAULTY_UPSTREAM = new URL("mcp", env.FAULT_URL).href;
const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // records are batched for 100 ms

async function api(gw: Gateway, path: string, init: RequestInit = {}) {
  const response = await gw.fetch(`https://gateway.test/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, ...(init.headers ?? {}) } });
  return response;
}

/** The grant's trail once it holds at least `atLeast` records (they are written off the agents' path, batched). */
async function trail(gw: Gateway, grantId: string, query = "", atLeast = 1): Promise<AuditRecord[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await api(gw, `/grants/${grantId}/audit${query}`);
    expect(response.status).toBe(200);
    const { records } = (await response.json()) as { records: AuditRecord[] };
    if (records.length >= atLeast || Date.now() > deadline) return records;
    await settle();
  }
}

const calls = (records: AuditRecord[]) => records.filter((record): record is CallRecord => record.kind === "call");

const POLICY = {
  version: "1",
  default: "deny",
  hide: ["delete_*"],
  tools: {
    get_campaigns: {},
    get_lists: { limits: [{ counter: "lists", window: "hour", max: 1 }] },
    send_campaign: { action: "approve" },
    get_templates: { deny_if: [{ conditions: [{ path: "args.templateType", op: "eq", value: "Blast" }], on_deny: "no blast templates" }] },
  },
};

describe("one record per decision", () => {
  it("records each kind of decision with its rule, reason, policy version, argument keys and hash, never the values", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(POLICY as never), { label: "audited-agent" });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    await agent.call("get_campaigns", { page: 1, pageSize: 2 }); // allow
    await agent.call("get_templates", { templateType: "Blast" }); // deny
    await agent.call("delete_list", { listId: 1 }); // hidden
    await agent.call("no_such_tool", {}); // unknown_tool
    await agent.call("get_campaigns", { page: "one" }); // invalid_arguments
    await agent.call("get_lists", {}); // allow, counted
    await agent.call("get_lists", {}); // rate_limited
    await agent.call("send_campaign", { campaignId: 42 }); // approval_required
    await agent.call("get_user_by_email", { email: "secret@example.com" }); // deny (default)

    const records = calls(await trail(gw, grant.id, "", 9));
    expect(records.map((record) => [record.tool, record.decision])).toEqual([
      ["get_user_by_email", "deny"],
      ["send_campaign", "approval_required"],
      ["get_lists", "rate_limited"],
      ["get_lists", "allow"],
      ["get_campaigns", "invalid_arguments"],
      ["no_such_tool", "unknown_tool"],
      ["delete_list", "hidden"],
      ["get_templates", "deny"],
      ["get_campaigns", "allow"],
    ]);
    const byDecision = (decision: string, tool?: string) => records.find((record) => record.decision === decision && (tool === undefined || record.tool === tool))!;
    expect(byDecision("allow", "get_campaigns")).toMatchObject({
      grant: { id: grant.id, label: "audited-agent" },
      session: agent.sessionId,
      requestId: expect.any(Number),
      rule: "/tools/get_campaigns",
      reason: null,
      policy: { name: grant.policy, version: expect.stringMatching(/^[0-9a-f]{16}$/) },
      argumentKeys: ["page", "pageSize"],
      argumentsHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      upstream: { status: 200, latencyMs: expect.any(Number) },
      wouldRefuse: false,
      approval: null,
    });
    expect(byDecision("deny", "get_templates")).toMatchObject({ rule: "/tools/get_templates/deny_if/0", reason: "no blast templates", upstream: null });
    expect(byDecision("hidden")).toMatchObject({ rule: "/hide/0" });
    expect(byDecision("rate_limited")).toMatchObject({ rule: "/tools/get_lists/limits/0", reason: expect.stringContaining('limit "lists"') });
    expect(byDecision("approval_required")).toMatchObject({ approval: expect.stringMatching(/^apr_/) });
    for (const record of records) expect(record).not.toHaveProperty("arguments");
    expect(JSON.stringify(records)).not.toContain("secret@example.com");
    expect(JSON.stringify(records)).not.toContain(token);
  });

  it("an approved call is recorded as approved, with the approval; the operator's decision as an admin record", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(POLICY as never));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    const pending = await agent.call("send_campaign", { campaignId: 7 });
    const id = (pending.result?._meta?.["mcp-policy-gateway/decision"] as { approval: { id: string } }).approval.id;
    await api(gw, `/approvals/${id}/approve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ by: "alice", note: "fine" }) });
    await agent.call("send_campaign", { campaignId: 7 });
    const records = await trail(gw, grant.id, "", 3);
    expect(records[0]).toMatchObject({ kind: "call", decision: "approved", approval: id, upstream: { status: 200 } });
    expect(records[1]).toMatchObject({ kind: "admin", action: "approval.approve", by: "alice", target: id, grant: { id: grant.id }, detail: { tool: "send_campaign", note: "fine" } });
    expect(records[2]).toMatchObject({ kind: "call", decision: "approval_required", approval: id });
  });

  it("upstream failures and timeouts, the limiter unreachable, and monitor mode's would-be refusals", async () => {
    const { token, record: grant } = await createGrant(await putPolicy({ version: "1", default: "allow" }));
    const gw = gateway({ UPSTREAM_URL: FAULTY_UPSTREAM, UPSTREAM_TIMEOUT_MS: "300" });
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    await agent.call("get_campaigns", {}, { "x-fault": "status:502" });
    await agent.call("get_campaigns", {}, { "x-fault": "hang" });
    expect(calls(await trail(gw, grant.id, "", 2)).map((record) => [record.decision, record.upstream?.status ?? null])).toEqual([
      ["upstream_timeout", null],
      ["upstream_error", 502],
    ]);

    const broken = { ...env.GRANT_OBJECT, getByName: (name: string) => (name === "global" ? env.GRANT_OBJECT.getByName(name) : { authorize: () => Promise.reject(new Error("reset")), recordAudit: (records: AuditRecord[]) => env.GRANT_OBJECT.getByName(name).recordAudit(records) }) };
    const limited = await createGrant(await putPolicy({ version: "1", default: "deny", tools: { get_lists: { limits: [{ counter: "c", window: "hour", max: 5 }] } } }));
    const unreachable = await rawAgent(gateway({ GRANT_OBJECT: broken }), limited.token);
    await unreachable.call("get_lists", {});
    expect(calls(await trail(gw, limited.record.id))[0]).toMatchObject({ decision: "limiter_unavailable" });

    const monitored = await createGrant(await putPolicy({ version: "1", default: "deny", mode: "monitor" }));
    const watched = await rawAgent(gateway(), monitored.token);
    await watched.call("get_campaigns", {});
    expect(calls(await trail(gw, monitored.record.id))[0]).toMatchObject({ decision: "deny", wouldRefuse: true, upstream: { status: 200 } });
  });

  it('"audit": {"arguments": "full"} keeps the argument values', async () => {
    const { token, record: grant } = await createGrant(await putPolicy({ version: "1", default: "allow", audit: { arguments: "full" } }));
    const agent = await rawAgent(gateway(), token);
    await agent.call("get_campaigns", { page: 2, pageSize: 3 });
    expect(calls(await trail(gateway(), grant.id))[0]).toMatchObject({ arguments: { page: 2, pageSize: 3 }, argumentKeys: ["page", "pageSize"] });
  });
});

describe("querying the trail", () => {
  it("filters by decision, tool and time, pages newest first with a cursor, and streams JSON lines", async () => {
    const { token, record: grant } = await createGrant(await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: {}, get_lists: {} } }));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    for (let i = 0; i < 3; i++) await agent.call("get_campaigns", { page: i + 1 });
    const middle = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 2; i++) await agent.call("get_lists", {});
    await agent.call("get_user_by_email", { email: "a@example.com" });
    await trail(gw, grant.id, "", 6);

    const json = async (query: string) => (await (await api(gw, `/grants/${grant.id}/audit${query}`)).json()) as { records: CallRecord[]; cursor: string | null };
    expect((await json("?decision=deny")).records.map((record) => record.tool)).toEqual(["get_user_by_email"]);
    expect((await json("?tool=get_lists")).records).toHaveLength(2);
    expect((await json(`?since=${middle}`)).records.map((record) => record.tool)).toEqual(["get_user_by_email", "get_lists", "get_lists"]);
    expect((await json(`?until=${middle}`)).records.map((record) => record.tool)).toEqual(["get_campaigns", "get_campaigns", "get_campaigns"]);

    const seen: string[] = [];
    let page = await json("?limit=2");
    seen.push(...page.records.map((record) => record.id));
    while (page.cursor) {
      page = await json(`?limit=2&cursor=${page.cursor}`);
      seen.push(...page.records.map((record) => record.id));
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect([...seen].sort().reverse()).toEqual(seen);

    const lines = await (await api(gw, `/grants/${grant.id}/audit?limit=2`, { headers: { accept: "application/x-ndjson" } })).text();
    expect(lines.trim().split("\n").map((line) => (JSON.parse(line) as CallRecord).id)).toEqual(seen);

    expect((await api(gw, `/grants/${grant.id}/audit?decision=maybe`)).status).toBe(400);
    expect((await gw.fetch(`https://gateway.test/admin/api/grants/${grant.id}/audit`)).status).toBe(401);
    expect((await gw.fetch(`https://gateway.test/admin/api/audit`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it("across all grants, merged newest first", async () => {
    const policy = await putPolicy({ version: "1", default: "allow" });
    const [a, b] = await Promise.all([createGrant(policy, { label: "merge-a" }), createGrant(policy, { label: "merge-b" })]);
    const gw = gateway();
    const agentA = await rawAgent(gw, a.token);
    const agentB = await rawAgent(gw, b.token);
    await agentA.call("get_campaigns", {});
    await agentB.call("get_campaigns", {});
    await agentA.call("get_lists", {});
    await trail(gw, a.record.id, "", 2);
    await trail(gw, b.record.id, "", 1);
    const response = await api(gw, "/audit?limit=1000&tool=get_campaigns");
    const records = ((await response.json()) as { records: CallRecord[] }).records.filter((record) => record.grant.label.startsWith("merge-"));
    expect(records.map((record) => record.grant.label)).toEqual(["merge-b", "merge-a"]);
  });
});

describe("bounded and off the path", () => {
  it("records older than the retention period are deleted", async () => {
    const stub = env.GRANT_OBJECT.getByName(`retention-${crypto.randomUUID()}`);
    const remaining = await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("CREATE TABLE IF NOT EXISTS audit (id TEXT PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, decision TEXT NOT NULL, tool TEXT, record TEXT NOT NULL)");
      const log = new AuditLog(state.storage.sql);
      const now = Date.parse("2026-11-25T12:00:00Z");
      const record = (at: number) => ({ kind: "admin", id: `aud_${at}`, time: new Date(at).toISOString(), grant: null, action: "policy.push", by: "t", target: "p", detail: {} }) as AuditRecord;
      log.append([record(now - 8 * 86_400_000), record(now - 6 * 86_400_000), record(now)]);
      return log.prune(now, 7 * 86_400_000);
    });
    expect(remaining).toBe(2);
  });

  it("an allowed call without limits does not wait for its audit write", async () => {
    const { token, record: grant } = await createGrant(await putPolicy({ version: "1", default: "allow" }));
    let stored = 0;
    const slow = {
      ...env.GRANT_OBJECT,
      getByName: () => ({
        recordAudit: async (records: AuditRecord[]) => {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          stored += records.length;
        },
      }),
    };
    const agent = await rawAgent(gateway({ GRANT_OBJECT: slow }), token);
    await agent.rpc("tools/list", {});
    const started = Date.now();
    expect((await agent.call("get_campaigns", {})).result?.isError).toBeFalsy();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(stored).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(stored).toBe(1);
    void grant;
  });
});

describe("the admin API describes itself", () => {
  it("serves an OpenAPI document generated from the schemas that validate it", async () => {
    const response = await gateway().fetch("https://gateway.test/admin/api/openapi.json");
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string }>; requestBody?: unknown }>> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/approvals", "/approvals/{id}", "/approvals/{id}/approve", "/approvals/{id}/deny", "/grants/{id}/audit", "/audit"]));
    expect(document.paths["/audit"]?.get?.parameters?.map((parameter) => parameter.name)).toEqual(expect.arrayContaining(["decision", "tool", "since", "until", "limit", "cursor"]));
    expect(JSON.stringify(document.paths["/approvals/{id}/approve"]?.post?.requestBody)).toContain("note");
    expect((await gateway({ ADMIN_TOKEN: "" }).fetch("https://gateway.test/admin/api/openapi.json")).status).toBe(404);
  });
});

describe("a grant that does not exist", () => {
  it("has no trail: 404, not an empty page", async () => {
    const response = await api(gateway(), "/grants/g_doesnotexist/audit");
    expect(response.status).toBe(404);
  });
});
