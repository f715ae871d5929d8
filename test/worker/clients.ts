/**
 * Client-side helpers shared by the feature tests: one "endpoint" abstraction
 * for "through the gateway" and "straight at the sandbox", a fetch that taps
 * every SSE response (the SDK transports hide event ids and which stream a
 * message came on), and connectors for the v1 and v2 SDK clients.
 */
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport, type ClientCapabilities as V2Capabilities } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ClientCapabilities, JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { env } from "cloudflare:workers";
import { createParser } from "eventsource-parser";
import { GATEWAY_URL, TAG_HEADER, newTag, type Gateway } from "./gateway.ts";

type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** One SSE event as a client received it. */
export type SseEvent = {
  /** HTTP method of the request whose response carried the event: POST streams vs the standalone GET stream. */
  stream: string;
  id: string | undefined;
  message: (JSONRPCMessage & { method?: string; params?: Record<string, unknown> }) | undefined;
  /** `Date.now()` when the client's side of the stream delivered the event. */
  at: number;
};

/** Where a client sends its requests, with everything the client observed on the way back. */
export type Endpoint = {
  kind: "gateway" | "direct";
  url: URL;
  tag: string;
  /** Headers every request carries (authorization or upstream credential, sandbox tag). */
  headers: Record<string, string>;
  /** Records SSE events into `events` and honours `init.signal` on response bodies. */
  fetch: FetchFn;
  events: SseEvent[];
  /** Responses to GET requests that opened a stream (status 200). */
  openedGetStreams: number;
};

/** What a client must announce to be sent sampling and (form) elicitation requests; fits both SDK generations. */
export const FEATURE_CAPABILITIES = { sampling: {}, elicitation: { form: {} } };

/** An endpoint through the gateway (its `fetch` runs the real Worker), authenticated with `token`. */
export function viaGateway(gw: Gateway, token: string, tag: string = newTag()): Endpoint {
  return endpoint("gateway", new URL(GATEWAY_URL), tag, { authorization: `Bearer ${token}` }, (input, init) =>
    gw.fetch(input, init),
  );
}

/** An endpoint straight at the sandbox, with the upstream credential, for side-by-side comparison. */
export function directTo(url: string, tag: string = newTag()): Endpoint {
  return endpoint("direct", new URL(url), tag, { "api-key": env.UPSTREAM_CREDENTIAL }, (input, init) => fetch(input, init));
}

function endpoint(kind: Endpoint["kind"], url: URL, tag: string, auth: Record<string, string>, base: FetchFn): Endpoint {
  const result: Endpoint = {
    kind,
    url,
    tag,
    headers: { ...auth, [TAG_HEADER]: tag },
    events: [],
    openedGetStreams: 0,
    fetch: async (input, init) => {
      const response = await honourAbort(base, input, init);
      const method = init?.method ?? "GET";
      const isStream = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
      if (!response.ok || !response.body || !isStream) return response;
      if (method === "GET") result.openedGetStreams += 1;
      const [mine, theirs] = response.body.tee();
      void record(mine, method, result.events);
      return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
  };
  return result;
}

/**
 * The gateway's `fetch` calls the Worker in-process and ignores `init.signal`,
 * so a transport's `close()` (which aborts) would leave its reader waiting on
 * the stream forever. Like a real fetch, this errors the body on abort and
 * cancels it at the source.
 */
async function honourAbort(base: FetchFn, input: string | URL, init?: RequestInit): Promise<Response> {
  const signal = init?.signal ?? undefined;
  const response = await base(input, init);
  if (!signal || !response.body) return response;
  const reader = response.body.getReader();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => {});
    try {
      controller.error(signal.reason);
    } catch {
      // already closed
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          signal.removeEventListener("abort", onAbort);
          c.close();
        } else c.enqueue(value);
      } catch (error) {
        try {
          c.error(error);
        } catch {
          // already errored by an abort
        }
      }
    },
    cancel(reason) {
      signal.removeEventListener("abort", onAbort);
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

async function record(stream: ReadableStream<Uint8Array>, method: string, events: SseEvent[]): Promise<void> {
  const parser = createParser({
    onEvent: (event) => {
      let message: SseEvent["message"];
      try {
        message = event.data ? JSON.parse(event.data) : undefined;
      } catch {
        message = undefined;
      }
      events.push({ stream: method, id: event.id, message, at: Date.now() });
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) parser.feed(decoder.decode(chunk, { stream: true }));
  } catch {
    // the stream was aborted; what was recorded stays
  }
}

const opened: Array<{ close(): Promise<void> }> = [];

/** Closes every client the helpers connected (their GET and listen streams with them); for `afterEach`. */
export async function closeClients(): Promise<void> {
  const clients = opened.splice(0);
  await Promise.allSettled(clients.map((client) => client.close()));
}

/** The v1 SDK client (2025-era, sessionful). With `sessionId` the transport skips `initialize`. */
export async function connectV1(
  to: Endpoint,
  options: { capabilities?: ClientCapabilities; sessionId?: string; name?: string } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(to.url, {
    fetch: to.fetch,
    requestInit: { headers: to.headers },
    ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    // A reconnect would hide what the test is looking at.
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  });
  const client = new Client({ name: options.name ?? "features-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  await client.connect(transport);
  opened.push(client);
  return { client, transport };
}

export const MODERN_REVISION = "2026-07-28";

/** The v2 SDK client pinned to the stateless 2026-07-28 revision. */
export async function connectV2(to: Endpoint, capabilities: V2Capabilities = {}): Promise<V2Client> {
  const client = new V2Client(
    { name: "modern-test", version: "1.0.0" },
    { capabilities, versionNegotiation: { mode: { pin: MODERN_REVISION } } },
  );
  await client.connect(new V2Transport(to.url, { fetch: to.fetch, requestInit: { headers: to.headers } }));
  opened.push(client);
  return client;
}

/** Polls `predicate` every 10 ms until it holds, failing with `label` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, label: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A JSON-RPC POST with the endpoint's headers, outside any SDK client. */
export function rawPost(to: Endpoint, message: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return to.fetch(to.url, {
    method: "POST",
    headers: { ...to.headers, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(message),
  });
}
