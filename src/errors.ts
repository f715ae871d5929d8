import type { JSONRPCErrorResponse, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode } from "./mcp/jsonrpc.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * JSON-RPC codes the gateway answers with that the SDK's ErrorCode does not name.
 * The transport-level ones mirror what the SDK's own Streamable HTTP server
 * transport answers, so clients see the same codes with or without the gateway.
 */
export const GatewayErrorCode = {
  /** Generic transport-level refusal (SDK transports use it for 403/405/406/413/415). */
  TransportError: -32000,
  /** Unknown or foreign session (the SDK's "Session not found"). */
  SessionNotFound: -32001,
  /** 2026-07-28: the Mcp-* request headers disagree with the body. */
  HeaderMismatch: -32020,
  /** The upstream failed: unreachable, too slow, or its answer could not be used. `data.status` is its HTTP status when it answered. */
  UpstreamError: -32003,
} as const;

export type RpcCode = (typeof ErrorCode)[keyof typeof ErrorCode] | (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/**
 * The one error type of the gateway. Everything that refuses a request throws
 * it; `app.onError` turns it into a JSON-RPC error body with its HTTP status.
 */
export class GatewayError extends Error {
  /** The id of the request being refused, once known; null before the body is parsed. */
  requestId: RequestId | null = null;

  /** The HTTP status when no request id is known (see httpStatusOf). */
  readonly status: ContentfulStatusCode;
  readonly code: RpcCode;
  readonly data: unknown;
  /** Extra response headers, e.g. WWW-Authenticate or Allow. */
  readonly headers: Record<string, string>;

  constructor(status: ContentfulStatusCode, code: RpcCode, message: string, data?: unknown, headers: Record<string, string> = {}) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
    this.data = data;
    this.headers = headers;
  }
}

/**
 * Anything thrown that is not a GatewayError is a bug: its details go to the
 * log, and the agent gets a generic internal error (nothing was forwarded).
 */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  console.error("unhandled gateway error", { error: String(error), stack: error instanceof Error ? error.stack : undefined });
  return new GatewayError(500, ErrorCode.InternalError, "Internal gateway error: the request was not forwarded");
}

/** Attributes an error to the request it answers, so its JSON-RPC error carries that id. */
export function forRequest(error: unknown, id: RequestId | undefined): GatewayError {
  const gatewayError = asGatewayError(error);
  if (id !== undefined && gatewayError.requestId === null) gatewayError.requestId = id;
  return gatewayError;
}

/** Codes that refuse a request at the transport, before it means anything: their HTTP status always stands. */
const TRANSPORT_CODES: ReadonlySet<number> = new Set([
  GatewayErrorCode.TransportError,
  GatewayErrorCode.SessionNotFound,
  GatewayErrorCode.HeaderMismatch,
  ErrorCode.ParseError,
  ErrorCode.InvalidRequest,
]);

/**
 * A transport refusal (bad headers, an unknown session, an unreadable body)
 * keeps its HTTP status. Any other error about a request whose id is known
 * (invalid params, the upstream failing, the gateway itself failing) is a
 * JSON-RPC answer to that request, sent with HTTP 200: several clients tear
 * the whole session down on a non-2xx status, and the session is fine.
 */
export function httpStatusOf(error: GatewayError): ContentfulStatusCode {
  return error.requestId !== null && !TRANSPORT_CODES.has(error.code) ? 200 : error.status;
}

/** The JSON-RPC error body for an error; `id` is null when no request id is known. */
export function toJsonRpcError(error: GatewayError): JSONRPCErrorResponse {
  return jsonRpcError(error.requestId, error.code, error.message, error.data);
}

export function jsonRpcError(id: RequestId | null, code: number, message: string, data?: unknown): JSONRPCErrorResponse {
  return {
    jsonrpc: "2.0",
    // The SDK types the id as optional; the spec wants null when it is unknown.
    id: id as RequestId,
    error: { code, message, ...(data === undefined ? {} : { data }) },
  };
}
