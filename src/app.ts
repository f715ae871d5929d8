import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";
import { asGatewayError, httpStatusOf, toJsonRpcError } from "./errors.ts";
import { authenticate } from "./grants/authenticate.ts";
import { corsForAllowedOrigins } from "./http/cors.ts";
import { originGuard } from "./http/origin.ts";
import { favicon, homePage } from "./http/home.ts";
import { handleDelete, handleGet, handlePost, methodNotAllowed } from "./mcp/routes.ts";
import { selectServer } from "./servers/select.ts";
import { servicesFor } from "./services.ts";

const loadServices = createMiddleware<AppEnv>(async function loadServices(c, next) {
  c.set("services", servicesFor(c.env));
  await next();
});

export const app = new Hono<AppEnv>();

// /mcp is the grant's view; /mcp/<server> one declared server (src/servers/).
for (const path of ["/mcp", "/mcp/:server"]) {
  app.use(path, loadServices, corsForAllowedOrigins(), originGuard(), authenticate(), selectServer());
  app.post(path, handlePost);
  app.get(path, handleGet);
  app.delete(path, handleDelete);
  app.all(path, methodNotAllowed);
}
// For a person who opens the URL in a browser: what this is and where its doors are.
app.get("/", homePage);
app.get("/favicon.ico", favicon);
// OAuth sign-in (metadata, registration, token, the authorize pages: src/oauth/) and the operators'
// door (its own authentication, the admin token: src/admin/) are built on their first request, not
// at startup: an isolate that only serves agents never pays for their routes and schemas.
export const LAZY_APPS = {
  oauth: { paths: ["/.well-known/*", "/token", "/register", "/authorize", "/oauth/*"], load: async () => (await import("./oauth/routes.ts")).oauth },
  admin: { paths: ["/admin", "/admin/*"], load: async () => new Hono<AppEnv>().route("/admin", (await import("./admin/routes.ts")).admin) },
};
for (const { paths, load } of Object.values(LAZY_APPS)) {
  const handler = lazyApp(load);
  for (const path of paths) app.all(path, handler);
}

/** A sub-app built on first use; it answers with this app's error handling. */
function lazyApp(load: () => Promise<Hono<AppEnv>>) {
  // The app, never the promise of it: a request must not await what another request started.
  let loaded: Hono<AppEnv> | undefined;
  return async (c: Context<AppEnv>) => {
    loaded ??= (await load()).onError(handleError).notFound(notFound);
    return loaded.fetch(c.req.raw, c.env, c.executionCtx);
  };
}

function notFound(c: Context) {
  return c.json({ error: "Not Found: the MCP endpoint is /mcp" }, 404);
}
app.notFound(notFound);

// The one place that turns errors into responses. Anything that is not a
// GatewayError is a bug or a misconfiguration: details go to the log, the
// agent gets a generic refusal, and nothing was forwarded.
function handleError(error: Error, c: Context) {
  // Hono's own refusals (a malformed JSON body on the admin API, say) keep their status.
  if (error instanceof HTTPException) return c.json({ error: "invalid_request", message: error.message }, error.status);
  const gatewayError = asGatewayError(error);
  for (const [name, value] of Object.entries(gatewayError.headers)) c.header(name, value);
  return c.json(toJsonRpcError(gatewayError), httpStatusOf(gatewayError));
}
app.onError(handleError);
