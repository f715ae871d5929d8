/**
 * Issue 18's console screens in a real browser, through `npm start` and
 * headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * the approvals list with pending calls that differ only in their arguments
 * (told apart) and one held call (an agent waiting), the decisions list, the
 * counters overview, and the OAuth consent page for every shipped policy.
 * Each screenshot goes to test/artifacts/console/screens/ (git-ignored).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { freePort, ROOT, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SHOTS = join(ROOT, "test/artifacts/console/screens");
const DECISION_META = "mcp-policy-gateway/decision";
const SHIPPED = [join(ROOT, "policies/iterable/recommended.json"), ...readdirSync(join(ROOT, "policies/examples")).map((file) => join(ROOT, "policies/examples", file))];

let gateway: RunningGateway;
let browser: Browser | undefined;
let page: Page;
let agent: Client;
let held: Client | undefined;
let devGrantId = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mkdirSync(SHOTS, { recursive: true });
  [gateway, browser] = await Promise.all([startGateway(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
  agent = await connect(gateway.token);
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
  page.setDefaultTimeout(10_000);
});
afterAll(async () => {
  await held?.close().catch(() => undefined);
  await agent?.close().catch(() => undefined);
  await browser?.close();
  await gateway?.stop();
});

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "console-screens", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

async function adminApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${gateway.origin}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${gateway.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.ok, `${method} ${path}: ${response.status}`).toBe(true);
  return (await response.json()) as T;
}

/** The whole page, and what the first screen shows (a long list's full page is too tall to read at once). */
async function shot(name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  await page.screenshot({ path: join(SHOTS, `${name}-top.png`) });
}

/** A pending approval's id from the agent's refusal. */
async function pending(name: string, args: Record<string, unknown>): Promise<string> {
  const answer = (await agent.callTool({ name, arguments: args })) as CallToolResult;
  const decision = answer._meta?.[DECISION_META] as { decision: string; approval: { id: string } };
  expect(decision.decision).toBe("approval_required");
  return decision.approval.id;
}

const cells = (selector: string) => page.$$eval(selector, (elements) => elements.map((element) => element.textContent ?? ""));

