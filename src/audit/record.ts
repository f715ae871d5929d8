import { z } from "zod";

/** What was finally decided about a `tools/call` (or, in monitor mode, what would have been). */
export const CALL_DECISIONS = [
  "allow",
  "deny",
  "hidden",
  "unknown_tool",
  "invalid_arguments",
  "rate_limited",
  "approval_required",
  /** Needed an approval that could not be opened: the grant's pending approvals are at their cap, or the call is too large to review. */
  "approval_limit",
  "approved",
  "limiter_unavailable",
  "upstream_error",
  "upstream_timeout",
  /** The server changed the tool's definition (or it is new) since it was pinned, and no operator has reviewed it (src/pins/). */
  "definition_changed",
] as const;
export const CallDecisionSchema = z.enum(CALL_DECISIONS);
export type CallDecision = z.infer<typeof CallDecisionSchema>;

/** Operators' actions, each audited with who did it. */
export const ADMIN_ACTIONS = ["approval.approve", "approval.deny", "grant.create", "grant.revoke", "oauth.revoke", "policy.push", "counter.reset", "tool.pin", "tool.accept"] as const;
export const AdminActionSchema = z.enum(ADMIN_ACTIONS);
export type AdminAction = z.infer<typeof AdminActionSchema>;

const GrantRefSchema = z.object({ id: z.string(), label: z.string() });

/** How the agent authenticated a call: its grant token (`mcpgw_…`), or an OAuth access token bound to the grant. */
export const CALL_AUTH_METHODS = ["grant_token", "oauth"] as const;
export const CallAuthSchema = z.enum(CALL_AUTH_METHODS);
const PolicyRefSchema = z.object({ name: z.string(), version: z.string().nullable() });

/**
 * One decision about one `tools/call`. Argument values are not kept unless
 * the policy says `"audit": {"arguments": "full"}`: the keys and the SHA-256
 * of the canonical arguments (RFC 8785) identify the call without them.
 */
export const CallRecordSchema = z.object({
  kind: z.literal("call"),
  id: z.string(),
  time: z.iso.datetime(),
  requestId: z.union([z.string(), z.number()]).nullable(),
  grant: GrantRefSchema,
  /** How the call authenticated (absent on records written before OAuth sign-in existed). */
  auth: CallAuthSchema.optional(),
  /** The OAuth client the access token was issued to, when `auth` is "oauth". */
  oauthClientId: z.string().optional(),
  session: z.string().nullable(),
  /** The MCP server the call went to (src/servers/); absent on records written before there were several: the default server. */
  server: z.string().optional(),
  tool: z.string(),
  decision: CallDecisionSchema,
  /** What the policy decided; differs from `decision` only when the upstream then failed (upstream_error, upstream_timeout). */
  policyDecision: CallDecisionSchema,
  /** JSON pointer into the policy ("" when there was no usable policy). */
  rule: z.string(),
  reason: z.string().nullable(),
  policy: PolicyRefSchema,
  /** Monitor mode: the decision would have refused the call, which went ahead. */
  wouldRefuse: z.boolean(),
  /** The arguments' keys (at most 100, each cut at 128 characters: see audit/bounds.ts). */
  argumentKeys: z.array(z.string()),
  /** How many keys the arguments had, when there were more than `argumentKeys` lists. */
  argumentKeyCount: z.number().optional(),
  /** SHA-256 (hex) of the canonical arguments (RFC 8785), or "unavailable: <why>" when they could not be hashed: the record is written either way. */
  argumentsHash: z.string(),
  /** Present only under `"audit": {"arguments": "full"}`. */
  arguments: z.record(z.string(), z.unknown()).optional(),
  /** Under "full", arguments too large for the record's 64 KiB: the start of their JSON, and their size. */
  argumentsPreview: z.string().optional(),
  argumentsBytes: z.number().optional(),
  approval: z.string().nullable(),
  /** The upstream's answer: its HTTP status and how long it took (null when the call was not sent). */
  upstream: z.object({ status: z.number().nullable(), latencyMs: z.number() }).nullable(),
  /** Time the request spent in the gateway itself. */
  gatewayMs: z.number(),
});
export type CallRecord = z.infer<typeof CallRecordSchema>;

/** One operator action: who did what, when. */
export const AdminRecordSchema = z.object({
  kind: z.literal("admin"),
  id: z.string(),
  time: z.iso.datetime(),
  grant: GrantRefSchema.nullable(),
  action: AdminActionSchema,
  by: z.string(),
  /** What was acted on: an approval, grant, policy or counter. */
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AdminRecord = z.infer<typeof AdminRecordSchema>;

export const AuditRecordSchema = z.discriminatedUnion("kind", [CallRecordSchema, AdminRecordSchema]);
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** Filters of an audit query; `cursor` continues where the previous page ended. */
export const AuditQuerySchema = z.object({
  decision: z.union([CallDecisionSchema, z.literal("admin")]).optional(),
  tool: z.string().min(1).max(200).optional(),
  /** Only calls to this server (records without one are the default server's). */
  server: z.string().min(1).max(40).optional(),
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

/** Records newest first: `at` (ms), then id. */
export type AuditPosition = { at: number; id: string };

export function encodeCursor(position: AuditPosition): string {
  return btoa(JSON.stringify([position.at, position.id])).replaceAll("=", "");
}

export function decodeCursor(cursor: string): AuditPosition | undefined {
  try {
    const [at, id] = JSON.parse(atob(cursor)) as [unknown, unknown];
    return typeof at === "number" && typeof id === "string" ? { at, id } : undefined;
  } catch {
    return undefined;
  }
}
