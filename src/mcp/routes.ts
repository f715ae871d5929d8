import type { Context } from "hono";
import type { AppEnv } from "../env.js";
import { GatewayError, GatewayErrorCode } from "../errors.js";
import { assertAccepts, assertJsonContentType } from "../http/content-negotiation.js";
import { readJsonRpcBody, serializeBody } from "./message.js";
import { assertHeadersMatchBody } from "./request-headers.js";
import { sendUpstream } from "./upstream.js";

/**
 * POST /mcp: one JSON-RPC message (or a 2025-03-26 batch) from the agent.
 * The body is read once, validated, and what is forwarded is re-serialised
 * from that parse, so the upstream executes exactly what the gateway judged.
 */
export async function handlePost(c: Context<AppEnv>): Promise<Response> {
  assertJsonContentType(c.req.header("content-type"));
  assertAccepts(c.req.header("accept"), ["application/json", "text/event-stream"]);
  const body = await readJsonRpcBody(c.req.raw, c.var.config.maxBodyBytes);
  const [first] = body.messages;
  try {
    assertHeadersMatchBody(c.req.raw.headers, body);
  } catch (error) {
    if (error instanceof GatewayError && !body.isBatch && first && "id" in first) error.requestId = first.id ?? null;
    throw error;
  }
  return sendUpstream(c.var.config, { method: "POST", headers: c.req.raw.headers, body: serializeBody(body) });
}

/** GET /mcp: the server-to-client SSE stream of a session, resumable with Last-Event-ID. */
export async function handleGet(c: Context<AppEnv>): Promise<Response> {
  assertAccepts(c.req.header("accept"), ["text/event-stream"]);
  return sendUpstream(c.var.config, { method: "GET", headers: c.req.raw.headers });
}

/** DELETE /mcp: the client ends its session. */
export async function handleDelete(c: Context<AppEnv>): Promise<Response> {
  return sendUpstream(c.var.config, { method: "DELETE", headers: c.req.raw.headers });
}

export function methodNotAllowed(): never {
  throw new GatewayError(405, GatewayErrorCode.TransportError, "Method Not Allowed: use POST, GET or DELETE", undefined, {
    Allow: "GET, POST, DELETE",
  });
}
