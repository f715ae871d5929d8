/**
 * Every door declared once: a walk over the Worker's own route table (and the
 * admin API's generated OpenAPI document) proving that each route refuses
 * without its credential. A route added later is walked too; a public one
 * must be named in PUBLIC below, with why.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminApiDocument } from "../../src/admin/api.ts";
import { app, LAZY_APPS } from "../../src/app.ts";
import { ALLOW_ALL, createGrant, gateway, putPolicy, rawAgent, testAddress, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const WRONG_ADMIN_TOKEN = "not-the-admin-token-0123456789abcdef";

/** Routes that open without a credential, and why. Anything else under a door must refuse. */
const PUBLIC = new Map<string, string>([
  ["GET /", "a page naming the gateway and its version, and where /mcp and /admin are"],
  ["GET /favicon.ico", "the tab icon"],
  ["GET /admin/api/openapi.json", "the API's description: it names routes, never data"],
  ["GET /admin", "a redirect to the approvals page, which then needs a session"],
  ["GET /admin/style.css", "the console's stylesheet"],
  ["GET /admin/sign-in", "the sign-in form"],
  ["POST /admin/sign-in", "the sign-in form's answer: it checks the admin token itself (throttled)"],
  ["GET /oauth/style.css", "the sign-in pages' stylesheet"],
  ["POST /oauth/style.css", "only the host check is declared for POST there: it finds no route"],
  ["GET /.well-known/oauth-protected-resource", "RFC 9728 metadata"],
  ["GET /.well-known/oauth-protected-resource/mcp", "RFC 9728 metadata"],
  ["GET /.well-known/oauth-protected-resource/mcp/:server", "RFC 9728 metadata of one server's resource, /mcp/<server> (404 for a server not declared)"],
  ["GET /.well-known/oauth-authorization-server", "RFC 8414 metadata"],
  ["POST /register", "RFC 7591 dynamic registration is open by design: bounded and throttled per address"],
  ["GET /authorize", "opens the sign-in page of a valid request; every step after it is a POST with the flow's CSRF token"],
]);

type Route = { method: string; path: string };

/** Every (method, path) the Worker answers, with middleware-only entries and duplicates dropped. */
async function routes(): Promise<Route[]> {
  const seen = new Map<string, Route>();
  // The Worker's own table, and the tables of the apps it builds on first use (their placeholders dropped).
  const lazy = Object.values(LAZY_APPS);
  const placeholders = new Set(lazy.flatMap((mount) => mount.paths));
  const tables = [app.routes.filter((route) => !(route.method === "ALL" && placeholders.has(route.path))), ...(await Promise.all(lazy.map(async (mount) => (await mount.load()).routes)))];
  for (const { method, path } of tables.flat()) {
    if (path.endsWith("*")) continue; // middleware (use) entries, not routes
    // Under /admin an ALL entry is middleware on one path (a body limit); OAuth's ALL entries are the library's endpoints.
    if (method === "ALL" && path.startsWith("/admin")) continue;
    const methods = method === "ALL" ? ["GET", "POST"] : [method];
    for (const m of methods) if (m !== "HEAD" && m !== "OPTIONS") seen.set(`${m} ${path}`, { method: m, path });
  }
  return [...seen.values()];
}

/** A concrete URL path for a route pattern (`:id` and `{id}` filled with plausible values). */
function concrete(path: string): string {
  return path
    .replace(/[:{]id}?/g, "apr_AAAAAAAAAAAAAAAAAAAAAA")
    .replace(/[:{]name}?/g, "recommended")
    .replace(/[:{]object}?/g, "global")
    .replace(/[:{]signIn}?/g, "x")
    .replace(/[:{]server}?/g, "iterable");
}

function send(gw: Gateway, route: Route, headers: Record<string, string> = {}) {
  const body = route.method === "GET" ? undefined : route.path.startsWith("/admin/api") || route.path.startsWith("/mcp") ? "{}" : "a=b";
  const type = body === "{}" ? "application/json" : "application/x-www-form-urlencoded";
  return gw.fetch(`${ORIGIN}${concrete(route.path)}`, {
    method: route.method,
    headers: { ...(body ? { "content-type": type } : {}), accept: "application/json, text/event-stream", ...headers },
    ...(body ? { body } : {}),
    redirect: "manual",
  });
}

