/**
 * A paginated `tools/list` (issue 21): the sandbox pages its tools when asked
 * (`x-sandbox-page-size`, test/upstream/paged-list.ts), and the gateway filters
 * every page, hands the upstream's cursors on untouched, and, when it must
 * learn the tools itself to judge a call, follows the cursors to the last page.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import toolsSnapshot from "../upstream/iterable-tools.json";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, SANDBOX_MCP, upstreamLog } from "./gateway.ts";

const PAGE = { "x-sandbox-page-size": "10" };
const ALL = toolsSnapshot.tools.map((tool) => tool.name);
/** The second page, hidden whole, and two tools of the last two pages. */
const HIDDEN = [...ALL.slice(10, 20), "delete_user_by_email", "delete_user_by_user_id"];
const HIDING = { version: "1", default: "allow", hide: HIDDEN };

type Page = { tools: Array<{ name: string }>; nextCursor?: string };

/** One page straight from the sandbox (no session needed: the sandbox answers a paged list itself). */
async function directPage(cursor?: string): Promise<{ result?: Page; error?: { code: number; message: string } }> {
  const response = await fetch(SANDBOX_MCP, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "api-key": env.UPSTREAM_CREDENTIAL, ...PAGE },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: cursor === undefined ? {} : { cursor } }),
  });
  return response.json();
}

async function directPages(): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const page = (await directPage(cursor)).result!;
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

const listRequests = async (tag: string) =>
  (await upstreamLog(tag)).map((entry) => JSON.parse(entry.body) as { method?: string; params?: { cursor?: string; name?: string } }).filter((body) => body.method === "tools/list");
const callRequests = async (tag: string) => (await upstreamLog(tag)).filter((entry) => entry.body.includes('"tools/call"'));

describe("the sandbox pages tools/list when asked", () => {
  it("ten tools a page, twelve pages, every tool once in the snapshot's order; a cursor it did not give is -32602", async () => {
    const pages = await directPages();
    expect(pages.map((page) => page.tools.length)).toEqual([...Array(11).fill(10), 8]);
    expect(pages.flatMap((page) => page.tools.map((tool) => tool.name))).toEqual(ALL);
    expect(pages.at(-1)!.nextCursor).toBeUndefined();
    const cursor = pages[0]!.nextCursor!;
    expect(await directPage(`${cursor}x`)).toMatchObject({ error: { code: -32602, message: "Invalid cursor" } });
    expect(await directPage("bm90IGEgY3Vyc29y")).toMatchObject({ error: { code: -32602, message: "Invalid cursor" } });
  });
});

describe("tools/list pages through the gateway", () => {
  it("hidden tools on later pages are left out, a page hidden whole still leads on, and every nextCursor passes unchanged", async () => {
    const { token } = await createGrant(await putPolicy(HIDING));
    const agent = await rawAgent(gateway(), token);
    const upstream = await directPages();
    const seen: Page[] = [];
    let cursor: string | undefined;
    do {
      const answer = await agent.rpc("tools/list", cursor === undefined ? {} : { cursor }, PAGE);
      expect(answer.error).toBeUndefined();
      const page = answer.result as unknown as Page;
      seen.push(page);
      cursor = page.nextCursor;
    } while (cursor !== undefined && seen.length <= upstream.length);

    expect(seen).toHaveLength(upstream.length);
    for (const [index, page] of seen.entries()) {
      const expected = upstream[index]!.tools.map((tool) => tool.name).filter((name) => !HIDDEN.includes(name));
      expect(page.tools.map((tool) => tool.name), `page ${index + 1}`).toEqual(expected);
      expect(page.nextCursor, `page ${index + 1}`).toBe(upstream[index]!.nextCursor);
    }
    expect(seen[1]!.tools).toEqual([]);
    expect(seen.at(-1)!.tools.map((tool) => tool.name)).toContain("update_webhook");
    expect(seen.flatMap((page) => page.tools.map((tool) => tool.name))).toEqual(ALL.filter((name) => !HIDDEN.includes(name)));
    // What the upstream received is the agent's cursor, byte for byte.
    expect((await listRequests(agent.tag)).map((body) => body.params?.cursor)).toEqual([undefined, ...upstream.slice(0, -1).map((page) => page.nextCursor)]);
  });

  it("a cursor the upstream rejects comes back as the upstream's error, not as a page", async () => {
    const { token } = await createGrant(await putPolicy(HIDING));
    const agent = await rawAgent(gateway(), token);
    const answer = await agent.rpc("tools/list", { cursor: "bm90IGEgY3Vyc29y" }, PAGE);
    expect(answer).toMatchObject({ status: 200, error: { code: -32602, message: "Invalid cursor" } });
  });
});

describe("the gateway's own tools/list (fetchToolList) follows every page", () => {
  it("a call to a tool on the last page, in a fresh isolate, is judged against that tool's schema", async () => {
    const { token } = await createGrant(await putPolicy(HIDING));
    const agent = await rawAgent(gateway(), token);
    const refused = await agent.call("update_webhook", { url: "https://hooks.example/x" }, PAGE);
    expect(refused.error).toBeUndefined();
    expect(decisionOf(refused)).toMatchObject({ decision: "invalid_arguments", reason: expect.stringContaining("webhookId") });
    expect(await callRequests(agent.tag)).toEqual([]);
    // Every page was asked for, each with the cursor the page before it gave.
    const upstream = await directPages();
    expect((await listRequests(agent.tag)).map((body) => body.params?.cursor)).toEqual([undefined, ...upstream.slice(0, -1).map((page) => page.nextCursor)]);

    const fresh = await rawAgent(gateway(), token);
    const allowed = await fresh.call("update_webhook", { webhookId: 7 }, PAGE);
    expect(allowed.error).toBeUndefined();
    expect(allowed.result?.isError).toBeFalsy();
    expect(await callRequests(fresh.tag)).toHaveLength(1);
  });

  it("on the last page, a hidden tool is still unknown to the agent, and a tool on no page is unknown too", async () => {
    const { token } = await createGrant(await putPolicy(HIDING));
    const agent = await rawAgent(gateway(), token);
    expect(await agent.call("delete_user_by_user_id", { userId: "u1" }, PAGE)).toMatchObject({ error: { code: -32601, message: "Unknown tool: delete_user_by_user_id" } });
    const other = await rawAgent(gateway(), token);
    expect(await other.call("no_such_tool", {}, PAGE)).toMatchObject({ error: { code: -32601, message: "Unknown tool: no_such_tool" } });
    expect((await listRequests(other.tag)).length).toBe(12);
    expect([...(await callRequests(agent.tag)), ...(await callRequests(other.tag))]).toEqual([]);
  });
});

describe("defect: past the gateway's page bound, a listed tool was called unknown", () => {
  it("a list longer than the gateway reads (24 pages of 5): a call to a tool past the bound is refused with that reason, not 'Unknown tool'", async () => {
    const { token } = await createGrant(await putPolicy(HIDING));
    const agent = await rawAgent(gateway(), token);
    const answer = await agent.call("update_webhook", { webhookId: 7 }, { "x-sandbox-page-size": "5" });
    expect(answer.error?.message).not.toContain("Unknown tool");
    expect(answer).toMatchObject({ status: 200, error: { message: expect.stringContaining("more than 20 pages") } });
    expect(await callRequests(agent.tag)).toEqual([]);
    expect((await listRequests(agent.tag)).length).toBe(20);
  });
});
