import { describe, expect, it } from "vitest";
import { toolListRewriter } from "../../src/calls/tool-list.ts";
import { PinCache } from "../../src/pins/pin-cache.ts";
import type { ToolPins } from "../../src/pins/tool-pins.ts";
import type { Observation, PinSnapshot } from "../../src/pins/types.ts";
import type { Server } from "../../src/servers/registry.ts";
import { ToolIndex } from "../../src/tools/tool-index.ts";

const SERVER = { name: "crm", pinKey: "crm https://crm.example/mcp", catalog: undefined } as unknown as Server;
const answer = (id: number) => JSON.stringify({ result: { tools: [{ name: "lookup", description: "changed since pinned" }] }, jsonrpc: "2.0", id });

/** A pins object whose first `failures` reports fail (an outage), pinning "lookup" with another definition. */
function flakyPins(failures: number) {
  const observed: Observation[] = [];
  const snapshot: PinSnapshot = { version: 1, seeded: true, pins: [["lookup", "0".repeat(64)]] };
  const stub = {
    snapshot: async () => snapshot,
    observe: async (observation: Observation) => {
      observed.push(observation);
      if (observed.length <= failures) throw new Error("Network connection lost.");
      return snapshot;
    },
  };
  const namespace = { getByName: () => stub } as unknown as DurableObjectNamespace<ToolPins>;
  return { namespace, observed };
}

describe("a change whose report failed is reported again", () => {
  it("when the same list is served again from the reused filtered answer", async () => {
    const { namespace, observed } = flakyPins(1);
    const pins = new PinCache(SERVER);
    await pins.view(namespace);
    const index = new ToolIndex(30_000);
    const reports: Array<Promise<void>> = [];
    const report = (tools: Parameters<PinCache["report"]>[1], complete: boolean) => void reports.push(pins.report(namespace, tools, complete, "https://gw/admin/tools"));
    const list = (id: number) => toolListRewriter({ requestId: id, isFirstPage: true }, () => true, index, report, "policy@1|pins 1")(answer(id));

    list(1);
    await Promise.all(reports);
    expect(observed).toHaveLength(1);
    list(2);
    await Promise.all(reports);
    expect(observed).toHaveLength(2);
    expect(observed[1]?.tools.map((tool) => tool.name)).toEqual(["lookup"]);
    // Reported now: the same list again tells the pins nothing new.
    list(3);
    await Promise.all(reports);
    expect(observed).toHaveLength(2);
  });
});
