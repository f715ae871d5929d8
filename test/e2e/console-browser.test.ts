/**
 * The operator console in a real browser: `npm start`, an agent (the MCP SDK
 * v1 client with the dev token) making calls, and headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core) signing in and using every
 * section: the decision the agent just made, approving its pending
 * send_campaign so that its retry goes through, creating a grant whose token
 * then works, revoking it (401 within npm start's 2 s grant cache), and
 * simulating a call against the recommended policy. A screenshot of each page
 * goes to test/artifacts/console/ (git-ignored), at desktop and phone widths.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { ROOT, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SHOTS = join(ROOT, "test/artifacts/console");
const DECISION_META = "mcp-policy-gateway/decision";

let gateway: RunningGateway;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let agent: Client;
/** Messages the browser logged about content it refused (CSP): there must be none. */
const blocked: string[] = [];
/** The dev grant's id (from the agent's pending approval). */
let devGrantId = "";
/** The agent's send_campaign waiting for approval: its arguments and approval. */
let pendingSend: { campaignId: number; approval: { id: string; url: string } };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mkdirSync(SHOTS, { recursive: true });
  [gateway, browser] = await Promise.all([startGateway(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
  agent = await connect(gateway.token);
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) blocked.push(message.text());
  });
});
afterAll(async () => {
  await agent?.close().catch(() => undefined);
  await browser?.close();
  await gateway?.stop();
});

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "console-browser", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const call = async (name: string, args: Record<string, unknown>) => (await agent.callTool({ name, arguments: args })) as CallToolResult;

