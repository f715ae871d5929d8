import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { readConfig } from "./config.js";
import type { AppEnv } from "./env.js";
import { GatewayError, GatewayErrorCode, toJsonRpcError } from "./errors.js";
import { originGuard } from "./http/origin.js";
import { handleDelete, handleGet, handlePost, methodNotAllowed } from "./mcp/routes.js";

const loadConfig = createMiddleware<AppEnv>(async function loadConfig(c, next) {
  c.set("config", readConfig(c.env));
  await next();
});

export const app = new Hono<AppEnv>();

app.use("/mcp", loadConfig, originGuard());
app.post("/mcp", handlePost);
app.get("/mcp", handleGet);
app.delete("/mcp", handleDelete);
app.all("/mcp", methodNotAllowed);

app.notFound((c) => c.json({ error: "Not Found: the MCP endpoint is /mcp" }, 404));

// The one place that turns errors into responses. Anything that is not a
// GatewayError is a bug or a misconfiguration: details go to the log, the
// agent gets a generic refusal and nothing was forwarded.
app.onError((error, c) => {
  const gatewayError =
    error instanceof GatewayError
      ? error
      : new GatewayError(500, GatewayErrorCode.TransportError, "Internal gateway error: the request was not forwarded");
  if (!(error instanceof GatewayError)) console.error("unhandled gateway error", { error: String(error), stack: error.stack });
  for (const [name, value] of Object.entries(gatewayError.headers ?? {})) c.header(name, value);
  return c.json(toJsonRpcError(gatewayError), gatewayError.status);
});
