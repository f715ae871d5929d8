import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

/** One CORS handler per list of allowed origins (the list is the isolate's configuration). */
const handlers = new WeakMap<readonly string[], MiddlewareHandler>();

function corsFor(allowed: readonly string[]): MiddlewareHandler {
  let handler = handlers.get(allowed);
  if (!handler) {
    handler = cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE"],
      exposeHeaders: ["Mcp-Session-Id", "MCP-Protocol-Version", "WWW-Authenticate"],
      maxAge: 600,
    });
    handlers.set(allowed, handler);
  }
  return handler;
}

/**
 * CORS for browser-based MCP clients on the allowed origins: preflights are
 * answered before authentication (browsers send them without credentials),
 * and the session id and auth challenge headers are readable by the page.
 * Origins not on the list get no CORS headers, and originGuard refuses them.
 * A request without an Origin (every non-browser client) has nothing to do here.
 */
export function corsForAllowedOrigins() {
  return createMiddleware<AppEnv>(async function corsForAllowedOrigins(c, next) {
    if (c.req.header("origin") === undefined) return next();
    return corsFor(c.var.services.config.allowedOrigins)(c, next);
  });
}
