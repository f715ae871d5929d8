/**
 * OAuth sign-in (issue 12) in the Workers runtime, through the whole gateway
 * Worker with its real KV (OAUTH_KV included) and Durable Object bindings and
 * the sandbox upstream: discovery (RFC 9728, RFC 8414, the 401's
 * resource_metadata), dynamic client registration, the authorize pages (a
 * grant token, or an operator creating a grant) with their CSRF and CSP, PKCE
 * (S256 required, a wrong verifier fails), exact redirect URI matching,
 * resource binding, the access token acting as its grant (policy, counters,
 * audit), refresh rotation, expiry, revocation (the grant, one sign-in in the
 * console, RFC 7009), and that an OAuth token reaches neither the upstream nor
 * the logs, nor opens /admin.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GrantService } from "../../src/admin/manage/grants.ts";
import { OAuthClientService } from "../../src/admin/manage/oauth-clients.ts";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { AuditService } from "../../src/audit/service.ts";
import { hashToken } from "../../src/grants/grant.ts";
import { revocationEntries } from "../../src/grants/records.ts";
import { ALLOW_ALL, createGrant, decisionOf, gateway, newTag, putPolicy, rawAgent, upstreamLog, type Gateway } from "./gateway.ts";
import { authorizeUrl, Browser, decode, INITIALIZE, mcpPost, ORIGIN, pkce, REDIRECT, register, RESOURCE, signIn, token, type Tokens } from "./oauth-flow.ts";

const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // call records are batched for 100 ms

afterEach(() => {
  vi.useRealTimers();
});

async function toolNames(gw: Gateway, accessToken: string): Promise<string[]> {
  const agent = await rawAgent(gw, accessToken);
  const answer = await agent.rpc("tools/list", {});
  return (answer.result?.tools ?? []).map((tool) => tool.name);
}

async function trail(grantId: string): Promise<AuditRecord[]> {
  return (await new AuditService(env).grantPage(grantId, { limit: 100 })).records;
}

describe("discovery: an OAuth client finds its way from the 401", () => {
  it("the 401 names the protected resource metadata, which names the gateway as its issuer", async () => {
    const gw = gateway();
    const unauthorized = await mcpPost(gw, undefined);
    expect(unauthorized.status).toBe(401);
    const challenge = unauthorized.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer realm="mcp-policy-gateway", error="invalid_request", error_description="[^"]+", resource_metadata="https:\/\/gateway\.test\/\.well-known\/oauth-protected-resource\/mcp"$/);
    expect(await unauthorized.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });

    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const metadata = await gw.fetch(`${ORIGIN}${path}`);
      expect(metadata.status, path).toBe(200);
      expect(await metadata.json()).toMatchObject({ resource: RESOURCE, authorization_servers: [ORIGIN], bearer_methods_supported: ["header"] });
    }
    const server = (await (await gw.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(server).toMatchObject({
      issuer: ORIGIN,
      authorization_endpoint: `${ORIGIN}/authorize`,
      token_endpoint: `${ORIGIN}/token`,
      registration_endpoint: `${ORIGIN}/register`,
      revocation_endpoint: `${ORIGIN}/token`,
      code_challenge_methods_supported: ["S256"],
      response_types_supported: ["code"],
      protected_resources: [RESOURCE, `${RESOURCE}/iterable`],
    });
    expect(server.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
  });

  it("an invalid or foreign token gets the same challenge; a bad Host is refused before anything (loopback PUBLIC_URL)", async () => {
    const gw = gateway();
    for (const bearer of ["g_AAAAAAAAAAAA:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "eyJhbGciOi.something.else"]) {
      const response = await mcpPost(gw, bearer);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(response.headers.get("www-authenticate")).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/mcp"`);
    }
    const local = gateway({ PUBLIC_URL: "http://localhost:8787" });
    const rebound = await local.fetch("http://evil.example:8787/.well-known/oauth-authorization-server", { headers: { host: "evil.example:8787" } });
    expect(rebound.status).toBe(403);
    const loopback = await local.fetch("http://127.0.0.1:8787/.well-known/oauth-authorization-server", { headers: { host: "127.0.0.1:8787" } });
    expect(await loopback.json()).toMatchObject({ issuer: "http://127.0.0.1:8787" });
  });

  it("with a public PUBLIC_URL, that is the issuer, and no other origin serves OAuth", async () => {
    const gw = gateway({ PUBLIC_URL: "https://mcp.example.com" });
    const response = await gw.fetch("https://other.workers.dev/mcp", { method: "POST", body: "{}", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" } });
    expect(response.headers.get("www-authenticate")).toContain('resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
    expect((await gw.fetch("https://other.workers.dev/.well-known/oauth-authorization-server")).status).toBe(404);
    expect(await (await gw.fetch("https://mcp.example.com/.well-known/oauth-authorization-server")).json()).toMatchObject({ issuer: "https://mcp.example.com" });
  });
});

describe("registration", () => {
  it("a client registers its redirect URIs; dangerous ones are refused", async () => {
    const gw = gateway();
    const client = await register(gw);
    expect(client.client_id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(client.redirect_uris).toEqual([REDIRECT]);
    const refused = await gw.fetch(`${ORIGIN}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "x", redirect_uris: ["javascript:alert(1)"], token_endpoint_auth_method: "none" }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_client_metadata" });
  });
});

describe("the authorize pages", () => {
  it("show who is asking and where tokens go, with the console's CSP (form-action widened to the redirect origin only) and no script", async () => {
    const gw = gateway();
    const client = await register(gw, { client_name: 'Evil <script>alert("x")</script> App' });
    const { challenge } = await pkce();
    const response = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://app.example; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const page = await response.text();
    expect(page).not.toContain("<script>");
    expect(page).toContain("Evil &lt;script&gt;");
    expect(page).toContain(REDIRECT);
    expect(page).toContain("its name is not verified");
    const style = await gw.fetch(`${ORIGIN}/oauth/style.css`);
    expect(style.headers.get("content-type")).toContain("text/css");
  });

  it("a redirect URI that is not exactly a registered one is refused on the page, never redirected to", async () => {
    const gw = gateway();
    const client = await register(gw);
    const { challenge } = await pkce();
    for (const redirect of [`${REDIRECT}/`, `${REDIRECT}?x=1`, "https://app.example:8443/oauth/callback", "https://APP.example.evil/oauth/callback", "https://evil.example/oauth/callback"]) {
      const response = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge, { redirect_uri: redirect }));
      expect(response.status, redirect).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toContain("Invalid redirect URI");
    }
  });

  it("a loopback redirect URI may change its port (RFC 8252 §7.3), nothing else", async () => {
    const gw = gateway();
    const client = await register(gw, { redirect_uris: ["http://127.0.0.1:33418/callback"] });
    const { challenge } = await pkce();
    const otherPort = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge, { redirect_uri: "http://127.0.0.1:40000/callback" }));
    expect(otherPort.status).toBe(200);
    for (const redirect of ["http://127.0.0.1:33418/other", "http://localhost:33418/callback", "https://127.0.0.1:33418/callback"]) {
      const response = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge, { redirect_uri: redirect }));
      expect(response.status, redirect).toBe(400);
    }
  });

  it("PKCE with S256 is required of every client: none or plain is refused on the page, never redirected to the app", async () => {
    const gw = gateway();
    const publicClient = await register(gw);
    const confidential = await register(gw, { token_endpoint_auth_method: "client_secret_basic" });
    const cases = [
      [publicClient.client_id, { code_challenge: "", code_challenge_method: "" }],
      [confidential.client_id, { code_challenge: "", code_challenge_method: "" }],
      [publicClient.client_id, { code_challenge_method: "plain" }],
    ] as const;
    for (const [clientId, extra] of cases) {
      const url = new URL(authorizeUrl(clientId, "x".repeat(43)), ORIGIN);
      for (const [name, value] of Object.entries(extra)) value === "" ? url.searchParams.delete(name) : url.searchParams.set(name, value);
      const response = await new Browser(gw).fetch(url.pathname + url.search);
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toMatch(/PKCE with code_challenge_method=S256 is required|must use PKCE|The plain PKCE method is not allowed/);
    }
  });

  it("a resource other than this gateway's /mcp is refused (RFC 8707)", async () => {
    const gw = gateway();
    const client = await register(gw);
    const { challenge } = await pkce();
    const response = await new Browser(gw).fetch(authorizeUrl(client.client_id, challenge, { resource: "https://other.example/mcp" }));
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("This sign-in request is not valid");
  });

  it("forms need the flow's CSRF token and cookie; a wrong grant token or admin token is the form again with 401", async () => {
    const gw = gateway();
    const { record, token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const client = await register(gw);
    const { challenge } = await pkce();
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, challenge))).text();

    const wrongCsrf = await browser.submit(page, "grant", { grant_token: grantToken, csrf: "A".repeat(43) });
    expect(wrongCsrf.status).toBe(403);
    const otherBrowser = new Browser(gw);
    expect((await otherBrowser.submit(page, "grant", { grant_token: grantToken })).status).toBe(403);

    const unknown = await browser.submit(page, "grant", { grant_token: `mcpgw_${"B".repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain("no grant has this token");
    const notAGrantToken = await browser.submit(page, "grant", { grant_token: env.ADMIN_TOKEN });
    expect(notAGrantToken.status).toBe(401);
    const grantAsAdmin = await browser.submit(page, "operator", { admin_token: grantToken });
    expect(grantAsAdmin.status).toBe(401);
    expect(await grantAsAdmin.text()).toContain("That is a grant token");
    expect((await browser.submit(page, "operator", { admin_token: "not-the-admin-token-0123456789" })).status).toBe(401);

    // A revoked grant's token does not sign in.
    for (const entry of revocationEntries(record, await hashToken(grantToken))) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
    const fresh = new Browser(gateway());
    const freshPage = await (await fresh.fetch(authorizeUrl(client.client_id, challenge))).text();
    const revoked = await fresh.submit(freshPage, "grant", { grant_token: grantToken });
    expect(revoked.status).toBe(401);
    expect(await revoked.text()).toContain("the grant has been revoked");
  });

  it("the consent screen shows the grant and what its policy allows and hides; its seal cannot be moved to another grant", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", hide: ["@destructive"], tools: { "@sends": { action: "approve" }, "@read": {} } });
    const { token: grantToken, record } = await createGrant(policy, { label: "support-bot" });
    const other = await createGrant(await putPolicy(ALLOW_ALL), { label: "wide-open" });
    const gw = gateway();
    const client = await register(gw);
    const { challenge } = await pkce();
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, challenge))).text();
    const consent = await (await browser.submit(page, "grant", { grant_token: grantToken })).text();
    expect(consent).toContain("support-bot");
    expect(consent).toContain(record.id);
    expect(consent).toContain(policy);
    expect(consent).toContain("Hidden from the app: <code>@destructive</code>");
    expect(consent).toMatch(/Need a human&#39;s approval \(\d+\)|Need a human's approval \(\d+\)/);
    expect(consent).toContain("send_campaign");
    const tampered = await browser.submit(consent, "consent", { decision: "approve", grant: other.record.id });
    expect(tampered.status).toBe(403);
  });

  it("Deny goes back to the app with access_denied, and the page cannot be used again", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway();
    const client = await register(gw);
    const { challenge } = await pkce();
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, challenge))).text();
    const consent = await (await browser.submit(page, "grant", { grant_token: grantToken })).text();
    const denied = await browser.submit(consent, "consent", { decision: "deny" });
    expect(denied.status).toBe(302);
    const location = new URL(denied.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("st4te");
    const again = await browser.submit(consent, "consent", { decision: "approve" });
    expect(again.status).toBe(403); // the flow cookie went with the redirect
  });
});

describe("a sign-in yields the grant: its policy, its counters, its audit trail", () => {
  it("with a grant token: the access token lists tools as the grant's policy allows, and a call is audited as oauth with the client id", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: {}, get_lists: {} } });
    const { token: grantToken, record } = await createGrant(policy);
    const { gw, tokens, client } = await signIn({ grantToken });
    expect(tokens).toMatchObject({ token_type: "bearer", expires_in: 3600 });
    expect(tokens.access_token.startsWith(`${record.id}:`)).toBe(true);
    expect(tokens.refresh_token).toBeTruthy();
    expect((await toolNames(gw, tokens.access_token)).sort()).toEqual(["get_campaigns", "get_lists"]);

    const agent = await rawAgent(gw, tokens.access_token);
    expect((await agent.call("get_campaigns")).result?.isError).toBeFalsy();
    const viaToken = await rawAgent(gw, grantToken);
    expect((await viaToken.call("get_lists")).result?.isError).toBeFalsy();
    await settle();
    const calls = (await trail(record.id)).filter((entry): entry is CallRecord => entry.kind === "call");
    expect(calls.find((call) => call.tool === "get_campaigns")).toMatchObject({ auth: "oauth", oauthClientId: client.client_id, grant: { id: record.id } });
    expect(calls.find((call) => call.tool === "get_lists")).toMatchObject({ auth: "grant_token" });
    expect(calls.find((call) => call.tool === "get_lists")?.oauthClientId).toBeUndefined();
  });

  it("calls through the OAuth token and the grant token share the grant's Durable Object counters", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: { limits: [{ counter: "reads", window: "minute", max: 2 }] } } });
    const { token: grantToken } = await createGrant(policy);
    const { gw, tokens } = await signIn({ grantToken });
    const byToken = await rawAgent(gw, grantToken);
    const byOAuth = await rawAgent(gw, tokens.access_token);
    expect(decisionOf(await byToken.call("get_campaigns"))).toBeUndefined();
    expect(decisionOf(await byOAuth.call("get_campaigns"))).toBeUndefined();
    expect(decisionOf(await byOAuth.call("get_campaigns"))).toMatchObject({ decision: "rate_limited" });
    expect(decisionOf(await byToken.call("get_campaigns"))).toMatchObject({ decision: "rate_limited" });
  });

  it("an operator signs in and picks a policy: a new grant labelled with the app's name, audited as grant.create by the operator", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", tools: { get_lists: {} } });
    const clientName = `Claude ${crypto.randomUUID().slice(0, 8)}`;
    const { gw, tokens, client, consentPage } = await signIn({ operator: { policy, expires: "30d" }, clientName });
    expect(consentPage).toContain("A new grant labelled");
    const grantId = tokens.access_token.split(":")[0]!;
    const grant = await new GrantService(env).get(grantId);
    expect(grant).toMatchObject({ label: clientName, policy, status: "active" });
    expect(Date.parse(grant!.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(await toolNames(gw, tokens.access_token)).toEqual(["get_lists"]);
    const created = (await trail(grantId)).find((entry) => entry.kind === "admin" && entry.action === "grant.create");
    expect(created).toMatchObject({ by: "admin", target: grantId, detail: { label: clientName, policy, oauthClient: client.client_id, oauthClientName: clientName } });
  });
});

describe("PKCE, codes and the resource at the token endpoint", () => {
  async function codeFor(gw: Gateway) {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const client = await register(gw);
    const { verifier, challenge } = await pkce();
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, challenge))).text();
    const consent = await (await browser.submit(page, "grant", { grant_token: grantToken })).text();
    const back = await browser.submit(consent, "consent", { decision: "approve" });
    return { client, verifier, code: new URL(back.headers.get("location")!).searchParams.get("code")! };
  }

  it("a wrong or missing code_verifier fails; the right one works, once", async () => {
    const gw = gateway();
    const { client, verifier, code } = await codeFor(gw);
    const wrong = await token(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: (await pkce()).verifier });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: "invalid_grant" });
    const missing = await token(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id });
    expect(missing.status).toBe(400);
    const plainVerifier = await token(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: (await pkce()).challenge });
    expect(plainVerifier.status).toBe(400);
    const fields = { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier };
    expect((await token(gw, fields)).status).toBe(200);
    expect((await token(gw, fields)).status).toBe(400);
  });

  it("the code works once, with the redirect URI it was issued for, for this resource only", async () => {
    const gw = gateway();
    const first = await codeFor(gw);
    const otherRedirect = await token(gw, { grant_type: "authorization_code", code: first.code, redirect_uri: "https://app.example/other", client_id: first.client.client_id, code_verifier: first.verifier });
    expect(otherRedirect.status).toBe(400);
    const second = await codeFor(gw);
    const otherResource = await token(gw, { grant_type: "authorization_code", code: second.code, redirect_uri: REDIRECT, client_id: second.client.client_id, code_verifier: second.verifier, resource: "https://other.example/mcp" });
    expect(otherResource.status).toBe(400);
    expect(await otherResource.json()).toMatchObject({ error: "invalid_target" });
    const third = await codeFor(gw);
    const fields = { grant_type: "authorization_code", code: third.code, redirect_uri: REDIRECT, client_id: third.client.client_id, code_verifier: third.verifier };
    const ok = await token(gw, fields);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ resource: RESOURCE });
    expect((await token(gw, fields)).status).toBe(400);
  });

  it("a confidential client (client_secret_post, as some connectors register) signs in with its secret and PKCE; without the secret it cannot", async () => {
    const gw = gateway();
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const client = (await register(gw, { token_endpoint_auth_method: "client_secret_post", scope: "claudeai" })) as { client_id: string; client_secret?: string };
    expect(client.client_secret).toBeTruthy();
    const { verifier, challenge } = await pkce();
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, challenge, { scope: "claudeai" }))).text();
    const consent = await (await browser.submit(page, "grant", { grant_token: grantToken })).text();
    const back = await browser.submit(consent, "consent", { decision: "approve" });
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    const fields = { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier };
    expect((await token(gw, fields)).status).toBe(401);
    const exchanged = await token(gw, { ...fields, client_secret: client.client_secret! });
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as Tokens;
    expect(tokens.scope).toBe("claudeai");
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(200);
  });

  it("a token is bound to this origin's /mcp: the same token at another origin's gateway is refused", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const { tokens } = await signIn({ grantToken });
    const elsewhere = gateway();
    const response = await elsewhere.fetch("https://other-gateway.test/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(INITIALIZE),
    });
    expect(response.status).toBe(401);
  });
});

describe("refresh, expiry and revocation", () => {
  it("refresh tokens rotate: the new one works, the old one works until the new one is used, then never again", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const { gw, tokens, client } = await signIn({ grantToken });
    const refresh = (refreshToken: string) => token(gw, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id });
    const second = (await (await refresh(tokens.refresh_token)).json()) as Tokens;
    expect(second.refresh_token).not.toBe(tokens.refresh_token);
    expect(second.access_token).not.toBe(tokens.access_token);
    expect((await mcpPost(gw, second.access_token)).status).toBe(200);
    const third = (await (await refresh(second.refresh_token)).json()) as Tokens;
    expect(third.refresh_token).toBeTruthy();
    const replay = await refresh(tokens.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("an access token expires after OAUTH_ACCESS_TOKEN_TTL; refreshing gives a fresh one", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway({ OAUTH_ACCESS_TOKEN_TTL: "120" });
    const { tokens, client } = await signIn({ gw, grantToken });
    expect(tokens.expires_in).toBe(120);
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 121_000);
    const expired = await mcpPost(gw, tokens.access_token);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toContain("unknown, expired or revoked");
    const refreshed = (await (await token(gw, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id })).json()) as Tokens;
    expect((await mcpPost(gw, refreshed.access_token)).status).toBe(200);
  });

  it("tokens never outlive their grant: a grant expiring in 10 minutes gets a 10-minute access token and sign-in", async () => {
    const { token: grantToken, record } = await createGrant(await putPolicy(ALLOW_ALL), { expiresAt: new Date(Date.now() + 600_000) });
    const { tokens } = await signIn({ grantToken });
    expect(tokens.expires_in).toBeGreaterThan(590);
    expect(tokens.expires_in).toBeLessThanOrEqual(600);
    const [signInRecord] = (await new OAuthClientService(env).list(record.id));
    expect(Date.parse(signInRecord!.expiresAt!)).toBeLessThanOrEqual(Date.parse(record.expiresAt!) + 1000);
  });

  it("revoking the grant: its OAuth tokens get 401 once the cache lets go, and no refresh works", async () => {
    const { token: grantToken, record } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway({ CACHE_TTL_MS: "300" });
    const { tokens, client } = await signIn({ gw, grantToken });
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(200);
    const outcome = await new GrantService(env).revoke(record.id, "admin");
    expect(outcome.ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const refused = await mcpPost(gw, tokens.access_token);
    expect(refused.status).toBe(401);
    const refresh = await token(gw, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    expect(refresh.status).toBe(400);
  });

  it("a grant revoked outside the console (CLI, KV): tokens 401 within the cache bound, and a refresh is refused and ends the sign-in", async () => {
    const { token: grantToken, record } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway({ CACHE_TTL_MS: "300" });
    const { tokens, client } = await signIn({ gw, grantToken });
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(200);
    for (const entry of revocationEntries(record, await hashToken(grantToken))) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
    // Within the cache TTL the isolate still knows the grant as valid, without reading KV.
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const refused = await mcpPost(gw, tokens.access_token);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("revoked");
    const refresh = await token(gw, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("RFC 7009: the client revokes its refresh token, and with it the sign-in", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway({ CACHE_TTL_MS: "300" });
    const { tokens, client } = await signIn({ gw, grantToken });
    const revoked = await token(gw, { token: tokens.refresh_token, token_type_hint: "refresh_token", client_id: client.client_id });
    expect(revoked.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(401);
  });
});

describe("the console lists each grant's OAuth clients and revokes one", () => {
  async function adminSession(gw: Gateway): Promise<string> {
    const response = await gw.fetch(`${ORIGIN}/admin/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: env.ADMIN_TOKEN, next: "/admin/grants" }).toString(),
      redirect: "manual",
    });
    return response.headers.get("set-cookie")!.split(";")[0]!;
  }

  it("the grant's page names the app; Revoke… confirms, revokes with CSRF, is audited, and the app's token then gets 401", async () => {
    const { token: grantToken, record } = await createGrant(await putPolicy(ALLOW_ALL), { label: "console-oauth" });
    const clientName = `Inspector ${crypto.randomUUID().slice(0, 8)}`;
    const gw = gateway({ CACHE_TTL_MS: "300" });
    const { tokens, client } = await signIn({ gw, grantToken, clientName });
    const cookie = await adminSession(gw);
    const grantPage = await (await gw.fetch(`${ORIGIN}/admin/grants/${record.id}`, { headers: { cookie } })).text();
    expect(grantPage).toContain(clientName);
    expect(grantPage).toContain(client.client_id);
    const revokeHref = /href="(\/admin\/grants\/[^"]+\/oauth\/[^"]+\/revoke)"/.exec(grantPage)?.[1];
    expect(revokeHref).toBeDefined();
    const confirm = await gw.fetch(`${ORIGIN}${decode(revokeHref!)}`, { headers: { cookie } });
    expect(confirm.status).toBe(200);
    const confirmPage = await confirm.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirmPage)![1]!;
    const withoutCsrf = await gw.fetch(`${ORIGIN}${decode(revokeHref!)}`, { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: "confirm=revoke", redirect: "manual" });
    expect(withoutCsrf.status).toBe(403);
    const done = await gw.fetch(`${ORIGIN}${decode(revokeHref!)}`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, confirm: "revoke" }).toString(),
      redirect: "manual",
    });
    expect(done.status).toBe(303);
    const after = await (await gw.fetch(`${ORIGIN}/admin/grants/${record.id}`, { headers: { cookie } })).text();
    expect(after).toContain("No app has signed in to this grant with OAuth.");
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await mcpPost(gw, tokens.access_token)).status).toBe(401);
    // The grant itself still works with its own token.
    expect((await mcpPost(gw, grantToken)).status).toBe(200);
    const audited = (await trail(record.id)).find((entry) => entry.kind === "admin" && entry.action === "oauth.revoke");
    expect(audited).toMatchObject({ by: "admin", detail: { client: client.client_id, clientName } });
  });
});

describe("fails closed when OAUTH_KV cannot be read", () => {
  it("an OAuth token is refused with 503 (nothing forwarded), the authorize page says something went wrong, grant tokens still work", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const { tokens } = await signIn({ grantToken });
    const down = () => Promise.reject(new Error("KV is down"));
    const outage = gateway({ OAUTH_KV: { get: down, getWithMetadata: down, put: down, list: down, delete: down } });
    const tag = newTag();
    const refused = await mcpPost(outage, tokens.access_token, INITIALIZE, tag);
    expect(refused.status).toBe(503);
    expect(await upstreamLog(tag)).toEqual([]);
    const client = await register(gateway());
    const page = await outage.fetch(`${ORIGIN}${authorizeUrl(client.client_id, (await pkce()).challenge)}`);
    expect(page.status).toBe(500);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("Something went wrong");
    expect((await mcpPost(outage, grantToken)).status).toBe(200);
  });
});

describe("doors stay separate, and the agent's OAuth token goes nowhere", () => {
  it("an OAuth access token never opens /admin, and the admin token never opens /mcp", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const { gw, tokens } = await signIn({ grantToken });
    const adminApi = await gw.fetch(`${ORIGIN}/admin/api/grants`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(adminApi.status).toBe(401);
    const adminPage = await gw.fetch(`${ORIGIN}/admin/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: tokens.access_token, next: "/admin/approvals" }).toString(),
      redirect: "manual",
    });
    expect(adminPage.status).toBe(401);
    expect((await mcpPost(gw, env.ADMIN_TOKEN)).status).toBe(401);
  });

  it("the access token and the refresh token reach neither the upstream nor the logs", async () => {
    const logged: string[] = [];
    const capture = (...args: unknown[]) => logged.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    const spies = [vi.spyOn(console, "log").mockImplementation(capture), vi.spyOn(console, "error").mockImplementation(capture), vi.spyOn(console, "warn").mockImplementation(capture)];
    try {
      const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
      const { gw, tokens } = await signIn({ grantToken });
      const tag = newTag();
      const agent = await rawAgent(gw, tokens.access_token, tag);
      await agent.call("get_campaigns");
      await agent.rpc("tools/list", {});
      await settle();
      const upstream = JSON.stringify(await upstreamLog(tag));
      expect(upstream).toContain("get_campaigns");
      for (const secret of [tokens.access_token, tokens.refresh_token, tokens.access_token.split(":")[2]!, grantToken]) {
        expect(upstream).not.toContain(secret);
        expect(logged.join("\n")).not.toContain(secret);
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
