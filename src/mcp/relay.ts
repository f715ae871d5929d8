import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { unwrapSessionId, wrapSessionId } from "./session.ts";
import { sendUpstream, type UpstreamRequest } from "./upstream.ts";

/** The agent's headers with its session id unwrapped to the upstream's, after checking it belongs to this grant. */
export async function upstreamHeaders(c: Context<AppEnv>): Promise<Headers> {
  const headers = new Headers(c.req.raw.headers);
  const session = headers.get("mcp-session-id");
  if (session !== null) {
    headers.set("mcp-session-id", await unwrapSessionId(c.var.services.config.sessionSecret, c.var.grant.id, session));
  }
  return headers;
}

/** Sends upstream and hands the agent a session id bound to its grant. */
export async function relay(c: Context<AppEnv>, request: UpstreamRequest): Promise<Response> {
  const response = await sendUpstream(c.var.services.config, request);
  const session = response.headers.get("mcp-session-id");
  if (session !== null) {
    response.headers.set("mcp-session-id", await wrapSessionId(c.var.services.config.sessionSecret, c.var.grant.id, session));
  }
  return response;
}
