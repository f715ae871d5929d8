/**
 * The console's list of pending approvals (issue 18), with real agents'
 * calls in the Workers runtime: rows of one tool and grant that differ only
 * in their arguments are told apart (the members that differ first, or the
 * hash when they differ past the preview), and a call held open for its
 * approval shows that an agent is waiting and for how much longer, until
 * the agent goes away or the hold ends.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ApprovalRecord, ApprovalSummary } from "../../src/approvals/record.ts";
import { previewMembers } from "../../src/admin/pages/argument-summary.ts";
import { createGrant, GATEWAY_URL, gateway, putPolicy, rawAgent, signInCookie, TAG_HEADER, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";

async function admin<T>(gw: Gateway, path: string): Promise<T> {
  const response = await gw.fetch(`${ORIGIN}/admin/api${path}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

async function page(gw: Gateway, path: string, cookie: string): Promise<string> {
  const response = await gw.fetch(`${ORIGIN}${path}`, { headers: { cookie } });
  expect(response.status).toBe(200);
  return response.text();
}

const decode = (html: string) =>
  html.replace(/<[^>]+>/g, "").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** The pending table's rows: each approval's id, its Tool cell and its Arguments cell (as HTML). */
function pendingRows(html: string): Array<{ id: string; tool: string; args: string }> {
  const table = /<table[^>]*>[\s\S]*?<\/table>/.exec(html)?.[0] ?? "";
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].flatMap(([, row = ""]) => {
    const id = /href="\/admin\/approvals\/(apr_[\w-]+)"/.exec(row)?.[1];
    const tool = /<td data-label="Tool">([\s\S]*?)<\/td>/.exec(row)?.[1];
    const args = /<td data-label="Arguments"[^>]*>([\s\S]*?)<\/td>/.exec(row)?.[1];
    return id && tool !== undefined && args !== undefined ? [{ id, tool, args }] : [];
  });
}

async function threeCalls(argsFor: (n: number) => object) {
  const policy = await putPolicy({ version: "1", default: "deny", tools: { send_email: { action: "approve" } } });
  const label = `dev-${crypto.randomUUID().slice(0, 8)}`;
  const { token } = await createGrant(policy, { label });
  const gw = gateway();
  const agent = await rawAgent(gw, token);
  const ids: string[] = [];
  for (const n of [1, 2, 3]) {
    const answer = await agent.call("send_email", argsFor(n));
    ids.push(answer.result?._meta?.["mcp-policy-gateway/decision"]?.approval?.id as string);
  }
  const html = await page(gw, "/admin/approvals", await signInCookie(gw));
  const rows = pendingRows(html).filter((row) => ids.includes(row.id));
  expect(rows).toHaveLength(3);
  return { rows: ids.map((id) => rows.find((row) => row.id === id)!), label };
}

