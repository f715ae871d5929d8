import type { JSONRPCRequest, RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Context } from "hono";
import packageJson from "../../package.json" with { type: "json" };
import { forwardToolCall } from "../calls/tool-call.ts";
import type { ToolCallRequest } from "../calls/judge.ts";
import { fetchToolList } from "../calls/tool-list.ts";
import { unknownToolResponse } from "../calls/refusal.ts";
import type { AppEnv } from "../env.ts";
import { GatewayError, GatewayErrorCode, jsonRpcError } from "../errors.ts";
import { isObject } from "../json.ts";
import { relayAnswer } from "../mcp/answers.ts";
import { ErrorCode, isCallToolRequest } from "../mcp/jsonrpc.ts";
import type { ParsedBody } from "../mcp/message.ts";
import { CLIENT_CAPABILITIES_META_KEY, declaresUrlElicitation, isStateless, requestRevision } from "../mcp/revision.ts";
import { NO_FEATURES, type SessionFeatures } from "../mcp/session.ts";
import { isEventStream } from "../mcp/sse.ts";
import { sendUpstream } from "../mcp/upstream.ts";
import { mergeStreams } from "./merged-stream.ts";
import type { ServerRuntime } from "../services.ts";
import { readListedTools, type ListedTool } from "../tools/tool-index.ts";
import { askServer, type ServerAnswer } from "./ask.ts";
import { mergeCursor, readMergedCursor } from "./merged-cursor.ts";
import { unwrapMergedSession, wrapMergedSession, type MergedSessions } from "./merged-session.ts";
import { mergedName, originalName, splitMergedName } from "./names.ts";
import { toolVisibility } from "./visibility.ts";
import { pinReporter } from "../pins/reporter.ts";
import { mergedPinWatch } from "../pins/watch.ts";

/**
 * `/mcp` for a grant that reaches several servers: one MCP server made of
 * them all. `initialize` opens a session at each (kept behind one gateway
 * session); lists gather every server's answer, names prefixed with the
 * server's (`iterable__send_campaign`); a call goes to the server its prefix
 * names, and from there takes exactly the path a call to `/mcp/<server>`
 * takes (judged, counted, approved, audited). A server that fails or is slow
 * loses only its own part of an answer.
 */
export async function answerMerged(c: Context<AppEnv>, body: ParsedBody, request: JSONRPCRequest | undefined): Promise<Response> {
  const merged = new MergedRequest(c, await sessionOf(c));
  if (!request) return merged.deliver(body);
  switch (request.method) {
    case "initialize":
    case "server/discover":
      return merged.introduce(request);
    case "ping":
      return c.json({ jsonrpc: "2.0", id: request.id, result: merged.result({}) });
    case "tools/list":
      return merged.list(request, "tools");
    case "prompts/list":
      return merged.list(request, "prompts");
    case "resources/list":
      return merged.list(request, "resources");
    case "resources/templates/list":
      return merged.list(request, "resourceTemplates");
    case "tools/call":
      return merged.callTool(request);
    case "prompts/get":
      return merged.getPrompt(request);
    case "completion/complete":
      return merged.complete(request);
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
    case "logging/setLevel":
      return merged.fanOut(request);
    default:
      return c.json(jsonRpcError(request.id, ErrorCode.MethodNotFound, `Method not found: ${request.method.slice(0, 100)} is not available where several servers are merged; use /mcp/<server> for one of ${merged.names()}`));
  }
}

