import type { JSONRPCMessage, JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";

/**
 * The JSON-RPC envelope as the MCP SDK's schemas define it (its types.js:
 * RequestId, the request, notification, result and error shapes, and
 * tools/call's params), checked by hand: these run on every request, and a
 * zod schema parses without generated code on Workers (no eval) and is built
 * at each isolate's start. Only whether a value passes is asked: the gateway
 * keeps the parsed JSON itself. test/unit/jsonrpc.test.ts checks on thousands
 * of odd values that these accept exactly what the SDK's schemas do.
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

type Fields = Record<string, unknown>;

/** What a zod object accepts: an object, not null and not an array. */
function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A strict object's keys: none but these (present with any value, `undefined` included). */
function hasOnly(value: Fields, keys: readonly string[]): boolean {
  for (const key in value) if (Object.hasOwn(value, key) && !keys.includes(key)) return false;
  return true;
}

/** `z.number().int()`: a safe integer. */
const isInteger = (value: unknown) => Number.isSafeInteger(value);
const isRequestId = (value: unknown) => typeof value === "string" || isInteger(value);
const RELATED_TASK = "io.modelcontextprotocol/related-task";

function isRequestMeta(value: unknown): boolean {
  if (!isObject(value)) return false;
  const task = value[RELATED_TASK];
  return (value.progressToken === undefined || isRequestId(value.progressToken)) && (task === undefined || (isObject(task) && typeof task.taskId === "string"));
}

const isParams = (value: unknown) => isObject(value) && (value._meta === undefined || isRequestMeta(value._meta));
const REQUEST_KEYS = ["jsonrpc", "id", "method", "params"] as const;
const NOTIFICATION_KEYS = ["jsonrpc", "method", "params"] as const;
const RESULT_KEYS = ["jsonrpc", "id", "result"] as const;
const ERROR_KEYS = ["jsonrpc", "id", "error"] as const;

export function isJSONRPCRequest(value: unknown): value is JSONRPCRequest {
  return (
    isObject(value) &&
    hasOnly(value, REQUEST_KEYS) &&
    value.jsonrpc === "2.0" &&
    isRequestId(value.id) &&
    typeof value.method === "string" &&
    (value.params === undefined || isParams(value.params))
  );
}

function isNotification(value: Fields): boolean {
  return hasOnly(value, NOTIFICATION_KEYS) && value.jsonrpc === "2.0" && typeof value.method === "string" && (value.params === undefined || isParams(value.params));
}

function isResultResponse(value: Fields): boolean {
  const { result } = value;
  return hasOnly(value, RESULT_KEYS) && value.jsonrpc === "2.0" && isRequestId(value.id) && isObject(result) && (result._meta === undefined || isRequestMeta(result._meta));
}

function isErrorResponse(value: Fields): boolean {
  const { error } = value;
  return (
    hasOnly(value, ERROR_KEYS) &&
    value.jsonrpc === "2.0" &&
    (value.id === undefined || isRequestId(value.id)) &&
    isObject(error) &&
    isInteger(error.code) &&
    typeof error.message === "string"
  );
}

/** A JSON-RPC request, notification, result or error, as the MCP SDK's JSONRPCMessageSchema accepts. */
export function isJSONRPCMessage(value: unknown): value is JSONRPCMessage {
  return isObject(value) && (isJSONRPCRequest(value) || isNotification(value) || isResultResponse(value) || isErrorResponse(value));
}

/** A tools/call request: a tool name and, if any, an object of arguments (task augmentation as the SDK allows it). */
export function isCallToolRequest(value: unknown): boolean {
  if (!isObject(value) || value.method !== "tools/call" || !isObject(value.params)) return false;
  const { _meta, task, name, arguments: args } = value.params;
  return (
    (_meta === undefined || isRequestMeta(_meta)) &&
    (task === undefined || (isObject(task) && (task.ttl === undefined || (typeof task.ttl === "number" && Number.isFinite(task.ttl))))) &&
    typeof name === "string" &&
    (args === undefined || isObject(args))
  );
}
