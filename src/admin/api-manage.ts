import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AdminEnv } from "./env.ts";
import { ActorSchema, apiActor } from "./manage/admin-record.ts";
import { CounterRowSchema, CounterService } from "./manage/counters.ts";
import { GrantCreateInputSchema, GrantService, GrantSummarySchema } from "./manage/grants.ts";
import { readConfig } from "../config.ts";
import { simulate, SimulationSchema } from "../policy/simulate.ts";
import { parsedPolicy, POLICY_NAME_PATTERN, POLICY_NAME_RULE, PolicyService, PolicySummarySchema, validateDocument, ValidationSchema } from "./manage/policies.ts";

/**
 * The admin API's grants, policies and counters (under /admin/api, merged
 * into its OpenAPI document): the same services as the console's pages. The
 * admin API's own middleware (api.ts) requires `Authorization: Bearer
 * <ADMIN_TOKEN>` before any of these routes runs; every change is audited
 * with the `by` its body gives (the CLI's "alice (cli)", "npm start"), or
 * "admin (api)" without one.
 */
export const manageApi = new OpenAPIHono<AdminEnv>({
  defaultHook: (result, c) => {
    if (result.success) return;
    const message = result.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; ");
    return c.json({ error: "invalid_request", message }, 400);
  },
});

/** A policy document fits in this, with room to spare. */
const MAX_BODY_BYTES = 512 * 1024;
const limitBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: "invalid_request", message: `the body is limited to ${MAX_BODY_BYTES / 1024} KiB` }, 413) });
for (const path of ["/grants", "/grants/*", "/policies", "/policies/*"]) manageApi.use(path, limitBody);

const ErrorSchema = z.object({ error: z.string(), message: z.string() });
const ProblemsSchema = ErrorSchema.extend({ problems: z.array(z.string()) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const body = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
const failure = (description: string) => json(ErrorSchema, description);
const SECURITY = [{ adminToken: [] }];
const UNAUTHORIZED = failure("No or a wrong admin token");

const GrantIdParamsSchema = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "g_0bRWBONL4VB0" }) });
/** Built with this module's z (zod-openapi's), so that `.openapi()` exists on it wherever the rule itself was defined. */
const PushableNameParamsSchema = z.object({ name: z.string().regex(POLICY_NAME_PATTERN, POLICY_NAME_RULE).openapi({ param: { name: "name", in: "path" }, example: "recommended" }) });
const PolicyNameParamsSchema = z.object({ name: z.string().min(1).max(512).openapi({ param: { name: "name", in: "path" }, example: "recommended" }) });
/** A policy document: the parsed JSON object, or its text (as a file holds it). */
const PolicyDocumentSchema = z.union([z.record(z.string(), z.unknown()), z.string()]).openapi({ description: "The policy: a JSON object, or its JSON text" });

const notFound = (message: string) => ({ error: "not_found", message });
/** Who acts, as the caller names them: optional on every route that changes something. */
const by = ActorSchema.optional().openapi({ description: 'Who acts, recorded in the audit trail as given (1-200 characters); "admin (api)" when absent', example: "alice (cli)" });

// ── Grants ──────────────────────────────────────────────────────────────

manageApi.openapi(
  createRoute({
    method: "get",
    path: "/grants",
    summary: "List grants with their status, newest first",
    security: SECURITY,
    responses: { 200: json(z.object({ grants: z.array(GrantSummarySchema) }), "The grants (never their tokens)"), 401: UNAUTHORIZED },
  }),
  async (c) => c.json({ grants: await new GrantService(c.env).list() }, 200),
);

manageApi.openapi(
  createRoute({
    method: "post",
    path: "/grants",
    summary: "Create a grant; its token is in this answer and nowhere else, ever",
    security: SECURITY,
    request: { body: body(GrantCreateInputSchema.extend({ by })) },
    responses: {
      201: json(z.object({ grant: GrantSummarySchema, token: z.string() }), "The grant and its token (shown once: only its SHA-256 is stored)"),
      400: failure("A bad body, or no policy of that name"),
      401: UNAUTHORIZED,
    },
  }),
  async (c) => {
    const { by: actor, ...input } = c.req.valid("json");
    const created = await new GrantService(c.env).create(input, apiActor(actor));
    if (!created.ok) return c.json({ error: "invalid_request", message: created.problem }, 400);
    c.header("Cache-Control", "no-store");
    return c.json({ grant: created.grant, token: created.token }, 201);
  },
);

