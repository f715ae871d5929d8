/**
 * OAuth sign-in hardening (issue 16), in the Workers runtime through the whole
 * gateway Worker: each defect found from outside has a test named after it.
 *
 * 4. Registration was open and unbounded: fields and body are bounded, a
 *    client address is throttled, and a client that never signs in is
 *    forgotten within a day.
 * 5. /authorize redirected to any registered URI on an error: errors before
 *    the consent screen are shown on the gateway's own page.
 * 6. A superseded refresh token kept a live chain: outside a short grace
 *    window its use revokes the whole sign-in.
 * 7. Wrong tokens on the sign-in forms were unthrottled: failures are counted
 *    per address, and past the limit the page answers 429.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AuditRecord } from "../../src/audit/record.ts";
import { AuditService } from "../../src/audit/service.ts";
import { ALLOW_ALL, createGrant, gateway, putPolicy, type Gateway } from "./gateway.ts";
import { authorizeUrl, Browser, mcpPost, ORIGIN, pkce, REDIRECT, register, registration, signIn, token, type Tokens } from "./oauth-flow.ts";

const DAY_SECONDS = 86_400;
const BROWSER_ORIGIN = "https://inspector.example";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** When KV will drop a registered client (seconds since the epoch), as its key listing says. */
async function clientExpiration(clientId: string): Promise<number | undefined> {
  const { keys } = await env.OAUTH_KV.list({ prefix: `client:${clientId}` });
  expect(keys.map((key) => key.name)).toEqual([`client:${clientId}`]);
  return keys[0]!.expiration;
}

async function trail(grantId: string): Promise<AuditRecord[]> {
  return (await new AuditService(env).grantPage(grantId, { limit: 100 })).records;
}

describe("defect 4: unauthenticated, unbounded client registration", () => {
  it("a client_name over 100 characters (101, 100,000, 1,000,000) is refused with invalid_client_metadata, with the library's CORS headers", async () => {
    const gw = gateway();
    expect((await registration(gw, { client_name: "n".repeat(100) })).status).toBe(201);
    for (const length of [101, 100_000, 1_000_000]) {
      const response = await registration(gw, { client_name: "n".repeat(length) }, { origin: BROWSER_ORIGIN });
      expect(response.status, `${length} characters`).toBe(400);
      expect(response.headers.get("access-control-allow-origin")).toBe(BROWSER_ORIGIN);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe("invalid_client_metadata");
      expect(body.error_description).toContain("client_name");
      expect(body.error_description.length).toBeLessThan(300);
    }
  });

  it("more than 5 redirect URIs, a redirect URI over 2 KiB, and oversized other fields the library stores are refused", async () => {
    const gw = gateway();
    const long = `https://app.example/${"p".repeat(2048)}`;
    const refused: Array<[string, Record<string, unknown>]> = [
      ["6 redirect URIs", { redirect_uris: Array.from({ length: 6 }, (_, i) => `https://app.example/cb${i}`) }],
      ["a 2 KiB redirect URI", { redirect_uris: [long] }],
      ["client_uri", { client_uri: long }],
      ["logo_uri", { logo_uri: long }],
      ["policy_uri", { policy_uri: long }],
      ["tos_uri", { tos_uri: long }],
      ["jwks_uri", { jwks_uri: long }],
      ["contacts", { contacts: Array.from({ length: 6 }, (_, i) => `ops${i}@app.example`) }],
      ["a long contact", { contacts: [`${"o".repeat(320)}@app.example`] }],
      ["a localized client_name", { "client_name#ja": "n".repeat(101) }],
      ["many localized names", Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`client_name#x-l${i}`, "name"]))],
      ["grant_types", { grant_types: Array.from({ length: 6 }, () => "authorization_code") }],
    ];
    for (const [what, metadata] of refused) {
      const response = await registration(gw, metadata);
      expect(response.status, what).toBe(400);
      expect(await response.json(), what).toMatchObject({ error: "invalid_client_metadata" });
    }
    // At the bounds, a registration goes through.
    const atBounds = await registration(gw, {
      redirect_uris: Array.from({ length: 5 }, (_, i) => `https://app.example/cb${i}`.padEnd(2048, "x")),
      client_uri: "https://app.example/",
      contacts: ["ops@app.example"],
      "client_name#ja": "テスト",
    });
    expect(atBounds.status).toBe(201);
  });

  it("a body over 16 KiB is refused with 413 even when each field it carries is within bounds", async () => {
    const gw = gateway();
    const response = await registration(gw, { software_version: "v".repeat(17 * 1024) }, { origin: BROWSER_ORIGIN });
    expect(response.status).toBe(413);
    expect(response.headers.get("access-control-allow-origin")).toBe(BROWSER_ORIGIN);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("registrations are throttled per client address: the 11th in a minute gets 429 with Retry-After (CORS kept); another address still registers", async () => {
    const gw = gateway();
    for (let i = 0; i < 10; i++) expect((await registration(gw)).status, `registration ${i + 1}`).toBe(201);
    const throttled = await registration(gw, {}, { origin: BROWSER_ORIGIN });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("60");
    expect(throttled.headers.get("access-control-allow-origin")).toBe(BROWSER_ORIGIN);
    expect(throttled.headers.get("access-control-expose-headers")).toContain("Retry-After");
    expect(await throttled.json()).toMatchObject({ error: expect.any(String), error_description: expect.stringContaining("60") });
    expect((await registration(gateway())).status).toBe(201);
  });

  it("a burst of 40 concurrent registrations from one address meets 429, and at most 10 are stored", async () => {
    const gw = gateway();
    const statuses = await Promise.all(Array.from({ length: 40 }, () => registration(gw).then((response) => response.status)));
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(30);
  });

  it("a client that never completes a sign-in expires within a day; one that completes a sign-in keeps 90 days", async () => {
    const now = Math.floor(Date.now() / 1000);
    const idle = await register(gateway());
    const idleExpiration = await clientExpiration(idle.client_id);
    expect(idleExpiration).toBeDefined();
    expect(idleExpiration!).toBeLessThanOrEqual(now + DAY_SECONDS + 5);

    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const { client } = await signIn({ grantToken });
    expect((await clientExpiration(client.client_id))!).toBeGreaterThanOrEqual(now + 89 * DAY_SECONDS);
  });
});

