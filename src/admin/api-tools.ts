import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { readConfig } from "../config.ts";
import { GatewayError } from "../errors.ts";
import { PinService } from "../pins/service.ts";
import type { AdminEnv } from "./env.ts";
import { ActorSchema, apiActor } from "./manage/admin-record.ts";
import {
  AcceptedSchema,
  AcceptInputSchema,
  ChangesPageSchema,
  MAX_TOOL_NAME_CHARS,
  PendingChangeSchema,
  PinRecordSchema,
  PinsPageSchema,
  ServerChangesSchema,
  ServerPinsSchema,
  ToolListQuerySchema,
} from "./manage/tools.ts";

/**
 * The admin API's tool pinning (under /admin/api, merged into its OpenAPI
 * document): the changes awaiting review per server, the pins, and accepting
 * a change (the definition now served becomes the tool's pin, audited as
 * `tool.accept` with the `by` the body gives). The admin API's own middleware
 * (api.ts) requires `Authorization: Bearer <ADMIN_TOKEN>` before any of these
 * routes runs.
 */
export const toolsApi = new OpenAPIHono<AdminEnv>({
  defaultHook: (result, c) => {
    if (result.success) return;
    const message = result.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; ");
    return c.json({ error: "invalid_request", message }, 400);
  },
});

/** An acceptance's body is a hash and a name. */
const MAX_BODY_BYTES = 16 * 1024;
toolsApi.use(
  "/tools/*",
  bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: "invalid_request", message: `the body is limited to ${MAX_BODY_BYTES / 1024} KiB` }, 413) }),
);

const ErrorSchema = z.object({ error: z.string(), message: z.string() });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const failure = (description: string) => json(ErrorSchema, description);
const SECURITY = [{ adminToken: [] }];
const UNAUTHORIZED = failure("No or a wrong admin token");
const UNDECLARED = "No server of that name is declared";

const ToolParamsSchema = z.object({
  server: z.string().min(1).max(100).openapi({ param: { name: "server", in: "path" }, example: "iterable" }),
  name: z.string().min(1).max(MAX_TOOL_NAME_CHARS).openapi({ param: { name: "name", in: "path" }, example: "send_email" }),
});
const by = ActorSchema.optional().openapi({ description: 'Who accepts, recorded in the audit trail as given (1-200 characters); "admin (api)" when absent', example: "alice (cli)" });

const notFound = (message: string) => ({ error: "not_found", message });

/** Why `server` is no declared server (PinService's 404, as this API says it), or undefined when it is one. */
function undeclared(service: PinService, server: string): string | undefined {
  try {
    service.server(server);
    return undefined;
  } catch (error) {
    if (error instanceof GatewayError && error.status === 404) return error.message;
    throw error;
  }
}

const PAGES =
  "With `server`, one page of that server's (at most `limit`, default 50, at most 200, and about 512 KiB of definitions) and the `next` tool name to pass as `cursor`; without it, every declared server's first page, the default server first, each saying whether it has `more`.";

toolsApi.openapi(
  createRoute({
    method: "get",
    path: "/tools/changes",
    summary: "Tools whose definition differs from their pin, or that have none: hidden and refused until accepted",
    description: `${PAGES} Each change has the definition now served (null when it is over 64 KiB: it cannot be accepted) and the pin it differs from, with its definition.`,
    security: SECURITY,
    request: { query: ToolListQuerySchema },
    responses: {
      200: json(z.union([ChangesPageSchema, ServerChangesSchema]), "One server's page, or every server's first page"),
      400: failure("A bad query (a cursor goes with a server)"),
      401: UNAUTHORIZED,
      404: failure(UNDECLARED),
    },
  }),
  async (c) => {
    const { server, limit, cursor } = c.req.valid("query");
    const service = new PinService(c.env);
    if (server === undefined) {
      if (cursor !== undefined) return c.json({ error: "invalid_request", message: "cursor continues one server's page: give server too" }, 400);
      const fallback = readConfig(c.env).defaultServer.name;
      const servers = (await service.allChanges(limit)).map((group) => ({ ...group, default: group.server === fallback }));
      return c.json({ servers }, 200);
    }
    const missing = undeclared(service, server);
    if (missing) return c.json(notFound(missing), 404);
    const page = await service.changes(server, { limit, after: cursor });
    return c.json({ server, ...page }, 200);
  },
);

