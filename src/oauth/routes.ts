import { Hono, type Context } from "hono";
import { createMiddleware } from "hono/factory";
import { PAGE_HEADERS } from "../admin/pages/headers.ts";
import { STYLESHEET } from "../admin/pages/style.ts";
import { readConfig } from "../config.ts";
import type { AppEnv, Bindings } from "../env.ts";
import { authorizePages } from "./authorize.tsx";
import { withPresentedRefreshToken } from "./refresh-reuse.ts";
import { withRetryAfter } from "./registration.ts";
import { OAUTH_STYLESHEET_PATH } from "./pages/layout.tsx";
import { oauthSiteFor, REGISTER_PATH, RESOURCE_METADATA_PATH, RESOURCE_PATH, resourceOf, SERVER_METADATA_PATH, TOKEN_PATH } from "./server.ts";

/**
 * The OAuth endpoints, on the gateway's own origin:
 *
 *   GET  /.well-known/oauth-protected-resource/mcp   RFC 9728: the resource `<origin>/mcp` and its issuer
 *   GET  /.well-known/oauth-protected-resource/mcp/<server>   the same for `<origin>/mcp/<server>`, each declared server
 *   GET  /.well-known/oauth-protected-resource       `/mcp`'s document, for clients that look at the root
 *   GET  /.well-known/oauth-authorization-server     RFC 8414: endpoints, PKCE S256, grant types
 *   POST /register                                   RFC 7591 dynamic client registration
 *   POST /token                                      code (with PKCE) and refresh exchange; RFC 7009 revocation
 *   GET|POST /authorize                              the gateway's sign-in and consent pages (authorize.tsx)
 *
 * Everything but /authorize is the library's (src/oauth/server.ts), with the
 * gateway's additions through its callbacks: /register bounded and throttled
 * per client address (registration.ts), /token refusing a superseded refresh
 * token past its grace (refresh-reuse.ts). As on
 * /mcp and /admin, a loopback PUBLIC_URL admits only loopback Host names
 * (DNS-rebinding protection). The metadata, registration and token answers
 * carry the library's CORS headers (any origin: they hold no ambient
 * credential), so browser-based clients such as the MCP Inspector can sign in.
 */
export const oauth = new Hono<AppEnv>();

const hostGuard = createMiddleware<AppEnv>(async function hostGuard(c, next) {
  const { allowedHosts } = readConfig(c.env);
  const host = (c.req.header("host") ?? new URL(c.req.url).host).toLowerCase();
  if (allowedHosts !== undefined && !allowedHosts.includes(host)) return c.json({ error: "forbidden", message: `host ${host} is not allowed` }, 403);
  await next();
});

const notOffered = (c: Context<AppEnv>) => c.json({ error: "not_found", error_description: "OAuth sign-in is served at this gateway's public URL" }, 404);

/** The library's answer for its own endpoints on this origin (`env`: what its callbacks get back). */
async function library(c: Context<AppEnv>, target: "server" | "registrar", request: Request = c.req.raw, env: Bindings = c.env): Promise<Response> {
  const site = oauthSiteFor(c.env, c.req.url);
  if (!site) return notOffered(c);
  // Hono types the runtime's context loosely; it is the Worker's own ExecutionContext.
  return site[target].fetch(request, env, c.executionCtx as ExecutionContext);
}

/** The RFC 9728 document of `/mcp` (no server) or of `/mcp/<server>`; 404 for a server this gateway does not declare. */
async function resourceMetadata(c: Context<AppEnv>, server: string | undefined): Promise<Response> {
  const site = oauthSiteFor(c.env, c.req.url);
  if (!site) return notOffered(c);
  const resource = resourceOf(site, server);
  if (!resource) return c.json({ error: "not_found", error_description: `this gateway has no MCP server named "${(server ?? "").slice(0, 40)}"` }, 404);
  // The library serves the document at its canonical URL only (on this origin: the site is this origin's), so the
  // root's request is readdressed to /mcp's.
  return resource.metadata.fetch(new Request(resource.metadataUrl, c.req.raw), c.env, c.executionCtx as ExecutionContext);
}

const SERVER_RESOURCE_METADATA_PATH = `${RESOURCE_METADATA_PATH}${RESOURCE_PATH}/:server`;

for (const path of [RESOURCE_METADATA_PATH, SERVER_METADATA_PATH, `${RESOURCE_METADATA_PATH}${RESOURCE_PATH}`, SERVER_RESOURCE_METADATA_PATH, TOKEN_PATH, REGISTER_PATH, "/authorize", OAUTH_STYLESHEET_PATH]) {
  oauth.use(path, hostGuard);
}

// The root document describes `/mcp` too: older clients look only there.
for (const path of [RESOURCE_METADATA_PATH, `${RESOURCE_METADATA_PATH}${RESOURCE_PATH}`]) oauth.on(["GET", "HEAD", "OPTIONS"], path, (c) => resourceMetadata(c, undefined));
oauth.on(["GET", "HEAD", "OPTIONS"], SERVER_RESOURCE_METADATA_PATH, (c) => resourceMetadata(c, c.req.param("server")));
oauth.all(SERVER_METADATA_PATH, (c) => library(c, "server"));
// The token-exchange callback is told which refresh token a refresh presents (refresh-reuse.ts).
oauth.all(TOKEN_PATH, async (c) => library(c, "server", c.req.raw, await withPresentedRefreshToken(c.env, c.req.raw)));
oauth.all(REGISTER_PATH, async (c) => withRetryAfter(await library(c, "registrar")));
oauth.route("/", authorizePages);
oauth.get(OAUTH_STYLESHEET_PATH, (c) => c.body(STYLESHEET, 200, { ...PAGE_HEADERS, "Content-Type": "text/css; charset=utf-8" }));