describe("every door refuses without its credential", () => {
  it("the route table has the doors this test knows, and nothing else", async () => {
    for (const route of await routes()) {
      const key = `${route.method} ${route.path}`;
      const known = PUBLIC.has(key) || /^\/(admin|mcp$|mcp\/:server$|token$|authorize$|register$|\.well-known\/)/.test(route.path);
      expect(known, `${key} is not behind a known door: add it to PUBLIC with a reason, or put it behind one`).toBe(true);
    }
  });

  it("every route of the generated OpenAPI document answers 401 without the admin token, with a grant token, and with a wrong one", async () => {
    const gw = gateway();
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const document = adminApiDocument() as unknown as { paths: Record<string, Record<string, unknown>> };
    let walked = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        const route = { method: method.toUpperCase(), path: `/admin/api${path}` };
        for (const authorization of [undefined, `Bearer ${grantToken}`, `Bearer ${WRONG_ADMIN_TOKEN}`]) {
          // A fresh address each time: this walk is about the door, not the throttle.
          const response = await send(gw, route, { ...(authorization ? { authorization } : {}), "cf-connecting-ip": testAddress() });
          expect(response.status, `${route.method} ${route.path} with ${authorization?.slice(0, 13) ?? "nothing"}`).toBe(401);
          expect(response.headers.get("www-authenticate")).toContain("Bearer");
        }
        walked++;
      }
    }
    expect(walked).toBeGreaterThanOrEqual(16);
    // And the route table has no API route the document does not describe.
    const documented = new Set(Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /admin/api${path.replace(/\{(\w+)\}/g, ":$1")}`)));
    for (const route of (await routes()).filter((r) => r.path.startsWith("/admin/api/"))) {
      const key = `${route.method} ${route.path}`;
      expect(PUBLIC.has(key) || documented.has(key), `${key} is served but not in the OpenAPI document`).toBe(true);
    }
  });

  it("a policy named openapi.json can be neither read nor overwritten without the admin token, nor pushed with it", async () => {
    const gw = gateway();
    const put = (authorization?: string) =>
      gw.fetch(`${ORIGIN}/admin/api/policies/openapi.json`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ policy: ALLOW_ALL }),
      });
    expect((await put()).status).toBe(401);
    expect((await gw.fetch(`${ORIGIN}/admin/api/policies/openapi.json`)).status).toBe(401);
    for (const suffix of ["/admin/api/grants/openapi.json", "/admin/api/approvals/openapi.json", "/admin/api/x/openapi.json"]) {
      expect((await gw.fetch(`${ORIGIN}${suffix}`)).status, suffix).toBe(401);
    }
    // Not a policy name any more: even the operator cannot push under it.
    const pushed = await put(`Bearer ${env.ADMIN_TOKEN}`);
    expect(pushed.status).toBe(400);
    expect(await env.POLICIES.get("openapi.json")).toBeNull();
    // Exactly the document itself is public.
    const doc = await gw.fetch(`${ORIGIN}/admin/api/openapi.json`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("every console route but sign-in sends a request without a session (or with only a grant token) to sign-in, and changes nothing", async () => {
    const gw = gateway();
    const { token: grantToken, record: grant } = await createGrant(await putPolicy(ALLOW_ALL));
    const consoleRoutes = (await routes()).filter((r) => r.path.startsWith("/admin") && !r.path.startsWith("/admin/api") && !PUBLIC.has(`${r.method} ${r.path}`));
    expect(consoleRoutes.length).toBeGreaterThanOrEqual(20);
    for (const route of consoleRoutes) {
      const attempts: Array<Record<string, string>> = [{}, { authorization: `Bearer ${grantToken}` }, { cookie: `mcp_gateway_admin=${grantToken}` }, { authorization: `Bearer ${env.ADMIN_TOKEN}` }];
      for (const headers of attempts) {
        const response = await send(gw, { ...route, path: route.path.replace(":id", grant.id) }, headers);
        expect(response.status, `${route.method} ${route.path}`).toBe(303);
        expect(response.headers.get("location"), `${route.method} ${route.path}`).toMatch(/^\/admin\/sign-in\?next=/);
      }
    }
    const grants = await env.GRANTS.get(`grant:${grant.id}`, { type: "json" });
    expect((grants as { revoked?: boolean }).revoked ?? false).toBe(false);
  });

  it("/mcp takes a grant's token only: the admin token and nothing are 401", async () => {
    const gw = gateway();
    for (const route of (await routes()).filter((r) => r.path === "/mcp" || r.path === "/mcp/:server")) {
      const attempts: Array<Record<string, string>> = [{}, { authorization: `Bearer ${env.ADMIN_TOKEN}` }];
      for (const headers of attempts) {
        const response = await send(gw, route, { ...headers, "mcp-protocol-version": "2025-06-18" });
        expect(response.status, `${route.method} /mcp`).toBe(401);
        expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      }
    }
  });

  it("the OAuth routes that change state refuse without their credential: /authorize steps without the flow's CSRF token, /token without a code or refresh token", async () => {
    const gw = gateway();
    const registered = await gw.fetch(`${ORIGIN}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "doors", redirect_uris: ["https://app.example/callback"], token_endpoint_auth_method: "none" }),
    });
    expect(registered.status).toBe(201);
    const { client_id } = (await registered.json()) as { client_id: string };
    const query = new URLSearchParams({
      response_type: "code",
      client_id,
      redirect_uri: "https://app.example/callback",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      resource: `${ORIGIN}/mcp`,
      state: "s",
    });
    for (const step of ["grant", "operator", "policy", "consent", "deny"]) {
      const response = await gw.fetch(`${ORIGIN}/authorize?${query}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ step, grant_token: "mcpgw_x", admin_token: env.ADMIN_TOKEN, decision: "approve", policy: "recommended" }).toString(),
        redirect: "manual",
      });
      expect(response.status, step).toBe(403);
      expect(response.headers.get("location"), step).toBeNull();
    }
    const exchanges: Array<Record<string, string>> = [
      { grant_type: "authorization_code", code: "x:y:z", code_verifier: "v".repeat(43), redirect_uri: "https://app.example/callback" },
      { grant_type: "refresh_token", refresh_token: "x:y:z" },
    ];
    for (const grant of exchanges) {
      const response = await gw.fetch(`${ORIGIN}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...grant, client_id }).toString(),
      });
      expect([400, 401], grant.grant_type).toContain(response.status);
      expect(((await response.json()) as { error: string }).error).toMatch(/^invalid_(grant|client|request)$/);
    }
  });
});