/** GET /mcp: every server's stream of notifications, as one. */
export async function streamMerged(c: Context<AppEnv>): Promise<Response> {
  const merged = new MergedRequest(c, await sessionOf(c));
  const { config } = c.var.services;
  const opened = await Promise.all(
    merged.joined().map(async (runtime) => {
      const headers = merged.headersFor(runtime);
      headers.delete("last-event-id");
      try {
        const response = await sendUpstream(runtime.server, config, { method: "GET", headers });
        if (response.status === 200 && isEventStream(response.headers) && response.body) return { server: runtime.server.name, body: response.body };
        await response.body?.cancel();
      } catch (error) {
        console.error("merged stream: a server's stream did not open", { server: runtime.server.name, error: String(error).slice(0, 200) });
      }
      return undefined;
    }),
  );
  const sources = opened.filter((source) => source !== undefined);
  if (sources.length === 0) {
    throw new GatewayError(405, GatewayErrorCode.TransportError, "Method Not Allowed: no server of this session offers a stream", undefined, { Allow: "POST, DELETE" });
  }
  return new Response(mergeStreams(sources, config.sseKeepAliveMs, mergedPinWatch(c.var.services, merged.joined())), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** DELETE /mcp: the session ends at every server. */
export async function deleteMerged(c: Context<AppEnv>): Promise<Response> {
  const merged = new MergedRequest(c, await sessionOf(c));
  const statuses = await Promise.all(
    merged.runtimes.map(async (runtime) => {
      try {
        const response = await sendUpstream(runtime.server, c.var.services.config, { method: "DELETE", headers: merged.headersFor(runtime) });
        await response.body?.cancel();
        return response.status;
      } catch {
        return 502;
      }
    }),
  );
  return new Response(null, { status: statuses.some((status) => status < 300) ? 200 : (statuses[0] ?? 404) });
}

type Session = { sessions: MergedSessions | undefined; features: SessionFeatures };

async function sessionOf(c: Context<AppEnv>): Promise<Session> {
  const id = c.req.header("mcp-session-id");
  if (id === undefined) return { sessions: undefined, features: NO_FEATURES };
  return unwrapMergedSession(c.var.services.config.sessionSecret, c.var.grant.id, id);
}

type ListKind = "tools" | "prompts" | "resources" | "resourceTemplates";
const LIST_METHODS: Record<ListKind, string> = { tools: "tools/list", prompts: "prompts/list", resources: "resources/list", resourceTemplates: "resources/templates/list" };

class MergedRequest {
  #c: Context<AppEnv>;
  #session: Session;
  readonly runtimes: ServerRuntime[];
  readonly #revision: string | undefined;

  constructor(c: Context<AppEnv>, session: Session) {
    this.#c = c;
    this.#session = session;
    this.runtimes = c.var.merged ?? [];
    this.#revision = requestRevision(c.req.raw.headers, undefined);
  }

  names(): string {
    return this.runtimes.map((runtime) => `"${runtime.server.name}"`).join(", ");
  }

  /** The agent's headers as one server sees them: its own session id, no name header (set per request). */
  headersFor(runtime: ServerRuntime): Headers {
    const headers = new Headers(this.#c.req.raw.headers);
    headers.delete("mcp-name");
    const session = this.#session.sessions?.get(runtime.server.name);
    if (session === undefined) headers.delete("mcp-session-id");
    else headers.set("mcp-session-id", session);
    return headers;
  }

  /** A result as the request's revision needs it (2026-07-28 results carry `resultType`). */
  result(fields: Record<string, unknown>, revision = this.#revision): Record<string, unknown> {
    return isStateless(revision) ? { resultType: "complete", ...fields } : fields;
  }

  /** The servers this request can reach: in a session, those that joined it. */
  joined(): ServerRuntime[] {
    const { sessions } = this.#session;
    return sessions === undefined ? this.runtimes : this.runtimes.filter((runtime) => sessions.has(runtime.server.name));
  }

  #ask(runtime: ServerRuntime, request: JSONRPCRequest, headers = this.headersFor(runtime)): Promise<ServerAnswer> {
    return askServer(runtime.server, this.#c.var.services.config, headers, request);
  }

  #answer(id: RequestId, result: Record<string, unknown>, headers?: Record<string, string>): Response {
    return this.#c.json({ jsonrpc: "2.0", id, result }, 200, headers);
  }

  #error(id: RequestId, code: number, message: string, data?: unknown): Response {
    return this.#c.json(jsonRpcError(id, code, message, data));
  }

  /** `initialize` (and 2026-07-28 `server/discover`): asked of every server; one answer for them all. */
  async introduce(request: JSONRPCRequest): Promise<Response> {
    const answers = await Promise.all(this.runtimes.map(async (runtime) => ({ runtime, answer: await this.#ask(runtime, request) })));
    const joined = answers.filter((entry): entry is { runtime: ServerRuntime; answer: Extract<ServerAnswer, { ok: true }> } => entry.answer.ok);
    for (const { runtime, answer } of answers) if (!answer.ok) logFailure(runtime, request.method, answer);
    if (joined.length === 0) return this.#error(request.id, GatewayErrorCode.UpstreamError, `Upstream error: none of ${this.names()} answered ${request.method}`, failures(answers));
    const sessions: MergedSessions = new Map();
    for (const { runtime, answer } of joined) if (answer.session !== undefined) sessions.set(runtime.server.name, answer.session);
    const result = mergeIntroductions(joined.map(({ runtime, answer }) => ({ name: runtime.server.name, result: answer.result })));
    if (sessions.size === 0) return this.#answer(request.id, result);
    const params = isObject(request.params) ? request.params : {};
    const meta = isObject(params._meta) ? params._meta : {};
    const features = { urlElicitation: declaresUrlElicitation(params.capabilities ?? meta[CLIENT_CAPABILITIES_META_KEY]) };
    const id = await wrapMergedSession(this.#c.var.services.config.sessionSecret, this.#c.var.grant.id, sessions, features);
    return this.#answer(request.id, result, { "mcp-session-id": id });
  }

  /**
   * A list, gathered: every server's page, its names prefixed; tools also
   * filtered by the grant's policy for that server and recorded in that
   * server's tool index. The cursor carries each server's own.
   */
  async list(request: JSONRPCRequest, kind: ListKind): Promise<Response> {
    const params = isObject(request.params) ? request.params : {};
    const joined = this.joined();
    const cursors = params.cursor === undefined ? new Map(joined.map((runtime) => [runtime.server.name, undefined])) : readMergedCursor(params.cursor, joined.map((runtime) => runtime.server.name));
    if (!cursors) return this.#error(request.id, ErrorCode.InvalidParams, "Invalid params: the cursor is not one this gateway gave");
    const asked = joined.filter((runtime) => cursors.has(runtime.server.name));
    const pages = await Promise.all(
      asked.map(async (runtime) => {
        const { cursor: _, ...rest } = params;
        const cursor = cursors.get(runtime.server.name);
        const answer = await this.#ask(runtime, { ...request, params: { ...rest, ...(cursor === undefined ? {} : { cursor }) } });
        return { runtime, answer, first: cursor === undefined };
      }),
    );
    const items: unknown[] = [];
    const next = new Map<string, unknown>();
    let base: Record<string, unknown> | undefined;
    for (const { runtime, answer, first } of pages) {
      if (!answer.ok) {
        logFailure(runtime, request.method, answer);
        continue;
      }
      const page = await this.#listed(runtime, kind, answer.result, first);
      if (!page) {
        logFailure(runtime, request.method, { ok: false, error: { code: GatewayErrorCode.UpstreamError, message: `its answer has no readable ${kind}` }, status: undefined });
        continue;
      }
      base ??= answer.result;
      items.push(...page);
      if (answer.result.nextCursor !== undefined) next.set(runtime.server.name, answer.result.nextCursor);
    }
    if (!base) return this.#error(request.id, GatewayErrorCode.UpstreamError, `Upstream error: none of ${this.names()} answered ${request.method}`, failures(pages));
    const { nextCursor: _, ...fields } = base;
    return this.#answer(request.id, { ...fields, [kind]: items, ...(next.size > 0 ? { nextCursor: mergeCursor(next) } : {}) });
  }

  async #listed(runtime: ServerRuntime, kind: ListKind, result: Record<string, unknown>, first: boolean): Promise<unknown[] | undefined> {
    const name = runtime.server.name;
    if (kind === "tools") {
      const tools = readListedTools(result.tools);
      if (!tools) return undefined;
      const complete = first && result.nextCursor === undefined;
      const infos = complete ? runtime.tools.replace(tools) : runtime.tools.record(tools);
      const { show, reportsToPins } = await toolVisibility(this.#c.var.services, this.#c.var.grant, runtime);
      if (reportsToPins) pinReporter(this.#c, runtime)(infos, complete);
      return Promise.all(tools.filter((_, i) => show(infos[i]!)).map(async (tool: ListedTool) => ({ ...tool, name: await mergedName(name, tool.name) })));
    }
    const list = result[kind];
    if (!Array.isArray(list) || !list.every((item) => isObject(item) && typeof item.name === "string")) return undefined;
    return Promise.all((list as Array<{ name: string }>).map(async (item) => ({ ...item, name: await mergedName(name, item.name) })));
  }

  /** A `tools/call`: to the server its prefix names, as a call to that server's own URL goes. */
  async callTool(request: JSONRPCRequest): Promise<Response> {
    const c = this.#c;
    if (!isCallToolRequest(request)) {
      throw new GatewayError(400, ErrorCode.InvalidParams, "Invalid params: tools/call needs params.name and object params.arguments");
    }
    const call = request as ToolCallRequest;
    const unknown = () => c.json(unknownToolResponse(call.id, call.params.name.slice(0, 200), c.var.services.config.unknownToolErrorCode));
    const target = this.#target(call.params.name);
    if (!target) return unknown();
    const { runtime, rest } = target;
    const headers = this.headersFor(runtime);
    const original = await originalName(runtime.server.name, call.params.name, rest, async () => {
      const fresh = runtime.tools.names();
      if (fresh) return fresh;
      pinReporter(c, runtime)(await runtime.tools.load(() => fetchToolList(runtime.server, c.var.services.config, headers, undefined)), true);
      return runtime.tools.names() ?? [];
    });
    if (original === undefined) return unknown();
    const notJoined = this.#notJoined(call.id, runtime);
    if (notJoined) return notJoined;
    if (c.req.header("mcp-name") !== undefined) headers.set("mcp-name", headerValue(original));
    const routed: ToolCallRequest = { ...call, params: { ...call.params, name: original } };
    c.set("server", runtime);
    const revision = requestRevision(c.req.raw.headers, request);
    const urlElicitation = isStateless(revision) ? declaresUrlElicitation(call.params._meta?.[CLIENT_CAPABILITIES_META_KEY]) : this.#session.features.urlElicitation;
    return withoutSessionHeader(await forwardToolCall(c, routed, { headers, body: JSON.stringify(routed), revision, urlElicitation }));
  }

  /** `prompts/get`: to the server its prefix names, the prompt's own name restored. */
  async getPrompt(request: JSONRPCRequest): Promise<Response> {
    const params = isObject(request.params) ? request.params : {};
    const routed = typeof params.name === "string" ? await this.#promptName(params.name) : undefined;
    if (!routed) return this.#error(request.id, ErrorCode.InvalidParams, `Invalid params: no server here has the prompt ${String(params.name).slice(0, 200)}`);
    return this.#relay(routed.runtime, { ...request, params: { ...params, name: routed.name } }, routed.name);
  }

  /** `completion/complete`: a prompt's by its prefix; a resource's from whichever server has it. */
  async complete(request: JSONRPCRequest): Promise<Response> {
    const params = isObject(request.params) ? request.params : {};
    const ref = isObject(params.ref) ? params.ref : {};
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const routed = await this.#promptName(ref.name);
      if (!routed) return this.#error(request.id, ErrorCode.InvalidParams, `Invalid params: no server here has the prompt ${ref.name.slice(0, 200)}`);
      return this.#relay(routed.runtime, { ...request, params: { ...params, ref: { ...ref, name: routed.name } } });
    }
    return this.fanOut(request);
  }

  /**
   * Requests that name no server (a resource's URI, a log level): asked of
   * every server; the first success answers (reads are idempotent), else the
   * first server's error.
   */
  async fanOut(request: JSONRPCRequest): Promise<Response> {
    const answers = await Promise.all(this.joined().map(async (runtime) => ({ runtime, answer: await this.#ask(runtime, request) })));
    const success = answers.find((entry) => entry.answer.ok);
    if (success?.answer.ok) return this.#answer(request.id, success.answer.result);
    const first = answers[0]?.answer;
    if (first && !first.ok) return this.#error(request.id, first.error.code, first.error.message, first.error.data);
    return this.#error(request.id, GatewayErrorCode.UpstreamError, "Upstream error: no server of this session can answer");
  }

  /** Notifications and the agent's answers: notifications go to every server of the session. */
  async deliver(body: ParsedBody): Promise<Response> {
    if (body.messages.some((message) => !("method" in message))) {
      throw new GatewayError(400, ErrorCode.InvalidRequest, `Invalid Request: answers to a server's requests cannot be routed where several servers are merged; use /mcp/<server>`);
    }
    const payload = body.isBatch ? JSON.stringify(body.messages) : JSON.stringify(body.messages[0]);
    await Promise.all(
      this.joined().map(async (runtime) => {
        try {
          const response = await sendUpstream(runtime.server, this.#c.var.services.config, { method: "POST", headers: this.headersFor(runtime), body: payload });
          await response.body?.cancel();
        } catch (error) {
          console.error("merged notification not delivered", { server: runtime.server.name, error: String(error).slice(0, 200) });
        }
      }),
    );
    return new Response(null, { status: 202 });
  }

  #target(merged: string): { runtime: ServerRuntime; rest: string } | undefined {
    const split = splitMergedName(merged);
    const runtime = split && this.runtimes.find((candidate) => candidate.server.name === split.server);
    return split && runtime ? { runtime, rest: split.rest } : undefined;
  }

  /** A server that did not join the session cannot be asked in it. */
  #notJoined(id: RequestId, runtime: ServerRuntime): Response | undefined {
    const { sessions } = this.#session;
    if (sessions === undefined || sessions.has(runtime.server.name)) return undefined;
    return this.#error(id, GatewayErrorCode.UpstreamError, `Upstream error: the server "${runtime.server.name}" did not answer when this session began; start a new session to reach it`);
  }

  async #promptName(merged: string): Promise<{ runtime: ServerRuntime; name: string } | undefined> {
    const target = this.#target(merged);
    if (!target) return undefined;
    const { runtime, rest } = target;
    const name = await originalName(runtime.server.name, merged, rest, async () => {
      const answer = await this.#ask(runtime, { jsonrpc: "2.0", id: "mcp-policy-gateway/prompts-list", method: "prompts/list", params: {} });
      const prompts = answer.ok && Array.isArray(answer.result.prompts) ? answer.result.prompts : [];
      return prompts.flatMap((prompt: unknown) => (isObject(prompt) && typeof prompt.name === "string" ? [prompt.name] : []));
    });
    return name === undefined ? undefined : { runtime, name };
  }

  /** Relays a request to one server, its answer streamed back as from that server's own URL. */
  async #relay(runtime: ServerRuntime, request: JSONRPCRequest, name?: string): Promise<Response> {
    const notJoined = this.#notJoined(request.id, runtime);
    if (notJoined) return notJoined;
    const headers = this.headersFor(runtime);
    if (name !== undefined && this.#c.req.header("mcp-name") !== undefined) headers.set("mcp-name", headerValue(name));
    headers.set("mcp-method", request.method);
    const { config } = this.#c.var.services;
    const response = await sendUpstream(runtime.server, config, { method: "POST", headers, body: JSON.stringify(request) });
    return withoutSessionHeader(await relayAnswer(response, { ids: [request.id], timeoutMs: runtime.server.timeoutMs, keepAliveMs: config.sseKeepAliveMs }));
  }
}

/** One answer to `initialize` for several servers: their capabilities together, the gateway as the server. */
function mergeIntroductions(results: Array<{ name: string; result: Record<string, unknown> }>): Record<string, unknown> {
  const [first] = results;
  const capabilities: Record<string, unknown> = {};
  const has = (key: string) => results.filter(({ result }) => isObject(result.capabilities) && isObject(result.capabilities[key]));
  for (const key of ["tools", "prompts", "resources"]) {
    const offering = has(key);
    if (offering.length === 0) continue;
    const offers = (flag: string) => offering.some(({ result }) => (result.capabilities as Record<string, Record<string, unknown>>)[key]?.[flag] === true);
    capabilities[key] = { ...(offers("listChanged") ? { listChanged: true } : {}), ...(key === "resources" && offers("subscribe") ? { subscribe: true } : {}) };
  }
  for (const key of ["logging", "completions"]) if (has(key).length > 0) capabilities[key] = {};
  // Revisions are dates: the oldest any server agreed to is one every server speaks.
  const versions = results.map(({ result }) => result.protocolVersion).filter((version): version is string => typeof version === "string");
  const instructions = results
    .filter(({ result }) => typeof result.instructions === "string" && result.instructions !== "")
    .map(({ name, result }) => `Tools, prompts and resources named ${name}__… are the "${name}" server's:\n${String(result.instructions).slice(0, 4000)}`)
    .join("\n\n");
  const { instructions: _, ...base } = first?.result ?? {};
  return {
    ...base,
    ...(versions.length > 0 ? { protocolVersion: versions.sort()[0] } : {}),
    capabilities,
    serverInfo: { name: "mcp-policy-gateway", version: packageJson.version, title: `mcp-policy-gateway: ${results.map(({ name }) => name).join(", ")}` },
    ...(instructions === "" ? {} : { instructions }),
  };
}

function logFailure(runtime: ServerRuntime, method: string, answer: Extract<ServerAnswer, { ok: false }>): void {
  console.error("merged: a server's part is missing", { server: runtime.server.name, method, status: answer.status ?? null, error: answer.error.message.slice(0, 300) });
}

function failures(entries: Array<{ runtime: ServerRuntime; answer: ServerAnswer }>): Record<string, string> {
  return Object.fromEntries(entries.flatMap(({ runtime, answer }) => (answer.ok ? [] : [[runtime.server.name, answer.error.message.slice(0, 300)]])));
}

/** The `=?base64?…?=` form the transport uses for header values that are not plain ASCII. */
function headerValue(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode(value)))}?=`;
}

/** The session the agent holds is the merged one: a server's own id must not replace it. */
function withoutSessionHeader(response: Response): Response {
  if (!response.headers.has("mcp-session-id")) return response;
  const headers = new Headers(response.headers);
  headers.delete("mcp-session-id");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
