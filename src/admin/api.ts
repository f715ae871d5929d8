import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { countAgainst, tooManyRequests } from "../http/throttle.ts";
import { ApprovalListQuerySchema, ApprovalPageSchema, ApprovalRecordSchema, DecisionInputSchema } from "../approvals/record.ts";
import { ApprovalService } from "../approvals/service.ts";
import { AuditQuerySchema, AuditRecordSchema } from "../audit/record.ts";
import { AuditService } from "../audit/service.ts";
import { grantKey } from "../grants/grant.ts";
import type { AdminEnv } from "./env.ts";
import { isAdminToken } from "./token.ts";

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`; grant tokens never open it. A wrong
 * token counts against its address's throttle (a missing one is no guess), so
 * a guessing run meets 429 while the right token is never counted or slowed.
 */
const requireAdminToken = createMiddleware<AdminEnv>(async function requireAdminToken(c, next) {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (presented !== undefined && (await isAdminToken(c.var.adminToken, presented))) return next();
  if (presented !== undefined) {
    const throttle = await countAgainst(c.env, "AUTH_FAILURE_THROTTLE", c.req.raw, "admin");
    if (throttle.throttled) return tooManyRequests(c, throttle.retryAfterSeconds, "too many wrong admin tokens from this address; try again later");
  }
  c.header("WWW-Authenticate", 'Bearer realm="mcp-policy-gateway admin"');
  return c.json({ error: "unauthorized", message: "the admin API takes Authorization: Bearer <ADMIN_TOKEN>" }, 401);
});

/** A decision body is a note and a name. */
const MAX_DECISION_BODY = 16 * 1024;

const ErrorSchema = z.object({ error: z.string(), message: z.string() });
const ConflictSchema = ErrorSchema.extend({ approval: ApprovalRecordSchema });
const ApprovalIdParamsSchema = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "apr_ip-3XJQCdBlfZmNeg-JAdQ" }) });
const GrantIdParamsSchema = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "g_0bRWBONL4VB0" }) });
const AuditPageSchema = z.object({ records: z.array(AuditRecordSchema), cursor: z.string().nullable() });

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const failure = (description: string) => json(ErrorSchema, description);
const SECURITY = [{ adminToken: [] }];

/**
 * The admin API under /admin/api: approvals and the audit trail. Each route
 * is declared once with the zod schemas that validate its request and
 * describe its answer; the OpenAPI document (adminApiDocument, served at
 * /admin/api/openapi.json by the admin router, outside this app) is generated
 * from those same declarations, so it cannot drift from what the API accepts.
 * Every route of this app takes the admin token: there is no exemption here.
 */
export const adminApi = new OpenAPIHono<AdminEnv>({
  defaultHook: (result, c) => {
    if (result.success) return;
    const message = result.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; ");
    return c.json({ error: "invalid_request", message }, 400);
  },
});

adminApi.openAPIRegistry.registerComponent("securitySchemes", "adminToken", { type: "http", scheme: "bearer", description: "The gateway's ADMIN_TOKEN" });
adminApi.use("*", requireAdminToken);

let document: ReturnType<typeof adminApi.getOpenAPI31Document> | undefined;

/** The API's OpenAPI 3.1 document, built once from the routes' declarations (call after every route is registered). */
export function adminApiDocument() {
  document ??= adminApi.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "mcp-policy-gateway admin API", version: "1", description: "Approvals, grants, policies, counters, servers, tool pins and the audit trail of an mcp-policy-gateway deployment. Every route takes Authorization: Bearer <ADMIN_TOKEN>." },
  });
  return document;
}

adminApi.openapi(
  createRoute({
    method: "get",
    path: "/approvals",
    summary: "List approvals across all grants, newest first, a page at a time",
    description: "Rows carry the start of the arguments (argumentsPreview) and their size; GET /approvals/{id} has the whole call. A page holds at most `limit` rows and about 256 KiB; `cursor` continues it.",
    security: SECURITY,
    request: { query: ApprovalListQuerySchema },
    responses: { 200: json(ApprovalPageSchema, "One page of approvals, and the cursor of the next (null when there is none)"), 400: failure("A bad query"), 401: failure("No or a wrong admin token") },
  }),
  async (c) => c.json(await new ApprovalService(c.env).list(c.req.valid("query")), 200),
);

adminApi.openapi(
  createRoute({
    method: "get",
    path: "/approvals/{id}",
    summary: "Read one approval",
    security: SECURITY,
    request: { params: ApprovalIdParamsSchema },
    responses: { 200: json(ApprovalRecordSchema, "The approval"), 401: failure("No or a wrong admin token"), 404: failure("No such approval") },
  }),
  async (c) => {
    const approval = await new ApprovalService(c.env).get(c.req.valid("param").id);
    return approval ? c.json(approval, 200) : c.json({ error: "not_found", message: "no such approval" }, 404);
  },
);

for (const decision of ["approve", "deny"] as const) {
  adminApi.openapi(
    createRoute({
      method: "post",
      path: `/approvals/{id}/${decision}`,
      summary: decision === "approve" ? "Approve a pending approval" : "Deny a pending approval",
      security: SECURITY,
      request: { params: ApprovalIdParamsSchema, body: { content: { "application/json": { schema: DecisionInputSchema } }, required: false } },
      responses: {
        200: json(ApprovalRecordSchema, "The approval, decided"),
        400: failure("A bad body"),
        401: failure("No or a wrong admin token"),
        404: failure("No such approval"),
        409: json(ConflictSchema, "The approval is not pending: decided, used or expired"),
        413: failure("A body over 16 KiB"),
      },
    }),
    async (c) => {
      const text = await c.req.text();
      if (text.length > MAX_DECISION_BODY) return c.json({ error: "invalid_request", message: `the body is limited to ${MAX_DECISION_BODY} characters` }, 413);
      const input = DecisionInputSchema.safeParse(parseBody(text));
      if (!input.success) return c.json({ error: "invalid_request", message: 'the body is optional JSON: {"note"?: string, "by"?: string}' }, 400);
      const outcome = await new ApprovalService(c.env).decide(c.req.valid("param").id, decision, { ...input.data, by: input.data.by ?? "admin (api)" });
      if (outcome.ok) return c.json(outcome.approval, 200);
      if (!outcome.approval) return c.json({ error: "not_found", message: "no such approval" }, 404);
      return c.json({ error: "conflict", message: `approval ${outcome.approval.id} is ${outcome.approval.status}, not pending`, approval: outcome.approval }, 409);
    },
  );
}

const NDJSON = "application/x-ndjson";
const auditResponses = {
  200: {
    content: { "application/json": { schema: AuditPageSchema }, [NDJSON]: { schema: AuditRecordSchema } },
    description: "Records, newest first, with the cursor of the next page (null when there is none); with Accept: application/x-ndjson, every matching record as one JSON line each",
  },
  400: failure("A bad query"),
  401: failure("No or a wrong admin token"),
};

adminApi.openapi(
  createRoute({
    method: "get",
    path: "/grants/{id}/audit",
    summary: "One grant's audit trail",
    security: SECURITY,
    request: { params: GrantIdParamsSchema, query: AuditQuerySchema },
    responses: { ...auditResponses, 404: failure("No such grant") },
  }),
  async (c) => {
    const service = new AuditService(c.env);
    const { id } = c.req.valid("param");
    // A mistyped id must not look like a grant with an empty trail (replay in CI would pass on it).
    if ((await c.env.GRANTS.get(grantKey(id))) === null) return c.json({ error: "not_found", message: `no grant ${id}` }, 404);
    const query = c.req.valid("query");
    // The typed answers cover JSON; the stream of lines is the same records in the other declared media type.
    if (wantsNdjson(c.req.header("accept"))) return ndjson(service.all(id, query)) as never;
    return c.json(await service.grantPage(id, query), 200);
  },
);

adminApi.openapi(
  createRoute({
    method: "get",
    path: "/audit",
    summary: "The audit trail of every grant, merged",
    security: SECURITY,
    request: { query: AuditQuerySchema },
    responses: auditResponses,
  }),
  async (c) => {
    const service = new AuditService(c.env);
    const query = c.req.valid("query");
    if (wantsNdjson(c.req.header("accept"))) return ndjson(service.all(undefined, query)) as never;
    return c.json(await service.allPage(query), 200);
  },
);

function parseBody(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function wantsNdjson(accept: string | undefined): boolean {
  return (accept ?? "").toLowerCase().includes(NDJSON);
}

/** Records as JSON lines, read page by page as the client reads: a SIEM can take the whole trail. */
function ndjson(records: AsyncGenerator<unknown>): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await records.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
    },
    async cancel() {
      await records.return(undefined);
    },
  });
  return new Response(body, { headers: { "content-type": NDJSON } });
}
