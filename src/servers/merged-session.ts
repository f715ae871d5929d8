import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { isObject, parseJson } from "../json.ts";
import { unwrapSessionId, wrapSessionId, type SessionFeatures } from "../mcp/session.ts";

/** Each server's own session id behind one merged session (a server that opened none is absent). */
export type MergedSessions = Map<string, string>;

/**
 * One session on the merged endpoint stands for a session at each server.
 * Like every session id the gateway hands out (mcp/session.ts), it carries
 * what it stands for, signed and bound to the grant: here the map of the
 * servers' own ids, so no storage is needed and no other grant can use it.
 */
export function wrapMergedSession(secret: string, grantId: string, sessions: MergedSessions, features: SessionFeatures): Promise<string> {
  return wrapSessionId(secret, mergedScope(grantId), JSON.stringify(Object.fromEntries(sessions)), features);
}

export async function unwrapMergedSession(secret: string, grantId: string, id: string): Promise<{ sessions: MergedSessions; features: SessionFeatures }> {
  const { upstreamId, features } = await unwrapSessionId(secret, mergedScope(grantId), id);
  const map = parseJson(upstreamId);
  if (!isObject(map)) throw new GatewayError(404, GatewayErrorCode.SessionNotFound, "Session not found");
  const sessions: MergedSessions = new Map();
  for (const [server, session] of Object.entries(map)) if (typeof session === "string") sessions.set(server, session);
  return { sessions, features };
}

/** Not a grant id, nor `grant@server` (a server's own URL): a merged session is found only at /mcp. */
function mergedScope(grantId: string): string {
  return `${grantId}@@merged`;
}
