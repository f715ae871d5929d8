import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { createMiddleware } from "hono/factory";
import { admin } from "./admin/routes.ts";
import type { AppEnv } from "./env.ts";
import { asGatewayError, httpStatusOf, toJsonRpcError } from "./errors.ts";
import { authenticate } from "./grants/authenticate.ts";
import { corsForAllowedOrigins } from "./http/cors.ts";
import { originGuard } from "./http/origin.ts";
import { handleDelete, handleGet, handlePost, methodNotAllowed } from "./mcp/routes.ts";
import { oauth } from "./oauth/routes.ts";
import { servicesFor } from "./services.ts";

const loadServices = createMiddleware<AppEnv>(async function loadServices(c, next) {
  c.set("services", servicesFor(c.env));
  await next();
});

export const app = new Hono<AppEnv>();

app.use("/mcp", loadServices, corsForAllowedOrigins(), originGuard(), authenticate());
app.post("/mcp", handlePost);
app.get("/mcp", handleGet);
app.delete("/mcp", handleDelete);
app.all("/mcp", methodNotAllowed);
// OAuth sign-in: metadata, registration, token, and the authorize pages (src/oauth/).
app.route("/", oauth);
// The operators' door: its own authentication (the admin token), never a grant's.
app.route("/admin", admin);

app.notFound((c) => c.json({ error: "Not Found: the MCP endpoint is /mcp" }, 404));

// The one place that turns errors into responses. Anything that is not a
// GatewayError is a bug or a misconfiguration: details go to the log, the
// agent gets a generic refusal, and nothing was forwarded.
app.onError((error, c) => {
  // Hono's own refusals (a malformed JSON body on the admin API, say) keep their status.
  if (error instanceof HTTPException) return c.json({ error: "invalid_request", message: error.message }, error.status);
  const gatewayError = asGatewayError(error);
  for (const [name, value] of Object.entries(gatewayError.headers)) c.header(name, value);
  return c.json(toJsonRpcError(gatewayError), httpStatusOf(gatewayError));
});
