import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { z } from "zod";
import {
  APPROVAL_ID_PATTERN,
  ApprovalPageSchema,
  ApprovalRecordSchema,
  ApprovalStatusSchema,
  DecisionInputSchema,
  type ApprovalPage,
  type ApprovalRecord,
  type ApprovalSummary,
  type DecisionInput,
} from "../approvals/record.ts";
import { DEV_ADMIN_FILE, type DevAdmin } from "./dev-state.ts";
import { UsageError } from "./policy-commands.ts";

/** The environment variable that holds the admin token of a deployed gateway (it overrides npm start's). */
export const ADMIN_TOKEN_ENV = "MCP_GATEWAY_ADMIN_TOKEN";
const HOW_TO_REACH = `start the gateway with npm start, or pass --url and set ${ADMIN_TOKEN_ENV}`;
const REQUEST_TIMEOUT_MS = 30_000;
const SUMMARY_CHARS = 72;

/**
 * Which gateway the approvals commands talk to: its origin and admin token,
 * and where they came from (for error messages; the token is never printed).
 */
export type AdminTarget = { origin: string; token: string; from: "url" | "npm start"; tokenFromEnv: boolean };

const DevAdminSchema = z.object({ url: z.string(), token: z.string() }) satisfies z.ZodType<DevAdmin>;
const ErrorAnswerSchema = z.object({ error: z.string(), message: z.string().optional(), approval: ApprovalRecordSchema.optional() });

/**
 * `--url URL` with the token from MCP_GATEWAY_ADMIN_TOKEN; without --url, the
 * running `npm start` as it left itself in DEV_ADMIN_FILE (the environment
 * variable, when set, still wins for the token).
 */
export function adminTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env, devFile = DEV_ADMIN_FILE): AdminTarget {
  const fromEnv = env[ADMIN_TOKEN_ENV] || undefined;
  if (url !== undefined) {
    if (!fromEnv) throw new UsageError(`${ADMIN_TOKEN_ENV} is not set: it holds the gateway's ADMIN_TOKEN (${HOW_TO_REACH})`);
    return { origin: gatewayOrigin(url), token: fromEnv, from: "url", tokenFromEnv: true };
  }
  if (!existsSync(devFile)) throw new UsageError(`no running npm start found (no ${shortPath(devFile)}): ${HOW_TO_REACH}`);
  const saved = DevAdminSchema.safeParse(parseJson(readFileSync(devFile, "utf8")));
  if (!saved.success) throw new UsageError(`${shortPath(devFile)} is not what npm start writes: ${HOW_TO_REACH}`);
  return { origin: gatewayOrigin(saved.data.url), token: fromEnv ?? saved.data.token, from: "npm start", tokenFromEnv: fromEnv !== undefined };
}

/** The gateway's origin from what a user passes: the origin itself, or its /mcp or /admin URL. */
function gatewayOrigin(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url takes the gateway's origin, like https://mcp-policy-gateway.you.workers.dev, not "${url}"`);
  }
  if (!["http:", "https:"].includes(parsed.protocol) || !/^\/(mcp|admin)?\/?$/.test(parsed.pathname)) {
    throw new UsageError(`--url takes the gateway's origin, like https://mcp-policy-gateway.you.workers.dev, not "${url}"`);
  }
  return parsed.origin;
}

/** One page of approvals (newest first) and the cursor of the next. */
export async function listApprovals(target: AdminTarget, options: { status?: string | undefined; cursor?: string | undefined } = {}): Promise<ApprovalPage> {
  const query = new URLSearchParams();
  if (options.status !== undefined) {
    const parsed = ApprovalStatusSchema.safeParse(options.status);
    if (!parsed.success) throw new UsageError(`--status takes one of ${ApprovalStatusSchema.options.join(", ")}, not "${options.status}"`);
    query.set("status", parsed.data);
  }
  if (options.cursor !== undefined) query.set("cursor", options.cursor);
  const answer = await adminRequest(target, "GET", `/admin/api/approvals${query.size > 0 ? `?${query}` : ""}`);
  return ApprovalPageSchema.parse(answer);
}

