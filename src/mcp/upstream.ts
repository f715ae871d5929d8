import type { GatewayConfig } from "../config.ts";
import type { Server } from "../servers/registry.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { stripHopByHop } from "../http/headers.ts";
import { isEventStream } from "./sse.ts";

/**
 * The agent headers the upstream sees: the transport's own (and its
 * `Mcp-Param-*`) and W3C trace context, plus FORWARD_HEADERS. Anything else an agent sends (its token, its
 * cookies, a header an upstream might act on) stays here: what reaches the
 * upstream is what was judged, and approved.
 */
const FORWARDED_HEADERS = ["accept", "content-type", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id", "traceparent", "tracestate"];
/** Upstream headers the agent must never see. */
const UPSTREAM_ONLY_HEADERS = ["set-cookie", "set-cookie2"];

// Failures that prove the upstream did not execute the request.
const refusedBeforeRunning = new WeakSet<object>();

/** Whether an error from sendUpstream proves the upstream did not run the request (so a count may be undone). */
export function provesNotRun(error: unknown): boolean {
  return typeof error === "object" && error !== null && refusedBeforeRunning.has(error);
}

export type UpstreamRequest = {
  method: "GET" | "POST" | "DELETE";
  /** The agent's request headers, as received. */
  headers: Headers;
  /** The re-serialised JSON-RPC body of a POST. */
  body?: string;
};

/**
 * Sends one request to the upstream MCP server and relays its answer.
 *
 * Never retried: a `tools/call` may send a campaign, so a request reaches the
 * upstream at most once, and a failure is reported instead of repeated. The
 * timeout covers the wait for the upstream's response headers; a stream that
 * has started is relayed for as long as it lasts.
 */
export async function sendUpstream(server: Server, config: Pick<GatewayConfig, "forwardHeaders">, request: UpstreamRequest): Promise<Response> {
  const headers = upstreamRequestHeaders(server, config, request);
  // The runtime's own timer: nothing to set up or clear in JS on every call.
  const signal = AbortSignal.timeout(server.timeoutMs);
  let response: Response;
  try {
    response = await server.upstream.fetch(server.upstream.url, { method: request.method, headers, body: request.body ?? null, signal, redirect: "manual" });
  } catch (error) {
    if (signal.aborted) {
      throw new GatewayError(
        504,
        GatewayErrorCode.UpstreamError,
        `Upstream timeout: the MCP server did not answer within ${server.timeoutMs} ms`,
      );
    }
    console.error("upstream fetch failed", { server: server.name, upstream: server.upstream.via === "url" ? server.upstream.url.origin : "binding", error: String(error) });
    throw new GatewayError(502, GatewayErrorCode.UpstreamError, "Upstream unreachable: the MCP server could not be contacted");
  }
  if (response.status === 401 || response.status === 403) {
    // The agent's own credential never reaches the upstream, so this is the
    // gateway's: relaying it would send the agent into an OAuth flow it cannot finish.
    await response.body?.cancel();
    const error = new GatewayError(502, GatewayErrorCode.UpstreamError, `Upstream refused the gateway's credential (HTTP ${response.status}): check the credential the gateway sends to the server "${server.name}"`);
    refusedBeforeRunning.add(error);
    throw error;
  }
  return relayResponse(server, response);
}

function upstreamRequestHeaders(server: Server, config: Pick<GatewayConfig, "forwardHeaders">, request: UpstreamRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    // Mcp-Param-* mirror a tools/call's arguments (SEP-2243): the upstream checks them against the body.
    if (FORWARDED_HEADERS.includes(name) || name.startsWith("mcp-param-") || config.forwardHeaders.includes(name)) headers.append(name, value);
  }
  // The agent cannot choose the upstream credential, and its own never travels on.
  headers.delete(server.credentialHeader);
  if (server.credential !== undefined) headers.set(server.credential.header, server.credential.value);
  if (request.body !== undefined) headers.set("content-type", "application/json");
  return headers;
}

function relayResponse(server: Server, upstream: Response): Response {
  const headers = stripHopByHop(upstream.headers);
  for (const name of UPSTREAM_ONLY_HEADERS) headers.delete(name);
  headers.delete(server.credentialHeader);
  if (headers.has("content-encoding")) {
    // The runtime already decoded the body it hands us.
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  if (isEventStream(headers)) headers.delete("content-length");
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers });
}
