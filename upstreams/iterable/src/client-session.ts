/**
 * The MCP session id this Worker hands out, and what it carries.
 *
 * `@iterable/mcp` tells Iterable's API which client is calling
 * (`Iterable-MCP-Client`, and `client=` in the User-Agent), learning the name
 * from `initialize`. Here a new server answers each request, so only the
 * `initialize` request knows the client. Rather than store anything, the
 * answer to `initialize` carries the name inside its `Mcp-Session-Id`:
 * `<random UUID>.<base64url of the name>`. The client sends the id back on
 * every later request, the Worker reads the name out of it, and the UUID is
 * the session id the package would send as `Iterable-MCP-Session-Id`.
 *
 * The id is not signed: the name is the client's own claim either way (it
 * chose its `clientInfo`), and it only labels requests to Iterable. It is
 * read defensively all the same, as any client may send any id: lower-cased,
 * cut to MAX_CLIENT_NAME_LENGTH, and anything outside printable ASCII
 * replaced, so it is always a valid header value. The gateway in front wraps this id in its
 * own HMAC-bound one and unwraps it again, so nothing about it is
 * gateway-specific.
 */

/** What Iterable is told about the caller of one request. */
export type ClientIdentity = {
  /** The package's client name: the `clientInfo.name` of `initialize`, lower-cased. */
  clientName: string;
  /** The session's UUID, as `Iterable-MCP-Session-Id`. */
  sessionId: string;
};

export const MAX_CLIENT_NAME_LENGTH = 64;

/** The package's name for a client that did not say (`detectClientName`). */
export const UNKNOWN_CLIENT = "unknown";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A new session's id, carrying the name of the client that initialized it. */
export function mintSessionId(clientName: string): { id: string; identity: ClientIdentity } {
  const identity = { clientName: cleanClientName(clientName), sessionId: crypto.randomUUID() };
  const encoded = base64url(new TextEncoder().encode(identity.clientName));
  return { id: `${identity.sessionId}.${encoded}`, identity };
}

/** Who is calling, from the request's `Mcp-Session-Id`; without a readable one, a one-request session of `fallbackName`. */
export function identityOf(sessionHeader: string | null, fallbackName: string): ClientIdentity {
  const [sessionId = "", encoded = "", ...rest] = (sessionHeader ?? "").split(".");
  const name = rest.length === 0 && UUID.test(sessionId) && BASE64URL.test(encoded) ? decodeName(encoded) : undefined;
  if (name === undefined) return { clientName: cleanClientName(fallbackName), sessionId: crypto.randomUUID() };
  return { clientName: cleanClientName(name), sessionId };
}

/** Lower-cased as the package sends it, printable ASCII only (a header value cannot hold the rest), at most MAX_CLIENT_NAME_LENGTH, never empty. */
export function cleanClientName(name: string): string {
  const printable = name.toLowerCase().replace(/[^\x20-\x7e]/g, "_").trim().slice(0, MAX_CLIENT_NAME_LENGTH);
  return printable.length > 0 ? printable : UNKNOWN_CLIENT;
}

function decodeName(encoded: string): string | undefined {
  // A name of MAX_CLIENT_NAME_LENGTH characters is at most 4 * 64 / 3 base64 characters; anything longer was not minted here.
  if (encoded.length === 0 || encoded.length > Math.ceil((MAX_CLIENT_NAME_LENGTH * 4) / 3)) return undefined;
  try {
    const binary = atob(encoded.replace(/-/g, "+").replace(/_/g, "/"));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
