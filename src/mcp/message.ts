import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, JSONRPCMessageSchema } from "./jsonrpc.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { readBodyWithin } from "../http/body.ts";

/** A POST body after it was read once, parsed and validated. */
export type ParsedBody = {
  /** The message(s), exactly as parsed: what the gateway judges is what it forwards. */
  messages: JSONRPCMessage[];
  /** 2025-03-26 allowed a JSON array of messages; it is forwarded as an array again. */
  isBatch: boolean;
};

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads a POST body up to `maxBytes`, then parses and validates it with the
 * MCP SDK's JSON-RPC schema. Counting bytes as they stream in (not trusting
 * Content-Length alone) keeps an oversized body from being buffered whole.
 */
export async function readJsonRpcBody(request: Request, maxBytes: number): Promise<ParsedBody> {
  const text = await readTextWithin(request, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GatewayError(400, ErrorCode.ParseError, "Parse error: body is not valid JSON", String(error));
  }
  const isBatch = Array.isArray(json);
  const candidates: unknown[] = isBatch ? (json as unknown[]) : [json];
  if (candidates.length === 0) {
    throw new GatewayError(400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
  }
  const messages = candidates.map((candidate, index) => {
    const where = isBatch ? ` (batch element ${index})` : "";
    const result = JSONRPCMessageSchema.safeParse(candidate);
    if (!result.success) {
      throw new GatewayError(400, ErrorCode.InvalidRequest, `Invalid Request: not a JSON-RPC 2.0 message${where}`);
    }
    const message = candidate as JSONRPCMessage;
    const problem = unfaithfulValue(message);
    if (problem !== undefined) {
      const error = new GatewayError(400, ErrorCode.InvalidParams, `Invalid params: ${problem}${where}`);
      if (!isBatch && "id" in message && "method" in message) error.requestId = message.id;
      throw error;
    }
    // Keep the parsed JSON itself: the schema's params are open-ended and its
    // output must not drop fields the upstream expects.
    return message;
  });
  return { messages, isBatch };
}

/** Deeper than any real tool call nests; deeper would only test the stack of whatever reads it next. */
export const MAX_DEPTH = 100;

/**
 * Why this message cannot be forwarded exactly as it was judged, if it
 * cannot: JSON allows numbers like 1e999 that parse to Infinity and would be
 * re-serialised as null, so what the policy judged would not be what the
 * upstream runs; and nesting past MAX_DEPTH. Walked without recursion.
 */
function unfaithfulValue(message: JSONRPCMessage): string | undefined {
  const pending: Array<[unknown, number]> = [[message, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value === "number" && !Number.isFinite(value)) return "a number is too large to be represented (it would be forwarded as null)";
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_DEPTH) return `values are nested more than ${MAX_DEPTH} levels deep`;
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
  return undefined;
}

/** The body to send upstream: re-serialised from the parsed messages, never the raw bytes. */
export function serializeBody(body: ParsedBody): string {
  return JSON.stringify(body.isBatch ? body.messages : body.messages[0]);
}

async function readTextWithin(request: Request, maxBytes: number): Promise<string> {
  const bytes = await readBodyWithin(request, maxBytes);
  if (!bytes) throw new GatewayError(413, GatewayErrorCode.TransportError, `Payload Too Large: body exceeds ${maxBytes} bytes`);
  try {
    return decoder.decode(bytes);
  } catch {
    throw new GatewayError(400, ErrorCode.ParseError, "Parse error: body is not valid UTF-8");
  }
}
