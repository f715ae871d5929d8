import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { ApprovalService } from "../approvals/service.ts";
import { ApprovalStatusSchema, DecisionInputSchema } from "../approvals/record.ts";
import type { AdminEnv } from "./env.ts";
import { isAdminToken } from "./token.ts";

/** `Authorization: Bearer <ADMIN_TOKEN>`; grant tokens never open it. */
const requireAdminToken = createMiddleware<AdminEnv>(async function requireAdminToken(c, next) {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (presented === undefined || !(await isAdminToken(c.var.adminToken, presented))) {
    c.header("WWW-Authenticate", 'Bearer realm="mcp-policy-gateway admin"');
    return c.json({ error: "unauthorized", message: "the admin API takes Authorization: Bearer <ADMIN_TOKEN>" }, 401);
  }
  await next();
});

/** A decision body is a note and a name. */
const MAX_DECISION_BODY = 16 * 1024;

const ListQuerySchema = z.object({ status: ApprovalStatusSchema.optional() });

/**
 * The admin API for approvals (`/admin/api/approvals`): list them across all
 * grants, read one, approve or deny a pending one. Requests and answers are
 * JSON; bodies are checked with the same zod schemas the pages use.
 */
export const adminApi = new Hono<AdminEnv>();

adminApi.use("*", requireAdminToken);

adminApi.get("/approvals", async (c) => {
  const query = ListQuerySchema.safeParse({ status: c.req.query("status") });
  if (!query.success) return c.json({ error: "invalid_request", message: `status must be one of ${ApprovalStatusSchema.options.join(", ")}` }, 400);
  return c.json({ approvals: await new ApprovalService(c.env).list(query.data.status) });
});

adminApi.get("/approvals/:id", async (c) => {
  const approval = await new ApprovalService(c.env).get(c.req.param("id"));
  return approval ? c.json(approval) : c.json({ error: "not_found", message: "no such approval" }, 404);
});

for (const decision of ["approve", "deny"] as const) {
  adminApi.post(`/approvals/:id/${decision}`, async (c) => {
    const text = await c.req.text();
    if (text.length > MAX_DECISION_BODY) return c.json({ error: "invalid_request", message: `the body is limited to ${MAX_DECISION_BODY} characters` }, 413);
    let body: unknown = {};
    try {
      body = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return c.json({ error: "invalid_request", message: "the body must be JSON: {\"note\"?, \"by\"?}" }, 400);
    }
    const input = DecisionInputSchema.safeParse(body);
    if (!input.success) return c.json({ error: "invalid_request", message: input.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; ") }, 400);
    const outcome = await new ApprovalService(c.env).decide(c.req.param("id"), decision, { ...input.data, by: input.data.by ?? "admin" });
    if (outcome.ok) return c.json(outcome.approval);
    if (!outcome.approval) return c.json({ error: "not_found", message: "no such approval" }, 404);
    return c.json({ error: "conflict", message: `approval ${outcome.approval.id} is ${outcome.approval.status}, not pending`, approval: outcome.approval }, 409);
  });
}
