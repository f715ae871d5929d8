/**
 * A bare pass-through Worker: the floor the gateway is measured against
 * (`npm run bench`, bench/README.md).
 *
 * Every request goes to UPSTREAM_URL (its query string kept) with the same
 * method, headers (minus hop-by-hop ones and Host) and body; the response body
 * is streamed back unchanged. One JSON log line per request, written when the
 * upstream's headers arrive, as a minimal real proxy would log. No parsing, no
 * policy, no buffering.
 *
 * A request carrying `x-floor-limited: <name>` first makes one RPC to the
 * SQLite Durable Object named <name>, which inserts one row, and is relayed
 * only once that durable write is done: the least a proxy with an exact,
 * durable rate limit can do per call (the gateway's limited call makes one
 * Durable Object round trip that consumes its limits).
 */
import { DurableObject } from "cloudflare:workers";

export interface PassthroughEnv {
  /** Where every request is relayed, e.g. http://127.0.0.1:8788/mcp. */
  UPSTREAM_URL: string;
  FLOOR_LEDGER: DurableObjectNamespace<FloorLedger>;
}

/** The request header that makes a call pay the floor's Durable Object round trip (not exported: a Worker module exports only handlers and classes). */
const LIMITED_HEADER = "x-floor-limited";

// RFC 9110 §7.6.1, as Hono's proxy helper lists them (the same list as src/http/headers.ts).
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

function withoutHopByHop(headers: Headers, alsoDrop: string[] = []): Headers {
  const result = new Headers(headers);
  for (const named of (headers.get("connection") ?? "").split(",")) {
    const name = named.trim();
    if (name) result.delete(name);
  }
  for (const name of [...HOP_BY_HOP, ...alsoDrop]) result.delete(name);
  return result;
}

/**
 * One row per limited call, nothing else: no counting, no window, no pruning.
 *
 * Storage (SQLite): `calls (id INTEGER PRIMARY KEY, at INTEGER)`, created in the
 * constructor. Rows are never deleted; the benchmark runs this Worker with a
 * fresh `--persist-to` directory each time.
 */
export class FloorLedger extends DurableObject<PassthroughEnv> {
  constructor(ctx: DurableObjectState, env: PassthroughEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
    });
  }

  /** Inserts one row; answered once the write is durable (the output gate). */
  async record(at: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO calls (at) VALUES (?)", at);
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    const started = Date.now();
    const target = new URL(env.UPSTREAM_URL);
    const search = new URL(request.url).search;
    if (search) target.search = search;
    const limited = request.headers.get(LIMITED_HEADER);
    let response: Response;
    try {
      if (limited) await env.FLOOR_LEDGER.getByName(limited).record(started);
      response = await fetch(target, {
        method: request.method,
        headers: withoutHopByHop(request.headers, ["host"]),
        body: request.body,
        redirect: "manual",
      });
    } catch (error) {
      console.log(JSON.stringify({ event: "relay", method: request.method, path: new URL(request.url).pathname, status: 502, ms: Date.now() - started, error: String(error) }));
      return new Response("Upstream unreachable", { status: 502 });
    }
    console.log(
      JSON.stringify({
        event: "relay",
        method: request.method,
        path: new URL(request.url).pathname,
        status: response.status,
        contentType: response.headers.get("content-type"),
        limited: limited !== null,
        ms: Date.now() - started,
      }),
    );
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers: withoutHopByHop(response.headers) });
  },
} satisfies ExportedHandler<PassthroughEnv>;
