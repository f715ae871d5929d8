import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { accessTokenVerifier, ACCESS_TOKEN_PATTERN } from "../oauth/access-token.ts";
import { oauthSiteFor, resourceMetadataUrlFor } from "../oauth/server.ts";
import { grantProblem, TOKEN_PATTERN, type GrantRecord } from "./grant.ts";

/** How an agent proved it holds its grant, as the audit trail records it. */
export type AgentAuth = { method: "grant_token" } | { method: "oauth"; clientId: string };

const GRANT_TOKEN: AgentAuth = { method: "grant_token" };

/**
 * Every /mcp request carries `Authorization: Bearer <token>`, one of two kinds
 * side by side:
 * - a grant token (`mcpgw_…`), looked up by its SHA-256, so no comparison of
 *   secret bytes happens;
 * - an OAuth access token this gateway issued at sign-in (src/oauth/), which
 *   names the grant it acts as (src/oauth/access-token.ts).
 * Either way the call then runs as that grant. A missing, malformed, unknown,
 * expired or revoked token, or a grant that is revoked or expired, is refused
 * with 401 before anything is read or forwarded; the challenge names the
 * OAuth metadata (`resource_metadata`) so OAuth clients can sign in. Tokens
 * are never logged.
 */
export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (token === undefined) {
      throw unauthorized(c, "a grant token is required: Authorization: Bearer <token>, or sign in with OAuth", "invalid_request");
    }
    const { grant, auth } = TOKEN_PATTERN.test(token) ? await byGrantToken(c, token) : await byAccessToken(c, token);
    const problem = grantProblem(grant, Date.now());
    if (problem) throw unauthorized(c, problem);
    c.set("grant", grant);
    c.set("auth", auth);
    await next();
  });
}

type Authenticated = { grant: GrantRecord; auth: AgentAuth };

async function byGrantToken(c: Context<AppEnv>, token: string): Promise<Authenticated> {
  const grant = await lookup(() => c.var.services.grants.findByToken(token));
  if (!grant) throw unauthorized(c, "unknown grant token");
  return { grant, auth: GRANT_TOKEN };
}

async function byAccessToken(c: Context<AppEnv>, token: string): Promise<Authenticated> {
  const site = ACCESS_TOKEN_PATTERN.test(token) ? oauthSiteFor(c.env, c.req.url) : undefined;
  if (!site) throw unauthorized(c, "the bearer token is not a gateway grant token, nor an access token this gateway issued");
  const verified = await lookup(() => accessTokenVerifier(c.env).verify(c.env, site, token));
  if (!verified) throw unauthorized(c, "the access token is unknown, expired or revoked: sign in again");
  if (!verified.grant) throw unauthorized(c, "the access token's grant no longer exists");
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

function unauthorized(c: Context<AppEnv>, description: string, error = "invalid_token"): GatewayError {
  const metadata = resourceMetadataUrlFor(c.env, c.req.url);
  return new GatewayError(401, GatewayErrorCode.TransportError, `Unauthorized: ${description}`, undefined, {
    "WWW-Authenticate": `Bearer realm="mcp-policy-gateway", error="${error}", error_description="${description}"${metadata ? `, resource_metadata="${metadata}"` : ""}`,
  });
}