describe("defect 5: open redirect from /authorize errors", () => {
  const EVIL = "https://evil.example/landing";

  it("no PKCE, plain PKCE, a wrong resource or response_type=token: the error is shown on the gateway's page, the redirect URI as text only", async () => {
    const gw = gateway();
    const client = await register(gw, { redirect_uris: [EVIL] });
    const cases: Array<[string, Record<string, string | null>]> = [
      ["no PKCE", { code_challenge: null, code_challenge_method: null }],
      ["plain PKCE", { code_challenge_method: "plain" }],
      ["a wrong resource", { resource: "https://other.example/mcp" }],
      ["response_type=token", { response_type: "token" }],
    ];
    for (const [what, changes] of cases) {
      const url = new URL(authorizeUrl(client.client_id, "x".repeat(43), { redirect_uri: EVIL }), ORIGIN);
      for (const [name, value] of Object.entries(changes)) value === null ? url.searchParams.delete(name) : url.searchParams.set(name, value);
      for (const method of ["GET", "POST"]) {
        const response = await new Browser(gw).fetch(url.pathname + url.search, method === "GET" ? {} : { method, headers: { "content-type": "application/x-www-form-urlencoded" }, body: "step=grant" });
        expect(response.status, `${what} (${method})`).toBe(400);
        expect(response.headers.get("location"), what).toBeNull();
        expect(response.headers.get("content-security-policy"), what).toContain("form-action 'self';");
        const page = await response.text();
        expect(page, what).toContain(EVIL);
        expect(page, what).not.toMatch(/href="https:\/\/evil/);
        expect(page, what).not.toMatch(/http-equiv="refresh"/i);
      }
    }
  });
  // That Deny, after the consent screen, still goes back to the app is oauth.test.ts's "Deny goes back to the app".
});

describe("defect 6: a stolen refresh token keeps a live chain", () => {
  const refresh = (gw: Gateway, clientId: string, refreshToken: string) => token(gw, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });

  it("a superseded refresh token replayed after the grace window revokes the sign-in: invalid_grant, the legitimate client's tokens stop working, audited as oauth.revoke by the gateway", async () => {
    const { token: grantToken, record } = await createGrant(await putPolicy(ALLOW_ALL), { label: "reuse-victim" });
    const gw = gateway({ CACHE_TTL_MS: "300" });
    const { tokens: stolen, client } = await signIn({ gw, grantToken });
    const legitimate = (await (await refresh(gw, client.client_id, stolen.refresh_token)).json()) as Tokens;
    expect((await mcpPost(gw, legitimate.access_token)).status).toBe(200);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    const replay = await refresh(gw, client.client_id, stolen.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });

    // The whole sign-in is gone: the legitimate client's refresh and access tokens too.
    const after = await refresh(gw, client.client_id, legitimate.refresh_token);
    expect(after.status).toBe(400);
    expect(await after.json()).toMatchObject({ error: "invalid_grant" });
    expect((await mcpPost(gw, legitimate.access_token)).status).toBe(401);
    // The grant itself is not the thief's doing: its own token still works.
    expect((await mcpPost(gw, grantToken)).status).toBe(200);

    const revoked = (await trail(record.id)).find((entry) => entry.kind === "admin" && entry.action === "oauth.revoke");
    expect(revoked).toMatchObject({
      by: "gateway (refresh token reuse)",
      grant: { id: record.id, label: "reuse-victim" },
      detail: { client: client.client_id, reason: expect.stringContaining("superseded refresh token") },
    });
  });

  it("within the grace window a client that lost the answer gets new tokens; retrying does not extend the window", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway();
    const { tokens: first, client } = await signIn({ gw, grantToken });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    expect((await refresh(gw, client.client_id, first.refresh_token)).status).toBe(200); // the answer is lost
    vi.setSystemTime(start + 20_000);
    const retried = await refresh(gw, client.client_id, first.refresh_token);
    expect(retried.status).toBe(200);
    const second = (await retried.json()) as Tokens;
    expect((await mcpPost(gw, second.access_token)).status).toBe(200);

    vi.setSystemTime(start + 40_000);
    const late = await refresh(gw, client.client_id, first.refresh_token);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ error: "invalid_grant" });
    expect((await refresh(gw, client.client_id, second.refresh_token)).status).toBe(400);
  });

  it("a refresh token the grant never issued (a guess at the secret) is refused without ending the sign-in", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway();
    const { tokens, client } = await signIn({ gw, grantToken });
    const [userId, grantId] = tokens.refresh_token.split(":");
    const guessed = await refresh(gw, client.client_id, `${userId}:${grantId}:${"A".repeat(32)}`);
    expect(guessed.status).toBe(400);
    expect(await guessed.json()).toMatchObject({ error: "invalid_grant" });
    expect((await refresh(gw, client.client_id, tokens.refresh_token)).status).toBe(200);
  });
});

