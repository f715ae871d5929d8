import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { GatewayConfig } from "../config.ts";
import { GatewayError, GatewayErrorCode, jsonRpcError, type RpcCode } from "../errors.ts";
import { readListedTools, type ListedTool, type ToolIndex, type ToolInfo } from "../tools/tool-index.ts";

/** Whether `tools/list` shows a tool (as the tool index describes it: its tags and definition hash). */
export type ToolFilter = (tool: ToolInfo) => boolean;
import { eventData, isEventStream } from "../mcp/sse.ts";
import { sendUpstream } from "../mcp/upstream.ts";
import type { Server } from "../servers/registry.ts";
import type { PinReporter } from "../pins/types.ts";
import { isObject, parseJson } from "../json.ts";
import { summarizeMessage, type Rewrite } from "../mcp/json-scan.ts";


/** Which answers to filter: the one to a known `tools/list` request, or any that carries a tool list. */
export type ListAnswer = { requestId: RequestId; isFirstPage: boolean } | "any";

/**
 * Rewrites the upstream's answers to `tools/list` (a message's JSON text, from
 * a JSON body or an SSE event) so they list only the tools the policy lets
 * this agent see; other messages are left alone (undefined). `"any"` serves
 * replayed streams (GET with Last-Event-ID), where an answer arrives without
 * its request. Every page that passes through also refreshes the isolate's
 * tool index (all tools, before filtering), which calls are validated
 * against, and is shown to the server's pins (`report`), which learn from it
 * of changed and new tools.
 *
 * Fail closed: tools are filtered by name whatever else the answer holds
 * (a schema the SDK would reject changes nothing), and an answer whose tool
 * list cannot be read becomes an error instead of reaching the agent unfiltered.
 */
export function toolListRewriter(
  answer: ListAnswer,
  filter: ToolFilter,
  index: ToolIndex,
  report?: PinReporter,
  viewKey?: string,
): Rewrite {
  return (data) => {
    // The server says its tools changed: the next call lists them again (and its pins judge them).
    if (data.length < LIST_CHANGED_MAX_CHARS && data.includes("notifications/tools/list_changed")) index.invalidate();
    if (answer === "any" && !data.includes('"tools"')) return undefined;
    // The same answer for the same view as before: what it was filtered to then. Its tools are shown to the
    // pins again (which costs nothing when they were reported before, and retries a report that failed).
    const keptAs = answer !== "any" && viewKey !== undefined ? `${viewKey}|${answer.isFirstPage ? "first page" : "later page"}` : undefined;
    const reused = keptAs !== undefined && answer !== "any" ? index.reuseAnswer(keptAs, data, answer.requestId) : undefined;
    if (reused !== undefined) {
      report?.(reused.infos, reused.complete);
      return { text: reused.output, summary: { valid: true, messages: [reused.summary] } };
    }
    const message = parseJson(data);
    if (!isObject(message) || !isObject(message.result)) return undefined;
    if (answer === "any" ? !Object.hasOwn(message.result, "tools") : message.id !== answer.requestId) return undefined;
    const tools = readListedTools(message.result.tools);
    if (!tools) {
      const id = (message.id ?? null) as RequestId | null;
      return { text: JSON.stringify(jsonRpcError(id, GatewayErrorCode.UpstreamError, "Upstream error: its tools/list answer has no readable list of tools, so none is shown")) };
    }
    const complete = answer !== "any" && answer.isFirstPage && message.result.nextCursor === undefined;
    const infos = complete ? index.replace(tools) : index.record(tools);
    report?.(infos, complete);
    const shown = tools.filter((_, i) => filter(infos[i]!));
    // Nothing left out: the answer goes on as the upstream wrote it, without being written again.
    const output = shown.length === tools.length && tools.length === (message.result.tools as unknown[]).length ? undefined : JSON.stringify({ ...message, result: { ...message.result, tools: shown } });
    // What goes on has the same members but for its tools: the summary of the one is the other's.
    const summary = summarizeMessage(message);
    if (keptAs !== undefined && answer !== "any") index.keepAnswer(keptAs, data, answer.requestId, { output, infos, complete, summary });
    return { text: output, summary: { valid: true, messages: [summary] } };
  };
}

const MAX_PAGES = 20;
/** A notification is small: larger messages are not searched for list_changed. */
const LIST_CHANGED_MAX_CHARS = 4096;
let internalRequests = 0;

/**
 * Asks the upstream for its complete tool list on the agent's behalf (same
 * session, same protocol metadata). Needed only when a call arrives in an
 * isolate that has not yet relayed a fresh `tools/list`. Any failure is a
 * GatewayError, answered to the agent's call as a JSON-RPC error.
 */
export async function fetchToolList(
  server: Server,
  config: Pick<GatewayConfig, "forwardHeaders">,
  agentHeaders: Headers,
  meta: Record<string, unknown> | undefined,
): Promise<ListedTool[]> {
  const headers = new Headers(agentHeaders);
  headers.set("mcp-method", "tools/list");
  headers.delete("mcp-name");
  for (const name of [...headers.keys()]) if (name.startsWith("mcp-param-")) headers.delete(name);
  const tools: ListedTool[] = [];
  let cursor: unknown;
  for (let page = 0; page < MAX_PAGES; page++) {
    const id = `mcp-policy-gateway/tools-list/${++internalRequests}`;
    const params = { ...(cursor === undefined ? {} : { cursor }), ...(meta ? { _meta: meta } : {}) };
    const request: JSONRPCMessage = { jsonrpc: "2.0", id, method: "tools/list", params };
    const response = await sendUpstream(server, config, { method: "POST", headers, body: JSON.stringify(request) });
    const text = await response.text();
    if (response.status >= 400 && response.status < 500) throw upstreamRefusal(response.status, text);
    const messages = isEventStream(response.headers) ? eventData(text).map(parseJson) : [parseJson(text)];
    const answer = messages.find((message) => isObject(message) && message.id === id) as { result?: unknown; error?: unknown } | undefined;
    const result = isObject(answer?.result) ? answer.result : undefined;
    const listed = readListedTools(result?.tools);
    if (!result || !listed) {
      const reason = isObject(answer?.error) && typeof answer.error.message === "string" ? answer.error.message : "no readable list of tools";
      throw new GatewayError(502, GatewayErrorCode.UpstreamError, `Upstream error: the gateway could not list the upstream's tools to judge this call (HTTP ${response.status}): ${reason}`, {
        status: response.status,
      });
    }
    tools.push(...listed);
    cursor = result.nextCursor;
    if (cursor === undefined) return tools;
  }
  // Fail closed: a list cut short would make every tool past the bound look nonexistent.
  throw new GatewayError(502, GatewayErrorCode.UpstreamError, `Upstream error: the upstream lists its tools in more than ${MAX_PAGES} pages, more than the gateway reads to judge a call`);
}

/**
 * The upstream refused the gateway's own `tools/list` (an ended session, say):
 * the agent gets that refusal, as it would have for its own request.
 */
function upstreamRefusal(status: number, text: string): GatewayError {
  const error = parseJson(text);
  const detail = isObject(error) && isObject(error.error) ? error.error : undefined;
  const code = typeof detail?.code === "number" ? (detail.code as RpcCode) : GatewayErrorCode.UpstreamError;
  const message = typeof detail?.message === "string" ? detail.message : `the upstream refused tools/list (HTTP ${status})`;
  return new GatewayError(status as ContentfulStatusCode, code, message);
}
