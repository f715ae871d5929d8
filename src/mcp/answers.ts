import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { GatewayErrorCode, jsonRpcError } from "../errors.ts";
import { JsonRpcScanner, type MessageSummary } from "./json-scan.ts";
import { isEventStream, serializeEvent, SseParser } from "./sse.ts";
import { isObject, parseJson } from "../json.ts";

/**
 * JSON-RPC errors that prove the upstream never ran the call: it could not
 * parse it, it was not a valid request, the method or tool does not exist,
 * or its arguments were refused. Anything else (an internal error, say
 * `-32603 Iterable network error` after a timed-out API call) may come after
 * the tool acted, so the call stays counted.
 */
const NOT_RUN_CODES: ReadonlySet<unknown> = new Set([ErrorCode.ParseError, ErrorCode.InvalidRequest, ErrorCode.MethodNotFound, ErrorCode.InvalidParams]);

export type AnswerWatch = {
  /** The ids of the requests in the body that was forwarded. */
  ids: RequestId[];
  /** How long a JSON answer may take to arrive whole once its headers are in. */
  timeoutMs: number;
  /** Called once it is certain the upstream did not run the request (for a single request). */
  onNotRun?: () => void;
};

/**
 * Makes sure the agent gets a JSON-RPC answer for every request id it sent,
 * whatever the upstream does: an error status, a redirect, a body that is not
 * JSON-RPC or answers another id, a stream cut before the answer. The
 * upstream's own answers pass unchanged (SSE streams byte for byte, as they
 * arrive); what is missing is supplied as a JSON-RPC error naming the problem
 * and the upstream's HTTP status. Errors for known ids use HTTP 200, since
 * several clients end the whole session on any other status; an upstream 4xx
 * keeps its status, as it speaks about the request (an unknown session, say).
 */
export async function guardAnswers(response: Response, watch: AnswerWatch): Promise<Response> {
  const { status } = response;
  // A 4xx is the transport refusing the request before any tool ran, 429 (too many requests) included.
  if (status >= 400 && status < 500) watch.onNotRun?.();
  if (status >= 400 && status < 500 && status !== 429) return refusalFor(response, watch);
  if (status >= 300) {
    await response.body?.cancel();
    const problem = status < 400 ? `redirected the request (HTTP ${status})` : `failed (HTTP ${status})`;
    return errorsFor(watch.ids, `Upstream error: the MCP server ${problem}`, status, 200);
  }
  if (isEventStream(response.headers) && response.body) {
    return new Response(guardEventStream(response.body, watch, status), response);
  }
  if (isJson(response.headers) && response.body) return guardJson(response, watch);
  await response.body?.cancel();
  const type = response.headers.get("content-type") ?? "none";
  return errorsFor(watch.ids, `Upstream error: the MCP server answered without a JSON-RPC answer (HTTP ${status}, content type ${type})`, status, 200);
}

/**
 * Answers for requests whose id is not known to the upstream's answer, for
 * GET, DELETE and notifications: statuses stay, but an error body is always
 * JSON-RPC (never the upstream's HTML), and a redirect, which would send the
 * agent to the upstream without the gateway, becomes a 502.
 */
export async function guardUnaddressed(response: Response): Promise<Response> {
  const { status } = response;
  if (status < 300) return response;
  const text = await readText(response, 64 * 1024).catch(() => "");
  if (status < 400 || !isJsonRpcError(parseJson(text))) {
    const redirected = status < 400;
    return errorsFor([null], `Upstream error: the MCP server ${redirected ? "redirected" : "refused or failed"} the request (HTTP ${status})`, status, redirected ? 502 : status);
  }
  return new Response(text, { status, headers: response.headers });
}

function isJson(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().includes("json");
}

/** An upstream 4xx: its JSON-RPC error is kept and addressed to the request; anything else is replaced by one. */
async function refusalFor(response: Response, watch: AnswerWatch): Promise<Response> {
  const text = await readText(response, 64 * 1024).catch(() => "");
  const error = parseJson(text);
  if (isJsonRpcError(error) && watch.ids.length === 1) {
    return jsonResponse({ ...error, id: watch.ids[0] }, response.status);
  }
  return errorsFor(watch.ids, `Upstream error: the MCP server refused the request (HTTP ${response.status})`, response.status, response.status);
}

