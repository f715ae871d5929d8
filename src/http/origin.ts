import { createMiddleware } from "hono/factory";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import type { AppEnv } from "../env.ts";

/**
 * DNS-rebinding protection (a MUST of the Streamable HTTP transport), before
 * authentication so a rebinding page learns nothing. The allowed origins and
 * hosts come from configuration only (ALLOWED_ORIGINS, PUBLIC_URL), never
 * from the request: an Origin that merely equals the request's own Host proves
 * nothing, since a rebinding attacker controls both. Requests without an
 * Origin header (every non-browser MCP client) pass the origin check.
 */
export function originGuard() {
  return createMiddleware<AppEnv>(async function originGuard(c, next) {
    const { allowedOrigins, allowedHosts } = c.var.services.config;
    const host = (c.req.header("host") ?? new URL(c.req.url).host).toLowerCase();
    if (allowedHosts !== undefined && !allowedHosts.includes(host)) {
      throw new GatewayError(403, GatewayErrorCode.TransportError, `Forbidden: host ${host} is not allowed`);
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !allowedOrigins.includes(origin)) {
      throw new GatewayError(403, GatewayErrorCode.TransportError, `Forbidden: origin ${origin} is not allowed`);
    }
    await next();
  });
}
