import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { grantProblem, TOKEN_PATTERN } from "./grant.ts";

/**
 * Every /mcp request carries `Authorization: Bearer <grant token>`. A missing,
 * malformed, unknown, expired or revoked token is refused with 401 before
 * anything is read or forwarded. The token is looked up by its SHA-256, so no
 * comparison of secret bytes happens, and it is never logged.
 */
export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (token === undefined) throw unauthorized("a grant token is required: Authorization: Bearer <token>", "invalid_request");
    if (!TOKEN_PATTERN.test(token)) throw unauthorized("the bearer token is not a gateway grant token");
    let grant;
    try {
      grant = await c.var.services.grants.findByToken(token);
    } catch (error) {
      console.error("grant lookup failed", { error: String(error) });
      throw new GatewayError(503, GatewayErrorCode.TransportError, "Service Unavailable: grants cannot be checked right now");
    }
    if (!grant) throw unauthorized("unknown grant token");
    const problem = grantProblem(grant, Date.now());
    if (problem) throw unauthorized(problem);
    c.set("grant", grant);
    await next();
  });
}

function unauthorized(description: string, error = "invalid_token"): GatewayError {
  return new GatewayError(401, GatewayErrorCode.TransportError, `Unauthorized: ${description}`, undefined, {
    "WWW-Authenticate": `Bearer realm="mcp-policy-gateway", error="${error}", error_description="${description}"`,
  });
}
