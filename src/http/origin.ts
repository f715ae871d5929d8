import { createMiddleware } from "hono/factory";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import type { AppEnv } from "../env.ts";

/**
 * DNS-rebinding protection (a MUST of the Streamable HTTP transport): a
 * browser request whose Origin is neither the gateway's own nor on the
 * configured allow-list is refused with 403. Requests without an Origin
 * header (every non-browser MCP client) pass.
 */
export function originGuard() {
  return createMiddleware<AppEnv>(async function originGuard(c, next) {
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const own = new URL(c.req.url).origin;
      if (origin !== own && !c.var.services.config.allowedOrigins.includes(origin)) {
        throw new GatewayError(403, GatewayErrorCode.TransportError, `Forbidden: origin ${origin} is not allowed`);
      }
    }
    await next();
  });
}