describe("defect 7: token guessing on the sign-in page is unthrottled", () => {
  async function signInPage(gw: Gateway) {
    const client = await register(gw);
    const browser = new Browser(gw);
    const page = await (await browser.fetch(authorizeUrl(client.client_id, (await pkce()).challenge))).text();
    return { browser, page };
  }

  it("wrong grant tokens: the 11th failure in a minute from one address gets the page with 429 and Retry-After, logged; the right token still gets through", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway();
    const { browser, page } = await signInPage(gw);
    for (let i = 0; i < 10; i++) expect((await browser.submit(page, "grant", { grant_token: `mcpgw_${"B".repeat(43)}` })).status, `failure ${i + 1}`).toBe(401);
    const throttled = await browser.submit(page, "grant", { grant_token: "not-even-a-grant-token" });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("60");
    expect(throttled.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await throttled.text()).toContain("Too many wrong tokens");
    expect(logged.some((line) => line.includes('"event":"throttled"') && line.includes('"scope":"authorize"'))).toBe(true);
    // A correct token is never counted or slowed.
    const right = await browser.submit(page, "grant", { grant_token: grantToken });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain("Allow");
  });

  it("wrong admin tokens on the operator step are counted the same way; the admin token still signs in", async () => {
    const gw = gateway();
    const { browser, page } = await signInPage(gw);
    for (let i = 0; i < 10; i++) expect((await browser.submit(page, "operator", { admin_token: `wrong-admin-token-${i}-0123456789` })).status).toBe(401);
    const throttled = await browser.submit(page, "operator", { admin_token: "wrong-admin-token-again-0123456789" });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("60");
    expect((await browser.submit(page, "operator", { admin_token: env.ADMIN_TOKEN })).status).toBe(200);
  });

  it("right tokens are never counted: 15 sign-in steps with the right token, then a wrong one is an ordinary 401", async () => {
    const { token: grantToken } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway();
    const { browser, page } = await signInPage(gw);
    for (let i = 0; i < 15; i++) expect((await browser.submit(page, "grant", { grant_token: grantToken })).status).toBe(200);
    expect((await browser.submit(page, "grant", { grant_token: `mcpgw_${"C".repeat(43)}` })).status).toBe(401);
  });

  it("40 concurrent wrong tokens from one address meet 429", async () => {
    const gw = gateway();
    const { browser, page } = await signInPage(gw);
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => browser.submit(page, "grant", { grant_token: `mcpgw_${String(i).padStart(43, "D")}` }).then((response) => response.status)));
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(30);
  });
});
