import { base64url, fromBase64url, hmacSign, hmacVerify } from "../crypto.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";

/**
 * Binds MCP sessions to grants without storage. The session id the agent sees
 * is `<upstream id, base64url>.<HMAC-SHA256(secret, grant id + upstream id)>`:
 * only the gateway can mint one, and one minted for grant A fails the check
 * under grant B. KV would be eventually consistent here; this is not.
 */
export async function wrapSessionId(secret: string, grantId: string, upstreamId: string): Promise<string> {
  const encoded = base64url(new TextEncoder().encode(upstreamId));
  return `${encoded}.${base64url(await hmacSign(secret, bindingOf(grantId, encoded)))}`;
}

/** The upstream session id inside an agent's session id, if it was minted for this grant. */
export async function unwrapSessionId(secret: string, grantId: string, clientId: string): Promise<string> {
  const [encoded, mac, ...rest] = clientId.split(".");
  const signature = mac === undefined ? undefined : fromBase64url(mac);
  const upstreamBytes = encoded === undefined ? undefined : fromBase64url(encoded);
  if (rest.length > 0 || !encoded || !signature || !upstreamBytes || !(await hmacVerify(secret, bindingOf(grantId, encoded), signature))) {
    throw new GatewayError(404, GatewayErrorCode.SessionNotFound, "Session not found");
  }
  return new TextDecoder().decode(upstreamBytes);
}

function bindingOf(grantId: string, encodedUpstreamId: string): string {
  return `mcp-session\n${grantId}\n${encodedUpstreamId}`;
}
