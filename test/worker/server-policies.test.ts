/**
 * Policies per server: a policy's `servers.<name>` section replaces its top
 * level for that server; grant- and session-scoped counters count each
 * server apart (the default server's under the keys they always had), global
 * ones across servers; an approval is bound to the server its call goes to.
 * Three servers, all the sandbox: `iterable` (its Iterable-shaped server, the
 * default), and `features` and `mirror` (both its features server, so the
 * same tool can be called on two servers; only `features` has a section).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ApprovalRecord } from "../../src/approvals/record.ts";
import type { CallRecord } from "../../src/audit/record.ts";
import { AuditService } from "../../src/audit/service.ts";
import { approvalText, defaultServerOf, pendingPayload } from "../../src/approval-index/webhook.ts";
import { canonicalHash } from "../../src/canonical.ts";
import { Approvals, APPROVALS_SCHEMA, migrateApprovals } from "../../src/grant-object/approvals.ts";
import { issueGrant } from "../../src/grants/records.ts";
import { GLOBAL_OBJECT } from "../../src/limits/limiter.ts";
import type { PolicyInput } from "../../src/policy/schema.ts";
import { eventData } from "../../src/mcp/sse.ts";
import { decisionOf, gateway, newTag, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP, TAG_HEADER, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";

const THREE_SERVERS = JSON.stringify([
  { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL", catalog: "iterable" },
  { name: "features", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
  { name: "mirror", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
]);

type Answer = { result?: { isError?: boolean; content?: Array<{ text?: string }>; tools?: Array<{ name: string }>; _meta?: Record<string, any> }; error?: { code: number; message: string } };

/** A grant reaching all three servers, on `policy`. */
async function grantOn(policy: PolicyInput) {
  const issued = await issueGrant({ label: "server-policies", policy: await putPolicy(policy), servers: ["iterable", "features", "mirror"] });
  for (const entry of issued.entries) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
  return { gw: gateway({ SERVERS: THREE_SERVERS }), token: issued.token, grant: issued.record };
}

