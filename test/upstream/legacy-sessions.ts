import {
  type McpServerFactory,
  WebStandardStreamableHTTPServerTransport,
  isInitializeRequest,
} from "@modelcontextprotocol/server";

import { InMemoryEventStore } from "./event-store.ts";

/**
 * The sessionful 2025-era leg (protocol revisions 2025-03-26, 2025-06-18, 2025-11-25):
 * one `WebStandardStreamableHTTPServerTransport` plus one server instance per
 * `Mcp-Session-Id`, kept in a map in isolate memory.
 *
 * Sessionful (rather than the SDK's stateless legacy fallback) because that is what
 * a gateway must carry through unchanged: the session header, the standalone `GET`
 * SSE stream, `DELETE` to end a session, `Last-Event-ID` resumption, and
 * server-to-client requests whose answers arrive on a later POST.
 *
 * The v2 transport is used (not the v1 SDK's): it is the web-standard one the v2
 * docs pair with `isLegacyRequest`, it runs in workerd, and it lets one server
 * factory back both eras.
 *
 * State lives in one isolate, which is what `wrangler dev` and the test harness
 * give us; a deployed multi-isolate upstream would need a Durable Object.
 */
export interface LegacySessionsOptions {
  /** Sessions kept at once; beyond this the oldest session is closed. */
  maxSessions?: number;
  /** SSE events kept per session for `Last-Event-ID` replay. */
  maxEventsPerSession?: number;
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  events: InMemoryEventStore;
}

export class LegacySessions {
  readonly #factory: McpServerFactory;
  readonly #maxSessions: number;
  readonly #maxEventsPerSession: number;
  readonly #sessions = new Map<string, Session>();

  constructor(factory: McpServerFactory, options: LegacySessionsOptions = {}) {
    this.#factory = factory;
    this.#maxSessions = options.maxSessions ?? 200;
    this.#maxEventsPerSession = options.maxEventsPerSession ?? 1000;
  }

  async handle(request: Request): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId !== null) {
      const session = this.#sessions.get(sessionId);
      if (session === undefined) return jsonRpcError(404, -32001, "Session not found");
      if (request.method === "GET") {
        const refused = prepareStreamTakeover(session, request);
        if (refused !== undefined) return refused;
      }
      return session.transport.handleRequest(request);
    }
    if (request.method === "POST" && isInitializeRequest(await peekJson(request))) {
      return this.#open(request);
    }
    return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
  }

  async #open(request: Request): Promise<Response> {
    const events = new InMemoryEventStore(this.#maxEventsPerSession);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      eventStore: events,
      onsessioninitialized: (id) => {
        this.#sessions.set(id, { transport, events });
        this.#evictOverflow();
      },
      // DELETE: the transport answers 200 and closes itself; forget it here.
      onsessionclosed: (id) => {
        this.#sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
    };
    const server = await this.#factory({ era: "legacy", requestInfo: request });
    await server.connect(transport);
    return transport.handleRequest(request);
  }

  #evictOverflow(): void {
    while (this.#sessions.size > this.#maxSessions) {
      const [oldestId, oldest] = this.#sessions.entries().next().value ?? [];
      if (oldestId === undefined || oldest === undefined) return;
      this.#sessions.delete(oldestId);
      void oldest.transport.close();
    }
  }
}

/**
 * Lets the newest GET of a session win over a stream it replaces.
 *
 * workerd does not run a response stream's cancel callback when the HTTP client
 * goes away (observed under `wrangler dev`: a dropped GET stays mapped for good),
 * so the SDK would answer every later GET of that session 409 Conflict. A client
 * that reconnects (or a gateway that reopens its upstream stream) must get the
 * stream instead: a plain GET closes the stale standalone stream first, and a GET
 * with `Last-Event-ID` takes over the stream it resumes (the event store offers no
 * `getStreamIdForEventId`, which is the SDK's switch for that). A `Last-Event-ID`
 * outside the store's window is answered 400 here, before the SDK would fail with 500.
 */
function prepareStreamTakeover(session: Session, request: Request): Response | undefined {
  if (!request.headers.get("accept")?.includes("text/event-stream")) return undefined; // the SDK answers 406
  const lastEventId = request.headers.get("last-event-id");
  if (lastEventId === null) {
    session.transport.closeStandaloneSSEStream();
    return undefined;
  }
  if (!session.events.has(lastEventId)) return jsonRpcError(400, -32000, `Bad Request: unknown or expired Last-Event-ID ${lastEventId}`);
  return undefined;
}

/** Parses a POST body from a clone, leaving the request readable; `undefined` if it is not JSON. */
async function peekJson(request: Request): Promise<unknown> {
  try {
    return await request.clone().json();
  } catch {
    return undefined;
  }
}

/** A transport-level error as the SDK transports write them: JSON-RPC body, `id: null`. */
function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}