async function shot(name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Follows a link or submits a form and waits for the page it leads to. */
async function navigate(action: Promise<unknown>, path: string | RegExp) {
  await Promise.all([page.waitForURL((url) => (typeof path === "string" ? url.pathname === path : path.test(url.pathname + url.search))), action]);
}

describe("the operator console in a real browser", () => {
  beforeEach(() =>
    onTestFailed(async () => {
      await page?.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => undefined);
      console.log(`screenshot: ${join(SHOTS, "failure.png")}\nnpm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`);
    }),
  );

  it("signs in with the admin token, by keyboard", async () => {
    await page.goto(`${gateway.origin}/admin`);
    expect(new URL(page.url()).pathname).toBe("/admin/sign-in");
    await shot("sign-in");
    // The token field has focus (autofocus): type, then Enter.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    await page.keyboard.type(gateway.adminToken);
    await navigate(page.keyboard.press("Enter"), "/admin/approvals");
    expect(await page.textContent("header")).toContain("Signed in as admin");
    // On a page without a field in focus, the first Tab reaches the skip link, which leads to the content.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await Promise.all([page.waitForURL((url) => url.hash === "#main"), page.keyboard.press("Enter")]);
    expect(await page.getAttribute('nav a[aria-current="page"]', "href")).toBe("/admin/approvals");
  });

  it("shows the decision the agent made a moment before, and the whole record", async () => {
    const campaignId = 5000 + Math.floor(Math.random() * 1000);
    const pending = await call("send_campaign", { campaignId });
    expect(pending.isError).toBe(true);
    const decision = pending._meta?.[DECISION_META] as { decision: string; approval: { id: string; url: string } };
    expect(decision.decision).toBe("approval_required");
    pendingSend = { campaignId, approval: decision.approval };
    const approval = (await (await fetch(`${gateway.origin}/admin/api/approvals/${decision.approval.id}`, { headers: { authorization: `Bearer ${gateway.adminToken}` } })).json()) as { grant: { id: string } };
    devGrantId = approval.grant.id;

    const before = Date.now();
    const allowed = await call("get_campaigns", {});
    expect(allowed.isError).toBeFalsy();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the audit record is written within 100 ms, off the agent's path

    await navigate(page.click('nav a[href="/admin/decisions"]'), "/admin/decisions");
    await page.selectOption("#grant", devGrantId);
    await page.fill("#tool", "get_campaigns");
    await navigate(page.click("form.filters button[type=submit]"), /^\/admin\/decisions\?grant=/);
    const firstRow = page.locator("table.records tbody tr").first();
    expect(await firstRow.textContent()).toContain("get_campaigns");
    expect(await firstRow.textContent()).toContain("allow");
    const at = await firstRow.locator("time").getAttribute("datetime");
    expect(Date.parse(at!)).toBeGreaterThanOrEqual(before - 1000);
    await shot("decisions");

    await navigate(firstRow.locator("a").first().click(), /^\/admin\/decisions\/g_[\w-]+\/aud_/);
    expect(await page.textContent("h1")).toContain("get_campaigns");
    const record = JSON.parse((await page.textContent("pre"))!) as { decision: string; grant: { id: string } };
    expect(record).toMatchObject({ decision: "allow", grant: { id: devGrantId } });
    await shot("decision-record");
  });

  it("approves the agent's pending send_campaign; after a counter reset the retry goes through", async () => {
    const { campaignId, approval } = pendingSend;

    await navigate(page.click('nav a[href="/admin/approvals"]'), "/admin/approvals");
    expect(await page.getAttribute('meta[http-equiv="refresh"]', "content")).toBe("10");
    const link = page.locator(`a[href="/admin/approvals/${approval.id}"]`);
    expect(await link.count()).toBe(1);
    await shot("approvals");
    await navigate(link.click(), `/admin/approvals/${approval.id}`);
    expect(JSON.parse((await page.textContent("pre"))!)).toEqual({ campaignId });
    await page.fill("#note", "approved in the console test");
    await shot("approval");
    await navigate(page.click("button.approve"), `/admin/approvals/${approval.id}`);
    expect(await page.textContent("dl.facts")).toContain("approved in the console test");

    // The dev grant's sends_per_hour may be spent by earlier runs on this machine: reset it, as an operator would.
    await navigate(page.click('nav a[href="/admin/counters"]'), "/admin/counters");
    await page.selectOption("#grant", devGrantId);
    await navigate(page.click("form.filters button[type=submit]"), /^\/admin\/counters\?grant=/);
    expect(await page.textContent("table")).toContain("sends_per_hour");
    await shot("counters");
    await navigate(page.click('a[aria-label="Reset sends_per_hour (grant)"]'), "/admin/counters/reset");
    await shot("counter-reset");
    await navigate(page.click("button.danger"), /^\/admin\/counters\?grant=/);
    expect(await page.textContent("main")).toContain("Counter sends_per_hour/grant was reset.");
    expect(await page.textContent("table")).toMatch(/sends_per_hour.*0 \/ 20/s);

    const retry = await call("send_campaign", { campaignId });
    expect(retry.isError, JSON.stringify(retry)).toBeFalsy();
    expect(JSON.stringify(retry.content)).toContain(`Campaign ${campaignId} sent`);
    await page.reload();
    expect(await page.textContent("table")).toMatch(/sends_per_hour.*1 \/ 20/s);
  });

  it("creates a grant whose token the SDK client uses, then revokes it: the next request gets 401 within seconds", async () => {
    const label = `console-browser-${Date.now()}`;
    await navigate(page.click('nav a[href="/admin/grants"]'), "/admin/grants");
    await page.fill("#label", label);
    await page.selectOption("#policy", "recommended");
    await page.fill("#expires", "1d");
    await shot("grants");
    await navigate(page.click("form.stack button.primary"), "/admin/grants");
    const token = (await page.textContent("#new-token"))!;
    expect(token).toMatch(/^mcpgw_[\w-]{43}$/);
    expect(await page.textContent("main")).toContain("This is the only time it is shown");
    await shot("grant-created");

    const client = await connect(token);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("get_campaigns");
    expect(tools.map((tool) => tool.name)).not.toContain("delete_list");

    await navigate(page.click("main a[href^='/admin/grants/g_']"), /^\/admin\/grants\/g_[\w-]+$/);
    expect(await page.textContent("main")).not.toContain(token);
    await navigate(page.click("a.danger-link"), /^\/admin\/grants\/g_[\w-]+\/revoke$/);
    await shot("grant-revoke");
    const revokedAt = Date.now();
    await navigate(page.click("button.danger"), /^\/admin\/grants\/g_[\w-]+\?revoked$/);
    expect(await page.textContent("dl.facts")).toContain("revoked");
    await shot("grant-revoked");

    let status = 0;
    while (Date.now() - revokedAt < 8_000) {
      const response = await fetch(gateway.url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "probe", version: "1" } } }),
      });
      await response.body?.cancel();
      status = response.status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(401);
    console.log(`revoked grant refused after ${Date.now() - revokedAt} ms`);
    // The SDK client that listed tools with it is refused too.
    await expect(client.listTools()).rejects.toThrow(/Unauthorized: the grant has been revoked/);
    await client.close().catch(() => undefined);
  });

  it("simulates a call against the recommended policy, and validates it in the editor", async () => {
    await navigate(page.click('nav a[href="/admin/policies"]'), "/admin/policies");
    await shot("policies");
    await navigate(page.click('main a[href="/admin/policies/recommended"]'), "/admin/policies/recommended");
    await page.fill("#tool", "send_campaign");
    await page.fill("#arguments", '{"campaignId": 42}');
    await navigate(page.click("form.stack button[type=submit]"), "/admin/policies/recommended");
    const result = (await page.textContent("section.result"))!;
    expect(result).toContain("Decision: approve");
    expect(result).toContain("/tools/@sends/action");
    expect(result).toContain("sends_per_hour");
    await shot("policy-simulate");

    await navigate(page.click('a[href="/admin/policy-editor?name=recommended"]'), "/admin/policy-editor");
    await navigate(page.click('button[value="validate"]'), "/admin/policy-editor");
    expect(await page.textContent("main")).toMatch(/Valid: version [0-9a-f]{16}/);
    await shot("policy-editor");
  });

  it("reads at phone width without sideways scrolling of the page, and nothing was blocked by the CSP", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const [name, path] of [
      ["approvals", "/admin/approvals"],
      ["decisions", `/admin/decisions?grant=${devGrantId}`],
      ["grants", "/admin/grants"],
      ["policy", "/admin/policies/recommended?tool=send_campaign&arguments=%7B%22campaignId%22%3A42%7D"],
      ["counters", `/admin/counters?grant=${devGrantId}`],
    ] as const) {
      await page.goto(`${gateway.origin}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), name).toBeLessThanOrEqual(375);
      await shot(`phone-${name}`);
    }
    // The stylesheet applied (the navigation marks the current section), and the CSP refused nothing.
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('nav a[aria-current="page"]')!).textDecorationLine)).toBe("underline");
    expect(blocked).toEqual([]);
  });
});