export async function showApproval(target: AdminTarget, id: string): Promise<ApprovalRecord> {
  return ApprovalRecordSchema.parse(await adminRequest(target, "GET", `/admin/api/approvals/${approvalId(id)}`, { id }));
}

export async function decideApproval(target: AdminTarget, id: string, decision: "approve" | "deny", input: DecisionInput): Promise<ApprovalRecord> {
  const body = DecisionInputSchema.safeParse(input);
  if (!body.success) throw new UsageError(body.error.issues.map((issue) => `--${issue.path.join(".")}: ${issue.message}`).join("; "));
  const answer = await adminRequest(target, "POST", `/admin/api/approvals/${approvalId(id)}/${decision}`, { id, decision, body: body.data });
  return ApprovalRecordSchema.parse(answer);
}

function approvalId(id: string): string {
  if (!APPROVAL_ID_PATTERN.test(id)) throw new UsageError(`"${printable(id)}" is not an approval id (apr_ and 22 more characters, as approvals list shows them)`);
  return id;
}

type RequestContext = { id?: string; decision?: "approve" | "deny"; body?: DecisionInput };

/** One admin API request; every failure becomes an error that says what to do about it. */
export async function adminRequest(target: AdminTarget, method: "GET" | "POST", path: string, context: RequestContext = {}): Promise<unknown> {
  const url = `${target.origin}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${target.token}`, accept: "application/json", ...(context.body ? { "content-type": "application/json" } : {}) },
      ...(context.body ? { body: JSON.stringify(context.body) } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: "error",
    });
  } catch (error) {
    throw new Error(unreachable(target, error));
  }
  const text = await response.text();
  const json = parseJson(text);
  if (response.ok) {
    if (json === undefined) throw new Error(`${target.origin} answered ${method} ${path} with something that is not JSON: is it the gateway?`);
    return json;
  }
  throw new Error(failure(target, response.status, ErrorAnswerSchema.safeParse(json).data, context));
}

function unreachable(target: AdminTarget, error: unknown): string {
  const cause = error instanceof Error ? (error.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : causeOf(error)) : String(error);
  if (target.from === "npm start") {
    return `cannot reach the gateway of npm start at ${target.origin} (${cause}); is npm start still running? ${HOW_TO_REACH}`;
  }
  return `cannot reach the gateway at ${target.origin} (${cause})`;
}

/** fetch's own message is "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a certificate) is its cause. */
function causeOf(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) return "code" in cause && typeof cause.code === "string" ? `${cause.code}: ${cause.message}` : cause.message;
  return error.message;
}

function failure(target: AdminTarget, status: number, answer: z.infer<typeof ErrorAnswerSchema> | undefined, context: RequestContext): string {
  const { origin } = target;
  switch (status) {
    case 401:
      return target.from === "npm start" && target.tokenFromEnv
        ? `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: unset it to use npm start's own token`
        : target.from === "npm start"
          ? `the gateway at ${origin} refused npm start's admin token (${shortPath(DEV_ADMIN_FILE)}): is this the npm start that wrote it? Restart it, or pass --url`
          : `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: it is not the gateway's ADMIN_TOKEN`;
    case 404:
      // The admin API says not_found for an unknown approval; any other 404 means there is no admin API at all.
      if (answer?.error === "not_found" && context.id) return `no approval ${context.id} at ${origin}`;
      return `${origin} has no admin API: the gateway runs without an ADMIN_TOKEN (set one: wrangler secret put ADMIN_TOKEN), or this is not the gateway's URL`;
    case 409: {
      const approval = answer?.approval;
      if (!approval || !context.decision) return `the gateway refused: ${answer?.message ?? "conflict"}`;
      return `cannot ${context.decision} approval ${approval.id}: it is ${statusStory(approval)}`;
    }
    default:
      return `the gateway at ${origin} answered ${status}${answer?.message ? `: ${printable(answer.message)}` : answer?.error ? `: ${printable(answer.error)}` : ""}`;
  }
}

