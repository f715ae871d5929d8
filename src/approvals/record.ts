import { z } from "zod";

export const APPROVAL_STATUSES = ["pending", "approved", "denied", "expired", "consumed"] as const;
export const ApprovalStatusSchema = z.enum(APPROVAL_STATUSES);
export type ApprovalStatus = z.infer<typeof ApprovalStatusSchema>;

/**
 * One approval: a human's yes or no to exactly one call (this grant, this
 * server, this tool, these arguments, this policy version), usable once. As the admin API
 * shows it; the grant's Durable Object keeps it (grant-object/approvals.ts).
 *
 * Lifecycle: pending → approved | denied | expired; approved → consumed (by
 * the one call it allows) | expired; consumed → approved again when the
 * upstream provably did not run that call.
 */
export const ApprovalRecordSchema = z.object({
  id: z.string(),
  grant: z.object({ id: z.string(), label: z.string() }),
  /** The MCP server the call goes to (src/servers/); absent on approvals made before there were several: the default server. */
  server: z.string().optional(),
  tool: z.string(),
  /** The call's arguments: the values exactly as they will be sent (stored as canonical JSON, RFC 8785; key order aside). */
  arguments: z.record(z.string(), z.unknown()),
  /**
   * The call's other params that are forwarded with its arguments (`task`, an upstream's `inputResponses`,
   * `_meta` keys other than the protocol's own), approved with them; null when there are none.
   */
  params: z.record(z.string(), z.unknown()).nullable().default(null),
  /** SHA-256 (hex) of the canonical call: the arguments alone, or a tagged array of the arguments and `params`. */
  argumentsHash: z.string(),
  policy: z.object({ name: z.string(), version: z.string() }),
  /** The agent's MCP session, when it had one. */
  session: z.string().nullable(),
  status: ApprovalStatusSchema,
  requestedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  decidedAt: z.iso.datetime().nullable(),
  decidedBy: z.string().nullable(),
  note: z.string().nullable(),
  /** The approval page. */
  url: z.string(),
  /**
   * While pending, until when an agent's call is held open waiting for the decision (the last one, when
   * several are); null when no call is held. A time already past means the hold is over.
   */
  heldUntil: z.iso.datetime().nullable().optional(),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecordSchema>;

/** Characters of an approval's arguments a list row shows (the whole record is one request away). */
export const ARGUMENTS_PREVIEW_CHARS = 160;
/** Characters of an agent- or client-chosen field (label, tool, session) a list row keeps. */
export const LIST_FIELD_CHARS = 200;

/**
 * An approval as a list shows it: the record without its arguments, which
 * may be large, but with the start of their canonical JSON and their size.
 * Every field is bounded, so no list can fail because of what an agent sent.
 */
export const ApprovalSummarySchema = ApprovalRecordSchema.omit({ arguments: true, params: true }).extend({
  /** The start of the canonical arguments, at most ARGUMENTS_PREVIEW_CHARS characters (with … when cut). */
  argumentsPreview: z.string(),
  /** Size of the canonical arguments in UTF-8 bytes. */
  argumentsBytes: z.number(),
});
export type ApprovalSummary = z.infer<typeof ApprovalSummarySchema>;

/** One page of a list, newest first; `cursor` continues it (null when there is no more). */
export const ApprovalPageSchema = z.object({ approvals: z.array(ApprovalSummarySchema), cursor: z.string().nullable() });
export type ApprovalPage = z.infer<typeof ApprovalPageSchema>;

/** A list's query: a status, how many at most, and where the previous page ended. */
export const ApprovalListQuerySchema = z.object({
  status: ApprovalStatusSchema.optional(),
  /** Only calls to this server (approvals without one are the default server's). */
  server: z.string().min(1).max(40).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type ApprovalListQuery = z.infer<typeof ApprovalListQuerySchema>;

/** What an operator says about a pending approval (admin API body, approval page form). */
export const DecisionInputSchema = z.strictObject({
  note: z.string().max(2000).optional(),
  by: z.string().min(1).max(200).optional(),
});
export type DecisionInput = z.infer<typeof DecisionInputSchema>;

/** `apr_` + 16 random bytes, base64url. */
export const APPROVAL_ID_PATTERN = /^apr_[A-Za-z0-9_-]{22}$/;
