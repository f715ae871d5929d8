import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { readConfig } from "../config.ts";
import { adminApi, adminApiDocument } from "./api.ts";
import { manageApi } from "./api-manage.ts";
import { serversApi } from "./api-servers.ts";
import { toolsApi } from "./api-tools.ts";
import type { AdminEnv } from "./env.ts";
import { adminPages } from "./pages/routes.tsx";

/** A shorter ADMIN_TOKEN opens nothing (the admin door, the operator sign-in on /authorize). */
export const MIN_ADMIN_TOKEN_LENGTH = 24;

/**
 * Without an ADMIN_TOKEN secret the admin door does not exist: every admin
 * route answers 404, exactly as an unknown path does.
 */
const adminEnabled = createMiddleware<AdminEnv>(async function adminEnabled(c, next) {
  const token = c.env.ADMIN_TOKEN;
  if (!token) return c.json({ error: "Not Found: the MCP endpoint is /mcp" }, 404);
  // A short token is guessable, and it also keys the session cookies: refuse to open the door with it.
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    console.error(`ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters: the admin door stays closed`);
    return c.json({ error: "misconfigured", message: `ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (openssl rand -base64 32)` }, 503);
  }
  c.set("adminToken", token);
  await next();
});

/**
 * Locally (a loopback PUBLIC_URL) only loopback Host names pass, as on /mcp:
 * a DNS-rebinding page must not reach the operator's door either.
 */
const hostGuard = createMiddleware<AdminEnv>(async function hostGuard(c, next) {
  const { allowedHosts } = readConfig(c.env);
  const host = (c.req.header("host") ?? new URL(c.req.url).host).toLowerCase();
  if (allowedHosts !== undefined && !allowedHosts.includes(host)) return c.json({ error: "forbidden", message: `host ${host} is not allowed` }, 403);
  await next();
});

/** The one path under /admin/api that no credential opens: the API's own description. */
export const ADMIN_API_DOCUMENT_PATH = "/admin/api/openapi.json";

/** Everything under /admin: the API (Bearer admin token) and the operator's pages (signed-in cookie). */
export const admin = new Hono<AdminEnv>();
admin.use("*", adminEnabled, hostGuard);
// Exactly this path, declared here and answered here: the API app's own Bearer check has no exemption.
admin.get(ADMIN_API_DOCUMENT_PATH.slice("/admin".length), (c) => c.json(adminApiDocument()));
// The grants, policies, counters, servers and tool pins routes join the admin API (its Bearer check, its OpenAPI document).
admin.route("/api", adminApi.route("/", manageApi).route("/", serversApi).route("/", toolsApi));
admin.route("/", adminPages);