async function guardJson(response: Response, watch: AnswerWatch): Promise<Response> {
  let text: string;
  try {
    text = await readText(response, Number.POSITIVE_INFINITY, watch.timeoutMs);
  } catch (error) {
    const problem = error instanceof AnswerTimeout ? `did not finish its answer within ${watch.timeoutMs} ms` : "broke off its answer";
    return errorsFor(watch.ids, `Upstream error: the MCP server ${problem}`, response.status, 200);
  }
  const scanner = new JsonRpcScanner();
  scanner.feed(text);
  const { valid, messages } = scanner.finish();
  const missing = new Set(watch.ids);
  for (const summary of messages) {
    if (isAnswer(summary) && missing.delete(summary.id as RequestId)) noteOutcome(summary, watch);
  }
  if (missing.size === 0) return new Response(text, response);
  const problem = valid ? "did not answer this request in its reply" : "answered with a body that is not JSON";
  const errors = [...missing].map((id) =>
    jsonRpcError(id, GatewayErrorCode.UpstreamError, `Upstream error: the MCP server ${problem} (HTTP ${response.status})`, { status: response.status }),
  );
  if (watch.ids.length === 1) return jsonResponse(errors[0], 200, response.headers);
  // A batch: what the upstream did answer is kept beside the errors.
  const parsed: unknown = valid ? JSON.parse(text) : [];
  const kept = (Array.isArray(parsed) ? parsed : [parsed]).filter(isObject);
  return jsonResponse([...kept, ...errors], 200, response.headers);
}

/**
 * Relays an SSE answer as it arrives, reading each event on the side; if the
 * stream ends or breaks before every request was answered, it closes with one
 * final event per missing answer.
 */
function guardEventStream(body: ReadableStream<Uint8Array>, watch: AnswerWatch, status: number): ReadableStream<Uint8Array> {
  const missing = new Set(watch.ids);
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let scanner = new JsonRpcScanner();
  const parser = new SseParser({
    onData: (piece) => scanner.feed(piece),
    onEventEnd: (event) => {
      if (!event.hasData) return;
      const { messages } = scanner.finish();
      scanner = new JsonRpcScanner();
      for (const summary of messages) {
        if (isAnswer(summary) && missing.delete(summary.id as RequestId)) noteOutcome(summary, watch);
      }
    },
  });
  const finalEvents = (problem: string): Uint8Array => {
    const separator = parser.atBoundary ? "" : "\n\n";
    const events = [...missing].map((id) =>
      serializeEvent({ event: "message", data: JSON.stringify(jsonRpcError(id, GatewayErrorCode.UpstreamError, `Upstream error: the MCP server ${problem}`, { status })) }),
    );
    missing.clear();
    return new TextEncoder().encode(separator + events.join(""));
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          console.error("upstream stream broke", { error: String(error) });
          if (missing.size > 0) controller.enqueue(finalEvents("stream broke off before the answer"));
          controller.close();
          return;
        }
        if (chunk.done) {
          parser.feed(decoder.decode());
          if (missing.size > 0) controller.enqueue(finalEvents("stream ended without an answer"));
          controller.close();
          return;
        }
        controller.enqueue(chunk.value);
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function isAnswer(summary: MessageSummary): boolean {
  return !summary.hasMethod && summary.id !== undefined && summary.id !== null && (summary.hasResult || (summary.error !== undefined && summary.error !== null));
}

/** `"error": null` beside a result is a result; only an error with a not-run code gives the count back. */
function noteOutcome(summary: MessageSummary, watch: AnswerWatch): void {
  const error = summary.error;
  if (summary.hasResult || error === undefined || error === null || error === "unreadable") return;
  if (NOT_RUN_CODES.has(error.code)) watch.onNotRun?.();
}

function errorsFor(ids: Array<RequestId | null>, message: string, upstreamStatus: number, status: number): Response {
  const errors = ids.map((id) => jsonRpcError(id, GatewayErrorCode.UpstreamError, message, { status: upstreamStatus }));
  return jsonResponse(errors.length === 1 ? errors[0] : errors, status);
}

function jsonResponse(body: unknown, status: number, headers?: Headers): Response {
  const out = new Headers(headers);
  out.set("content-type", "application/json");
  out.delete("content-length");
  return new Response(JSON.stringify(body), { status, headers: out });
}

class AnswerTimeout extends Error {}

/** The body as text, cut after `maxBytes`, and failing with AnswerTimeout after `timeoutMs`. */
async function readText(response: Response, maxBytes: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let length = 0;
  let timer: number | null = null;
  let expired = false;
  if (Number.isFinite(timeoutMs)) {
    timer = setTimeout(() => {
      expired = true;
      void reader.cancel(new AnswerTimeout());
    }, timeoutMs);
  }
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (expired) throw new AnswerTimeout();
      if (done) break;
      parts.push(decoder.decode(value, { stream: true }));
      length += value.byteLength;
      if (length > maxBytes) {
        await reader.cancel();
        break;
      }
    }
    parts.push(decoder.decode());
    return parts.join("");
  } catch (error) {
    if (expired) throw new AnswerTimeout();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}



function isJsonRpcError(value: unknown): value is JSONRPCMessage & { error: { code: number; message: string } } {
  if (!isObject(value) || !isObject(value.error)) return false;
  return typeof value.error.code === "number" && typeof value.error.message === "string";
}