describe("issue 18's console screens in Chromium", () => {
  beforeEach(() =>
    onTestFailed(async () => {
      await page?.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => undefined);
      console.log(`npm start output (last 3000 chars):\n${gateway.output().slice(-3000)}`);
    }),
  );

  it("the approvals list tells apart pending calls that differ only in their arguments, and shows an agent waiting", async () => {
    const run = Date.now() % 100_000;
    const sends = [];
    for (const n of [1, 2, 3]) sends.push(await pending("send_campaign", { campaignId: run * 10 + n }));
    const emails = [];
    for (const name of ["ana", "ben", "chloe"]) {
      emails.push(await pending("send_email", { campaignId: 7001, dataFields: { offer: "spring sale, 20% off everything" }, recipientEmail: `${name}.${run}@example.com` }));
    }
    devGrantId = (await adminApi<{ grant: { id: string } }>("GET", `/approvals/${sends[0]}`)).grant.id;

    // A second agent whose policy holds its send open for a decision, with progress so that it waits the whole hold.
    await adminApi("PUT", "/policies/screens-held", { policy: { version: "1", default: "deny", approval: { hold: "2m" }, tools: { "@sends": { action: "approve" }, "@read": {} } } });
    const { token } = await adminApi<{ token: string }>("POST", "/grants", { label: "night-shift agent", policy: "screens-held" });
    held = await connect(token);
    void held.callTool({ name: "send_campaign", arguments: { campaignId: run } }, undefined, { onprogress: () => undefined, resetTimeoutOnProgress: true, timeout: 180_000 }).catch(() => undefined);

    await page.goto(`${gateway.origin}/admin/sign-in`);
    await page.fill("#token", gateway.adminToken);
    await Promise.all([page.waitForURL((url) => url.pathname === "/admin/approvals"), page.keyboard.press("Enter")]);
    await page.waitForFunction(() => document.body.textContent?.includes("agent waiting"), undefined, { timeout: 10_000 }).catch(async () => page.reload());
    expect(await page.textContent("main")).toMatch(/agent waiting · (1|2) min left|agent waiting · \d+ s left/);

    const rowText = async (id: string) => (await page.locator(`tr:has(a[href="/admin/approvals/${id}"]) td[data-label="Arguments"]`).textContent())!.trim();
    const marked = async (id: string) => (await page.locator(`tr:has(a[href="/admin/approvals/${id}"]) td[data-label="Arguments"] mark`).allTextContents()).join(" ");
    const emailRows = await Promise.all(emails.map(rowText));
    expect(new Set(emailRows).size).toBe(3);
    for (const [index, name] of ["ana", "ben", "chloe"].entries()) {
      expect(emailRows[index]!.startsWith(`recipientEmail: "${name}.${run}@example.com"`), emailRows[index]).toBe(true);
      expect(await marked(emails[index]!)).toBe(`recipientEmail: "${name}.${run}@example.com"`);
    }
    const sendRows = await Promise.all(sends.map(rowText));
    expect(new Set(sendRows).size).toBe(3);
    await shot("approvals");
    await page.setViewportSize({ width: 375, height: 800 });
    await shot("approvals-phone");
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  it("the decisions list: short reasons, one-line times, links to approvals and grants", async () => {
    await page.goto(`${gateway.origin}/admin/decisions?grant=${devGrantId}`);
    const reasons = await cells('table.records td[data-label="Reason"]');
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).not.toContain("http");
    expect(reasons.some((reason) => reason.includes("waiting for a human's approval"))).toBe(true);
    for (const time of await cells('table.records td[data-label="Time"]')) expect(time.trim()).toMatch(/^(\d{2}:\d{2}:\d{2}|\d{2}-\d{2} \d{2}:\d{2})$/);
    // Each time cell is one line high.
    const heights = await page.$$eval('table.records td[data-label="Time"] time', (times) => times.map((time) => time.getBoundingClientRect().height));
    const lineHeight = await page.$eval("table.records td", (cell) => parseFloat(getComputedStyle(cell).lineHeight));
    for (const height of heights) expect(height).toBeLessThan(lineHeight * 1.5);
    expect(await page.locator('table.records td[data-label="Reason"] a[href^="/admin/approvals/apr_"]').count()).toBeGreaterThan(0);
    expect(await page.locator(`table.records td[data-label="Grant"] a[href="/admin/grants/${devGrantId}"]`).count()).toBeGreaterThan(0);
    await shot("decisions");
  });

  it("the counters overview: every grant's use against its limits, nearest the limit first", async () => {
    await page.goto(`${gateway.origin}/admin/counters`);
    expect(await page.textContent("h2#nearest")).toContain("nearest its limit first");
    const shares = await cells('table[aria-labelledby="nearest"] td[data-label="Used now"]');
    expect(shares.length).toBeGreaterThan(0);
    const fractions = shares.map((share) => {
      const [used, max] = share.split("/").map((part) => parseFloat(part));
      return used! / max!;
    });
    expect(fractions).toEqual([...fractions].sort((a, b) => b - a));
    await shot("counters-overview");
  });

  it("the consent page for every shipped policy", async () => {
    const callback = `http://127.0.0.1:${await freePort()}/callback`;
    const registered = await fetch(`${gateway.origin}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "MCP CLI Proxy", redirect_uris: [callback], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" }),
    });
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    for (const file of SHIPPED) {
      const name = `shipped-${basename(file, ".json")}`;
      await adminApi("PUT", `/policies/${name}`, { policy: JSON.parse(readFileSync(file, "utf8")) });
      const challenge = createHash("sha256").update(randomBytes(32).toString("base64url")).digest("base64url");
      const query = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: callback, code_challenge: challenge, code_challenge_method: "S256", state: "s", resource: gateway.url });
      await page.goto(`${gateway.origin}/authorize?${query}`);
      await page.fill("#admin_token", gateway.adminToken);
      await Promise.all([page.waitForSelector("#policy"), page.click("text=Sign in and choose a policy")]);
      await page.selectOption("#policy", name);
      await Promise.all([page.waitForSelector("button.approve"), page.click("form.stack button.primary")]);
      expect((await page.textContent("h1"))!.replace(/\s+/g, " ").trim()).toBe("Allow MCP CLI Proxy to use this gateway?");
      const main = (await page.textContent("main"))!;
      expect(main).not.toMatch(/\ba hour\b|refused for some arguments/);
      if (name.endsWith("policylayer-starter")) expect(main).toContain("send_campaign: listed, but every call is refused, saying “Requires human approval.”");
      // Every tool list open, for the picture.
      await page.$$eval("details", (details) => details.forEach((detail) => detail.setAttribute("open", "")));
      await shot(`consent-${basename(file, ".json")}`);
    }
  });
});
