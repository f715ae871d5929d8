import * as sdk from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, isCallToolRequest, isJSONRPCMessage, isJSONRPCRequest } from "../../src/mcp/jsonrpc.ts";

/** Messages shaped like JSON-RPC, with any field replaced by something odd. */
const odd = fc.oneof(fc.jsonValue(), fc.constant(undefined));
const meta = fc.record({ progressToken: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean()), "io.modelcontextprotocol/related-task": fc.oneof(fc.record({ taskId: fc.oneof(fc.string(), fc.integer()) }), odd), other: odd }, { requiredKeys: [] });
const params = fc.oneof(
  fc.record({ _meta: fc.oneof(meta, odd), name: fc.oneof(fc.string(), odd), arguments: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), odd), task: fc.oneof(fc.record({ ttl: fc.oneof(fc.double(), odd) }), odd), extra: odd }, { requiredKeys: [] }),
  odd,
);
const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant("2.0"), odd),
    id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constantFrom(null, 2 ** 53, -(2 ** 53 - 1)), odd),
    method: fc.oneof(fc.constantFrom("tools/call", "tools/list", "initialize"), fc.string(), odd),
    params,
    result: fc.oneof(fc.record({ _meta: fc.oneof(meta, odd), content: odd }, { requiredKeys: [] }), odd),
    error: fc.oneof(fc.record({ code: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 53), odd), message: fc.oneof(fc.string(), odd), data: odd }, { requiredKeys: [] }), odd),
    surplus: odd,
  },
  { requiredKeys: [] },
);

/** Messages that are mostly well formed (odd values at random above hit them only now and then): each shape, odd in its details. */
const id = fc.oneof(fc.string(), fc.integer(), fc.constantFrom(2 ** 53, 2 ** 53 - 1, 1.5, -0));
const wellFormed = fc
  .oneof(
    fc.record({ jsonrpc: fc.constant("2.0"), id, method: fc.constantFrom("tools/call", "tools/list", "x"), params }, { requiredKeys: ["jsonrpc", "id", "method"] }),
    fc.record({ jsonrpc: fc.constant("2.0"), method: fc.string(), params }, { requiredKeys: ["jsonrpc", "method"] }),
    fc.record({ jsonrpc: fc.constant("2.0"), id, result: fc.record({ _meta: fc.oneof(meta, odd), content: odd }, { requiredKeys: [] }) }),
    fc.record(
      { jsonrpc: fc.constant("2.0"), id, error: fc.record({ code: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 53)), message: fc.oneof(fc.string(), odd), data: odd }, { requiredKeys: ["code"] }) },
      { requiredKeys: ["jsonrpc", "error"] },
    ),
  )
  .chain((each) => fc.oneof({ weight: 4, arbitrary: fc.constant(each) }, { weight: 1, arbitrary: odd.map((surplus) => ({ ...each, surplus })) }));

describe("the gateway's JSON-RPC schemas accept exactly what the MCP SDK's do", () => {
  it("messages, requests and tools/call requests", () => {
    fc.assert(
      fc.property(fc.oneof(message, wellFormed), (value) => {
        expect(isJSONRPCMessage(value)).toBe(sdk.JSONRPCMessageSchema.safeParse(value).success);
        expect(isJSONRPCRequest(value)).toBe(sdk.isJSONRPCRequest(value));
        expect(isCallToolRequest(value)).toBe(sdk.CallToolRequestSchema.safeParse(value).success);
      }),
      { numRuns: 20_000, seed: 3 },
    );
  });

  it("error codes", () => {
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).toBe(sdk.ErrorCode[name as keyof typeof sdk.ErrorCode]);
  });
});