/** An agent with one MCP session at /mcp/<server> (2025-06-18). */
async function agentAt(gw: Gateway, token: string, server: string, tag = newTag()) {
  const url = `${ORIGIN}/mcp/${server}`;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag };
  let id = 1;
  const post = (message: object, extra: Record<string, string> = {}) => gw.fetch(url, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(message) });
  const initialize = await post({ jsonrpc: "2.0", id: id++, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
  expect(initialize.status, await initialize.clone().text()).toBe(200);
  const session = initialize.headers.get("mcp-session-id")!;
  await initialize.text();
  await (await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": session })).text();
  const rpc = async (method: string, params: object): Promise<Answer> => {
    const response = await post({ jsonrpc: "2.0", id: id++, method, params }, { "mcp-session-id": session });
    const text = await response.text();
    return (response.headers.get("content-type") ?? "").includes("event-stream") ? (JSON.parse(eventData(text).at(-1)!) as Answer) : (JSON.parse(text) as Answer);
  };
  return { session, rpc, call: (name: string, args: object = {}) => rpc("tools/call", { name, arguments: args }) };
}

/** The grant's call records once `count` of them are written (off the agent's path). */
async function calls(grantId: string, count: number): Promise<CallRecord[]> {
  let found: CallRecord[] = [];
  for (let attempt = 0; attempt < 100 && found.length < count; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const { records } = await new AuditService(env).grantPage(grantId, { limit: 100 });
    found = records.filter((record): record is CallRecord => record.kind === "call");
  }
  return found;
}

describe("a policy's section for a server replaces its top level there", () => {
  it("a tool the top level allows is denied on the server whose section denies it, with the section's pointer as rule", async () => {
    const { gw, token } = await grantOn({ version: "1", default: "allow", servers: { features: { default: "allow", tools: { echo: { action: "deny", reason: "not on features" } } } } });
    const mirror = await agentAt(gw, token, "mirror");
    const features = await agentAt(gw, token, "features");

    const allowed = await mirror.call("echo", { text: "hi" });
    expect(allowed.result?.isError, JSON.stringify(allowed)).toBeFalsy();
    expect(allowed.result?.content?.[0]?.text).toBe("hi");

    const denied = await features.call("echo", { text: "hi" });
    expect(denied.result?.isError).toBe(true);
    expect(decisionOf(denied)).toMatchObject({ decision: "deny", rule: "/servers/features/tools/echo/action" });
    expect(denied.result?.content?.[0]?.text).toContain("not on features");

    // The section's deny hides the tool from that server's list, not from the other's.
    const names = async (agent: typeof mirror) => ((await agent.rpc("tools/list", {})).result?.tools ?? []).map((tool) => tool.name);
    expect(await names(mirror)).toContain("echo");
    expect(await names(features)).not.toContain("echo");
  });
});

describe("counters per server", () => {
  const limit = (counter: string, extra: object = {}) => ({ all_tools: { limits: [{ counter, window: "hour" as const, max: 1, ...extra }] } });

  it("a limit of max 1 with the same counter name counts separately on each server, the default server's under its old key", async () => {
    const counter = `calls-${crypto.randomUUID()}`;
    const { gw, token, grant } = await grantOn({ version: "1", default: "allow", ...limit(counter), servers: { features: { default: "allow", ...limit(counter) } } });
    const iterable = await agentAt(gw, token, "iterable");
    const features = await agentAt(gw, token, "features");
    const mirror = await agentAt(gw, token, "mirror");

    expect((await mirror.call("echo", { text: "1" })).result?.isError).toBeFalsy();
    const second = await mirror.call("echo", { text: "2" });
    expect(decisionOf(second)).toMatchObject({ decision: "rate_limited", rule: "/all_tools/limits/0" });
    // Another server, the same counter name: its own count.
    expect((await features.call("echo", { text: "1" })).result?.isError).toBeFalsy();
    expect(decisionOf(await features.call("echo", { text: "2" }))).toMatchObject({ decision: "rate_limited", rule: "/servers/features/all_tools/limits/0" });
    expect((await iterable.call("get_lists", {})).result?.isError).toBeFalsy();
    expect(decisionOf(await iterable.call("get_lists", {}))).toMatchObject({ decision: "rate_limited" });

    // The default server counts where it always did (an upgrade resets nothing); the others apart.
    const usage = await env.GRANT_OBJECT.getByName(grant.id).usage(
      ["grant", "server:features:grant", "server:mirror:grant", "server:nowhere:grant"].map((scopeKey) => ({ counter, scopeKey, windowMs: 3_600_000, calendar: false })),
    );
    expect(usage).toEqual([1, 1, 1, 0]);

    // The counters an operator reads: one row per server the grant reaches, each with its server's count.
    const counters = await gw.fetch(`${ORIGIN}/admin/api/grants/${grant.id}/counters`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const rows = ((await counters.json()) as { counters: Array<{ rule: string; server: string | null; used: number | null }> }).counters;
    expect(rows.map(({ rule, server, used }) => [server, rule, used])).toEqual([
      ["iterable", "/all_tools/limits/0", 1],
      ["features", "/servers/features/all_tools/limits/0", 1],
      ["mirror", "/all_tools/limits/0", 1],
    ]);
  });

  it("a global limit counts across servers", async () => {
    const counter = `global-${crypto.randomUUID()}`;
    const global = { all_tools: { limits: [{ counter, window: "hour" as const, max: 2, scope: "global" as const }] } };
    const { gw, token, grant } = await grantOn({ version: "1", default: "allow", ...global, servers: { features: { default: "allow", ...global } } });
    expect((await (await agentAt(gw, token, "iterable")).call("get_lists", {})).result?.isError).toBeFalsy();
    expect((await (await agentAt(gw, token, "features")).call("echo", { text: "1" })).result?.isError).toBeFalsy();
    expect(decisionOf(await (await agentAt(gw, token, "mirror")).call("echo", { text: "1" }))).toMatchObject({ decision: "rate_limited" });
    const [used] = await env.GRANT_OBJECT.getByName(GLOBAL_OBJECT).usage([{ counter, scopeKey: "global", windowMs: 3_600_000, calendar: false }]);
    expect(used).toBe(2);
    // Operators see a global counter once, as no one server's.
    const counters = await gw.fetch(`${ORIGIN}/admin/api/grants/${grant.id}/counters`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const rows = ((await counters.json()) as { counters: Array<{ server: string | null; used: number | null }> }).counters;
    expect(rows.map(({ server, used: count }) => [server, count])).toEqual([[null, 2]]);
  });
});

describe("approvals are bound to their server", () => {
  const admin = (gw: Gateway, path: string, init: RequestInit = {}) =>
    gw.fetch(`${ORIGIN}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" } });
  const approvalOf = (answer: Answer) => decisionOf(answer)?.approval as { id: string } | undefined;
  const record = async (gw: Gateway, id: string) => (await (await admin(gw, `/approvals/${id}`)).json()) as ApprovalRecord;

  it("an approval granted for a call on one server does not let the identical call through on another", async () => {
    const { gw, token, grant } = await grantOn({ version: "1", default: "allow", tools: { echo: { action: "approve" } }, servers: { features: { default: "allow", tools: { echo: { action: "approve" } } } } });
    const mirror = await agentAt(gw, token, "mirror");
    const features = await agentAt(gw, token, "features");

    const asked = await mirror.call("echo", { text: "send it" });
    expect(decisionOf(asked)).toMatchObject({ decision: "approval_required" });
    const onMirror = approvalOf(asked)!.id;
    expect((await admin(gw, `/approvals/${onMirror}/approve`, { method: "POST", body: "{}" })).status).toBe(200);

    // The very same call on features: not approved there, so a new approval is asked for.
    const elsewhere = await features.call("echo", { text: "send it" });
    expect(decisionOf(elsewhere)).toMatchObject({ decision: "approval_required", rule: "/servers/features/tools/echo/action" });
    const onFeatures = approvalOf(elsewhere)!.id;
    expect(onFeatures).not.toBe(onMirror);
    expect((await record(gw, onMirror)).status).toBe("approved");

    // On its own server the approval lets the call through, once.
    const through = await mirror.call("echo", { text: "send it" });
    expect(through.result?.isError, JSON.stringify(through)).toBeFalsy();
    expect(through.result?.content?.[0]?.text).toBe("send it");

    const approved = await record(gw, onMirror);
    expect(approved).toMatchObject({ status: "consumed", server: "mirror" });
    expect(await record(gw, onFeatures)).toMatchObject({ status: "pending", server: "features" });
    expect(approved.argumentsHash).not.toBe((await record(gw, onFeatures)).argumentsHash);

    const trail = await calls(grant.id, 3);
    expect(trail.map((call) => [call.server, call.decision])).toEqual([
      ["mirror", "approved"],
      ["features", "approval_required"],
      ["mirror", "approval_required"],
    ]);
  });

  it("on the default server an approval's hash is the call's as before (approvals made before keep matching), and it names its server", async () => {
    const { gw, token } = await grantOn({ version: "1", default: "allow", tools: { get_lists: { action: "approve" } } });
    const iterable = await agentAt(gw, token, "iterable");
    const asked = await iterable.call("get_lists", {});
    const approval = await record(gw, approvalOf(asked)!.id);
    expect(approval).toMatchObject({ status: "pending", server: "iterable", tool: "get_lists" });
    expect(approval.argumentsHash).toBe(await canonicalHash({}));
  });

  it("a grant object's approvals table from before servers gains a server column; its rows stay the default server's and match no other", async () => {
    const stub = env.GRANT_OBJECT.getByName(`migrate-${crypto.randomUUID()}`);
    const states = await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE approvals");
      sql.exec(APPROVALS_SCHEMA.replace(/,\s*server TEXT/, ""));
      const columns = () => sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('approvals')").toArray().map((column) => column.name);
      expect(columns()).not.toContain("server");
      const now = Date.now();
      sql.exec(
        `INSERT INTO approvals (id, tool, arguments, arguments_hash, policy_name, policy_version, grant_id, grant_label, session, url, requested_at, expires_at, status)
         VALUES ('apr_old0000000000000000000', 'send_campaign', '{}', 'h', 'p', 'v1', 'g', 'agent', NULL, 'u', ?, ?, 'approved')`,
        now,
        now + 60_000,
      );
      sql.exec(APPROVALS_SCHEMA);
      migrateApprovals(sql);
      expect(columns()).toContain("server");
      const approvals = new Approvals(sql);
      const request = (server: string) => ({
        server,
        tool: "send_campaign",
        arguments: "{}",
        params: null,
        argumentsHash: "h",
        policy: { name: "p", version: "v1" },
        grant: { id: "g", label: "agent" },
        session: null,
        ttlMs: 60_000,
        pageBase: "https://gateway.test",
        maxPending: 50,
      });
      const old = approvals.resolve(request("iterable"), now + 1, "apr_unused000000000000000");
      // Should the default server change, a call with the same plain hash on the new default still matches
      // no approval made for the old one: the column says whose it is.
      sql.exec("UPDATE approvals SET status = 'consumed'");
      approvals.resolve(request("iterable"), now + 2, "apr_iterable0000000000000");
      approvals.decide("apr_iterable0000000000000", "approve", { by: "alice" }, now + 3);
      const elsewhere = approvals.resolve(request("features"), now + 4, "apr_features0000000000000");
      return [old, elsewhere];
    });
    expect(states[0]).toMatchObject({ kind: "approved", approval: { id: "apr_old0000000000000000000" } });
    expect(states[0]!.kind === "approved" && "server" in states[0]!.approval).toBe(false);
    expect(states[1]).toMatchObject({ kind: "pending", created: true, approval: { id: "apr_features0000000000000", server: "features" } });
  });
});

describe("the admin API's validate and simulate know the servers", () => {
  const post = async (gw: Gateway, path: string, body: object) => {
    const response = await gw.fetch(`${ORIGIN}/admin/api${path}`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as any };
  };
  const SECTIONED = { version: "1", default: "allow", servers: { features: { default: "deny" }, crm: { default: "deny" } } };

  it("validate warns about a section for a server the gateway does not declare, and the policy stays valid", async () => {
    const { status, body } = await post(gateway({ SERVERS: THREE_SERVERS }), "/policies/validate", { policy: SECTIONED });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, problems: [] });
    expect(body.warnings).toEqual(['servers.crm: this gateway declares no server named "crm" (it declares iterable, features, mirror), so this section applies to nothing here']);
  });

  it("simulate decides on the server given, by default the default server, and refuses a server not declared", async () => {
    const gw = gateway({ SERVERS: THREE_SERVERS });
    const onFeatures = await post(gw, "/policies/simulate", { policy: SECTIONED, tool: "echo", server: "features" });
    expect(onFeatures.body).toMatchObject({ server: "features", decision: "deny", rule: "/servers/features/default" });
    expect(onFeatures.body.text).toContain("server: features (its section decided)");
    expect((await post(gw, "/policies/simulate", { policy: SECTIONED, tool: "echo" })).body).toMatchObject({ server: "iterable", decision: "allow", rule: "/default" });
    const unknown = await post(gw, "/policies/simulate", { policy: SECTIONED, tool: "echo", server: "crm" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('no server named "crm"');
  });
});

describe("the approval webhook names the server when it is not the default", () => {
  const approval: ApprovalRecord = {
    id: "apr_webhook000000000000000",
    grant: { id: "g_webhooktest0", label: "agent" },
    server: "features",
    tool: "echo",
    arguments: { text: "hi" },
    params: null,
    argumentsHash: "0".repeat(64),
    policy: { name: "p", version: "v1" },
    session: null,
    status: "pending",
    requestedAt: "2026-12-01T10:00:00.000Z",
    expiresAt: "2026-12-01T11:00:00.000Z",
    decidedAt: null,
    decidedBy: null,
    note: null,
    url: "https://gateway.test/admin/approvals/apr_webhook000000000000000",
  };

  it("says which server the call goes to, unless it is the default one (or the record is from before servers were named)", () => {
    const defaultServer = defaultServerOf({ ...env, SERVERS: THREE_SERVERS });
    expect(defaultServer).toBe("iterable");
    expect(approvalText(approval, defaultServer)).toBe(`<${approval.url}|Approval needed>: \`echo\` on \`features\` for grant \`agent\` with \`text="hi"\`, expires ${approval.expiresAt}`);
    expect(approvalText({ ...approval, server: "iterable" }, defaultServer)).not.toContain(" on ");
    const { server: _server, ...before } = approval;
    expect(approvalText(before, defaultServer)).not.toContain(" on ");
    const payload = JSON.parse(pendingPayload(approval, defaultServer)) as { approval: ApprovalRecord; text: string };
    expect(payload.approval.server).toBe("features");
    expect(payload.text).toContain("on `features`");
  });
});
