import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

/**
 * CORS for browser-based MCP clients on the allowed origins: preflights are
 * answered before authentication (browsers send them without credentials),
 * and the session id and auth challenge headers are readable by the page.
 * Origins not on the list get no CORS headers, and originGuard refuses them.
 */
export function corsForAllowedOrigins() {
  return createMiddleware<AppEnv>(async function corsForAllowedOrigins(c, next) {
    const allowed = c.var.services.config.allowedOrigins;
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE"],
      exposeHeaders: ["Mcp-Session-Id", "MCP-Protocol-Version", "WWW-Authenticate"],
      maxAge: 600,
    })(c, next);
  });
}