describe("pending approvals that differ only in their arguments are told apart", () => {
  it("issue 18: three send_email rows of one grant lead with the member that differs, marked", async () => {
    // Canonical JSON sorts keys: the members common to all three come first in the preview, the recipient last.
    const brief = "the same campaign brief for every call";
    const { rows } = await threeCalls((n) => ({ campaignId: 4242, dataFields: { brief }, recipientEmail: `person${n}@example.com` }));
    rows.forEach((row, index) => {
      const text = decode(row.args).trim();
      expect(text.startsWith(`recipientEmail: "person${index + 1}@example.com"`), text).toBe(true);
      expect(row.args).toContain(`<mark>recipientEmail: &quot;person${index + 1}@example.com&quot;</mark>`);
      expect(text).toContain(`campaignId: 4242, dataFields: {"brief":"the same`);
    });
    expect(new Set(rows.map((row) => decode(row.args))).size).toBe(3);
  });

  it("issue 18: rows whose previews are the same (they differ past the preview) show the start of their hashes", async () => {
    const { rows } = await threeCalls((n) => ({ campaignId: 4242, dataFields: { brief: "x".repeat(300) }, recipientEmail: `person${n}@example.com` }));
    const texts = rows.map((row) => decode(row.args));
    expect(new Set(texts).size).toBe(3);
    for (const text of texts) expect(text).toMatch(/differs further on: sha256 [0-9a-f]{8}…/);
  });

  it("reads a cut preview as far as it goes", () => {
    expect(previewMembers('{"a":1,"b":{"c":[1,2]},"d":"x,y"}')).toEqual({
      members: [
        { key: "a", value: "1", cut: false },
        { key: "b", value: '{"c":[1,2]}', cut: false },
        { key: "d", value: '"x,y"', cut: false },
      ],
      cut: false,
    });
    expect(previewMembers('{"a":"long text that was cu…')).toEqual({ members: [{ key: "a", value: '"long text that was cu', cut: true }], cut: true });
    expect(previewMembers('{"a":1,"b\\"q":2,"ke…')).toEqual({
      members: [
        { key: "a", value: "1", cut: false },
        { key: 'b"q', value: "2", cut: false },
        { key: '"ke', value: "", cut: true },
      ],
      cut: true,
    });
    expect(previewMembers("{}")).toEqual({ members: [], cut: false });
  });
});

describe("a held call's approval says an agent is waiting, and for how much longer", () => {
  it("issue 18: while the agent's call is held the list and the approval page say so; once it goes away they no longer do", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", approval: { hold: "30s" }, tools: { send_campaign: { action: "approve" } } });
    const { token } = await createGrant(policy, { label: `held-${crypto.randomUUID().slice(0, 8)}` });
    const gw = gateway({ SSE_KEEPALIVE_MS: "60000" });
    const agent = await rawAgent(gw, token);
    const controller = new AbortController();
    const held = await gw.fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.sessionId, [TAG_HEADER]: agent.tag },
      // With a progress token the call waits the policy's whole hold (30 s).
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 7 }, _meta: { progressToken: "p" } } }),
      signal: controller.signal,
    });
    expect(held.headers.get("content-type")).toContain("text/event-stream");
    const started = Date.now();

    const pendingOf = async () => (await admin<{ approvals: ApprovalSummary[] }>(gw, "/approvals?status=pending")).approvals.find((row) => row.session === agent.sessionId);
    let row = await pendingOf();
    for (let tries = 0; (!row || !row.heldUntil) && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      row = await pendingOf();
    }
    expect(row?.heldUntil).toBeTruthy();
    const until = Date.parse(row!.heldUntil!);
    expect(until).toBeGreaterThan(started + 25_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 30_000);

    const cookie = await signInCookie(gw);
    const listed = pendingRows(await page(gw, "/admin/approvals", cookie)).find((candidate) => candidate.id === row!.id)!;
    expect(decode(listed.tool)).toMatch(/agent waiting · (29|30) s left/);
    const one = decode(await page(gw, `/admin/approvals/${row!.id}`, cookie));
    expect(one).toMatch(/agent waiting · (29|30) s left/);
    expect(one).toContain("Its call is held open for this decision until");

    // The agent goes away: the hold ends in the grant's object, and nothing says it is waiting any more.
    controller.abort();
    let record = await admin<ApprovalRecord>(gw, `/approvals/${row!.id}`);
    for (let tries = 0; record.heldUntil && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      record = await admin<ApprovalRecord>(gw, `/approvals/${row!.id}`);
    }
    expect(record).toMatchObject({ status: "pending", heldUntil: null });
    let after = pendingRows(await page(gw, "/admin/approvals", cookie)).find((candidate) => candidate.id === row!.id)!;
    for (let tries = 0; decode(after.tool).includes("waiting") && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = pendingRows(await page(gw, "/admin/approvals", cookie)).find((candidate) => candidate.id === row!.id)!;
    }
    expect(decode(after.tool)).not.toContain("waiting");
    expect(decode(await page(gw, `/admin/approvals/${row!.id}`, cookie))).not.toContain("agent waiting");
  });
});
