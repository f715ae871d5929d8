import { describe, expect, it } from "vitest";
import { readListedTools, ToolIndex } from "../../src/tools/tool-index.ts";

const TTL = 1000;
const schemaWith = (type: string) => ({ type: "object", properties: { campaignId: { type } }, required: ["campaignId"] });

describe("defect 13: tool index entries go stale", () => {
  it("an entry recorded from a page is trusted for the TTL only, then the list must be fetched again", () => {
    const index = new ToolIndex(TTL);
    index.record([{ name: "send_campaign", inputSchema: schemaWith("number") }], 0);
    expect(index.lookup("send_campaign", TTL - 1)).toMatchObject({ fresh: true });
    expect(index.lookup("send_campaign", TTL)).toMatchObject({ fresh: false });
  });

  it("a new complete list replaces changed schemas and annotations, and removes tools that are gone", async () => {
    const index = new ToolIndex(TTL);
    index.replace([{ name: "send_campaign", inputSchema: schemaWith("number") }, { name: "old_tool" }], 0);
    expect(index.lookup("send_campaign", 10).tool?.validate({ campaignId: "x" })).toBeDefined();
    expect(index.lookup("send_campaign", 10).tool?.tags.has("destructive")).toBe(false);

    await index.load(async () => [{ name: "send_campaign", inputSchema: schemaWith("string"), annotations: { destructiveHint: true } }]);
    const now = Date.now();
    expect(index.lookup("send_campaign", now).tool?.validate({ campaignId: "x" })).toBeUndefined();
    expect(index.lookup("send_campaign", now).tool?.tags.has("destructive")).toBe(true);
    expect(index.lookup("old_tool", now)).toEqual({ fresh: true, tool: undefined });
  });

  it("knowing a tool does not exist also expires", () => {
    const index = new ToolIndex(TTL);
    index.replace([], 0);
    expect(index.lookup("new_tool", 500)).toEqual({ fresh: true, tool: undefined });
    expect(index.lookup("new_tool", TTL)).toEqual({ fresh: false, tool: undefined });
  });
});

describe("tools as the upstream lists them", () => {
  it("are read leniently: a valid JSON Schema the SDK rejects is kept, entries without a name are dropped", () => {
    const tools = readListedTools([{ name: "ok", inputSchema: { type: "object", properties: { flag: true } } }, { description: "nameless" }, 7, null]);
    expect(tools?.map((tool) => tool.name)).toEqual(["ok"]);
    expect(readListedTools("all of them")).toBeUndefined();
  });

  it("fail closed when a schema cannot be used to check arguments", () => {
    const index = new ToolIndex(TTL);
    index.record([{ name: "broken", inputSchema: { $ref: "#/nowhere" } }], 0);
    expect(index.lookup("broken", 1).tool?.validate({})?.detail).toContain("cannot be used to check the arguments");
  });
});

describe("a filtered tools/list is reused for the same answer and view", () => {
  const answerWith = (tools: Array<{ name: string; description?: string }>, id: number | string) => JSON.stringify({ result: { tools }, jsonrpc: "2.0", id });
  const TOOLS = [{ name: "get_lists" }, { name: "send_campaign" }, { name: "delete_list" }];
  const names = (text: string | undefined) => (JSON.parse(text ?? "{}") as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name);

  it("each view gets its own filtering, the request's own id, and a changed answer is filtered anew", async () => {
    const { toolListRewriter } = await import("../../src/calls/tool-list.ts");
    const index = new ToolIndex(TTL);
    let filtered = 0;
    const hiding = (hidden: string) => (tool: { name: string }) => (filtered++, tool.name !== hidden);
    const viewA = (id: number) => (data: string) => toolListRewriter({ requestId: id, isFirstPage: true }, hiding("delete_list"), index, undefined, "policy-a@1")(data)?.text;
    const viewB = (id: number) => (data: string) => toolListRewriter({ requestId: id, isFirstPage: true }, hiding("send_campaign"), index, undefined, "policy-b@1")(data)?.text;

    expect(names(viewA(1)(answerWith(TOOLS, 1)))).toEqual(["get_lists", "send_campaign"]);
    expect(filtered).toBe(3);
    const again = viewA(2)(answerWith(TOOLS, 2));
    expect(filtered).toBe(3);
    expect(JSON.parse(again!)).toMatchObject({ id: 2, result: { tools: [{ name: "get_lists" }, { name: "send_campaign" }] } });

    // Another view of the same answer is never served the first view's list.
    expect(names(viewB(3)(answerWith(TOOLS, 3)))).toEqual(["get_lists", "delete_list"]);
    // One character different: filtered again.
    const changed = [{ name: "get_lists" }, { name: "send_campaign", description: "now with bcc" }, { name: "delete_list" }];
    const before = filtered;
    expect(names(viewA(4)(answerWith(changed, 4)))).toEqual(["get_lists", "send_campaign"]);
    expect(filtered).toBe(before + 3);
    expect(index.lookup("send_campaign").tool?.hash).not.toBe(undefined);
  });

  it("reusing an answer makes the index hold its tools again, as filtering it would", async () => {
    const { toolListRewriter } = await import("../../src/calls/tool-list.ts");
    const index = new ToolIndex(TTL);
    const view = (id: number) => toolListRewriter({ requestId: id, isFirstPage: true }, () => true, index, undefined, "view");
    const original = [{ name: "send_campaign", description: "original" }];
    view(1)(answerWith(original, 1));
    const originalHash = index.lookup("send_campaign").tool?.hash;
    view(2)(answerWith([{ name: "send_campaign", description: "changed" }], 2));
    expect(index.lookup("send_campaign").tool?.hash).not.toBe(originalHash);
    view(3)(answerWith(original, 3));
    expect(index.lookup("send_campaign").tool?.hash).toBe(originalHash);
  });
});
