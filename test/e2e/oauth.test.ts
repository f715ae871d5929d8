/**
 * OAuth sign-in end to end (issue 12): `npm start`, then clients that speak
 * the MCP authorization spec reach the gateway without a pasted header, with
 * headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * filling the gateway's authorize and consent pages as a person would:
 *
 * - the MCP SDK client's own OAuth flow (its OAuthClientProvider): discovery
 *   from the 401, dynamic registration, an operator signing in with the admin
 *   token and choosing the recommended policy, which creates a grant labelled
 *   with the client's name; the client then lists tools filtered by that
 *   policy, its call is audited as OAuth, and when the operator revokes the
 *   sign-in in the console, its next request is refused and it must sign in
 *   again;
 * - `mcp-remote` without `--header`: the same discovery and registration,
 *   signed in with the dev grant's token, then tools/list over its stdio.
 *
 * Screenshots go to test/artifacts/console/oauth-*.png (git-ignored).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { freePort, ROOT, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SHOTS = join(ROOT, "test/artifacts/console");

let gateway: RunningGateway;
let browser: Browser;
let page: Page;
/** What the browser refused because of a CSP (there must be nothing). */
const blocked: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mkdirSync(SHOTS, { recursive: true });
  [gateway, browser] = await Promise.all([startGateway(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
  page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) blocked.push(message.text());
  });
});
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
});

async function shot(name: string) {
  await page.screenshot({ path: join(SHOTS, `oauth-${name}.png`), fullPage: true });
}

