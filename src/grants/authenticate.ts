import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { accessTokenVerifier, ACCESS_TOKEN_PATTERN } from "../oauth/access-token.ts";
import { grantProblem, TOKEN_PATTERN, type GrantRecord } from "./grant.ts";

/** How an agent proved it holds its grant, as the audit trail records it. */
export type AgentAuth = { method: "grant_token" } | { method: "oauth"; clientId: string };

const GRANT_TOKEN: AgentAuth = { method: "grant_token" };

/**
 * The OAuth site code (and Cloudflare's provider library under it), loaded on
 * the first request that needs it: building the library's module costs every
 * isolate's start about 7 ms, and one that serves only grant tokens, and
 * refuses no one, never needs it.
 */
const oauthServer = () => import("../oauth/server.ts");

/**
 * Every /mcp request carries `Authorization: Bearer <token>`, one of two kinds
 * side by side:
 * - a grant token (`mcpgw_…`), looked up by its SHA-256, so no comparison of
 *   secret bytes happens;
 * - an OAuth access token this gateway issued at sign-in (src/oauth/), which
 *   names the grant it acts as (src/oauth/access-token.ts) and is bound to
 *   the resource it was issued for (RFC 8707): `/mcp` or one `/mcp/<server>`,
 *   and works at that URL only.
 * Either way the call then runs as that grant. A missing, malformed, unknown,
 * expired or revoked token, an access token issued for another resource, or a
 * grant that is revoked or expired, is refused with 401 before anything is
 * read or forwarded; the challenge names the OAuth metadata of the resource
 * the URL is (`resource_metadata`: `/mcp`'s, or `/mcp/<server>`'s) so OAuth
 * clients sign in for it. A server this gateway does not declare is 404
 * before any token is looked at: there is no resource to sign in for. Tokens
 * are never logged.
 */
export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const server = c.req.param("server");
    if (server !== undefined && !c.var.services.config.servers.has(server)) {
      throw new GatewayError(404, GatewayErrorCode.TransportError, `Not Found: this gateway has no MCP server named "${server.slice(0, 40)}"`);
    }
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (token === undefined) {
      throw await unauthorized(c, "a grant token is required: Authorization: Bearer <token>, or sign in with OAuth", "invalid_request");
    }
    const { grant, auth } = TOKEN_PATTERN.test(token) ? await byGrantToken(c, token) : await byAccessToken(c, token);
    const problem = grantProblem(grant, Date.now());
    if (problem) throw await unauthorized(c, problem);
    c.set("grant", grant);
    c.set("auth", auth);
    await next();
  });
}

type Authenticated = { grant: GrantRecord; auth: AgentAuth };

async function byGrantToken(c: Context<AppEnv>, token: string): Promise<Authenticated> {
  const grant = await lookup(() => c.var.services.grants.findByToken(token));
  if (!grant) throw await unauthorized(c, "unknown grant token");
  return { grant, auth: GRANT_TOKEN };
}

async function byAccessToken(c: Context<AppEnv>, token: string): Promise<Authenticated> {
  const { oauthSiteFor, resourceOf } = await oauthServer();
  const site = ACCESS_TOKEN_PATTERN.test(token) ? oauthSiteFor(c.env, c.req.url) : undefined;
  if (!site) throw await unauthorized(c, "the bearer token is not a gateway grant token, nor an access token this gateway issued");
  // Known to be declared (checked above): the resource is there whenever the site is.
  const resource = resourceOf(site, c.req.param("server"));
  if (!resource) throw await unauthorized(c, "this URL is not a protected resource of this gateway");
  const verified = await lookup(() => accessTokenVerifier(c.env).verify(c.env, site, resource, token));
  if ("refused" in verified) throw await unauthorized(c, verified.refused);
  if (!verified.grant) throw await unauthorized(c, "the access token's grant no longer exists");
  return { grant: verified.grant, auth: { method: "oauth", clientId: verified.clientId } };
}

/** KV failing is not the agent's fault: 503, and the request is not forwarded. */
async function lookup<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    console.error("grant lookup failed", { error: String(error) });
    throw new GatewayError(503, GatewayErrorCode.TransportError, "Service Unavailable: grants cannot be checked right now");
  }
}

async function unauthorized(c: Context<AppEnv>, description: string, error = "invalid_token"): Promise<GatewayError> {
  const { resourceMetadataUrlFor } = await oauthServer();
  const metadata = resourceMetadataUrlFor(c.env, c.req.url, c.req.param("server"));
  return new GatewayError(401, GatewayErrorCode.TransportError, `Unauthorized: ${description}`, undefined, {
    "WWW-Authenticate": `Bearer realm="mcp-policy-gateway", error="${error}", error_description="${description}"${metadata ? `, resource_metadata="${metadata}"` : ""}`,
  });
}
