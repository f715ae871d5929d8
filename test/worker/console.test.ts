/**
 * The operator console in the Workers runtime, with the real KV and Durable
 * Object bindings: sign-in (admin token, or Cloudflare Access with a JWT
 * signed by a key made here, its JWKS served by a stand-in for the team's
 * certs endpoint), CSRF on every form, grants (the token shown once, working,
 * then revoked), policies (validate, simulate, push), counters (live usage,
 * reset), the decisions list and one record, the matching admin API routes,
 * and the pages' headers.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../src/admin/pages/headers.ts";
import { SESSION_COOKIE } from "../../src/admin/session.ts";
import type { AdminRecord, AuditRecord } from "../../src/audit/record.ts";
import { AuditService, GATEWAY_AUDIT_OBJECT } from "../../src/audit/service.ts";
import { base64url } from "../../src/crypto.ts";
import recommended from "../../policies/iterable/recommended.json" with { type: "json" };
import { ALLOW_ALL, createGrant, decisionOf, gateway, GATEWAY_URL, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // call records are batched for 100 ms
const RECOMMENDED = recommended as object;

function get(gw: Gateway, path: string, cookie?: string, headers: Record<string, string> = {}) {
  return gw.fetch(`${ORIGIN}${path}`, { headers: { ...(cookie ? { cookie } : {}), ...headers }, redirect: "manual" });
}

function postForm(gw: Gateway, path: string, fields: Record<string, string>, cookie?: string, headers: Record<string, string> = {}) {
  return gw.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}), ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

async function signIn(gw: Gateway): Promise<string> {
  const response = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next: "/admin/approvals" });
  expect(response.status).toBe(303);
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

function csrfOf(page: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  expect(token).toBeDefined();
  return token!;
}

async function pageText(gw: Gateway, path: string, cookie: string, status = 200): Promise<string> {
  const response = await get(gw, path, cookie);
  expect(response.status, path).toBe(status);
  return response.text();
}

function api(gw: Gateway, path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? env.ADMIN_TOKEN}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return gw.fetch(`${ORIGIN}/admin/api${path}`, { method: init.method ?? "GET", headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
}

/** The records an object keeps (a grant's, through the admin API; or the gateway-wide "global" one's), newest first. */
async function trail(gw: Gateway, object: string, query = ""): Promise<AuditRecord[]> {
  if (object === GATEWAY_AUDIT_OBJECT) {
    const decision = new URLSearchParams(query).get("decision") ?? undefined;
    return (await new AuditService(env).grantPage(object, { decision: decision as "admin" | undefined, limit: 1000 })).records;
  }
  const response = await api(gw, `/grants/${object}/audit${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { records: AuditRecord[] }).records;
}

const adminRecords = (records: AuditRecord[]) => records.filter((record): record is AdminRecord => record.kind === "admin");

/** HTML text with tags dropped and entities decoded, for reading what a page says. */
const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, "")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

/** A POST to /mcp with a grant token: 200 while the grant is good, 401 once it is not. */
async function mcpStatus(gw: Gateway, token: string): Promise<number> {
  const response = await gw.fetch(GATEWAY_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "console-test", version: "1" } } }),
  });
  await response.body?.cancel();
  return response.status;
}

const PAGES = [
  "/admin/approvals",
  "/admin/decisions",
  "/admin/grants",
  "/admin/policies",
  "/admin/policy-editor",
  "/admin/counters",
];

describe("sign-in and CSRF", () => {
  it("every page needs a session; without one the browser is sent to sign-in, and forms change nothing", async () => {
    const gw = gateway();
    const { record: grant } = await createGrant(await putPolicy(ALLOW_ALL));
    const pages = [...PAGES, `/admin/grants/${grant.id}`, `/admin/grants/${grant.id}/revoke`, `/admin/counters?grant=${grant.id}`, `/admin/policies/${grant.policy}`, "/admin/decisions?decision=allow"];
    for (const path of pages) {
      const response = await get(gw, path);
      expect(response.status, path).toBe(303);
      expect(response.headers.get("location"), path).toBe(`/admin/sign-in?next=${encodeURIComponent(path)}`);
    }
    const forms: Array<[string, Record<string, string>]> = [
      ["/admin/grants", { label: "x", policy: grant.policy }],
      [`/admin/grants/${grant.id}/revoke`, { confirm: "revoke" }],
      ["/admin/policy-editor", { action: "push", name: "nope", policy: JSON.stringify(ALLOW_ALL) }],
      ["/admin/counters/reset", { grant: grant.id, counter: "c", scope: "grant" }],
    ];
    for (const [path, fields] of forms) {
      const response = await postForm(gw, path, fields);
      expect(response.status, path).toBe(303);
      expect(response.headers.get("location"), path).toMatch(/^\/admin\/sign-in\?next=/);
    }
    expect(await mcpStatus(gw, (await createGrant(grant.policy)).token)).toBe(200);
    expect((await api(gw, `/grants`).then((r) => r.json() as Promise<{ grants: Array<{ id: string; revoked: boolean }> }>)).grants.find((g) => g.id === grant.id)?.revoked).toBe(false);
    expect(await env.POLICIES.get("nope")).toBeNull();
  });

  it("every state-changing form needs this session's CSRF token: without it, or with another session's, 403 and nothing changes", async () => {
    const gw = gateway();
    const policy = await putPolicy({ version: "1", default: "allow", all_tools: { limits: [{ counter: "csrf_calls", window: "hour", max: 5 }] } });
    const { record: grant, token } = await createGrant(policy);
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {});
    const cookie = await signIn(gw);
    const other = csrfOf(await pageText(gw, "/admin/grants", await signIn(gw)));
    const pushName = `csrf-${crypto.randomUUID()}`;
    const forms: Array<[string, Record<string, string>]> = [
      ["/admin/grants", { label: "csrf-probe", policy }],
      [`/admin/grants/${grant.id}/revoke`, { confirm: "revoke" }],
      ["/admin/policy-editor", { action: "push", name: pushName, policy: JSON.stringify(ALLOW_ALL) }],
      ["/admin/policy-editor", { action: "validate", policy: JSON.stringify(ALLOW_ALL) }],
      ["/admin/counters/reset", { grant: grant.id, counter: "csrf_calls", scope: "grant" }],
      ["/admin/sign-out", {}],
    ];
    for (const [path, fields] of forms) {
      for (const csrf of [undefined, "x".repeat(43), other]) {
        const response = await postForm(gw, path, { ...fields, ...(csrf ? { csrf } : {}) }, cookie);
        expect(response.status, `${path} ${csrf ?? "(none)"}`).toBe(403);
        expectPageHeaders(response);
      }
    }
    const grants = (await (await api(gw, "/grants")).json()) as { grants: Array<{ label: string; id: string; revoked: boolean }> };
    expect(grants.grants.some((g) => g.label === "csrf-probe")).toBe(false);
    expect(grants.grants.find((g) => g.id === grant.id)?.revoked).toBe(false);
    expect(await env.POLICIES.get(pushName)).toBeNull();
    const counters = (await (await api(gw, `/grants/${grant.id}/counters`)).json()) as { counters: Array<{ used: number }> };
    expect(counters.counters[0]?.used).toBe(1);
    expect((await get(gw, "/admin/grants", cookie)).status).toBe(200);
  });

  it("the pages send the CSP and the other headers, load nothing from elsewhere and run no script", async () => {
    const gw = gateway();
    const { record: grant } = await createGrant(await putPolicy(RECOMMENDED));
    const cookie = await signIn(gw);
    const paths = [...PAGES, `/admin/grants/${grant.id}`, `/admin/grants/${grant.id}/revoke`, `/admin/counters?grant=${grant.id}`, `/admin/policies/${grant.policy}?tool=send_campaign&arguments=%7B%7D`, "/admin/decisions/global/aud_000000000AAAAAAAAAAA"];
    for (const path of paths) {
      const response = await get(gw, path, cookie);
      expectPageHeaders(response);
      const text = await response.text();
      expect(text, path).not.toMatch(/<script|style=|<style|https?:\/\//);
      expect(text, path).toContain('<nav aria-label="Console">');
    }
    // The approvals list reloads itself (a meta refresh); no other page does.
    expect(await pageText(gw, "/admin/approvals", cookie)).toContain('<meta http-equiv="refresh" content="10"/>');
    expect(await pageText(gw, "/admin/grants", cookie)).not.toContain('http-equiv="refresh"');
    // The section is marked in the navigation.
    expect(await pageText(gw, "/admin/counters", cookie)).toContain('<a href="/admin/counters" aria-current="page">Counters</a>');
  });
});

function expectPageHeaders(response: Response) {
  expect(response.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(response.headers.get("x-frame-options")).toBe("DENY");
}

describe("grants", () => {
  const logged: string[] = [];
  let spy: { mockRestore: () => void } | undefined;
  beforeAll(() => {
    spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
  });
  afterAll(() => spy?.mockRestore());

  it("create shows the token once, and it works on /mcp; revoke (after a confirmation step) makes it 401 within the cache TTL; both are audited", async () => {
    const gw = gateway({ CACHE_TTL_MS: "100" });
    const policy = await putPolicy(ALLOW_ALL);
    const cookie = await signIn(gw);
    const list = await pageText(gw, "/admin/grants", cookie);
    expect(list).toContain(`<option value="${policy}"`);
    const created = await postForm(gw, "/admin/grants", { label: "console-bot", policy, expires: "30d", csrf: csrfOf(list) }, cookie);
    expect(created.status).toBe(200);
    expectPageHeaders(created);
    const page = await created.text();
    const token = /<code id="new-token">(mcpgw_[A-Za-z0-9_-]{43})<\/code>/.exec(page)?.[1];
    expect(token).toBeDefined();
    expect(page).toContain("This is the only time it is shown");
    const grantId = /<dd class="mono">(g_[A-Za-z0-9_-]{12})<\/dd>/.exec(page)?.[1];
    expect(grantId).toBeDefined();

    // The token works, and is never shown again nor logged.
    const agent = await rawAgent(gw, token!);
    const tools = await agent.rpc("tools/list", {});
    expect(tools.result?.tools?.length).toBeGreaterThan(100);
    for (const path of ["/admin/grants", `/admin/grants/${grantId}`, `/admin/grants/${grantId}/revoke`, `/admin/decisions?grant=${grantId}`]) {
      expect(await pageText(gw, path, cookie), path).not.toContain(token!);
    }
    const grantPage = await pageText(gw, `/admin/grants/${grantId}`, cookie);
    expect(grantPage).toContain("console-bot");
    expect(grantPage).toContain('class="status grant-active"');
    expect(grantPage).toMatch(/Expires<\/dt><dd><time datetime="[^"]+">[^<]+<\/time> <span class="hint">\(in 30 d\)<\/span>/);
    expect((await pageText(gw, "/admin/grants", cookie))).toContain(`href="/admin/grants/${grantId}"`);

    // Revoking: the confirmation page, then its form (which must say so).
    const confirm = await pageText(gw, `/admin/grants/${grantId}/revoke`, cookie);
    expect(confirm).toContain("Revoke grant <span>console-bot</span>?");
    const csrf = csrfOf(confirm);
    expect((await postForm(gw, `/admin/grants/${grantId}/revoke`, { csrf }, cookie)).status).toBe(400);
    expect(await mcpStatus(gw, token!)).toBe(200);
    const revoked = await postForm(gw, `/admin/grants/${grantId}/revoke`, { csrf, confirm: "revoke" }, cookie);
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get("location")).toBe(`/admin/grants/${grantId}?revoked`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await mcpStatus(gw, token!)).toBe(401);
    expect((await agent.call("get_campaigns", {})).status).toBe(401);
    const after = await pageText(gw, `/admin/grants/${grantId}?revoked`, cookie);
    expect(after).toContain('class="status grant-revoked"');
    expect(after).not.toContain("Revoke…");

    const actions = adminRecords(await trail(gw, grantId!, "?decision=admin"));
    expect(actions.map((record) => [record.action, record.by, record.target, record.detail])).toEqual([
      ["grant.revoke", "admin", grantId, { label: "console-bot", policy }],
      ["grant.create", "admin", grantId, { label: "console-bot", policy, servers: ["iterable"] }],
    ]);
    expect(logged.some((line) => line.includes(token!))).toBe(false);
    expect(logged.some((line) => line.includes('"action":"grant.create"'))).toBe(true);
  });

  it("a refused create says why and keeps what was typed; an unknown grant is a 404 page", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const csrf = csrfOf(await pageText(gw, "/admin/grants", cookie));
    const noPolicy = await postForm(gw, "/admin/grants", { label: "typed label", policy: "no-such-policy", csrf }, cookie);
    expect(noPolicy.status).toBe(400);
    const text = await noPolicy.text();
    expect(textOf(text)).toContain('there is no policy named "no-such-policy"');
    expect(text).toContain('value="typed label"');
    const badExpiry = await postForm(gw, "/admin/grants", { label: "x", policy: await putPolicy(ALLOW_ALL), expires: "soon", csrf }, cookie);
    expect(badExpiry.status).toBe(400);
    expect(await badExpiry.text()).toContain("expires:");
    expect((await postForm(gw, "/admin/grants", { label: "  ", policy: await putPolicy(ALLOW_ALL), csrf }, cookie)).status).toBe(400);
    expect((await get(gw, "/admin/grants/g_AAAAAAAAAAAA", cookie)).status).toBe(404);
  });
});

describe("policies", () => {
  it("validate shows each problem at its exact JSON path; a valid document shows its version", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const csrf = csrfOf(await pageText(gw, "/admin/policy-editor", cookie));
    const bad = {
      version: "1",
      default: "maybe",
      tools: { send_campaign: { limits: [{ counter: "sends", window: "fortnight", max: 0 }], deny_if: [{ conditions: [{ path: "campaignId", op: "eq", value: 1 }] }] } },
    };
    const response = await postForm(gw, "/admin/policy-editor", { action: "validate", policy: JSON.stringify(bad, null, 2).replaceAll("\n", "\r\n"), csrf }, cookie);
    expect(response.status).toBe(400);
    const page = await response.text();
    for (const path of ["default", "tools.send_campaign.limits[0].window", "tools.send_campaign.limits[0].max", "tools.send_campaign.deny_if[0].conditions[0].path"]) {
      expect(page, path).toContain(`<code class="path">${path}</code>`);
    }
    // The document stays in the editor, as typed.
    expect(page).toContain("&quot;fortnight&quot;");

    const notJson = await postForm(gw, "/admin/policy-editor", { action: "validate", policy: "{ nope", csrf }, cookie);
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toContain('<code class="path">(policy)</code> not valid JSON');

    const good = await postForm(gw, "/admin/policy-editor", { action: "validate", policy: JSON.stringify(RECOMMENDED), csrf }, cookie);
    expect(good.status).toBe(200);
    expect(await good.text()).toMatch(/Valid: version <span class="mono">[0-9a-f]{16}<\/span>/);
  });

  it("simulate shows the decision, the rule, the reason, the limits and the tags, in the editor and on a stored policy's page", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const csrf = csrfOf(await pageText(gw, "/admin/policy-editor", cookie));
    const simulated = await postForm(gw, "/admin/policy-editor", { action: "simulate", policy: JSON.stringify(RECOMMENDED), tool: "send_campaign", arguments: '{"campaignId": 42}', csrf }, cookie);
    expect(simulated.status).toBe(200);
    const text = textOf(await simulated.text());
    expect(text).toContain("Decision: approve");
    expect(text).toContain("/tools/@sends/action");
    expect(text).toContain("a human must approve each call");
    expect(text).toContain("sends_per_hour 20 per hour per grant");
    expect(text).toContain("@sends");
    expect(text).toContain("APPROVE send_campaign by /tools/@sends/action");

    const name = await putPolicy(RECOMMENDED);
    const stored = textOf(await pageText(gw, `/admin/policies/${name}?tool=delete_list&arguments=%7B%22listId%22%3A1%7D`, cookie));
    expect(stored).toContain("Decision: hidden");
    expect(stored).toContain("/hide/0");
    const read = textOf(await pageText(gw, `/admin/policies/${name}?tool=get_campaigns&arguments=%7B%7D`, cookie));
    expect(read).toContain("Decision: allow");
    expect(read).toContain("/tools/@read");
    expect((await get(gw, `/admin/policies/${name}?tool=get_campaigns&arguments=%5B1%5D`, cookie)).status).toBe(400);
    const policyPage = await pageText(gw, `/admin/policies/${name}`, cookie);
    expect(policyPage).toContain("&quot;@sends&quot;: {");
    expect(await pageText(gw, "/admin/policies", cookie)).toContain(`href="/admin/policies/${name}"`);
  });

  it("push stores a new version under the name, validated first, and is audited in the global object", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const name = `pushed-${crypto.randomUUID()}`;
    const csrf = csrfOf(await pageText(gw, "/admin/policy-editor", cookie));
    const invalid = await postForm(gw, "/admin/policy-editor", { action: "push", name, policy: '{"version": "2"}', csrf }, cookie);
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toContain('<code class="path">version</code>');
    expect(await env.POLICIES.get(name)).toBeNull();
    expect((await postForm(gw, "/admin/policy-editor", { action: "push", name: "../bad name", policy: JSON.stringify(ALLOW_ALL), csrf }, cookie)).status).toBe(400);
    expect((await postForm(gw, "/admin/policy-editor", { action: "validate", policy: "x".repeat(600 * 1024), csrf }, cookie)).status).toBe(413);

    const pushed = await postForm(gw, "/admin/policy-editor", { action: "push", name, policy: JSON.stringify(RECOMMENDED, null, 2), csrf }, cookie);
    expect(pushed.status).toBe(303);
    const location = pushed.headers.get("location")!;
    const version = /\?pushed=([0-9a-f]{16})$/.exec(location)?.[1];
    expect(location.startsWith(`/admin/policies/${name}?pushed=`)).toBe(true);
    expect(JSON.parse((await env.POLICIES.get(name))!)).toEqual(RECOMMENDED);
    expect(await pageText(gw, location, cookie)).toContain(`Pushed: version ${version} is stored under this name.`);

    const changed = { ...RECOMMENDED, default: "allow" };
    const editor = await pageText(gw, `/admin/policy-editor?name=${name}`, cookie);
    expect(editor).toContain(`value="${name}"`);
    const second = await postForm(gw, "/admin/policy-editor", { action: "push", name, policy: JSON.stringify(changed), csrf: csrfOf(editor) }, cookie);
    const secondVersion = /\?pushed=([0-9a-f]{16})$/.exec(second.headers.get("location")!)?.[1];
    expect(secondVersion).not.toBe(version);
    expect(JSON.parse((await env.POLICIES.get(name))!)).toEqual(changed);

    const pushes = adminRecords(await trail(gw, "global", "?decision=admin")).filter((record) => record.target === name);
    expect(pushes.map((record) => [record.action, record.by, record.grant, record.detail])).toEqual([
      ["policy.push", "admin", null, { name, version: secondVersion }],
      ["policy.push", "admin", null, { name, version }],
    ]);
  });
});

describe("replay against the trail", () => {
  it("decides a grant's recorded calls again under the editor's policy and shows what would change", async () => {
    const gw = gateway();
    const { record: grant, token } = await createGrant(await putPolicy({ version: "1", default: "allow" }), { label: "replayed" });
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {});
    await agent.call("get_lists", {});
    await settle();
    const cookie = await signIn(gw);
    const editor = await pageText(gw, "/admin/policy-editor", cookie);
    expect(editor).toContain('<h2 id="replay-heading">Replay against the trail</h2>');
    expect(editor).toContain(`<option value="${grant.id}">`);
    const candidate = JSON.stringify({ version: "1", default: "allow", tools: { get_lists: { action: "deny" } } });
    const response = await postForm(gw, "/admin/policy-editor", { action: "replay", policy: candidate, grant: grant.id, since: "1h", csrf: csrfOf(editor) }, cookie);
    expect(response.status).toBe(200);
    const text = textOf(await response.text());
    expect(text).toContain("2 calls of replayed replayed");
    expect(text).toContain("allowed → denied");
    expect(text).toContain("/tools/get_lists/action");
    expect(text).not.toMatch(/get_campaigns[^\n]*allowed → denied/);
    const badSince = await postForm(gw, "/admin/policy-editor", { action: "replay", policy: candidate, grant: grant.id, since: "yesterday", csrf: csrfOf(editor) }, cookie);
    expect(badSince.status).toBe(400);
  });
});

describe("counters", () => {
  it("show each limit's usage after a limited call (per session without a number); a reset (after a confirmation step) is audited", async () => {
    const gw = gateway();
    const id = crypto.randomUUID().slice(0, 8);
    const [grantCounter, globalCounter, sessionCounter] = [`calls_${id}`, `everyone_${id}`, `session_${id}`];
    const policy = await putPolicy({
      version: "1",
      default: "allow",
      tools: { get_campaigns: { limits: [{ counter: grantCounter, window: "minute", max: 2 }] } },
      all_tools: {
        limits: [
          { counter: globalCounter, window: "hour", max: 100, scope: "global" },
          { counter: sessionCounter, window: "minute", max: 3, scope: "session" },
        ],
      },
    });
    const { record: grant, token } = await createGrant(policy, { label: "counted" });
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {});
    await agent.call("get_campaigns", {});
    expect(decisionOf(await agent.call("get_campaigns", {}))).toMatchObject({ decision: "rate_limited" });

    const cookie = await signIn(gw);
    const page = await pageText(gw, `/admin/counters?grant=${grant.id}`, cookie);
    const rows = textOf(page);
    expect(rows).toContain(`${grantCounter}grantminute2 / 2 (reached)/tools/get_campaigns/limits/0`);
    // The third call was refused by the grant's limit, so the global count has two.
    expect(rows).toContain(`${globalCounter}globalhour2 / 100/all_tools/limits/0`);
    expect(rows).toContain(`${sessionCounter}sessionminuteper session/all_tools/limits/1`);
    expect(page).not.toContain(`scope=session`);

    const confirmPath = `/admin/counters/reset?grant=${grant.id}&counter=${grantCounter}&scope=grant`;
    expect(page).toContain(confirmPath.replaceAll("&", "&amp;"));
    const confirm = await pageText(gw, confirmPath, cookie);
    expect(textOf(confirm)).toContain(`Reset ${grantCounter}?`);
    expect((await get(gw, `/admin/counters/reset?grant=${grant.id}&counter=${sessionCounter}&scope=session`, cookie)).status).toBe(404);
    const csrf = csrfOf(confirm);
    const reset = await postForm(gw, "/admin/counters/reset", { grant: grant.id, counter: grantCounter, scope: "grant", csrf }, cookie);
    expect(reset.status).toBe(303);
    const after = textOf(await pageText(gw, reset.headers.get("location")!, cookie));
    expect(after).toContain(`Counter ${grantCounter}/grant was reset.`);
    expect(after).toContain(`${grantCounter}grantminute0 / 2/tools`);
    expect((await agent.call("get_campaigns", {})).result?.isError).toBeFalsy();

    const globalReset = await postForm(gw, "/admin/counters/reset", { grant: grant.id, counter: globalCounter, scope: "global", csrf }, cookie);
    expect(globalReset.status).toBe(303);
    expect(textOf(await pageText(gw, `/admin/counters?grant=${grant.id}`, cookie))).toContain(`${globalCounter}globalhour0 / 100`);
    // Not in the policy, or per session: refused.
    expect((await postForm(gw, "/admin/counters/reset", { grant: grant.id, counter: "other", scope: "grant", csrf }, cookie)).status).toBe(400);
    expect((await postForm(gw, "/admin/counters/reset", { grant: grant.id, counter: sessionCounter, scope: "session", csrf }, cookie)).status).toBe(400);

    const grantResets = adminRecords(await trail(gw, grant.id, "?decision=admin"));
    expect(grantResets.map((record) => [record.action, record.by, record.target, record.grant])).toEqual([["counter.reset", "admin", `${grantCounter}/grant`, { id: grant.id, label: "counted" }]]);
    const globalResets = adminRecords(await trail(gw, "global", "?decision=admin")).filter((record) => record.target === `${globalCounter}/global`);
    expect(globalResets.map((record) => [record.action, record.by, record.grant, record.detail])).toEqual([
      ["counter.reset", "admin", null, { counter: globalCounter, scope: "global", grant: grant.id, policy }],
    ]);
  });
});

describe("decisions", () => {
  it("list a call made a moment before, filter by decision and tool, page with the cursor, and open one record", async () => {
    const gw = gateway();
    const policy = await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: {}, get_lists: {} } });
    const { record: grant, token } = await createGrant(policy, { label: "decided" });
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {});
    await agent.call("get_lists", {});
    await agent.call("send_campaign", { campaignId: 5 });
    await settle();

    const cookie = await signIn(gw);
    const all = await pageText(gw, "/admin/decisions", cookie);
    expect(all).toContain("decided");
    const mine = textOf(await pageText(gw, `/admin/decisions?grant=${grant.id}`, cookie));
    expect(mine).toContain("send_campaign");
    expect(mine).toContain("tool send_campaign is not allowed by this policy (default: deny)");
    expect(mine).toContain("get_lists");
    expect(mine).toContain("get_campaigns");

    const denied = textOf(await pageText(gw, `/admin/decisions?grant=${grant.id}&decision=deny`, cookie));
    expect(denied).toContain("send_campaign");
    expect(denied).not.toContain("get_lists");
    const byTool = textOf(await pageText(gw, `/admin/decisions?grant=${grant.id}&tool=get_lists`, cookie));
    expect(byTool).toContain("get_lists");
    expect(byTool).not.toContain("get_campaigns");
    expect(byTool).not.toContain("send_campaign");
    expect((await get(gw, "/admin/decisions?decision=perhaps", cookie)).status).toBe(400);

    // 50 a page: more calls, and the cursor continues where the first page ended.
    await Promise.all(Array.from({ length: 50 }, () => agent.call("get_lists", {})));
    await settle();
    const first = await pageText(gw, `/admin/decisions?grant=${grant.id}`, cookie);
    const next = /href="(\/admin\/decisions\?grant=[^"]+&amp;cursor=[^"]+)" rel="next"/.exec(first)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toBeDefined();
    const second = await pageText(gw, next!, cookie);
    expect(textOf(second)).toContain("send_campaign");
    expect(second).not.toContain('rel="next"');

    // One record, whole.
    const link = /href="(\/admin\/decisions\/[^"/]+\/aud_[^"]+)"/.exec(second)?.[1];
    expect(link).toBeDefined();
    const record = await pageText(gw, link!, cookie);
    expect(record).toContain(`&quot;grant&quot;: {\n    &quot;id&quot;: &quot;${grant.id}&quot;`);
    expect(record).toMatch(/&quot;argumentsHash&quot;: &quot;[0-9a-f]{64}&quot;/);
    for (const missing of [`/admin/decisions/${grant.id}/aud_000000000AAAAAAAAAAA`, "/admin/decisions/global/not-an-id", `/admin/decisions/g_nosuchgrant0/${link!.split("/").at(-1)}`]) {
      expect((await get(gw, missing, cookie)).status, missing).toBe(404);
    }
  });
});

describe("the admin API's grants, policies and counters", () => {
  // That each of them refuses without the admin token is walked over the whole document in doors.test.ts.
  it("are in the OpenAPI document", async () => {
    const gw = gateway();
    const doc = (await (await gw.fetch(`${ORIGIN}/admin/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/grants", "/grants/{id}/revoke", "/grants/{id}/counters", "/grants/{id}/counters/reset", "/policies", "/policies/{name}", "/policies/validate", "/policies/simulate", "/approvals", "/audit"]),
    );
    expect(Object.keys(doc.paths["/grants"]!)).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.paths["/policies/{name}"]!)).toEqual(expect.arrayContaining(["get", "put"]));
  });

  it("grants: create returns the token once, list never shows it, revoke makes it 401; audited as admin (api)", async () => {
    const gw = gateway({ CACHE_TTL_MS: "100" });
    const policy = await putPolicy(ALLOW_ALL);
    const created = await api(gw, "/grants", { method: "POST", body: { label: "api-bot", policy, expires: "12h" } });
    expect(created.status).toBe(201);
    const { grant, token } = (await created.json()) as { grant: { id: string; status: string; expiresAt: string }; token: string };
    expect(token).toMatch(/^mcpgw_[A-Za-z0-9_-]{43}$/);
    expect(grant.status).toBe("active");
    expect(Date.parse(grant.expiresAt) - Date.now()).toBeGreaterThan(11.9 * 3_600_000);
    expect(await mcpStatus(gw, token)).toBe(200);
    const listed = await (await api(gw, "/grants")).text();
    expect(listed).toContain(grant.id);
    expect(listed).not.toContain(token);

    expect((await api(gw, "/grants", { method: "POST", body: { label: "x", policy: "no-such-policy" } })).status).toBe(400);
    expect((await api(gw, "/grants", { method: "POST", body: { label: "x", policy, expires: "forever" } })).status).toBe(400);
    expect((await api(gw, "/grants", { method: "POST", body: { policy } })).status).toBe(400);

    const revoked = await api(gw, `/grants/${grant.id}/revoke`, { method: "POST" });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { grant: { status: string } }).grant.status).toBe("revoked");
    expect((await api(gw, `/grants/${grant.id}/revoke`, { method: "POST" })).status).toBe(409);
    expect((await api(gw, "/grants/g_AAAAAAAAAAAA/revoke", { method: "POST" })).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await mcpStatus(gw, token)).toBe(401);
    const actions = adminRecords(await trail(gw, grant.id, "?decision=admin"));
    expect(actions.map((record) => [record.action, record.by])).toEqual([
      ["grant.revoke", "admin (api)"],
      ["grant.create", "admin (api)"],
    ]);
  });

  it("policies: list, read, validate, simulate (given or by name), push (audited)", async () => {
    const gw = gateway();
    const name = `api-${crypto.randomUUID()}`;
    const invalid = await api(gw, `/policies/${name}`, { method: "PUT", body: { policy: { version: "1", default: "deny", tools: { x: { limits: [{ counter: "c", window: "minute", max: -1 }] } } } } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { problems: string[] }).problems).toEqual(["tools.x.limits[0].max: Too small: expected number to be >0"]);
    expect(await env.POLICIES.get(name)).toBeNull();
    expect((await api(gw, "/policies/bad%20name", { method: "PUT", body: { policy: ALLOW_ALL } })).status).toBe(400);
    expect((await api(gw, `/policies/${name}`, { method: "PUT", body: { policy: "x".repeat(600 * 1024) } })).status).toBe(413);

    const pushed = await api(gw, `/policies/${name}`, { method: "PUT", body: { policy: RECOMMENDED } });
    expect(pushed.status).toBe(200);
    const { version } = (await pushed.json()) as { version: string };
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    // As text, the same document: the same version.
    const asText = await api(gw, `/policies/${name}`, { method: "PUT", body: { policy: JSON.stringify(RECOMMENDED, null, 4) } });
    expect(((await asText.json()) as { version: string }).version).toBe(version);
    const pushes = adminRecords(await trail(gw, "global", "?decision=admin")).filter((record) => record.target === name);
    expect(pushes.map((record) => [record.action, record.by, record.detail])).toEqual([
      ["policy.push", "admin (api)", { name, version }],
      ["policy.push", "admin (api)", { name, version }],
    ]);

    const list = (await (await api(gw, "/policies")).json()) as { policies: Array<{ name: string; version: string; valid: boolean }> };
    expect(list.policies).toContainEqual({ name, version, valid: true, pushable: true });
    const read = (await (await api(gw, `/policies/${name}`)).json()) as { policy: unknown; version: string };
    expect(read).toMatchObject({ name, version, valid: true, policy: RECOMMENDED, problems: [] });
    expect((await api(gw, "/policies/no-such-policy")).status).toBe(404);

    const valid = (await (await api(gw, "/policies/validate", { method: "POST", body: { policy: RECOMMENDED } })).json()) as { ok: boolean; version: string };
    expect(valid).toEqual({ ok: true, version, problems: [], warnings: [] });
    const problems = (await (await api(gw, "/policies/validate", { method: "POST", body: { policy: '{"version":"1","default":"deny","tools":{"a":{"action":"block"}}}' } })).json()) as { ok: boolean; problems: string[] };
    expect(problems.ok).toBe(false);
    expect(problems.problems[0]).toMatch(/^tools\.a\.action: /);

    const byName = await api(gw, "/policies/simulate", { method: "POST", body: { name, tool: "send_campaign", arguments: { campaignId: 1 } } });
    expect(byName.status).toBe(200);
    expect(await byName.json()).toMatchObject({
      decision: "approve",
      rule: "/tools/@sends/action",
      reason: expect.stringContaining("a human must approve each call"),
      limits: [{ counter: "sends_per_hour", max: 20, window: "hour", scope: "grant", amount: 1, rule: "/tools/@sends/limits/0" }],
      tags: expect.arrayContaining(["sends"]),
      text: expect.stringMatching(/^APPROVE send_campaign by \/tools\/@sends\/action: /),
    });
    const given = await api(gw, "/policies/simulate", { method: "POST", body: { policy: RECOMMENDED, tool: "get_lists", tags: ["read"] } });
    expect(await given.json()).toMatchObject({ decision: "allow", rule: "/tools/@read" });
    expect((await api(gw, "/policies/simulate", { method: "POST", body: { tool: "x" } })).status).toBe(400);
    expect((await api(gw, "/policies/simulate", { method: "POST", body: { name: "no-such-policy", tool: "x" } })).status).toBe(404);
    expect((await api(gw, "/policies/simulate", { method: "POST", body: { policy: { version: "9" }, tool: "x" } })).status).toBe(400);
  });

  it("counters: live usage per limit, and a reset (audited)", async () => {
    const gw = gateway();
    const counter = `api_calls_${crypto.randomUUID().slice(0, 8)}`;
    const { record: grant, token } = await createGrant(await putPolicy({ version: "1", default: "allow", all_tools: { limits: [{ counter, window: "hour", max: 9 }] } }));
    const agent = await rawAgent(gw, token);
    await agent.call("get_campaigns", {});
    const counters = (await (await api(gw, `/grants/${grant.id}/counters`)).json()) as { counters: unknown[] };
    expect(counters.counters).toEqual([{ rule: "/all_tools/limits/0", counter, scope: "grant", server: "iterable", window: "hour", align: "sliding", max: 9, used: 1 }]);
    expect((await api(gw, `/grants/${grant.id}/counters/reset`, { method: "POST", body: { counter: "nope", scope: "grant" } })).status).toBe(400);
    const reset = await api(gw, `/grants/${grant.id}/counters/reset`, { method: "POST", body: { counter, scope: "grant" } });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toEqual({ counter, scope: "grant", dropped: 1 });
    expect(((await (await api(gw, `/grants/${grant.id}/counters`)).json()) as { counters: Array<{ used: number }> }).counters[0]?.used).toBe(0);
    expect((await api(gw, "/grants/g_AAAAAAAAAAAA/counters")).status).toBe(404);
    expect(adminRecords(await trail(gw, grant.id, "?decision=admin")).map((record) => [record.action, record.by, record.target])).toEqual([["counter.reset", "admin (api)", `${counter}/grant`]]);
  });
});