/** Resolves within `ms` or fails naming what was awaited. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The app's redirect URI: a real loopback listener that takes the authorization code, as a native MCP client does. */
async function callbackServer(): Promise<{ url: string; code: () => Promise<URLSearchParams>; close: () => Promise<void> }> {
  const port = await freePort();
  let deliver: (query: URLSearchParams) => void = () => undefined;
  const received = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", `http://127.0.0.1:${port}`);
    if (url.pathname !== "/callback") return void response.writeHead(404).end();
    deliver(url.searchParams);
    response.writeHead(200, { "content-type": "text/plain" }).end("Signed in: you can close this window.");
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/callback`,
    code: () => within(received, 15_000, "the authorization code at the redirect URI"),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The MCP SDK's OAuthClientProvider, kept in memory: the browser step is ours (Chromium). */
class TestOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = "";

  readonly redirectUrl: string;
  readonly clientName: string;

  constructor(redirectUrl: string, clientName: string) {
    this.redirectUrl = redirectUrl;
    this.clientName = clientName;
  }

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.clientName, redirect_uris: [this.redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  state() {
    return crypto.randomUUID();
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.#client = information;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.#tokens = undefined;
    if (scope === "all" || scope === "client") this.#client = undefined;
  }
}

function connectWith(provider: OAuthClientProvider) {
  const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { authProvider: provider });
  const client = new Client({ name: "oauth-e2e", version: "1.0.0" });
  return { client, transport, connected: client.connect(transport) };
}

/** The tools the recommended policy lets the dev grant see, through its grant token: what an OAuth client on that policy must see too. */
async function recommendedTools(): Promise<string[]> {
  const client = new Client({ name: "oauth-e2e-reference", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
  try {
    return (await client.listTools()).tools.map((tool) => tool.name).sort();
  } finally {
    await client.close();
  }
}

async function adminApi<T>(path: string): Promise<T> {
  const response = await fetch(`${gateway.origin}/admin/api${path}`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

describe("OAuth sign-in through npm start, with the pages filled in Chromium", () => {
  beforeEach(() =>
    onTestFailed(async () => {
      await page?.screenshot({ path: join(SHOTS, "oauth-failure.png"), fullPage: true }).catch(() => undefined);
      console.log(`screenshot: ${join(SHOTS, "oauth-failure.png")}\nnpm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`);
    }),
  );

  it("the MCP SDK client's own OAuth flow: an operator creates its grant on the recommended policy; tools are filtered by it; revoking it in the console ends it", async () => {
    const callback = await callbackServer();
    const clientName = `SDK e2e ${Date.now()}`;
    const provider = new TestOAuthProvider(callback.url, clientName);
    try {
      // No token: the SDK discovers the authorization server from the 401, registers, and asks for the browser.
      const first = connectWith(provider);
      await expect(first.connected).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.authorizationUrl?.origin).toBe(gateway.origin);
      expect(provider.authorizationUrl?.pathname).toBe("/authorize");
      expect(provider.authorizationUrl?.searchParams.get("code_challenge_method")).toBe("S256");
      expect(provider.authorizationUrl?.searchParams.get("resource")).toBe(gateway.url);

      await page.goto(provider.authorizationUrl!.href);
      expect(await page.textContent("h1")).toContain(clientName);
      expect(await page.textContent("main")).toContain(callback.url);
      await shot("sign-in");
      await page.fill("#admin_token", gateway.adminToken);
      await Promise.all([page.waitForURL((url) => url.pathname === "/authorize"), page.click("text=Sign in and choose a policy")]);
      expect(await page.textContent("h1")).toContain(`A new grant for ${clientName}`);
      await page.selectOption("#policy", "recommended");
      await page.fill("#expires", "1d");
      await shot("choose-policy");
      await page.click("form.stack button.primary");
      await page.waitForSelector("button.approve");
      const consent = (await page.textContent("main"))!;
      expect(consent).toContain(`Allow ${clientName} to use this gateway?`);
      expect(consent).toContain("recommended");
      expect(consent).toContain("Hidden from the app: @destructive");
      expect(consent).toContain(callback.url);
      await shot("consent");
      const [query] = await Promise.all([callback.code(), page.click("button.approve")]);
      expect(query.get("iss")).toBe(gateway.origin);
      expect(await page.textContent("body")).toContain("Signed in");

      await first.transport.finishAuth(query.get("code")!);
      const signedIn = connectWith(provider);
      await signedIn.connected;
      const names = (await signedIn.client.listTools()).tools.map((tool) => tool.name).sort();
      expect(names).toEqual(await recommendedTools());
      expect(names).toContain("get_campaigns");
      expect(names).not.toContain("delete_user_by_email");
      const result = await signedIn.client.callTool({ name: "get_campaigns", arguments: {} });
      expect(result.isError).toBeFalsy();
      const refused = await signedIn.client.callTool({ name: "send_campaign", arguments: { campaignId: 1 } });
      expect(refused.isError).toBe(true);

      // The grant: labelled with the client's name, created by the operator; the call audited as OAuth with the client's id.
      const { grants } = await adminApi<{ grants: Array<{ id: string; label: string; policy: string }> }>("/grants");
      const grant = grants.find((candidate) => candidate.label === clientName);
      expect(grant).toMatchObject({ policy: "recommended" });
      await new Promise((resolve) => setTimeout(resolve, 300)); // call records are written within 100 ms, off the agent's path
      const { records } = await adminApi<{ records: Array<Record<string, unknown>> }>(`/grants/${grant!.id}/audit`);
      expect(records.find((record) => record.kind === "admin" && record.action === "grant.create")).toMatchObject({ by: "admin" });
      const call = records.find((record) => record.kind === "call" && record.tool === "get_campaigns");
      expect(call).toMatchObject({ auth: "oauth" });
      expect(call?.oauthClientId).toEqual(expect.any(String));

      // The console lists the client on the grant's page; the operator revokes it there.
      await page.goto(`${gateway.origin}/admin/grants/${grant!.id}`);
      if (new URL(page.url()).pathname === "/admin/sign-in") {
        await page.fill("#token", gateway.adminToken);
        await Promise.all([page.waitForURL((url) => url.pathname === `/admin/grants/${grant!.id}`), page.keyboard.press("Enter")]);
      }
      expect(await page.textContent("main")).toContain(clientName);
      await shot("console-oauth-clients");
      await Promise.all([page.waitForURL(/\/oauth\/[\w-]+\/revoke$/), page.click(`table a.danger-link`)]);
      await shot("console-oauth-revoke");
      await Promise.all([page.waitForURL((url) => url.search === "?oauth-revoked"), page.click("button.danger")]);
      expect(await page.textContent("main")).toContain("No app has signed in to this grant with OAuth.");

      // Within npm start's 2 s cache the client's token stops working; its refresh token is gone too, so the SDK asks for the browser again.
      provider.authorizationUrl = undefined;
      let error: unknown;
      const revokedAt = Date.now();
      while (Date.now() - revokedAt < 8_000) {
        try {
          await signedIn.client.listTools();
        } catch (caught) {
          error = caught;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(provider.authorizationUrl).toBeDefined();
      await signedIn.client.close().catch(() => undefined);
      expect(blocked).toEqual([]);
    } finally {
      await callback.close();
    }
  });

  it("mcp-remote without --header signs in the same way (a grant token on the page) and lists the grant's tools over stdio", async () => {
    const configDir = mkdtempSync(join(tmpdir(), "mcp-remote-e2e-"));
    const callbackPort = await freePort();
    let child: ChildProcess | undefined;
    let stderr = "";
    try {
      child = spawn(process.execPath, [join(ROOT, "node_modules/mcp-remote/dist/proxy.js"), gateway.url, String(callbackPort)], {
        cwd: ROOT,
        stdio: ["pipe", "pipe", "pipe"],
        // Its own config dir; BROWSER=true makes xdg-open "open" nothing: Chromium, driven here, is the browser.
        env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: "true", DISPLAY: "" },
        detached: true,
      });
      const output = createInterface({ input: child.stdout! });
      const messages: Array<{ id?: number; result?: { tools?: Array<{ name: string }> }; error?: unknown }> = [];
      output.on("line", (line) => {
        try {
          messages.push(JSON.parse(line));
        } catch {
          // not a JSON-RPC line
        }
      });
      const authorizeUrl = await within(
        new Promise<string>((resolve, reject) => {
          child!.stderr!.on("data", (chunk) => {
            stderr += chunk;
            const match = /Please authorize this client by visiting:\s+(\S+)/.exec(stderr);
            if (match?.[1]) resolve(match[1]);
          });
          child!.once("exit", (code) => reject(new Error(`mcp-remote exited with ${code}:\n${stderr}`)));
        }),
        30_000,
        "mcp-remote's authorization URL",
      );
      expect(new URL(authorizeUrl).origin).toBe(gateway.origin);

      await page.goto(authorizeUrl);
      expect(await page.textContent("h1")).toContain("Connect");
      expect(await page.textContent("main")).toContain("This sends access to an app on your own computer");
      await page.fill("#grant_token", gateway.token);
      await page.click("form[aria-labelledby=with-token] button.primary");
      await page.waitForSelector("button.approve");
      expect(await page.textContent("main")).toContain("recommended");
      await shot("mcp-remote-consent");
      await Promise.all([page.waitForURL((url) => url.port === String(callbackPort)), page.click("button.approve")]);

      const send = (message: object) => child!.stdin!.write(`${JSON.stringify(message)}\n`);
      const answer = (id: number) =>
        within(
          new Promise<(typeof messages)[number]>((resolve) => {
            const check = () => {
              const found = messages.find((message) => message.id === id);
              if (found) return resolve(found);
              setTimeout(check, 100);
            };
            check();
          }),
          30_000,
          `mcp-remote's answer to request ${id}`,
        );
      send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "stdio-e2e", version: "1" } } });
      expect((await answer(1)).error).toBeUndefined();
      send({ jsonrpc: "2.0", method: "notifications/initialized" });
      send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
      const listed = await answer(2);
      expect((listed.result?.tools ?? []).map((tool) => tool.name).sort()).toEqual(await recommendedTools());
      expect(stderr).not.toContain(gateway.token);
    } finally {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        process.kill(-child.pid, "SIGTERM");
        await within(exited, 5_000, "mcp-remote to exit").catch(() => process.kill(-child!.pid!, "SIGKILL"));
      }
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});
