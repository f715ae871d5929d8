/**
 * A human approves a held call in a real browser: `npm start`, a policy that
 * holds send_campaign for approval, an MCP SDK client whose call waits, and
 * headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * signing in on the approval page and clicking Approve. The held call then
 * resolves with the sandbox's real result.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

type ApprovalSummary = { id: string; url: string; tool: string; status: string; grant: { id: string; label: string } };

let gateway: RunningGateway;
let browser: Browser | undefined;
const dir = mkdtempSync(join(tmpdir(), "approval-browser-"));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  [gateway, browser] = await Promise.all([startGateway(["--sandbox"]), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
});
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
});

/** The pending approval of this grant's call, as the admin API lists it (polled: the call creates it). */
async function pendingApprovalOf(grantId: string): Promise<ApprovalSummary> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`${gateway.origin}/admin/api/approvals?status=pending`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
    expect(response.status).toBe(200);
    const { approvals } = (await response.json()) as { approvals: ApprovalSummary[] };
    const mine = approvals.find((approval) => approval.grant.id === grantId);
    if (mine) return mine;
    if (Date.now() > deadline) throw new Error(`no pending approval for grant ${grantId}; pending: ${JSON.stringify(approvals)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("the approval page in a real browser", () => {
  it("an operator signs in, reads the held call and approves it; the agent's call then completes", async () => {
    const name = `hold-${Date.now()}`;
    const file = join(dir, "hold.json");
    writeFileSync(file, JSON.stringify({ version: "1", default: "deny", approval: { hold: "2m" }, tools: { send_campaign: { action: "approve" } } }));
    const pushed = await gateway.cli("policy", "push", file, "--name", name);
    expect(pushed.status, pushed.stderr).toBe(0);
    const created = await gateway.cli("grant", "create", "--label", "browser-agent", "--policy", name, "--json");
    expect(created.status, created.stderr).toBe(0);
    const { token, grant } = JSON.parse(created.stdout) as { token: string; grant: { id: string } };

    const client = new Client({ name: "approval-browser", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const context = await browser!.newContext();
    const page: Page = await context.newPage();
    const blocked: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) blocked.push(message.text());
    });
    onTestFailed(async () => {
      await page.screenshot({ path: join(dir, "failure.png"), fullPage: true }).catch(() => undefined);
      console.log(`screenshot: ${join(dir, "failure.png")}\nnpm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`);
    });

    try {
      // The agent's call is held open while a human decides.
      let settled = false;
      const held = client.callTool({ name: "send_campaign", arguments: { campaignId: 7 } }, undefined, { timeout: 150_000 });
      held.then(
        () => (settled = true),
        () => (settled = true),
      );
      const approval = await pendingApprovalOf(grant.id);
      expect(approval).toMatchObject({ tool: "send_campaign", grant: { label: "browser-agent" } });
      const pagePath = new URL(approval.url).pathname;
      expect(new URL(approval.url).origin).toBe(gateway.origin);

      // Not signed in: the page sends the browser to sign-in.
      await page.goto(approval.url);
      expect(new URL(page.url()).pathname).toBe("/admin/sign-in");
      expect(new URL(page.url()).searchParams.get("next")).toBe(pagePath);
      await page.fill("#token", gateway.adminToken);
      await Promise.all([page.waitForURL((url) => url.pathname === pagePath), page.click("button[type=submit]")]);

      const [cookie] = await context.cookies(gateway.origin + "/admin");
      expect(cookie).toMatchObject({ path: "/admin", httpOnly: true, sameSite: "Strict", secure: false });

      expect(await page.textContent("h1")).toContain("send_campaign");
      expect(await page.textContent("dl.facts")).toContain("browser-agent");
      expect(JSON.parse((await page.textContent("pre"))!)).toEqual({ campaignId: 7 });
      expect(await page.textContent("dl.facts")).toContain("pending");
      // The stylesheet loaded under the CSP (the Approve button is green), and nothing was blocked.
      expect(await page.evaluate(() => getComputedStyle(document.querySelector("button.approve")!).backgroundColor)).toBe("rgb(23, 112, 58)");
      await page.screenshot({ path: join(dir, "approval-page.png"), fullPage: true });

      // A link followed from another site: the browser holds back the SameSite=Strict cookie, the page reloads itself from this site and is shown signed in.
      const elsewhere = await context.newPage();
      await elsewhere.route("http://elsewhere.test/", (route) => route.fulfill({ contentType: "text/html", body: `<a id="go" href="${approval.url}">approve</a>` }));
      await elsewhere.goto("http://elsewhere.test/");
      await Promise.all([elsewhere.waitForURL((url) => url.pathname === pagePath), elsewhere.click("#go")]);
      await elsewhere.waitForSelector("form.decide");
      expect(await elsewhere.textContent("h1")).toContain("send_campaign");
      await elsewhere.close();
      expect(settled, "the call must still be held").toBe(false);

      await page.fill("#note", "approved from the browser test");
      await Promise.all([page.waitForURL((url) => url.pathname === pagePath), page.click("button.approve")]);
      expect(await page.textContent("dl.facts")).toMatch(/approved|consumed/);
      expect(await page.textContent("dl.facts")).toContain("approved from the browser test");
      expect(await page.locator("form.decide").count()).toBe(0);

      const result = await held;
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
      expect(JSON.stringify(result.content)).toContain("Campaign 7 sent");

      await page.reload();
      expect(await page.textContent("dl.facts")).toContain("consumed");
      await page.screenshot({ path: join(dir, "approval-page-after.png"), fullPage: true });
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
      await client.close();
    }
  });
});