/** Where an approval that is no longer pending stands, for an operator who tried to decide it. */
function statusStory(approval: ApprovalRecord): string {
  const who = [approval.decidedBy ? `by ${printable(approval.decidedBy)}` : "", approval.decidedAt ? `at ${approval.decidedAt}` : ""].filter(Boolean).join(" ");
  const note = approval.note ? `, note: ${printable(approval.note)}` : "";
  switch (approval.status) {
    case "approved":
      return `already approved (${who}${note}); its call has not run yet`;
    case "denied":
      return `already denied (${who}${note})`;
    case "consumed":
      return `already consumed: approved (${who}${note}) and its call has run`;
    case "expired":
      return `expired (at ${approval.expiresAt})`;
    default:
      return approval.status;
  }
}

/** `approvals list`: one line per approval, newest first, and how to see the next page. */
export function formatList(page: ApprovalPage, status?: string): string {
  const { approvals, cursor } = page;
  if (approvals.length === 0) return status ? `no ${status} approvals` : "no approvals";
  const width = (texts: string[]) => Math.max(...texts.map((text) => text.length));
  const tools = width(approvals.map((a) => printable(a.tool)));
  const grants = width(approvals.map((a) => `grant="${printable(a.grant.label)}"`));
  const lines = approvals.map((a: ApprovalSummary) =>
    [
      a.id,
      a.status.padEnd(8),
      printable(a.tool).padEnd(tools),
      `grant="${printable(a.grant.label)}"`.padEnd(grants),
      `requested=${a.requestedAt}`,
      `expires=${a.expiresAt}`,
      `args=${glance(a.argumentsPreview)}`,
    ].join("  "),
  );
  if (cursor) lines.push(`more: mcp-gateway approvals list${status ? ` --status ${status}` : ""} --cursor ${cursor}`);
  return lines.join("\n");
}

/** `approvals show`: the whole record, the arguments pretty-printed, and the approval page. */
export function formatApproval(a: ApprovalRecord): string {
  const lines = [
    `approval ${a.id}: ${a.status}`,
    `  tool:      ${printable(a.tool)}`,
    `  grant:     "${printable(a.grant.label)}" (${a.grant.id})`,
    `  policy:    "${printable(a.policy.name)}" version ${a.policy.version}`,
    `  session:   ${a.session === null ? "none" : printable(a.session)}`,
    `  requested: ${a.requestedAt}`,
    `  expires:   ${a.expiresAt}`,
  ];
  if (a.decidedAt) lines.push(`  decided:   ${a.decidedAt}${a.decidedBy ? ` by ${printable(a.decidedBy)}` : ""}`);
  if (a.note !== null) lines.push(`  note:      ${printable(a.note)}`);
  lines.push(`  page:      ${printable(a.url)}`);
  lines.push(`  arguments (sha-256 ${a.argumentsHash}):`);
  lines.push(...JSON.stringify(a.arguments, null, 2).split("\n").map((line) => `    ${printable(line)}`));
  if (a.params !== null) {
    lines.push("  also sent with the call (approved with it):");
    lines.push(...JSON.stringify(a.params, null, 2).split("\n").map((line) => `    ${printable(line)}`));
  }
  return lines.join("\n");
}

/** `approvals approve|deny`: the new status and what happens next. */
export function formatDecision(a: ApprovalRecord): string {
  const by = a.decidedBy ? ` by ${printable(a.decidedBy)}` : "";
  const note = a.note ? `\n  note: ${printable(a.note)}` : "";
  const call = `${printable(a.tool)} ${summary(a.arguments)}`;
  const next =
    a.status === "approved"
      ? `the agent's next ${printable(a.tool)} call with exactly these arguments runs, once, until ${a.expiresAt}`
      : `the agent's next ${printable(a.tool)} calls with these arguments are refused${a.note ? " with this note" : ""} until ${a.expiresAt}`;
  return `approval ${a.id} ${a.status}${by}: ${call}${note}\n  ${next}`;
}

/** Arguments on one line, cut to a glance. */
function summary(args: Record<string, unknown>): string {
  return glance(JSON.stringify(args));
}

function glance(json: string): string {
  const text = printable(json);
  return text.length <= SUMMARY_CHARS ? text : `${text.slice(0, SUMMARY_CHARS - 1)}…`;
}

/**
 * Text from the gateway as a terminal may show it: arguments and notes come
 * from agents and people, so control characters (which could rewrite the
 * screen) and bidirectional overrides (which could reorder what an operator
 * reads) are shown escaped.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
