import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AdminEnv } from "./env.ts";
import { ServerService, ServerStatusSchema, ServerToolPageSchema, ServerToolQuerySchema } from "./manage/servers.ts";

/**
 * The admin API's servers (under /admin/api, merged into its OpenAPI
 * document): each declared server as the gateway finds it, and its tools.
 * The admin API's own middleware (api.ts) requires `Authorization: Bearer
 * <ADMIN_TOKEN>` before any of these routes runs. Reading only: nothing here
 * changes anything, so nothing is audited.
 */
export const serversApi = new OpenAPIHono<AdminEnv>({
  defaultHook: (result, c) => {
    if (result.success) return;
    const message = result.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; ");
    return c.json({ error: "invalid_request", message }, 400);
  },
});

const ErrorSchema = z.object({ error: z.string(), message: z.string() });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const failure = (description: string) => json(ErrorSchema, description);
const SECURITY = [{ adminToken: [] }];
const UNAUTHORIZED = failure("No or a wrong admin token");
const ServerNameParamsSchema = z.object({ name: z.string().min(1).max(100).openapi({ param: { name: "name", in: "path" }, example: "iterable" }) });

serversApi.openapi(
  createRoute({
    method: "get",
    path: "/servers",
    summary: "The declared MCP servers: how each is reached, whether it answers, its serverInfo and tool count",
    description:
      "The gateway looks at each server as an MCP client with its credential (initialize, then tools/list), each request within 5 s and the whole look within 10 s; a look is reused for 15 s. How a server is reached is its binding's name or its URL's origin, never its credential.",
    security: SECURITY,
    responses: { 200: json(z.object({ servers: z.array(ServerStatusSchema) }), "Every declared server, the default first"), 401: UNAUTHORIZED },
  }),
  async (c) => c.json({ servers: await new ServerService(c.env).list() }, 200),
);

serversApi.openapi(
  createRoute({
    method: "get",
    path: "/servers/{name}",
    summary: "One server and a page of its tools, with the tags policies see them by",
    description: "A page holds at most `limit` tools (default 100, at most 500) and about 256 KiB; `cursor` continues it. Titles and descriptions are cut short.",
    security: SECURITY,
    request: { params: ServerNameParamsSchema, query: ServerToolQuerySchema },
    responses: { 200: json(ServerToolPageSchema, "The server and one page of its tools"), 400: failure("A bad query"), 401: UNAUTHORIZED, 404: failure("No server of that name") },
  }),
  async (c) => {
    const { name } = c.req.valid("param");
    const page = await new ServerService(c.env).tools(name, c.req.valid("query"));
    return page ? c.json(page, 200) : c.json({ error: "not_found", message: `this gateway has no server named "${name.slice(0, 40)}"` }, 404);
  },
);
