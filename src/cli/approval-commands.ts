import {
  APPROVAL_ID_PATTERN,
  ApprovalPageSchema,
  ApprovalRecordSchema,
  ApprovalStatusSchema,
  DecisionInputSchema,
  type ApprovalPage,
  type ApprovalRecord,
  type ApprovalSummary,
} from "../approvals/record.ts";
import { AdminApiError, adminRequest, operator } from "./admin-client.ts";
import type { AdminTarget } from "./admin-target.ts";
import { CliError, UsageError } from "./errors.ts";
import { glance, printable } from "./text.ts";
import type { CommandInput } from "./usage.ts";

/** `mcp-gateway approvals list|show|approve|deny`, through the admin API. */
export async function run(input: CommandInput): Promise<string | undefined> {
  const { command, words, values, need } = input;
  switch (command) {
    case "list": {
      const page = await listApprovals(input.admin(), values.status, values.cursor);
      return values.json ? JSON.stringify(page, null, 2) : formatList(page, values.status);
    }
    case "show": {
      const approval = await showApproval(input.admin(), need(words[0], "ID"));
      return values.json ? JSON.stringify(approval, null, 2) : formatApproval(approval);
    }
    case "approve":
    case "deny": {
      const id = need(words[0], "ID");
      // Who decided goes into the record: the operator's login name unless --by says otherwise.
      const body = { ...(values.note !== undefined ? { note: values.note } : {}), by: operator(values.by) };
      const approval = await decideApproval(input.admin(), id, command, body);
      return values.json ? JSON.stringify(approval, null, 2) : formatDecision(approval);
    }
    default:
      throw new UsageError(`unknown command: approvals ${command ?? ""}`.trimEnd());
  }
}

/** One page of approvals (newest first) and the cursor of the next. */
async function listApprovals(target: AdminTarget, status: string | undefined, cursor: string | undefined): Promise<ApprovalPage> {
  const query = new URLSearchParams();
  if (status !== undefined) {
    const parsed = ApprovalStatusSchema.safeParse(status);
    if (!parsed.success) throw new CliError(`--status takes one of ${ApprovalStatusSchema.options.join(", ")}, not "${printable(status)}"`);
    query.set("status", parsed.data);
  }
  if (cursor !== undefined) query.set("cursor", cursor);
  return adminRequest(target, ApprovalPageSchema, "GET", `/approvals${query.size > 0 ? `?${query}` : ""}`);
}

async function showApproval(target: AdminTarget, id: string): Promise<ApprovalRecord> {
  try {
    return await adminRequest(target, ApprovalRecordSchema, "GET", `/approvals/${approvalId(id)}`);
  } catch (error) {
    throw unknownApproval(target, id, error);
  }
}

async function decideApproval(target: AdminTarget, id: string, decision: "approve" | "deny", input: { note?: string; by: string }): Promise<ApprovalRecord> {
  const body = DecisionInputSchema.safeParse(input);
  if (!body.success) throw new CliError(body.error.issues.map((issue) => `--${issue.path.join(".")}: ${issue.message}`).join("; "));
  try {
    return await adminRequest(target, ApprovalRecordSchema, "POST", `/approvals/${approvalId(id)}/${decision}`, body.data);
  } catch (error) {
    // 409: no longer pending; the answer carries the approval as it stands.
    const standing = error instanceof AdminApiError && error.status === 409 ? ApprovalRecordSchema.safeParse(error.answer?.approval).data : undefined;
    if (standing) throw new CliError(`cannot ${decision} approval ${standing.id}: it is ${statusStory(standing)}`);
    throw unknownApproval(target, id, error);
  }
}

function unknownApproval(target: AdminTarget, id: string, error: unknown): unknown {
  return error instanceof AdminApiError && error.status === 404 && error.answer?.error === "not_found" ? new CliError(`no approval ${id} at ${target.origin}`) : error;
}

function approvalId(id: string): string {
  if (!APPROVAL_ID_PATTERN.test(id)) throw new CliError(`"${printable(id)}" is not an approval id (apr_ and 22 more characters, as approvals list shows them)`);
  return id;
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
