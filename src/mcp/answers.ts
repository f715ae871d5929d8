import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode } from "./jsonrpc.ts";
import { GatewayErrorCode, jsonRpcError } from "../errors.ts";
import { concatBytes } from "../http/body.ts";
import { isObject, parseJson } from "../json.ts";
import { relayEventStream, type EventStreamOptions } from "./event-stream.ts";
import { summarizeMessages, type MessageSummary, type Rewrite } from "./json-scan.ts";
import { isEventStream, serializeEvent } from "./sse.ts";

/**
 * JSON-RPC errors that prove the upstream never ran the call: it could not
 * parse it, it was not a valid request, the method or tool does not exist,
 * or its arguments were refused. Anything else (an internal error, say
 * `-32603 Iterable network error` after a timed-out API call) may come after
 * the tool acted, so the call stays counted.
 */
const NOT_RUN_CODES: ReadonlySet<unknown> = new Set([ErrorCode.ParseError, ErrorCode.InvalidRequest, ErrorCode.MethodNotFound, ErrorCode.InvalidParams]);

export type AnswerOptions = {
  /** The ids of the requests in the body that was forwarded; none for GET, DELETE and notifications. */
  ids: RequestId[];
  /** How long a JSON answer may take to arrive whole once its headers are in. */
  timeoutMs: number;
  keepAliveMs: number;
  /** Called once it is certain the upstream did not run the request. */
  onNotRun?: (() => void) | undefined;
  /** Rewrites a message before the agent sees it (tool lists); undefined leaves it alone. */
  rewrite?: Rewrite | undefined;
  /** GET streams: messages of the gateway's own to add while the stream is open (event-stream.ts). */
  watch?: EventStreamOptions["watch"];
  /** Called once, when the upstream's answer is known: its HTTP status, and whether it failed (no usable answer). */
  onSettled?: ((upstream: { status: number; failure: "error" | "timeout" | undefined }) => void) | undefined;
};

/**
 * Turns the upstream's answer into the agent's, in one pass. For a request
 * whose id is known the agent always gets a JSON-RPC answer for that id,
 * whatever the upstream does: an error status, a redirect, a body that is not
 * JSON-RPC or answers another id, a stream that breaks off or ends without
 * the answer. What is missing is supplied as a JSON-RPC error naming the
 * problem and the upstream's HTTP status (`data.status`), with HTTP 200,
 * since several clients end the whole session on any other status; an
 * upstream 4xx keeps its status, as it speaks about the request (an unknown
 * session, say). The upstream's own answers pass unchanged, SSE as it arrives.
 */
export async function relayAnswer(response: Response, options: AnswerOptions): Promise<Response> {
  const { status } = response;
  if (options.ids.length === 0) return relayUnaddressed(response, options);
  // A 4xx is the transport refusing the request before any tool ran, 429 (too many requests) included.
  if (status >= 400 && status < 500) options.onNotRun?.();
  if (status >= 300) options.onSettled?.({ status, failure: "error" });
  if (status >= 400 && status < 500 && status !== 429) return refusalFor(response, options.ids);
  if (status >= 300) {
    await response.body?.cancel();
    const problem = status < 400 ? `redirected the request (HTTP ${status})` : `failed (HTTP ${status})`;
    return errorsFor(options.ids, `Upstream error: the MCP server ${problem}`, status, 200);
  }
  if (isEventStream(response.headers) && response.body) return answerStream(response, options);
  if (isJson(response.headers) && response.body) return answerJson(response, options);
  options.onSettled?.({ status, failure: "error" });
  await response.body?.cancel();
  const type = response.headers.get("content-type") ?? "none";
  return errorsFor(options.ids, `Upstream error: the MCP server answered without a JSON-RPC answer (HTTP ${status}, content type ${type})`, status, 200);
}

/**
 * GET, DELETE and notifications: statuses stay, but an error body is always
 * JSON-RPC (never the upstream's HTML), and a redirect, which would send the
 * agent to the upstream without the gateway, becomes a 502.
 */
async function relayUnaddressed(response: Response, options: AnswerOptions): Promise<Response> {
  const { status } = response;
  if (status < 300) {
    if (!isEventStream(response.headers) || !response.body) return response;
    const body = relayEventStream(response.body, { keepAliveMs: options.keepAliveMs, rewrite: options.rewrite, watch: options.watch });
    return new Response(body, { status, headers: streamHeaders(response.headers) });
  }
  const text = await readText(response, 64 * 1024).catch(() => "");
  const error = parseJson(text);
  if (status >= 400 && isJsonRpcError(error)) return jsonResponse(error, status);
  const redirected = status < 400;
  const problem = redirected ? "redirected the request" : "refused or failed the request";
  return errorsFor([null], `Upstream error: the MCP server ${problem} (HTTP ${status})`, status, redirected ? 502 : status);
}

/** An upstream 4xx: its JSON-RPC error is kept and addressed to the request; anything else is replaced by one. */
async function refusalFor(response: Response, ids: RequestId[]): Promise<Response> {
  const text = await readText(response, 64 * 1024).catch(() => "");
  const error = parseJson(text);
  if (isJsonRpcError(error) && ids.length === 1) return jsonResponse({ ...error, id: ids[0] }, response.status);
  return errorsFor(ids, `Upstream error: the MCP server refused the request (HTTP ${response.status})`, response.status, response.status);
}

