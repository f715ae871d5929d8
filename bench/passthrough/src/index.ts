/**
 * A bare pass-through Worker: the floor the gateway's relay is measured against.
 *
 * Every request goes to UPSTREAM_URL (its query string kept) with the same
 * method, headers (minus hop-by-hop ones and Host) and body; the response body
 * is streamed back unchanged. One JSON log line per request, written when the
 * upstream's headers arrive, as a minimal real proxy would log. No parsing, no
 * policy, no buffering.
 */
export interface PassthroughEnv {
  /** Where every request is relayed, e.g. http://127.0.0.1:8788/mcp. */
  UPSTREAM_URL: string;
}

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

export default {
  async fetch(request, env): Promise<Response> {
    const started = Date.now();
    const target = new URL(env.UPSTREAM_URL);
    const search = new URL(request.url).search;
    if (search) target.search = search;
    let response: Response;
    try {
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
        ms: Date.now() - started,
      }),
    );
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers: withoutHopByHop(response.headers) });
  },
} satisfies ExportedHandler<PassthroughEnv>;