describe("policy names that cannot look like a file or a route", () => {
  it("a stored policy whose name no longer fits keeps working for its grants, takes no new version, and is marked in the list", async () => {
    const gw = gateway();
    const legacy = `Legacy.Name-${crypto.randomUUID()}`;
    await env.POLICIES.put(legacy, JSON.stringify(ALLOW_ALL));
    const { token } = await createGrant(legacy);
    const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
    // Its grant still works.
    const answer = await (await rawAgent(gw, token)).call("get_campaigns", {});
    expect(answer.result?.isError).toBeUndefined();
    expect(answer.result?.content).toBeDefined();
    // It is listed, marked; it cannot be pushed to; a plain name can.
    const list = (await (await gw.fetch(`${ORIGIN}/admin/api/policies`, { headers: admin })).json()) as { policies: Array<{ name: string; pushable: boolean }> };
    expect(list.policies.find((policy) => policy.name === legacy)?.pushable).toBe(false);
    const push = (name: string) => gw.fetch(`${ORIGIN}/admin/api/policies/${encodeURIComponent(name)}`, { method: "PUT", headers: admin, body: JSON.stringify({ policy: ALLOW_ALL }) });
    expect((await push(legacy)).status).toBe(400);
    for (const name of ["a.json", "Upper", "-x", "x/y", "x".repeat(65)]) expect((await push(name)).status, name).toBe(400);
    expect((await push(`plain_name-${crypto.randomUUID().slice(0, 8)}`)).status).toBe(200);
  });

  it("a policy select never preselects the first name: the operator chooses, or it is recommended when that exists", async () => {
    const { GrantTermsFields } = await import("../../src/admin/pages/parts.tsx");
    const summary = (name: string) => ({ name, version: "v", valid: true, pushable: true });
    const selected = (policies: ReturnType<typeof summary>[], chosen = "") =>
      /<option[^>]*selected[^>]*>([^<]*)</.exec(String(GrantTermsFields({ policies, values: { policy: chosen, expires: "" }, expiresLabel: "Expires" })))?.[1]?.trim();
    expect(selected([summary("aaa-openapi"), summary("zzz")])).toBe("Choose a policy");
    expect(selected([summary("aaa-openapi"), summary("recommended")])).toBe("recommended (version v)");
    expect(selected([summary("aaa-openapi"), summary("recommended")], "aaa-openapi")).toBe("aaa-openapi (version v)");
  });
});

