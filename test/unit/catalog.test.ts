import { describe, expect, it } from "vitest";
import { taggerOf, toolTags } from "../../src/tools/catalog.ts";

describe("tags from the catalog", () => {
  const tags = taggerOf({
    send_campaign: { category: "execute", tags: ["writes", "sends", "execute"] },
    new_tool: { category: "unclassified", tags: [] },
  });

  it("a classified tool has its catalog tags; an unknown one the upstream's annotations", () => {
    expect([...tags("send_campaign")]).toEqual(["writes", "sends", "execute"]);
    expect([...tags("other_server_tool", { readOnlyHint: true })]).toEqual(["read"]);
  });

  it("a tool the catalog lists as unclassified has no tags, whatever its annotations claim", () => {
    expect([...tags("new_tool", { readOnlyHint: true })]).toEqual([]);
  });

  it("the shipped catalog classifies every tool of the pinned @iterable/mcp", () => {
    expect([...toolTags("get_lists")]).toContain("read");
    expect([...toolTags("send_campaign")]).toContain("sends");
  });
});
