import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { GatewayConfig } from "../config.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { isObject, parseJson } from "../json.ts";
import { eventData, isEventStream } from "../mcp/sse.ts";
import { sendUpstream } from "../mcp/upstream.ts";
import type { Server } from "./registry.ts";

/**
 * The most of one server's answer the merged endpoint holds to merge it with
 * the others' (a list of thousands of tools is a few MiB). A larger answer is
 * that server's failure, not the gateway's.
 */
export const MAX_MERGED_ANSWER_BYTES = 32 * 1024 * 1024;

/** A server's answer to one request: its result or its error, and the session id it gave. */
export type ServerAnswer =
  | { ok: true; result: Record<string, unknown>; session: string | undefined }
  | { ok: false; error: { code: number; message: string; data?: unknown }; status: number | undefined };

/**
 * Sends one request to one server and reads its answer for that id (a JSON
 * body, or the event that carries it in a stream), within the server's
 * timeout and MAX_MERGED_ANSWER_BYTES. Never throws: whatever goes wrong is
 * that server's error, so the others' answers still reach the agent.
 */
export async function askServer(server: Server, config: Pick<GatewayConfig, "forwardHeaders">, headers: Headers, request: JSONRPCMessage & { id: RequestId }): Promise<ServerAnswer> {
  const deadline = AbortSignal.timeout(server.timeoutMs);
  try {
    const sent = new Headers(headers);
    if ("method" in request) sent.set("mcp-method", request.method);
    const response = await sendUpstream(server, config, { method: "POST", headers: sent, body: JSON.stringify(request) });
    const text = await boundedText(response, deadline);
    const messages = isEventStream(response.headers) ? eventData(text).map(parseJson) : [parseJson(text)];
    const answer = messages.find((message) => isObject(message) && message.id === request.id && ("result" in message || "error" in message));
    const session = response.headers.get("mcp-session-id") ?? undefined;
    if (isObject(answer) && isObject(answer.result)) return { ok: true, result: answer.result, session };
    if (isObject(answer) && isObject(answer.error) && typeof answer.error.code === "number" && typeof answer.error.message === "string") {
      return { ok: false, error: { code: answer.error.code, message: answer.error.message, ...(answer.error.data === undefined ? {} : { data: answer.error.data }) }, status: response.status };
    }
    return failure(`answered without a JSON-RPC answer for the request (HTTP ${response.status})`, response.status);
  } catch (error) {
    if (error instanceof GatewayError) return { ok: false, error: { code: error.code, message: error.message }, status: error.status };
    return failure(deadline.aborted ? `did not answer within ${server.timeoutMs} ms` : `could not be read (${String(error).slice(0, 200)})`, undefined);
  }
}

function failure(problem: string, status: number | undefined): ServerAnswer {
  return { ok: false, error: { code: GatewayErrorCode.UpstreamError, message: `Upstream error: the MCP server ${problem}` }, status };
}

async function boundedText(response: Response, deadline: AbortSignal): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  deadline.addEventListener("abort", cancel);
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      if (bytes > MAX_MERGED_ANSWER_BYTES) {
        cancel();
        throw new Error(`its answer is larger than ${MAX_MERGED_ANSWER_BYTES} bytes`);
      }
      text += decoder.decode(value, { stream: true });
      if (deadline.aborted) throw new Error("timed out");
    }
  } finally {
    deadline.removeEventListener("abort", cancel);
  }
}
