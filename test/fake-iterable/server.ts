/**
 * A fake Iterable REST API on a loopback port, for tests and `npm start`: the
 * endpoints the 118 tools of `@iterable/mcp` call (routes.ts) with the
 * sandbox's deterministic data (data.ts).
 *
 * Like Iterable, it wants the project's key in `Api-Key` and answers a wrong
 * or missing one with 401 and Iterable's error JSON. It keeps the last
 * MAX_LOGGED requests: method, path, query, whether the key was right, the
 * `Iterable-MCP-*` headers and User-Agent, the JSON body (cut at
 * MAX_LOGGED_BODY_CHARS), never the key. Tests read them in-process with
 * `requests()`, or over HTTP at `/__fake/requests` (GET to read, DELETE to
 * clear; `?client=<name>` narrows either to the requests whose
 * `Iterable-MCP-Client` is that name: a test that gives its MCP client a name
 * of its own reads only its own traffic).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Json } from "./data.ts";
import type { LoggedRequest } from "./logged-request.ts";
import { findRoute, type RouteAnswer } from "./routes.ts";

export type { LoggedRequest } from "./logged-request.ts";

export type FakeIterableOptions = {
  /** The key the fake accepts in `Api-Key`. */
  apiKey: string;
  /** Port on 127.0.0.1; a free one when absent or 0. */
  port?: number;
  /** Called with each logged request (the standalone runner prints them). */
  onRequest?: (logged: LoggedRequest) => void;
};

/** Which requests `requests` and `clear` touch: all, or those whose `Iterable-MCP-Client` is `client`. */
export type RequestFilter = { client?: string };

export type FakeIterable = {
  /** Origin with a trailing slash, e.g. `http://127.0.0.1:41234/`: the value for ITERABLE_BASE_URL (without the slash, or with). */
  url: string;
  requests(filter?: RequestFilter): LoggedRequest[];
  clear(filter?: RequestFilter): void;
  close(): Promise<void>;
};

/** The key `main.ts` accepts unless told another: a local development value, never a real key. */
export const DEFAULT_DEV_API_KEY = "fake-iterable-dev-key";

export const MAX_LOGGED = 1000;
export const MAX_LOGGED_BODY_CHARS = 16 * 1024;
/** Larger request bodies are answered 413 (Iterable's own bulk limits are far below). */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
export const CONTROL_PATH = "/__fake/requests";

/** Iterable's answer to a missing or wrong `Api-Key`. */
export const BAD_API_KEY = { msg: "Invalid API key", code: "BadApiKey", params: null } as const;

export async function startFakeIterable(options: FakeIterableOptions): Promise<FakeIterable> {
  const log: LoggedRequest[] = [];
  const matching = (filter: RequestFilter = {}) => (entry: LoggedRequest) => filter.client === undefined || entry.client === filter.client;
  const requests = (filter?: RequestFilter) => log.filter(matching(filter));
  const clear = (filter?: RequestFilter) => {
    const keep = log.filter((entry) => !matching(filter)(entry));
    log.splice(0, log.length, ...keep);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error("fake Iterable API failed", error);
      response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake-iterable");
    if (url.pathname === CONTROL_PATH) return control(request, response, url);
    const body = await readBody(request);
    const keyValid = request.headers["api-key"] === options.apiKey;
    const answer = answerFor(request.method ?? "GET", url, body, keyValid);
    const status = answer.status ?? 200;
    const logged: LoggedRequest = {
      at: new Date().toISOString(),
      method: request.method ?? "GET",
      path: url.pathname,
      query: queryOf(url.searchParams),
      keyValid,
      client: header(request, "iterable-mcp-client"),
      sessionId: header(request, "iterable-mcp-session-id"),
      tool: header(request, "iterable-mcp-tool"),
      userAgent: header(request, "user-agent"),
      body: body === undefined ? "(too large)" : loggedBody(body),
      status,
    };
    log.push(logged);
    if (log.length > MAX_LOGGED) log.splice(0, log.length - MAX_LOGGED);
    options.onRequest?.(logged);
    send(response, status, answer);
  }

  function control(request: IncomingMessage, response: ServerResponse, url: URL): void {
    const filter = url.searchParams.has("client") ? { client: url.searchParams.get("client") ?? "" } : {};
    if (request.method === "GET") return send(response, 200, { json: requests(filter) as unknown as Json });
    if (request.method === "DELETE") {
      clear(filter);
      response.writeHead(204).end();
      return;
    }
    response.writeHead(405, { allow: "GET, DELETE" }).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    clear,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Iterable's checks in its order: the body's size, the key, then the endpoint. */
function answerFor(method: string, url: URL, body: string | undefined, keyValid: boolean): RouteAnswer {
  if (body === undefined) return { status: 413, json: { msg: "Request body too large", code: "BadParams", params: null } };
  if (!keyValid) return { status: 401, json: BAD_API_KEY };
  const route = findRoute(method, url.pathname);
  if (route === undefined) return { status: 404, json: { msg: "Not found: no such Iterable API endpoint", code: "NotFound", params: null } };
  return route.handler({ params: route.params, query: url.searchParams, body: parseBody(body) });
}

function send(response: ServerResponse, status: number, answer: RouteAnswer): void {
  if ("json" in answer) {
    response.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(answer.json));
  } else {
    response.writeHead(status, { "content-type": answer.contentType }).end(answer.text);
  }
}

/** The body as text; undefined past MAX_REQUEST_BYTES (the rest is read to the end, so it can be answered, but not kept). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks).toString("utf8");
}

function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function loggedBody(text: string): unknown {
  if (text.length > MAX_LOGGED_BODY_CHARS) return `${text.slice(0, MAX_LOGGED_BODY_CHARS)}…[${text.length - MAX_LOGGED_BODY_CHARS} more chars]`;
  return parseBody(text);
}

function queryOf(search: URLSearchParams): Record<string, string | string[]> {
  // fromEntries defines own properties, so a parameter named __proto__ stays a parameter.
  return Object.fromEntries(
    [...new Set(search.keys())].map((name) => {
      const values = search.getAll(name);
      return [name, values.length === 1 ? (values[0] ?? "") : values];
    }),
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