describe("admin token guessing is throttled per address, and a correct token never is", () => {
  it("200 concurrent wrong admin tokens on the API meet 429 with Retry-After after 10; the right token and agents from that address go on", async () => {
    const gw = gateway();
    const address = testAddress();
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const asFrom = (token: string) => gw.fetch(`${ORIGIN}/admin/api/policies`, { headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": address } });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => asFrom(`${WRONG_ADMIN_TOKEN}-${i}`)));
    const statuses = answers.map((response) => response.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(190);
    expect(answers.find((response) => response.status === 429)?.headers.get("retry-after")).toBe("60");
    // The right token from the same address is neither counted nor refused; nor is an agent's /mcp traffic.
    expect((await asFrom(env.ADMIN_TOKEN)).status).toBe(200);
    const agent = await rawAgent(gw, grantToken);
    expect((await agent.call("get_campaigns", {})).result?.content).toBeDefined();
    // Another address is not throttled by this one's guesses.
    expect((await gw.fetch(`${ORIGIN}/admin/api/policies`, { headers: { authorization: `Bearer ${WRONG_ADMIN_TOKEN}`, "cf-connecting-ip": testAddress() } })).status).toBe(401);
  });

  it("the console's sign-in form answers 429 with Retry-After after 10 wrong tokens from one address, and still signs in the right one", async () => {
    const gw = gateway();
    const signIn = (token: string) =>
      gw.fetch(`${ORIGIN}/admin/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, next: "/admin/approvals" }).toString(),
        redirect: "manual",
      });
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn(`${WRONG_ADMIN_TOKEN}-${i}`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    const throttled = await signIn("mcpgw_not-an-admin-token");
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("60");
    expect(await throttled.text()).toContain("Too many wrong tokens");
    const right = await signIn(env.ADMIN_TOKEN);
    expect(right.status).toBe(303);
    expect(right.headers.get("set-cookie")).toContain("mcp_gateway_admin=");
  });
});

describe("what a browser finds at the gateway's own URL", () => {
  it("GET / is a small page naming the gateway, its version and where /mcp and /admin are; /favicon.ico is an icon", async () => {
    const gw = gateway();
    const home = await gw.fetch(`${ORIGIN}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-security-policy")).toContain("default-src 'none'");
    const text = await home.text();
    expect(text).toMatch(/mcp-policy-gateway \d+\.\d+\.\d+/);
    expect(text).toContain(`${ORIGIN}/mcp`);
    expect(text).toContain('href="/admin"');
    const icon = await gw.fetch(`${ORIGIN}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/x-icon");
    const bytes = new Uint8Array(await icon.arrayBuffer());
    // An ICO header: reserved 0, type 1 (icon), one image of 16×16.
    expect([...bytes.slice(0, 8)]).toEqual([0, 0, 1, 0, 1, 0, 16, 16]);
    expect(bytes.byteLength).toBe(6 + 16 + 40 + 16 * 16 * 4 + 16 * 4);
  });
});
