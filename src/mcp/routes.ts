import type { JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, isCallToolRequest, isJSONRPCRequest } from "./jsonrpc.ts";
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { forRequest, GatewayError, GatewayErrorCode } from "../errors.ts";
import { assertAccepts, assertJsonContentType } from "../http/content-negotiation.ts";
import { relayAnswer } from "./answers.ts";
import type { Rewrite } from "./json-scan.ts";
import { readJsonRpcBody, serializeBody, type ParsedBody } from "./message.ts";
import { assertHeadersMatchBody } from "./request-headers.ts";
import { forwardToolCall } from "../calls/tool-call.ts";
import type { ToolCallRequest } from "../calls/judge.ts";
import { toolListRewriter, type ListAnswer } from "../calls/tool-list.ts";
import { agentRequest, relay } from "./relay.ts";
import { answerMerged, deleteMerged, streamMerged } from "../servers/merged.ts";
import { toolVisibility } from "../servers/visibility.ts";
import { pinReporter } from "../pins/reporter.ts";
import { pinWatch } from "../pins/watch.ts";
import { CLIENT_CAPABILITIES_META_KEY, declaresUrlElicitation, isStateless, requestRevision } from "./revision.ts";

/**
 * POST /mcp: one JSON-RPC message (or a 2025-03-26 batch) from the agent.
 * The body is read once and validated; a `tools/call` is judged before
 * anything is sent, a `tools/list` answer is filtered on the way back, and
 * what is forwarded is re-serialised from the parse, so the upstream executes
 * exactly what the gateway judged. Whatever happens after the body is read,
 * every request in it gets a JSON-RPC answer for its id.
 */
export async function handlePost(c: Context<AppEnv>): Promise<Response> {
  const { services } = c.var;
  assertJsonContentType(c.req.header("content-type"));
  assertAccepts(c.req.header("accept"), ["application/json", "text/event-stream"]);
  const body = await readJsonRpcBody(c.req.raw, services.config.maxBodyBytes);
  const message = body.isBatch ? undefined : body.messages[0];
  const request = message && isJSONRPCRequest(message) ? message : undefined;
  try {
    return await answerPost(c, body, request);
  } catch (error) {
    throw forRequest(error, request?.id);
  }
}

async function answerPost(c: Context<AppEnv>, body: ParsedBody, request: JSONRPCRequest | undefined): Promise<Response> {
  const { config } = c.var.services;
  assertHeadersMatchBody(c.req.raw.headers, body);
  assertBatchIsJudgeable(body);
  assertToolCallsAreRequests(body);
  if (c.var.merged) return answerMerged(c, body, request);
  const { headers, features } = await agentRequest(c);
  const revision = requestRevision(c.req.raw.headers, request);

  if (request?.method === "tools/call") {
    if (!isCallToolRequest(request)) {
      throw new GatewayError(400, ErrorCode.InvalidParams, "Invalid params: tools/call needs params.name and object params.arguments");
    }
    const urlElicitation = isStateless(revision) ? declaresUrlElicitation(request.params?._meta?.[CLIENT_CAPABILITIES_META_KEY]) : features.urlElicitation;
    return forwardToolCall(c, request as ToolCallRequest, { headers, body: serializeBody(body), revision, urlElicitation });
  }

  // A new session remembers whether its client can open an approval page (URL elicitation).
  const sessionFeatures = request?.method === "initialize" ? { urlElicitation: declaresUrlElicitation(request.params?.capabilities) } : features;
  const response = await relay(c, { method: "POST", headers, body: serializeBody(body) }, sessionFeatures);
  const ids = body.messages.filter(isJSONRPCRequest).map((each) => each.id);
  const rewrite =
    request?.method === "tools/list" ? await toolListFilter(c, { requestId: request.id, isFirstPage: request.params?.cursor === undefined }) : undefined;
  return relayAnswer(response, { ids, timeoutMs: c.var.server.server.timeoutMs, keepAliveMs: config.sseKeepAliveMs, rewrite });
}

/**
 * GET /mcp: the server-to-client SSE stream of a session, resumable with
 * Last-Event-ID. A resumed stream can replay an earlier `tools/list` answer,
 * so tool lists on it are filtered like the original.
 */
export async function handleGet(c: Context<AppEnv>): Promise<Response> {
  assertAccepts(c.req.header("accept"), ["text/event-stream"]);
  if (c.var.merged) return streamMerged(c);
  const { config } = c.var.services;
  const response = await relay(c, { method: "GET", headers: (await agentRequest(c)).headers });
  const rewrite = await toolListFilter(c, "any");
  return relayAnswer(response, { ids: [], timeoutMs: c.var.server.server.timeoutMs, keepAliveMs: config.sseKeepAliveMs, rewrite, watch: pinWatch(c.var.services, c.var.server) });
}

/** Rewrites tool lists in an answer to what this grant's policy lets it see (nothing, without a policy). */
async function toolListFilter(c: Context<AppEnv>, answer: ListAnswer): Promise<Rewrite> {
  const { services, grant, server } = c.var;
  const { show, reportsToPins, key } = await toolVisibility(services, grant, server);
  return toolListRewriter(answer, show, server.tools, reportsToPins ? pinReporter(c, server) : undefined, key);
}

/** DELETE /mcp: the client ends its session. */
export async function handleDelete(c: Context<AppEnv>): Promise<Response> {
  if (c.var.merged) return deleteMerged(c);
  const { config } = c.var.services;
  const response = await relay(c, { method: "DELETE", headers: (await agentRequest(c)).headers });
  return relayAnswer(response, { ids: [], timeoutMs: c.var.server.server.timeoutMs, keepAliveMs: config.sseKeepAliveMs });
}

export function methodNotAllowed(): never {
  throw new GatewayError(405, GatewayErrorCode.TransportError, "Method Not Allowed: use POST, GET or DELETE", undefined, {
    Allow: "GET, POST, DELETE",
  });
}

/**
 * Batches (2025-03-26 only) may carry notifications and answers to the
 * server's requests; calls and listings are judged one per request, so a
 * batch holding one is refused rather than forwarded unjudged.
 */
function assertBatchIsJudgeable(body: ParsedBody): void {
  if (!body.isBatch) return;
  const judged = body.messages.find((message) => "method" in message && (message.method === "tools/call" || message.method === "tools/list"));
  if (judged && "method" in judged) {
    throw new GatewayError(400, ErrorCode.InvalidRequest, `Invalid Request: send ${judged.method} as a single message, not inside a batch`);
  }
}

/**
 * A `tools/call` notification has no id, so it could not be answered with a
 * refusal: it is never forwarded, since the upstream would run it unjudged.
 */
function assertToolCallsAreRequests(body: ParsedBody): void {
  if (body.messages.some((message) => "method" in message && message.method === "tools/call" && !("id" in message))) {
    throw new GatewayError(400, ErrorCode.InvalidRequest, "Invalid Request: tools/call must be a request with an id; it was not forwarded");
  }
}
