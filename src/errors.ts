import { ErrorCode, type JSONRPCErrorResponse, type RequestId } from "@modelcontextprotocol/sdk/types.js";
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
  /** The upstream could not be reached or did not answer in time. */
  UpstreamUnavailable: -32003,
} as const;

export type RpcCode = ErrorCode | (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/**
 * The one error type of the gateway. Everything that refuses a request throws
 * it; `app.onError` turns it into a JSON-RPC error body with its HTTP status.
 */
export class GatewayError extends Error {
  /** The id of the request being refused, once known; null before the body is parsed. */
  requestId: RequestId | null = null;

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

/** The JSON-RPC error body for an error; `id` is null when no request id is known. */
export function toJsonRpcError(error: GatewayError): JSONRPCErrorResponse {
  return {
    jsonrpc: "2.0",
    // The SDK types the id as optional; the spec wants null when it is unknown.
    id: error.requestId as RequestId,
    error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) },
  };
}
