import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { adminApi } from "./api.ts";
import type { AdminEnv } from "./env.ts";

/**
 * Without an ADMIN_TOKEN secret the admin door does not exist: every admin
 * route answers 404, exactly as an unknown path does.
 */
const adminEnabled = createMiddleware<AdminEnv>(async function adminEnabled(c, next) {
  const token = c.env.ADMIN_TOKEN;
  if (!token) return c.json({ error: "Not Found: the MCP endpoint is /mcp" }, 404);
  c.set("adminToken", token);
  await next();
});

/** Everything under /admin: the API (Bearer admin token) and, next, the operator's pages (signed-in cookie). */
export const admin = new Hono<AdminEnv>();
admin.use("*", adminEnabled);
admin.route("/api", adminApi);
