import type { JSONRPCMessage, JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * The JSON-RPC envelope as the MCP SDK defines it (its types.js: RequestId,
 * the request, notification, result and error shapes, and tools/call's
 * params), and nothing else. The SDK's module builds every MCP schema at
 * import, several hundred of them, which the gateway would pay for at each
 * isolate's start while it validates only these; the types still come from
 * the SDK (type imports cost nothing). test/unit/jsonrpc.test.ts checks that
 * these accept exactly what the SDK's do.
 */

/** JSON-RPC and MCP error codes the gateway uses (the SDK's `ErrorCode` values). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  UrlElicitationRequired: -32042,
} as const;

const RequestIdSchema = z.union([z.string(), z.number().int()]);

const RequestMetaSchema = z.looseObject({
  progressToken: z.union([z.string(), z.number().int()]).optional(),
  "io.modelcontextprotocol/related-task": z.object({ taskId: z.string() }).optional(),
});

const ParamsSchema = z.object({ _meta: RequestMetaSchema.optional() }).loose();

const JSONRPCRequestSchema = z.strictObject({ jsonrpc: z.literal("2.0"), id: RequestIdSchema, method: z.string(), params: ParamsSchema.optional() });
const JSONRPCNotificationSchema = z.strictObject({ jsonrpc: z.literal("2.0"), method: z.string(), params: ParamsSchema.optional() });
const JSONRPCResultResponseSchema = z.strictObject({ jsonrpc: z.literal("2.0"), id: RequestIdSchema, result: z.looseObject({ _meta: RequestMetaSchema.optional() }) });
const JSONRPCErrorResponseSchema = z.strictObject({
  jsonrpc: z.literal("2.0"),
  id: RequestIdSchema.optional(),
  error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }),
});

export const JSONRPCMessageSchema: z.ZodType<JSONRPCMessage> = z.union([
  JSONRPCRequestSchema,
  JSONRPCNotificationSchema,
  JSONRPCResultResponseSchema,
  JSONRPCErrorResponseSchema,
]) as unknown as z.ZodType<JSONRPCMessage>;

export function isJSONRPCRequest(value: unknown): value is JSONRPCRequest {
  return JSONRPCRequestSchema.safeParse(value).success;
}

/** A tools/call request: a tool name and, if any, an object of arguments (task augmentation as the SDK allows it). */
export const CallToolRequestSchema = z.object({
  method: z.literal("tools/call"),
  params: z.object({
    _meta: RequestMetaSchema.optional(),
    task: z.object({ ttl: z.number().optional() }).optional(),
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).optional(),
  }),
});
