/**
 * OAuth sign-in with several servers behind the gateway: each `/mcp/<server>`
 * is a protected resource of its own (RFC 9728 metadata, the 401's
 * resource_metadata), an access token is bound to the resource its sign-in
 * asked for (RFC 8707) and refused anywhere else with the reason, the
 * operator's page chooses the servers of the grant it creates, and a grant
 * token's sign-in keeps its grant's servers. Tokens from before (bound to
 * `/mcp`, or to nothing) keep working at `/mcp`.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashToken, tokenKey, type GrantRecord } from "../../src/grants/grant.ts";
import { issueGrant } from "../../src/grants/records.ts";
import { readGrant } from "../../src/oauth/grant-lookup.ts";
import { ALLOW_ALL, gateway, newTag, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP, type Gateway } from "./gateway.ts";
import { authorizeUrl, Browser, checkedBoxes, decode, INITIALIZE, ORIGIN, pkce, REDIRECT, register, RESOURCE, signIn, token, type Tokens } from "./oauth-flow.ts";

/** Two servers, both the sandbox: its Iterable-shaped server first (the default), its features server second. */
const TWO_SERVERS = JSON.stringify([
  { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL", catalog: "iterable" },
  { name: "features", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
]);
const FEATURES = `${RESOURCE}/features`;
const ITERABLE = `${RESOURCE}/iterable`;

const twoServers = () => gateway({ SERVERS: TWO_SERVERS });

function post(gw: Gateway, path: string, accessToken?: string) {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": newTag() };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  return gw.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body: JSON.stringify(INITIALIZE) });
}

/** The serverInfo an initialize through the gateway answers with (the upstream's). */
async function serverInfoName(response: Response): Promise<string | undefined> {
  const text = await response.text();
  const data = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "{}");
  return (JSON.parse(data) as { result?: { serverInfo?: { name?: string } } }).result?.serverInfo?.name;
}

async function grantWith(servers: string[] | undefined): Promise<{ token: string; record: GrantRecord }> {
  const issued = await issueGrant({ label: "servers-test", policy: await putPolicy(ALLOW_ALL), ...(servers ? { servers } : {}) });
  for (const entry of issued.entries) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
  return issued;
}

/** The authorize page of a new sign-in for `resource`, in a browser, and the operator's policy page after the admin token. */
async function operatorPage(gw: Gateway, resource: string) {
  const client = await register(gw);
  const { challenge } = await pkce();
  const browser = new Browser(gw);
  const start = await browser.fetch(authorizeUrl(client.client_id, challenge, { resource }));
  expect(start.status).toBe(200);
  const operator = await browser.submit(await start.text(), "operator", { admin_token: env.ADMIN_TOKEN });
  expect(operator.status).toBe(200);
  return { browser, page: await operator.text() };
}

describe("each server is a protected resource of its own", () => {
  it("per-server resource metadata: /.well-known/oauth-protected-resource/mcp/<server> names <origin>/mcp/<server>; an unknown server is 404", async () => {
    const gw = twoServers();
    for (const [path, resource] of [
      ["/mcp", RESOURCE],
      ["/mcp/iterable", ITERABLE],
      ["/mcp/features", FEATURES],
    ] as const) {
      const response = await gw.fetch(`${ORIGIN}/.well-known/oauth-protected-resource${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.json(), path).toMatchObject({ resource, authorization_servers: [ORIGIN], bearer_methods_supported: ["header"] });
    }
    // The root document stays /mcp's, for clients that look only there.
    expect(await (await gw.fetch(`${ORIGIN}/.well-known/oauth-protected-resource`)).json()).toMatchObject({ resource: RESOURCE });
    const unknown = await gw.fetch(`${ORIGIN}/.well-known/oauth-protected-resource/mcp/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "not_found" });
    const server = (await (await gw.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`)).json()) as { protected_resources: string[] };
    expect(server.protected_resources).toEqual([RESOURCE, ITERABLE, FEATURES]);
  });

  it("the 401 at /mcp/<server> names that server's metadata, in the JSON-RPC error shape; an unknown server is 404 before any token", async () => {
    const gw = twoServers();
    for (const server of ["features", "iterable"]) {
      const response = await post(gw, `/mcp/${server}`);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(
        new RegExp(`^Bearer realm="mcp-policy-gateway", error="invalid_request", error_description="[^"]+", resource_metadata="${ORIGIN}/\\.well-known/oauth-protected-resource/mcp/${server}"$`),
      );
      expect(await response.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
    }
    const unknown = await post(gw, "/mcp/nope", "g_AAAAAAAAAAAA:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("www-authenticate")).toBeNull();
    expect(JSON.stringify(await unknown.json())).toContain('no MCP server named \\"nope\\"');
  });
});

describe("a token works at the resource it was issued for, and nowhere else", () => {
  it("a sign-in for /mcp/features (two servers) gives a token that works at /mcp/features and is refused (401 invalid_token, with the reason) at /mcp/iterable and /mcp", async () => {
    const gw = twoServers();
    const { tokens } = await signIn({ gw, resource: FEATURES, operator: { policy: await putPolicy(ALLOW_ALL) } });
    expect(tokens.resource).toBe(FEATURES);

    const there = await post(gw, "/mcp/features", tokens.access_token);
    expect(there.status).toBe(200);
    expect(await serverInfoName(there)).toBe("sandbox-features");

    for (const [path, server] of [
      ["/mcp/iterable", "iterable"],
      ["/mcp", undefined],
    ] as const) {
      const refused = await post(gw, path, tokens.access_token);
      expect(refused.status, path).toBe(401);
      const challenge = refused.headers.get("www-authenticate")!;
      expect(challenge, path).toContain('error="invalid_token"');
      expect(challenge, path).toContain(`the access token was issued for ${FEATURES}, not for ${ORIGIN}${path}`);
      expect(challenge, path).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/mcp${server ? `/${server}` : ""}"`);
      expect(await refused.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000, message: expect.stringContaining(`issued for ${FEATURES}`) } });
    }
  });

  it("a token issued for /mcp works at /mcp and is refused at /mcp/<server>, though the grant reaches that server", async () => {
    const gw = twoServers();
    const { record, token: grantToken } = await grantWith(["iterable"]);
    const { tokens } = await signIn({ gw, grantToken });
    expect(tokens.resource).toBe(RESOURCE);
    expect((await post(gw, "/mcp", tokens.access_token)).status).toBe(200);
    const refused = await post(gw, "/mcp/iterable", tokens.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain(`issued for ${RESOURCE}, not for ${ITERABLE}`);
    // The grant's own token reaches it.
    expect((await post(gw, "/mcp/iterable", grantToken)).status).toBe(200);
    expect(record.servers).toEqual(["iterable"]);
  });

  it("old-style tokens keep working at /mcp: one bound to /mcp before the gateway declared servers, and one stored with no audience at all", async () => {
    // Signed in while the gateway had its one server (UPSTREAM_* settings); the gateway then declares two.
    const { record, token: grantToken } = await grantWith(undefined);
    const { tokens } = await signIn({ gw: gateway(), grantToken });
    const later = twoServers();
    const initialized = await post(later, "/mcp", tokens.access_token);
    expect(initialized.status).toBe(200);
    expect(await serverInfoName(initialized)).toBe("iterable-mcp");

    // A token issued before tokens were bound to a resource: its KV record has no audience.
    const { tokens: unbound } = await signIn({ gw: gateway(), grantToken });
    const keys = (await env.OAUTH_KV.list({ prefix: `token:${record.id}:${unbound.access_token.split(":")[1]}:` })).keys;
    expect(keys).toHaveLength(1);
    const stored = (await env.OAUTH_KV.get(keys[0]!.name, { type: "json" })) as Record<string, unknown>;
    expect(stored.audience).toBe(RESOURCE);
    delete stored.audience;
    await env.OAUTH_KV.put(keys[0]!.name, JSON.stringify(stored), { expirationTtl: 3600 });
    const fresh = twoServers();
    expect((await post(fresh, "/mcp", unbound.access_token)).status).toBe(200);
    const elsewhere = await post(fresh, "/mcp/iterable", unbound.access_token);
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get("www-authenticate")).toContain(`issued for ${RESOURCE}`);
  });
});

