/**
 * Headers that describe one hop of a connection, never the message (RFC 9110 §7.6.1),
 * as Hono's proxy helper lists them. They are dropped in both directions.
 */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Drops hop-by-hop headers and any header the Connection header names. */
export function stripHopByHop(headers: Headers): Headers {
  const result = new Headers(headers);
  for (const named of (headers.get("connection") ?? "").split(",")) {
    const name = named.trim();
    if (name) result.delete(name);
  }
  for (const name of HOP_BY_HOP) result.delete(name);
  return result;
}
