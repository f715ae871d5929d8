import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { NO_FEATURES, unwrapSessionId, wrapSessionId, type SessionFeatures } from "./session.ts";
import { sendUpstream, type UpstreamRequest } from "./upstream.ts";

/** The agent's request as it goes upstream: its headers with the session id unwrapped, and what its session declared. */
export type AgentRequest = { headers: Headers; features: SessionFeatures };

/** The agent's headers with its session id unwrapped to the upstream's, after checking it belongs to this grant. */
export async function agentRequest(c: Context<AppEnv>): Promise<AgentRequest> {
  const headers = new Headers(c.req.raw.headers);
  const session = headers.get("mcp-session-id");
  if (session === null) return { headers, features: NO_FEATURES };
  const { upstreamId, features } = await unwrapSessionId(c.var.services.config.sessionSecret, sessionScope(c), session);
  headers.set("mcp-session-id", upstreamId);
  return { headers, features };
}

/**
 * Sends upstream and hands the agent a session id bound to its grant; a new
 * session (the answer to `initialize`) carries the features its client declared.
 */
export async function relay(c: Context<AppEnv>, request: UpstreamRequest, features: SessionFeatures = NO_FEATURES): Promise<Response> {
  const response = await sendUpstream(c.var.server.server, c.var.services.config, request);
  const session = response.headers.get("mcp-session-id");
  if (session !== null) {
    response.headers.set("mcp-session-id", await wrapSessionId(c.var.services.config.sessionSecret, sessionScope(c), session, features));
  }
  return response;
}

/**
 * What a session id is bound to: the grant and, past the default server, the
 * server too, so a session opened at one server's URL is not found at
 * another's (the default server's ids are the ones minted before there were several).
 */
function sessionScope(c: Context<AppEnv>): string {
  const { grant, server, services } = c.var;
  return server.server === services.config.defaultServer ? grant.id : `${grant.id}@${server.server.name}`;
}