manageApi.openapi(
  createRoute({
    method: "post",
    path: "/grants/{id}/revoke",
    summary: "Revoke a grant (its agents get 401 once caches let go, within CACHE_TTL_MS plus KV's edge cache)",
    security: SECURITY,
    request: { params: GrantIdParamsSchema, body: { content: { "application/json": { schema: z.strictObject({ by }) } }, required: false } },
    responses: {
      200: json(z.object({ grant: GrantSummarySchema }), "The grant, revoked"),
      400: failure("A bad body"),
      401: UNAUTHORIZED,
      404: failure("No such grant"),
      409: json(ErrorSchema.extend({ grant: GrantSummarySchema }), "The grant was revoked already"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await new GrantService(c.env).revoke(id, apiActor(c.req.valid("json").by));
    if (outcome.ok) return c.json({ grant: outcome.grant }, 200);
    if (outcome.reason === "not_found") return c.json(notFound(`no grant with id ${id}`), 404);
    return c.json({ error: "conflict", message: `grant ${id} is revoked already`, grant: outcome.grant }, 409);
  },
);

// ── Counters ────────────────────────────────────────────────────────────

const CountersSchema = z.object({
  grant: GrantSummarySchema,
  policy: z.object({ name: z.string(), version: z.string().nullable(), problem: z.string().nullable() }),
  counters: z.array(CounterRowSchema),
});

manageApi.openapi(
  createRoute({
    method: "get",
    path: "/grants/{id}/counters",
    summary: "A grant's limits and what each has used now",
    security: SECURITY,
    request: { params: GrantIdParamsSchema },
    responses: { 200: json(CountersSchema, "Each limit of the grant's policy, with its live usage (null: per session)"), 401: UNAUTHORIZED, 404: failure("No such grant") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const view = await new CounterService(c.env).forGrant(id);
    return view ? c.json(view, 200) : c.json(notFound(`no grant with id ${id}`), 404);
  },
);

manageApi.openapi(
  createRoute({
    method: "post",
    path: "/grants/{id}/counters/reset",
    summary: "Reset one counter in one scope (grant or global)",
    security: SECURITY,
    request: { params: GrantIdParamsSchema, body: body(z.strictObject({ counter: z.string().min(1).max(128), scope: z.enum(["grant", "session", "global"]), by })) },
    responses: {
      200: json(z.object({ counter: z.string(), scope: z.enum(["grant", "global"]), dropped: z.number() }), "Reset; `dropped` counts the usage rows forgotten"),
      400: failure("The grant's policy has no such limit, or it counts per session"),
      401: UNAUTHORIZED,
      404: failure("No such grant"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { counter, scope, by: actor } = c.req.valid("json");
    const outcome = await new CounterService(c.env).reset(id, counter, scope, apiActor(actor));
    if (outcome.ok) return c.json({ counter: outcome.counter, scope: outcome.scope, dropped: outcome.dropped }, 200);
    return outcome.reason === "not_found" ? c.json(notFound(outcome.message), 404) : c.json({ error: "invalid_request", message: outcome.message }, 400);
  },
);

// ── Policies ────────────────────────────────────────────────────────────

manageApi.openapi(
  createRoute({
    method: "get",
    path: "/policies",
    summary: "List stored policies with their versions",
    security: SECURITY,
    responses: { 200: json(z.object({ policies: z.array(PolicySummarySchema) }), "The policies"), 401: UNAUTHORIZED },
  }),
  async (c) => c.json({ policies: await new PolicyService(c.env).list() }, 200),
);

manageApi.openapi(
  createRoute({
    method: "post",
    path: "/policies/validate",
    summary: "Validate a policy document; problems name their exact JSON path",
    security: SECURITY,
    request: { body: body(z.object({ policy: PolicyDocumentSchema })) },
    responses: { 200: json(ValidationSchema, "The validation: ok with the version, or every problem; warnings do not make it invalid"), 400: failure("A bad body"), 401: UNAUTHORIZED },
  }),
  async (c) => c.json(await validateDocument(c.req.valid("json").policy, { servers: readConfig(c.env).servers.keys() }), 200),
);

manageApi.openapi(
  createRoute({
    method: "post",
    path: "/policies/simulate",
    summary: "Decide a call against a policy (given, or stored under a name) without making it",
    security: SECURITY,
    request: {
      body: body(
        z.object({
          policy: PolicyDocumentSchema.optional(),
          name: z.string().min(1).max(512).optional(),
          tool: z.string().min(1).max(200),
          /** The declared server the call would go to: the policy's section for it decides (default: the default server). */
          server: z.string().min(1).max(40).optional(),
          arguments: z.record(z.string(), z.unknown()).default({}),
          /** Stand-ins for the upstream's annotations (`read`, `destructive`). */
          tags: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).max(20).default([]),
        }),
      ),
    },
    responses: {
      200: json(SimulationSchema, "The decision, its rule, reason, limits and the tool's tags"),
      400: json(ProblemsSchema, "Neither or both of policy and name, an invalid policy, or a server this gateway does not declare"),
      401: UNAUTHORIZED,
      404: failure("No policy of that name"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    if ((input.policy === undefined) === (input.name === undefined)) {
      return c.json({ error: "invalid_request", message: "give either policy (a document) or name (a stored policy)", problems: [] }, 400);
    }
    let document: unknown = input.policy;
    if (input.name !== undefined) {
      const stored = await new PolicyService(c.env).get(input.name);
      if (!stored) return c.json(notFound(`no policy named "${input.name}"`), 404);
      document = stored.text;
    }
    const { servers, defaultServer } = readConfig(c.env);
    const server = input.server ?? defaultServer.name;
    if (!servers.has(server)) {
      return c.json({ error: "invalid_request", message: `this gateway declares no server named "${server}"; it declares ${[...servers.keys()].join(", ")}`, problems: [] }, 400);
    }
    const policy = parsedPolicy(document);
    if (!policy) return c.json({ error: "invalid_policy", message: "the policy is not valid", problems: (await validateDocument(document)).problems }, 400);
    return c.json(simulate(policy, input.tool, input.arguments, input.tags, server), 200);
  },
);

manageApi.openapi(
  createRoute({
    method: "get",
    path: "/policies/{name}",
    summary: "Read a stored policy",
    security: SECURITY,
    request: { params: PolicyNameParamsSchema },
    responses: {
      200: json(PolicySummarySchema.extend({ policy: z.unknown(), problems: z.array(z.string()) }), "The policy document (parsed; its text when it is not JSON), its version and any problems"),
      401: UNAUTHORIZED,
      404: failure("No policy of that name"),
    },
  }),
  async (c) => {
    const { name } = c.req.valid("param");
    const stored = await new PolicyService(c.env).get(name);
    if (!stored) return c.json(notFound(`no policy named "${name}"`), 404);
    const { text, ...summary } = stored;
    return c.json({ ...summary, policy: parseOrText(text) }, 200);
  },
);

manageApi.openapi(
  createRoute({
    method: "put",
    path: "/policies/{name}",
    summary: "Push a new version of a policy (validated first, audited as policy.push)",
    security: SECURITY,
    request: { params: PushableNameParamsSchema, body: body(z.object({ policy: PolicyDocumentSchema, by })) },
    responses: {
      200: json(z.object({ name: z.string(), version: z.string() }), "Stored; in force everywhere within CACHE_TTL_MS plus KV's edge cache"),
      400: json(ProblemsSchema, "Not a valid policy: every problem at its JSON path"),
      401: UNAUTHORIZED,
    },
  }),
  async (c) => {
    const { name } = c.req.valid("param");
    const { policy, by: actor } = c.req.valid("json");
    const pushed = await new PolicyService(c.env).push(name, policy, apiActor(actor));
    if (!pushed.ok || pushed.version === null) return c.json({ error: "invalid_policy", message: "the policy is not valid; nothing was stored", problems: pushed.problems }, 400);
    return c.json({ name, version: pushed.version }, 200);
  },
);

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