describe("Cloudflare Access", () => {
  const team = `https://console-test-${crypto.randomUUID().slice(0, 8)}.cloudflareaccess.com`;
  const audience = "aud-tag-0123456789abcdef";
  const access = { ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: audience };
  let keys: CryptoKeyPair;
  let strangerKeys: CryptoKeyPair;
  let certsRequests = 0;
  let fetchSpy: { mockRestore: () => void } | undefined;

  beforeAll(async () => {
    const params = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
    keys = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
    strangerKeys = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as JsonWebKey;
    // Cloudflare Access cannot run here: its certs endpoint is stood in for, and only it.
    const realFetch = globalThis.fetch;
    fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === `${team}/cdn-cgi/access/certs`) {
        certsRequests += 1;
        return Response.json({ keys: [{ ...jwk, kid: "test-key", alg: "RS256", use: "sig" }], public_cert: { kid: "test-key", cert: "" }, public_certs: [] });
      }
      return realFetch(input, init);
    });
  });
  afterAll(() => fetchSpy?.mockRestore());

  async function jwt(claims: Record<string, unknown>, options: { key?: CryptoKey; kid?: string; alg?: string } = {}): Promise<string> {
    const encode = (value: object) => base64url(new TextEncoder().encode(JSON.stringify(value)));
    const now = Math.floor(Date.now() / 1000);
    const header = encode({ alg: options.alg ?? "RS256", kid: options.kid ?? "test-key", typ: "JWT" });
    const payload = encode({ aud: [audience], email: "alice@example.com", exp: now + 600, iat: now - 10, nbf: now - 10, iss: team, type: "app", sub: "user-1", ...claims });
    const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", options.key ?? keys.privateKey, new TextEncoder().encode(`${header}.${payload}`));
    return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
  }

  const assertion = (token: string) => ({ "cf-access-jwt-assertion": token });

  it("a valid Access token signs the request in as its email, without the admin token; that email is who acted", async () => {
    const gw = gateway(access);
    const token = await jwt({});
    const list = await get(gw, "/admin/grants", undefined, assertion(token));
    expect(list.status).toBe(200);
    expectPageHeaders(list);
    const page = await list.text();
    expect(page).toContain("Signed in as <strong>alice@example.com</strong> (Cloudflare Access)");
    // The sign-in page goes straight on.
    const signInPage = await get(gw, "/admin/sign-in?next=%2Fadmin%2Fgrants", undefined, assertion(token));
    expect(signInPage.status).toBe(303);
    expect(signInPage.headers.get("location")).toBe("/admin/grants");

    const policy = await putPolicy(ALLOW_ALL);
    const csrf = csrfOf(page);
    // The form needs the Access token too: a CSRF token alone opens nothing.
    expect((await postForm(gw, "/admin/grants", { label: "access-made", policy, csrf })).status).toBe(303);
    // Another person's CSRF token is refused.
    const bob = await jwt({ email: "bob@example.com" });
    expect((await postForm(gw, "/admin/grants", { label: "access-made", policy, csrf }, undefined, assertion(bob))).status).toBe(403);
    const created = await postForm(gw, "/admin/grants", { label: "access-made", policy, csrf }, undefined, assertion(token));
    expect(created.status).toBe(200);
    const grantId = /<dd class="mono">(g_[A-Za-z0-9_-]{12})<\/dd>/.exec(await created.text())?.[1];
    const records = adminRecords(await trail(gw, grantId!, "?decision=admin"));
    expect(records.map((record) => [record.action, record.by])).toEqual([["grant.create", "alice@example.com"]]);

    // An approval decided on the page records the email too.
    const approvePolicy = await putPolicy({ version: "1", default: "deny", tools: { send_campaign: { action: "approve" } } });
    const { token: agentToken } = await createGrant(approvePolicy, { label: "access-approval" });
    const agent = await rawAgent(gw, agentToken);
    const pending = decisionOf(await agent.call("send_campaign", { campaignId: 3 })) as { approval: { id: string; url: string } };
    const path = new URL(pending.approval.url).pathname;
    const approvalCsrf = csrfOf(await (await get(gw, path, undefined, assertion(token))).text());
    expect((await postForm(gw, path, { decision: "approve", csrf: approvalCsrf }, undefined, assertion(token))).status).toBe(303);
    const approval = (await (await api(gw, `/approvals/${pending.approval.id}`)).json()) as { decidedBy: string };
    expect(approval.decidedBy).toBe("alice@example.com");

    // Sign-out ends Access's own session.
    const out = await postForm(gw, "/admin/sign-out", { csrf }, undefined, assertion(token));
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/cdn-cgi/access/logout");
    // The team's keys were fetched once and then cached.
    expect(certsRequests).toBe(1);
  });

  it("refused: a wrong audience, another issuer, an expired token, another key, no email, a tampered or unsigned token; and ignored without the settings", async () => {
    const gw = gateway(access);
    const now = Math.floor(Date.now() / 1000);
    const [header, payload] = (await jwt({})).split(".") as [string, string];
    const tampered = `${header}.${base64url(new TextEncoder().encode(JSON.stringify({ ...JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/"))), email: "mallory@example.com" })))}.${(await jwt({})).split(".")[2]}`;
    const refused: Record<string, string> = {
      "wrong aud": await jwt({ aud: ["another-application"] }),
      "wrong issuer": await jwt({ iss: "https://other-team.cloudflareaccess.com" }),
      expired: await jwt({ exp: now - 1 }),
      "not yet valid": await jwt({ nbf: now + 3600 }),
      "another key": await jwt({}, { key: strangerKeys.privateKey }),
      "unknown kid": await jwt({}, { kid: "other-key" }),
      "no email": await jwt({ email: undefined, common_name: "service-token" }),
      tampered,
      "alg none": `${base64url(new TextEncoder().encode(JSON.stringify({ alg: "none", kid: "test-key" })))}.${payload}.`,
      garbage: "not-a-jwt",
    };
    for (const [why, token] of Object.entries(refused)) {
      const response = await get(gw, "/admin/grants", undefined, assertion(token));
      expect(response.status, why).toBe(303);
      expect(response.headers.get("location"), why).toBe(`/admin/sign-in?next=${encodeURIComponent("/admin/grants")}`);
    }
    // A string aud is accepted as well as a list.
    expect((await get(gw, "/admin/grants", undefined, assertion(await jwt({ aud: audience })))).status).toBe(200);
    // Without ACCESS_TEAM_DOMAIN / ACCESS_AUD the header means nothing.
    const valid = await jwt({});
    expect((await get(gateway(), "/admin/grants", undefined, assertion(valid))).status).toBe(303);
    expect((await get(gateway({ ACCESS_TEAM_DOMAIN: team }), "/admin/grants", undefined, assertion(valid))).status).toBe(303);
    // The admin token still signs in when Access is configured.
    const cookie = await signIn(gw);
    expect(cookie.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
    expect(await pageText(gw, "/admin/grants", cookie)).toContain("Signed in as <strong>admin</strong> (admin token)");
  });
});
