import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { fetchToolList } from "../../calls/tool-list.ts";
import { readConfig, type GatewayConfig } from "../../config.ts";
import type { Bindings } from "../../env.ts";
import { GatewayError, GatewayErrorCode } from "../../errors.ts";
import { isObject, parseJson } from "../../json.ts";
import { eventData, isEventStream } from "../../mcp/sse.ts";
import { sendUpstream } from "../../mcp/upstream.ts";
import { ServerDeclarationsSchema, type Server } from "../../servers/registry.ts";
import { clipLine } from "../../text/clip.ts";
import { annotationsOf, type ListedTool } from "../../tools/tool-index.ts";

/** How long a look at a server may take to start answering: the console waits for every server's. */
export const PROBE_TIMEOUT_MS = 5_000;
/** A look is reused this long (per isolate), so that paging through a long tool list does not list it again. */
const PROBE_TTL_MS = 15_000;
/** Characters kept of what a server says of itself and its tools (its name, version, a tool's title and description). */
const INFO_CHARS = 200;
const DESCRIPTION_CHARS = 300;
/** A page of tools holds at most this many rows (the default is fewer) and about this many bytes. */
export const MAX_TOOLS_PER_PAGE = 500;
const PAGE_BYTES = 256 * 1024;

/** How the gateway reaches a server: a service binding by name, or a URL by its origin (never a path, query or credential). */
export const ServerReachSchema = z.union([z.object({ via: z.literal("binding"), binding: z.string() }), z.object({ via: z.literal("url"), origin: z.string() })]);

/** One declared server as the gateway found it when it last looked. */
export const ServerStatusSchema = z.object({
  name: z.string(),
  /** The default server: the one a grant that names none reaches. */
  default: z.boolean(),
  reach: ServerReachSchema,
  /** It answered `initialize` and `tools/list`. */
  reachable: z.boolean(),
  /** Why not, when it did not. */
  error: z.string().nullable(),
  serverInfo: z.object({ name: z.string(), version: z.string() }).nullable(),
  protocolVersion: z.string().nullable(),
  toolCount: z.number().nullable(),
  /** When its tools were listed (null when they could not be). */
  listedAt: z.iso.datetime().nullable(),
  /** When the gateway looked. */
  checkedAt: z.iso.datetime(),
});
export type ServerStatus = z.infer<typeof ServerStatusSchema>;

/** A tool as the Servers page lists it: its name, the tags policies see it by, and what its server says of it (cut short). */
export const ServerToolSchema = z.object({
  name: z.string(),
  tags: z.array(z.string()),
  title: z.string().nullable(),
  description: z.string().nullable(),
});
export type ServerTool = z.infer<typeof ServerToolSchema>;

export const ServerToolPageSchema = z.object({
  server: ServerStatusSchema,
  tools: z.array(ServerToolSchema),
  /** Where the next page starts (null when there is none). */
  cursor: z.string().nullable(),
});
export type ServerToolPage = z.infer<typeof ServerToolPageSchema>;

export const ServerToolQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_TOOLS_PER_PAGE).default(100),
  cursor: z.string().regex(/^\d{1,9}$/, "a cursor from the previous page").optional(),
});
export type ServerToolQuery = z.infer<typeof ServerToolQuerySchema>;

type Look = { status: ServerStatus; tools: ServerTool[]; at: number };

// Keyed by the resolved server (one per env, so per isolate and configuration); settled looks only:
// workerd cancels a request that awaits a promise another request's I/O settles.
const looks = new WeakMap<Server, Look>();

/**
 * The Servers page and `GET /admin/api/servers`: each declared server, how it
 * is reached, whether it answers, what it says it is, and its tools with the
 * tags policies see. The gateway looks for itself, as an MCP client with the
 * server's credential: `initialize`, `notifications/initialized`, the whole
 * `tools/list` (the same request the gateway makes to judge calls), then
 * DELETE of the session, each within PROBE_TIMEOUT_MS (or the server's own
 * timeout, when shorter), the whole within LOOK_DEADLINE_MS. Nothing a
 * server says reaches a page uncut.
 */
