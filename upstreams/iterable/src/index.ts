/**
 * The official Iterable MCP server (`@iterable/mcp`) as a Worker: its tools,
 * prompts and behaviour over MCP Streamable HTTP at /mcp. It has no public
 * route; the gateway reaches it through a service binding (README "The
 * Iterable server").
 *
 * Each request gets a new server and a stateless transport (mcp-request.ts);
 * the tools are built once per isolate, on its first request (toolbox.ts),
 * and the client's name travels in the session id (client-session.ts). This
 * module, the Worker's global scope, loads none of that: Cloudflare limits
 * the time a Worker's global scope may take, and building the package's
 * schemas is most of the Worker's work.
 */
import { ConfigError } from "./config-error.ts";
import type { IterableWorkerEnv } from "./config.ts";
import { logRequest, type RequestRecord } from "./request-log.ts";

const MCP_PATH = "/mcp";

/**
 * Larger bodies are refused unread. The gateway in front caps what it forwards
 * (MAX_BODY_BYTES, 1 MiB by default); this leaves room for an operator who
 * raises that for bulk catalog updates, and still bounds what a request can
 * make the isolate hold.
 */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export default {
  async fetch(request: Request, env: IterableWorkerEnv): Promise<Response> {
    const record: RequestRecord = { method: request.method, path: new URL(request.url).pathname, started: Date.now() };
    const response = await answer(request, env, record).catch((error: unknown) => failure(error, record));
    logRequest(record, response.status);
    return response;
  },
};

async function answer(request: Request, env: IterableWorkerEnv, record: RequestRecord): Promise<Response> {
  if (record.path !== MCP_PATH) return jsonRpcError(404, -32000, "Not found: the MCP endpoint is /mcp");
  if (request.method !== "POST" && request.method !== "DELETE") {
    // A server built per request has nothing to say unprompted, so it opens no GET stream: the spec's answer is 405.
    return jsonRpcError(405, -32000, "Method not allowed: this server opens no GET stream; use POST (or DELETE)", { Allow: "POST, DELETE" });
  }
  const body = request.method === "POST" ? await readBody(request) : undefined;
  const message = body === undefined ? undefined : parseMessage(new TextDecoder().decode(body));
  record.rpc = message?.method;
  record.tool = message?.tool;

  // The MCP server, the package's tools and their schemas (and zod, for the settings) load on an isolate's first MCP request, not at startup.
  const { serveMcp } = await import("./mcp-request.ts");
  return serveMcp({ request, env, body, initialize: message?.method === "initialize", record });
}

/** The body, refused with 413 past MAX_BODY_BYTES without reading further. */
async function readBody(request: Request): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new TooLarge();
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    size += chunk.value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new TooLarge();
    }
    chunks.push(chunk.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

class TooLarge extends Error {}

/** The JSON-RPC method and tool name of a single message, for the log line (never its arguments). */
function parseMessage(body: string): { method: string | undefined; tool: string | undefined } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  if (Array.isArray(parsed)) return { method: "(batch)", tool: undefined };
  const { method, params } = parsed as { method?: unknown; params?: { name?: unknown } };
  return {
    method: typeof method === "string" ? method : undefined,
    tool: method === "tools/call" && typeof params?.name === "string" ? params.name : undefined,
  };
}

function failure(error: unknown, record: RequestRecord): Response {
  if (error instanceof TooLarge) return jsonRpcError(413, -32000, `Payload too large: at most ${MAX_BODY_BYTES} bytes`);
  if (error instanceof ConfigError) {
    record.error = error.message;
    return jsonRpcError(500, -32603, error.message);
  }
  // Details go to the log line only; the caller learns that it failed, not why.
  record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return jsonRpcError(500, -32603, "Internal error");
}

function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });
}