describe("the resource is fixed at the authorize request", () => {
  it("a code and a refresh token for /mcp/features give tokens for /mcp/features only: another resource at the token endpoint is invalid_target", async () => {
    const gw = twoServers();
    const policy = await putPolicy(ALLOW_ALL);
    const client = await register(gw);
    const { verifier, challenge } = await pkce();
    const browser = new Browser(gw);
    const start = await browser.fetch(authorizeUrl(client.client_id, challenge, { resource: FEATURES }));
    const operator = await browser.submit(await start.text(), "operator", { admin_token: env.ADMIN_TOKEN });
    const policyPage = await operator.text();
    const consent = await browser.submit(policyPage, "policy", { policy, expires: "", ...checkedBoxes(policyPage, "servers") });
    const back = await browser.submit(await consent.text(), "consent", { decision: "approve" });
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    const exchange = { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier };
    for (const resource of [RESOURCE, ITERABLE]) {
      const refused = await token(gw, { ...exchange, resource });
      expect(refused.status, resource).toBe(400);
      expect(await refused.json()).toMatchObject({ error: "invalid_target" });
    }
    // Without a resource the code's own is kept (it was not spent by the refusals above: they failed before).
    const exchanged = await token(gw, exchange);
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as Tokens;
    expect(tokens.resource).toBe(FEATURES);
    const elsewhere = await token(gw, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id, resource: RESOURCE });
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.json()).toMatchObject({ error: "invalid_target" });
    const refreshed = await token(gw, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    const renewed = (await refreshed.json()) as Tokens;
    expect((await post(gw, "/mcp/features", renewed.access_token)).status).toBe(200);
    expect((await post(gw, "/mcp", renewed.access_token)).status).toBe(401);
  });

  it("a sign-in for a server the gateway does not declare is refused on the gateway's page, never redirected", async () => {
    const gw = twoServers();
    const client = await register(gw);
    const { challenge } = await pkce();
    const response = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge, { resource: `${RESOURCE}/nope` }));
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(decode(await response.text())).toContain("The resource parameter must name exactly one configured protected resource");
  });
});