export class ServerService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /** Every declared server, in declaration order (at most 32: the declarations are bounded). */
  async list(now = Date.now()): Promise<ServerStatus[]> {
    const config = readConfig(this.#env);
    return Promise.all([...config.servers.values()].map(async (server) => (await this.#look(config, server, now)).status));
  }

  /** One server and a page of its tools; undefined when no server has that name. */
  async tools(name: string, query: ServerToolQuery, now = Date.now()): Promise<ServerToolPage | undefined> {
    const config = readConfig(this.#env);
    const server = config.servers.get(name);
    if (!server) return undefined;
    const look = await this.#look(config, server, now);
    const start = query.cursor === undefined ? 0 : Number(query.cursor);
    const tools: ServerTool[] = [];
    let bytes = 0;
    for (const tool of look.tools.slice(start, start + query.limit)) {
      bytes += JSON.stringify(tool).length;
      if (tools.length > 0 && bytes > PAGE_BYTES) break;
      tools.push(tool);
    }
    const next = start + tools.length;
    return { server: look.status, tools, cursor: next < look.tools.length ? String(next) : null };
  }

  async #look(config: GatewayConfig, server: Server, now: number): Promise<Look> {
    const cached = looks.get(server);
    if (cached && now - cached.at < PROBE_TTL_MS) return cached;
    const look = await withinDeadline(probe(config, server, reachOf(this.#env, server), now), () => gaveUp(config, server, reachOf(this.#env, server), now));
    looks.set(server, look);
    return look;
  }
}

async function probe(config: GatewayConfig, declared: Server, reach: ServerStatus["reach"], now: number): Promise<Look> {
  const server = { ...declared, timeoutMs: Math.min(declared.timeoutMs, PROBE_TIMEOUT_MS) };
  const base = { name: server.name, default: server.name === config.defaultServer.name, reach, checkedAt: new Date(now).toISOString() };
  const headers = new Headers({ accept: "application/json, text/event-stream", "content-type": "application/json" });
  let serverInfo: ServerStatus["serverInfo"] = null;
  let protocolVersion: string | null = null;
  let session: string | null = null;
  try {
    const answer = await initialize(server, config, headers);
    serverInfo = answer.serverInfo;
    protocolVersion = answer.protocolVersion;
    session = answer.session;
    if (session !== null) headers.set("mcp-session-id", session);
    headers.set("mcp-protocol-version", answer.protocolVersion);
    await (await sendUpstream(server, config, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).body?.cancel();
    const listed = await fetchToolList(server, config, headers, undefined);
    const tools = listed.map((tool) => row(server, tool));
    return { status: { ...base, reachable: true, error: null, serverInfo, protocolVersion, toolCount: tools.length, listedAt: new Date(Date.now()).toISOString() }, tools, at: now };
  } catch (error) {
    return { status: { ...base, reachable: false, error: reasonOf(error), serverInfo, protocolVersion, toolCount: null, listedAt: null }, tools: [], at: now };
  } finally {
    if (session !== null) await endSession(server, config, headers);
  }
}

/** A look makes several requests, each with its own timeout; the whole of it gets no longer than this. */
export const LOOK_DEADLINE_MS = 2 * PROBE_TIMEOUT_MS;

/** The look, or what `late` says when it is not done by the deadline (its requests are left to their own timeouts). */
async function withinDeadline(look: Promise<Look>, late: () => Look): Promise<Look> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Look>((resolve) => {
    timer = setTimeout(() => resolve(late()), LOOK_DEADLINE_MS);
  });
  try {
    return await Promise.race([look, deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function gaveUp(config: GatewayConfig, server: Server, reach: ServerStatus["reach"], now: number): Look {
  const status: ServerStatus = {
    name: server.name,
    default: server.name === config.defaultServer.name,
    reach,
    reachable: false,
    error: `it did not finish answering initialize and tools/list within ${LOOK_DEADLINE_MS / 1000} s`,
    serverInfo: null,
    protocolVersion: null,
    toolCount: null,
    listedAt: null,
    checkedAt: new Date(now).toISOString(),
  };
  return { status, tools: [], at: now };
}

type Initialized = { serverInfo: ServerStatus["serverInfo"]; protocolVersion: string; session: string | null };

const INITIALIZE_ID = "mcp-policy-gateway/servers/initialize";

async function initialize(server: Server, config: GatewayConfig, headers: Headers): Promise<Initialized> {
  const request = {
    jsonrpc: "2.0",
    id: INITIALIZE_ID,
    method: "initialize",
    params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "mcp-policy-gateway (console)", version: "1" } },
  };
  const response = await sendUpstream(server, config, { method: "POST", headers, body: JSON.stringify(request) });
  const text = await response.text();
  const messages = isEventStream(response.headers) ? eventData(text).map(parseJson) : [parseJson(text)];
  const answer = messages.find((message) => isObject(message) && message.id === INITIALIZE_ID);
  const result = isObject(answer) && isObject(answer.result) ? answer.result : undefined;
  if (!result || typeof result.protocolVersion !== "string") {
    const said = isObject(answer) && isObject(answer.error) && typeof answer.error.message === "string" ? `: ${answer.error.message}` : "";
    throw new GatewayError(502, GatewayErrorCode.UpstreamError, `it answered initialize with HTTP ${response.status} and no result${said}`);
  }
  const info = isObject(result.serverInfo) ? result.serverInfo : {};
  return {
    serverInfo: { name: clipLine(String(info.name ?? ""), INFO_CHARS), version: clipLine(String(info.version ?? ""), INFO_CHARS) },
    protocolVersion: clipLine(result.protocolVersion, 40),
    session: response.headers.get("mcp-session-id"),
  };
}

/** The session the look opened is ended (best effort: a server that keeps it lets it expire). */
async function endSession(server: Server, config: GatewayConfig, headers: Headers): Promise<void> {
  try {
    await (await sendUpstream(server, config, { method: "DELETE", headers })).body?.cancel();
  } catch {
    // Already reported, or not worth reporting: the look's answer stands.
  }
}

function row(server: Server, tool: ListedTool): ServerTool {
  const said = tool as { title?: unknown; description?: unknown };
  const annotations = isObject(tool.annotations) ? tool.annotations : {};
  const title = typeof said.title === "string" ? said.title : typeof annotations.title === "string" ? annotations.title : null;
  return {
    name: clipLine(tool.name, INFO_CHARS),
    tags: [...server.tags(tool.name, annotationsOf(tool))].sort(),
    title: title === null ? null : clipLine(title, INFO_CHARS),
    description: typeof said.description === "string" ? clipLine(said.description, DESCRIPTION_CHARS) : null,
  };
}

/** What went wrong, in the gateway's own words (which never hold a credential). */
function reasonOf(error: unknown): string {
  const message = error instanceof GatewayError ? error.message : "the look failed";
  if (!(error instanceof GatewayError)) console.error("server look failed", { error: String(error) });
  return clipLine(message, 300);
}

/** How a server is reached: its binding's name (from SERVERS, or UPSTREAM for the single-upstream settings), or its URL's origin. */
function reachOf(env: Bindings, server: Server): ServerStatus["reach"] {
  if (server.upstream.via === "url") return { via: "url", origin: server.upstream.url.origin };
  const declared = ServerDeclarationsSchema.safeParse(parseJson(String((env as { SERVERS?: unknown }).SERVERS ?? "")));
  const binding = declared.success ? declared.data.find((declaration) => declaration.name === server.name)?.binding : undefined;
  return { via: "binding", binding: binding ?? "UPSTREAM" };
}
