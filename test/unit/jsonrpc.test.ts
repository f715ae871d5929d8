import * as sdk from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CallToolRequestSchema, ErrorCode, isJSONRPCRequest, JSONRPCMessageSchema } from "../../src/mcp/jsonrpc.ts";

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
    id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), odd),
    method: fc.oneof(fc.constantFrom("tools/call", "tools/list", "initialize"), fc.string(), odd),
    params,
    result: fc.oneof(fc.record({ _meta: fc.oneof(meta, odd), content: odd }, { requiredKeys: [] }), odd),
    error: fc.oneof(fc.record({ code: fc.oneof(fc.integer(), fc.double(), odd), message: fc.oneof(fc.string(), odd), data: odd }, { requiredKeys: [] }), odd),
    surplus: odd,
  },
  { requiredKeys: [] },
);

describe("the gateway's JSON-RPC schemas accept exactly what the MCP SDK's do", () => {
  it("messages, requests and tools/call requests", () => {
    fc.assert(
      fc.property(message, (value) => {
        expect(JSONRPCMessageSchema.safeParse(value).success).toBe(sdk.JSONRPCMessageSchema.safeParse(value).success);
        expect(isJSONRPCRequest(value)).toBe(sdk.isJSONRPCRequest(value));
        expect(CallToolRequestSchema.safeParse(value).success).toBe(sdk.CallToolRequestSchema.safeParse(value).success);
      }),
      { numRuns: 5000, seed: 3 },
    );
  });

  it("error codes", () => {
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).toBe(sdk.ErrorCode[name as keyof typeof sdk.ErrorCode]);
  });
});