describe("the sign-in chooses servers", () => {
  it("the operator's page offers every declared server, the requested one checked and required; the consent form's server choice is stored on the grant", async () => {
    const gw = twoServers();
    const policy = await putPolicy(ALLOW_ALL);
    const { browser, page } = await operatorPage(gw, FEATURES);
    const boxes = [...page.matchAll(/<input\b[^>]*type="checkbox"[^>]*>/g)].map(([tag]) => tag);
    expect(boxes.map((tag) => /value="([^"]*)"/.exec(tag)?.[1])).toEqual(["iterable", "features"]);
    expect(checkedBoxes(page, "servers")).toEqual({ servers: ["features"] });
    expect(boxes[1]).toMatch(/\srequired/);
    expect(boxes[0]).not.toMatch(/\srequired/);

    // Without the required server, the page says why and creates nothing.
    const without = await browser.submit(page, "policy", { policy, expires: "", servers: ["iterable"] });
    expect(without.status).toBe(400);
    expect(decode(await without.text())).toContain('the app connects to the server "features": the grant must reach it');

    const consent = await browser.submit(page, "policy", { policy, expires: "", servers: ["features", "iterable"] });
    expect(consent.status).toBe(200);
    const consentPage = decode(await consent.text());
    expect(consentPage).toMatch(/<dt>Servers<\/dt><dd[^>]*>iterable, features<\/dd>/);
    expect(consentPage).toContain(FEATURES);
    const back = await browser.submit(consentPage, "consent", { decision: "approve" });
    expect(back.status).toBe(302);
    const grantId = new URL(back.headers.get("location")!).searchParams.get("code")!.split(":")[0]!;
    expect((await readGrant(env.GRANTS, grantId))?.servers).toEqual(["iterable", "features"]);
  });

  it("a sign-in for /mcp with two servers checks the default server; a checked choice is stored in the gateway's order", async () => {
    const gw = twoServers();
    const { page } = await operatorPage(gw, RESOURCE);
    expect(checkedBoxes(page, "servers")).toEqual({ servers: ["iterable"] });
    expect(page).not.toMatch(/type="checkbox"[^>]*required/);

    const { tokens } = await signIn({ gw, operator: { policy: await putPolicy(ALLOW_ALL), servers: ["features"] } });
    const grant = await readGrant(env.GRANTS, tokens.access_token.split(":")[0]!);
    expect(grant?.servers).toEqual(["features"]);
    const initialized = await post(gw, "/mcp", tokens.access_token);
    expect(initialized.status).toBe(200);
    expect(await serverInfoName(initialized)).toBe("sandbox-features");
  });

  it("a grant token whose grant does not reach the requested server is refused on the page, saying so; one that does keeps its servers", async () => {
    const gw = twoServers();
    const { token: grantToken, record } = await grantWith(["iterable"]);
    const client = await register(gw);
    const { challenge } = await pkce();
    const browser = new Browser(gw);
    const start = await browser.fetch(authorizeUrl(client.client_id, challenge, { resource: FEATURES }));
    const refused = await browser.submit(await start.text(), "grant", { grant_token: grantToken });
    expect(refused.status).toBe(403);
    const text = decode(await refused.text());
    expect(text).toContain(`The app asked to connect to the server "features" (${FEATURES}), and that grant does not reach it: it reaches "iterable".`);
    expect(text).not.toContain('value="approve"');

    const { tokens, consentPage } = await signIn({ gw, grantToken, resource: ITERABLE });
    expect(decode(consentPage)).toMatch(/<dt>Servers<\/dt><dd[^>]*>iterable<\/dd>/);
    expect((await post(gw, "/mcp/iterable", tokens.access_token)).status).toBe(200);
    expect((await readGrant(env.GRANTS, record.id))?.servers).toEqual(["iterable"]);
    const stored = await env.GRANTS.get(tokenKey(await hashToken(grantToken)), { type: "json" });
    expect(stored).toMatchObject({ servers: ["iterable"] });
  });

  it("a resource changed in the page's URL after it opened does not get a grant past its servers: Allow checks the request the sign-in began with", async () => {
    const gw = twoServers();
    const { token: grantToken } = await grantWith(["iterable"]);
    const client = await register(gw);
    const { challenge } = await pkce();
    const browser = new Browser(gw);
    const start = await browser.fetch(authorizeUrl(client.client_id, challenge, { resource: FEATURES }));
    const startPage = await start.text();
    // The grant-token form posted to the same request for /mcp instead: the grant step passes, as /mcp is within any grant.
    const swapped = startPage.replaceAll(encodeURIComponent(FEATURES), encodeURIComponent(RESOURCE));
    expect(swapped).not.toBe(startPage);
    const consent = await browser.submit(swapped, "grant", { grant_token: grantToken });
    expect(consent.status).toBe(200);
    const allow = await browser.submit(await consent.text(), "consent", { decision: "approve" });
    expect(allow.status).toBe(403);
    expect(allow.headers.get("location")).toBeNull();
    expect(decode(await allow.text())).toContain('The app asked to connect to the server "features"');
  });

  it("a single-server gateway's pages name no servers", async () => {
    const gw = gateway();
    const { page } = await operatorPage(gw, RESOURCE);
    expect(page).not.toContain('type="checkbox"');
    const { consentPage } = await signIn({ gw, operator: { policy: await putPolicy(ALLOW_ALL) } });
    expect(consentPage).not.toContain("<dt>Servers</dt>");
  });
});
