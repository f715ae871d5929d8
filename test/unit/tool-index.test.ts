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
