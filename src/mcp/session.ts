import { base64url, fromBase64url, hmacSign, hmacVerify } from "../crypto.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";

/** What the gateway remembers of a session from its `initialize`, inside the session id itself. */
export type SessionFeatures = {
  /** The client declared URL-mode elicitation, so a pending approval can be opened in its browser. */
  urlElicitation: boolean;
};

export const NO_FEATURES: SessionFeatures = { urlElicitation: false };

/**
 * Binds MCP sessions to grants without storage. The session id the agent sees
 * is `<upstream id, base64url>.<features>.<HMAC-SHA256(secret, grant id +
 * upstream id + features)>`: only the gateway can mint one, one minted for
 * grant A fails the check under grant B, and the features the client declared
 * at `initialize` (`u`: URL elicitation) travel with it unforgeably. KV would
 * be eventually consistent here; this is not. Ids of the earlier two-part
 * form (no features) are still accepted.
 */
export async function wrapSessionId(secret: string, grantId: string, upstreamId: string, features: SessionFeatures = NO_FEATURES): Promise<string> {
  const flags = features.urlElicitation ? "u" : "";
  const key = `${secret}\n${grantId}\n${upstreamId}\n${flags}`;
  const known = wrapped.get(key);
  if (known !== undefined) return known;
  const encoded = base64url(new TextEncoder().encode(upstreamId));
  const id = `${encoded}.${flags}.${base64url(await hmacSign(secret, bindingOf(grantId, encoded, flags)))}`;
  remember(wrapped, key, id);
  return id;
}

/** The upstream session id inside an agent's session id, and the session's features, if it was minted for this grant. */
export async function unwrapSessionId(secret: string, grantId: string, clientId: string): Promise<{ upstreamId: string; features: SessionFeatures }> {
  const key = `${secret}\n${grantId}\n${clientId}`;
  const known = unwrapped.get(key);
  if (known !== undefined) return known;
  const parts = clientId.split(".");
  const [encoded, flags, mac] = parts.length === 2 ? [parts[0], undefined, parts[1]] : parts;
  const signature = mac === undefined ? undefined : fromBase64url(mac);
  const upstreamBytes = encoded === undefined ? undefined : fromBase64url(encoded);
  const valid =
    parts.length <= 3 &&
    (flags === undefined || flags === "" || flags === "u") &&
    encoded &&
    signature &&
    upstreamBytes &&
    (await hmacVerify(secret, bindingOf(grantId, encoded, flags), signature));
  if (!valid) throw new GatewayError(404, GatewayErrorCode.SessionNotFound, "Session not found");
  const session = { upstreamId: new TextDecoder().decode(upstreamBytes), features: { urlElicitation: flags === "u" } };
  remember(unwrapped, key, session);
  return session;
}

/**
 * Ids this isolate has minted or verified, so that a session's every request
 * costs one map lookup instead of an HMAC each way. Only valid ids are kept
 * (a forged one is checked every time), keyed by secret and grant, so the
 * answer is the HMAC's; at most SESSION_MEMO entries each, the oldest
 * forgotten first.
 */
const SESSION_MEMO = 1000;
const wrapped = new Map<string, string>();
const unwrapped = new Map<string, { upstreamId: string; features: SessionFeatures }>();

function remember<V>(memo: Map<string, V>, key: string, value: V): void {
  if (key.length > 4096) return;
  if (memo.size >= SESSION_MEMO) memo.delete(memo.keys().next().value!);
  memo.set(key, value);
}

function bindingOf(grantId: string, encodedUpstreamId: string, flags: string | undefined): string {
  return flags === undefined ? `mcp-session\n${grantId}\n${encodedUpstreamId}` : `mcp-session\n${grantId}\n${encodedUpstreamId}\n${flags}`;
}