async function answerJson(response: Response, options: AnswerOptions): Promise<Response> {
  const { ids } = options;
  let bytes: Uint8Array;
  try {
    bytes = await readBytes(response, Number.POSITIVE_INFINITY, options.timeoutMs);
  } catch (error) {
    const timedOut = error instanceof AnswerTimeout;
    options.onSettled?.({ status: response.status, failure: timedOut ? "timeout" : "error" });
    const problem = timedOut ? `did not finish its answer within ${options.timeoutMs} ms` : "broke off its answer";
    return errorsFor(ids, `Upstream error: the MCP server ${problem}`, response.status, 200);
  }
  const received = new TextDecoder().decode(bytes);
  const rewritten = options.rewrite?.(received);
  const text = rewritten?.text ?? received;
  const { valid, messages } = rewritten?.summary ?? summarizeMessages(text);
  const missing = answered(ids, messages, options);
  options.onSettled?.({ status: response.status, failure: missing.size === 0 ? undefined : "error" });
  // An answer left as it came goes on as the bytes it came in.
  if (missing.size === 0) return jsonResponse(rewritten?.text ?? bytes, response.status, response.headers);
  const problem = valid ? "did not answer this request in its reply" : "answered with a body that is not JSON";
  const errors = [...missing].map((id) => upstreamError(id, `${problem} (HTTP ${response.status})`, response.status));
  if (ids.length === 1) return jsonResponse(errors[0], 200, response.headers);
  // A batch: what the upstream did answer is kept beside the errors.
  const parsed: unknown = valid ? JSON.parse(text) : [];
  const kept = (Array.isArray(parsed) ? parsed : [parsed]).filter(isObject);
  return jsonResponse([...kept, ...errors], 200, response.headers);
}

/** An SSE answer, relayed as it arrives; requests it leaves unanswered get a final error event each. */
function answerStream(response: Response, options: AnswerOptions): Response {
  const missing = new Set(options.ids);
  const body = relayEventStream(response.body as ReadableStream<Uint8Array>, {
    keepAliveMs: options.keepAliveMs,
    rewrite: options.rewrite,
    onMessage: (message) => {
      noteAnswer(message, missing, options);
      if (missing.size === 0) options.onSettled?.({ status: response.status, failure: undefined });
    },
    onEnd: (broken) => {
      if (missing.size > 0) options.onSettled?.({ status: response.status, failure: "error" });
      const problem = broken ? "stream broke off before the answer" : "stream ended without an answer";
      const events = [...missing].map((id) => serializeEvent({ event: "message", data: JSON.stringify(upstreamError(id, problem, response.status)) }));
      return events.join("");
    },
  });
  return new Response(body, { status: response.status, headers: streamHeaders(response.headers) });
}

/** The ids left unanswered by these messages (noting how the answered ones bear on the call having run). */
function answered(ids: RequestId[], messages: MessageSummary[], options: AnswerOptions): Set<RequestId> {
  const missing = new Set(ids);
  for (const message of messages) noteAnswer(message, missing, options);
  return missing;
}

function noteAnswer(message: MessageSummary, missing: Set<RequestId>, options: AnswerOptions): void {
  const isAnswer = !message.hasMethod && message.id !== undefined && message.id !== null && (message.hasResult || isError(message.error));
  if (!isAnswer || !missing.delete(message.id as RequestId)) return;
  // `"error": null` beside a result is a result; only an error with a not-run code gives the count back.
  if (!message.hasResult && isError(message.error) && NOT_RUN_CODES.has(message.error.code)) options.onNotRun?.();
}

function isError(error: MessageSummary["error"]): error is { code: unknown; message: unknown } {
  return typeof error === "object" && error !== null;
}

function upstreamError(id: RequestId | null, problem: string, status: number) {
  return jsonRpcError(id, GatewayErrorCode.UpstreamError, `Upstream error: the MCP server ${problem}`, { status });
}

function errorsFor(ids: Array<RequestId | null>, message: string, upstreamStatus: number, status: number): Response {
  const errors = ids.map((id) => jsonRpcError(id, GatewayErrorCode.UpstreamError, message, { status: upstreamStatus }));
  return jsonResponse(errors.length === 1 ? errors[0] : errors, status);
}

function isJson(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().includes("json");
}

function streamHeaders(upstream: Headers): Headers {
  const headers = new Headers(upstream);
  headers.delete("content-length");
  return headers;
}

/** A JSON body (given as text or bytes, or as a value to serialise) with the upstream's other headers kept. */
function jsonResponse(body: unknown, status: number, headers?: Headers): Response {
  const out = new Headers(headers);
  out.set("content-type", "application/json");
  out.delete("content-length");
  return new Response(typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body), { status, headers: out });
}

function isJsonRpcError(value: unknown): value is { jsonrpc: "2.0"; error: { code: number; message: string } } {
  if (!isObject(value) || !isObject(value.error)) return false;
  return typeof value.error.code === "number" && typeof value.error.message === "string";
}

class AnswerTimeout extends Error {}

/** The body as text, cut after `maxBytes`. */
async function readText(response: Response, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readBytes(response, maxBytes));
}

/** The body's bytes, cut after `maxBytes`, and failing with AnswerTimeout after `timeoutMs`. */
async function readBytes(response: Response, maxBytes: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
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
      parts.push(value);
      length += value.byteLength;
      if (length > maxBytes) {
        await reader.cancel();
        break;
      }
    }
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  } catch (error) {
    if (expired) throw new AnswerTimeout();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