toolsApi.openapi(
  createRoute({
    method: "get",
    path: "/tools/changes/{server}/{name}",
    summary: "One tool's change awaiting review, with the definition now served and the pin it differs from",
    security: SECURITY,
    request: { params: ToolParamsSchema },
    responses: { 200: json(PendingChangeSchema, "The change"), 401: UNAUTHORIZED, 404: failure(`${UNDECLARED}, or the tool has no change awaiting review`) },
  }),
  async (c) => {
    const { server, name } = c.req.valid("param");
    const service = new PinService(c.env);
    const missing = undeclared(service, server);
    if (missing) return c.json(notFound(missing), 404);
    const change = await service.change(server, name);
    return change ? c.json(change, 200) : c.json(notFound(`server ${server} has no change of tool ${name.slice(0, 128)} awaiting review`), 404);
  },
);

toolsApi.openapi(
  createRoute({
    method: "post",
    path: "/tools/changes/{server}/{name}/accept",
    summary: "Accept a tool's change: the definition now served becomes its pin (audited as tool.accept)",
    description:
      "Agents see the tool again, with its new definition, and calls are validated against it: at once through the isolate that answered, within seconds everywhere. With `hash` (the change as reviewed), nothing is accepted when the tool changed again since (409).",
    security: SECURITY,
    request: { params: ToolParamsSchema, body: { content: { "application/json": { schema: AcceptInputSchema.extend({ by }) } }, required: false } },
    responses: {
      200: json(AcceptedSchema, "The new pin, and the one it replaced"),
      400: failure("A bad body"),
      401: UNAUTHORIZED,
      404: failure(`${UNDECLARED}, or the tool has no change awaiting review`),
      409: failure("The tool changed again since it was reviewed (its hash is not `hash`): review it again"),
      413: failure("A body over 16 KiB"),
      422: failure("The definition is too large to pin (over 64 KiB), or the server has as many pins as the gateway keeps"),
    },
  }),
  async (c) => {
    const { server, name } = c.req.valid("param");
    const { hash, by: actor } = c.req.valid("json");
    const service = new PinService(c.env);
    const missing = undeclared(service, server);
    if (missing) return c.json(notFound(missing), 404);
    const outcome = await service.accept(server, name, apiActor(actor), hash);
    if (outcome.ok) return c.json({ pin: outcome.pin, previous: outcome.previous }, 200);
    switch (outcome.reason) {
      case "not_found":
        return c.json(notFound(outcome.message), 404);
      case "stale":
        return c.json({ error: "stale", message: outcome.message }, 409);
      case "too_large":
        return c.json({ error: "too_large", message: outcome.message }, 422);
    }
  },
);

toolsApi.openapi(
  createRoute({
    method: "get",
    path: "/tools/pins",
    summary: "The pinned tool definitions: each tool's hash, where it came from, who pinned it and when",
    description: `${PAGES} Listed without their definitions; GET /tools/pins/{server}/{name} has one's.`,
    security: SECURITY,
    request: { query: ToolListQuerySchema },
    responses: {
      200: json(z.union([PinsPageSchema, ServerPinsSchema]), "One server's page, or every server's first page"),
      400: failure("A bad query (a cursor goes with a server)"),
      401: UNAUTHORIZED,
      404: failure(UNDECLARED),
    },
  }),
  async (c) => {
    const { server, limit, cursor } = c.req.valid("query");
    const service = new PinService(c.env);
    if (server === undefined) {
      if (cursor !== undefined) return c.json({ error: "invalid_request", message: "cursor continues one server's page: give server too" }, 400);
      const fallback = readConfig(c.env).defaultServer.name;
      const servers = await Promise.all(
        service.servers().map(async ({ name }) => {
          const page = await service.pins(name, { limit });
          return { server: name, default: name === fallback, pins: page.pins, more: page.next !== null };
        }),
      );
      return c.json({ servers }, 200);
    }
    const missing = undeclared(service, server);
    if (missing) return c.json(notFound(missing), 404);
    const page = await service.pins(server, { limit, after: cursor });
    return c.json({ server, ...page }, 200);
  },
);

toolsApi.openapi(
  createRoute({
    method: "get",
    path: "/tools/pins/{server}/{name}",
    summary: "One tool's pin with its definition: what the gateway lists and validates calls against",
    security: SECURITY,
    request: { params: ToolParamsSchema },
    responses: { 200: json(PinRecordSchema, "The pin"), 401: UNAUTHORIZED, 404: failure(`${UNDECLARED}, or the tool has no pin`) },
  }),
  async (c) => {
    const { server, name } = c.req.valid("param");
    const service = new PinService(c.env);
    const missing = undeclared(service, server);
    if (missing) return c.json(notFound(missing), 404);
    const pin = await service.pin(server, name);
    return pin ? c.json(pin, 200) : c.json(notFound(`server ${server} has no pin for tool ${name.slice(0, 128)}`), 404);
  },
);
