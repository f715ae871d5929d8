import { ListToolsResultSchema, type JSONRPCMessage, type RequestId, type Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { GatewayConfig } from "../config.ts";
import { GatewayError, GatewayErrorCode, type RpcCode } from "../errors.ts";
import type { ToolIndex } from "../tools/tool-index.ts";
import { eventData, isEventStream, rewriteEventStream } from "./sse.ts";
import { sendUpstream } from "./upstream.ts";

/** Decides whether `tools/list` shows a tool. */
export type ToolFilter = (tool: Tool) => boolean;

/** Which answers to filter: the one to a known `tools/list` request, or any that carries a tool list. */
export type ListAnswer = { requestId: RequestId; isFirstPage: boolean } | "any";

/**
 * Rewrites the upstream's answers to `tools/list`, JSON or SSE, so they list
 * only the tools the policy lets this agent see. `"any"` serves replayed
 * streams (GET with Last-Event-ID), where an answer arrives without its
 * request. Every page that passes through also refreshes the isolate's tool
 * index (all tools, before filtering), which calls are validated against.
 */
export async function filterToolListResponse(response: Response, answer: ListAnswer, filter: ToolFilter, index: ToolIndex): Promise<Response> {
  const rewrite = (data: string): string | undefined => {
    if (answer === "any" && !data.includes('"tools"')) return undefined;
    const message = parseJson(data) as { id?: unknown; result?: unknown } | undefined;
    if (!message || message.result === undefined || (answer !== "any" && message.id !== answer.requestId)) return undefined;
    const page = ListToolsResultSchema.safeParse(message.result);
    if (!page.success) return undefined;
    if (answer !== "any" && answer.isFirstPage && page.data.nextCursor === undefined) index.replace(page.data.tools);
    else index.record(page.data.tools);
    const raw = message.result as { tools: Tool[] };
    return JSON.stringify({ ...message, result: { ...raw, tools: raw.tools.filter(filter) } });
  };
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  if (isEventStream(response.headers) && response.body) {
    return new Response(rewriteEventStream(response.body, rewrite), { status: response.status, headers });
  }
  if (!(headers.get("content-type") ?? "").includes("json")) return response;
  const text = await response.text();
  return new Response(rewrite(text) ?? text, { status: response.status, headers });
}

const MAX_PAGES = 20;
let internalRequests = 0;

/**
 * Asks the upstream for its complete tool list on the agent's behalf (same
 * session, same protocol metadata). Needed only when a call arrives in an
 * isolate that has not yet relayed a `tools/list`.
 */
export async function fetchToolList(
  config: GatewayConfig,
  agentHeaders: Headers,
  meta: Record<string, unknown> | undefined,
): Promise<Tool[]> {
  const headers = new Headers(agentHeaders);
  headers.set("mcp-method", "tools/list");
  headers.delete("mcp-name");
  for (const name of [...headers.keys()]) if (name.startsWith("mcp-param-")) headers.delete(name);
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const id = `mcp-policy-gateway/tools-list/${++internalRequests}`;
    const params = { ...(cursor === undefined ? {} : { cursor }), ...(meta ? { _meta: meta } : {}) };
    const request: JSONRPCMessage = { jsonrpc: "2.0", id, method: "tools/list", params };
    const response = await sendUpstream(config, { method: "POST", headers, body: JSON.stringify(request) });
    const text = await response.text();
    if (!response.ok) throw upstreamRefusal(response.status, text);
    const messages = isEventStream(response.headers) ? eventData(text).map(parseJson) : [parseJson(text)];
    const answer = messages.find((message) => (message as { id?: unknown } | undefined)?.id === id) as
      | { result?: unknown; error?: { message?: string } }
      | undefined;
    const result = ListToolsResultSchema.safeParse(answer?.result);
    if (!result.success) {
      throw new Error(`upstream tools/list failed (HTTP ${response.status}): ${answer?.error?.message ?? "no valid result"}`);
    }
    tools.push(...result.data.tools);
    cursor = result.data.nextCursor;
    if (cursor === undefined) return tools;
  }
  return tools;
}

/**
 * The upstream refused the gateway's own `tools/list` (an ended session, say):
 * the agent gets that refusal, as it would have for its own request.
 */
function upstreamRefusal(status: number, text: string): GatewayError {
  const error = (parseJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "number" ? error.code : GatewayErrorCode.UpstreamUnavailable;
  const message = typeof error?.message === "string" ? error.message : `the upstream refused tools/list (HTTP ${status})`;
  return status >= 400 && status < 500
    ? new GatewayError(status as ContentfulStatusCode, code as RpcCode, message)
    : new GatewayError(502, GatewayErrorCode.UpstreamUnavailable, `Upstream error: ${message}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
