import { z } from "zod";
import { SERVER_NAME_PATTERN, SERVER_NAME_RULE } from "../servers/registry.ts";

/**
 * The policy document, one JSON object per name in the POLICIES KV namespace.
 * A superset of PolicyLayer's format: a PolicyLayer policy validates unchanged.
 * Objects are strict: in a policy that guards `send_campaign`, a misspelt key
 * must be an error, not a silently ignored rule.
 */

/** `args.campaignId`, `args.listIds[0]`, `args.a.b`: a location inside the tool call. */
export const ArgPathSchema = z
  .string()
  .regex(/^args(\.[A-Za-z_$][\w$-]*|\[\d+\])*$/, 'a path like "args.campaignId" or "args.listIds[0]"');

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const json: z.ZodType<unknown> = z.lazy(() => z.union([scalar, z.array(json), z.record(z.string(), json)]));
const comparable = z.union([z.number(), z.string()]);

export const ConditionSchema = z.discriminatedUnion("op", [
  z.strictObject({ path: ArgPathSchema, op: z.enum(["eq", "neq"]), value: json }),
  z.strictObject({ path: ArgPathSchema, op: z.enum(["in", "not_in"]), value: z.array(json) }),
  z.strictObject({ path: ArgPathSchema, op: z.enum(["lt", "lte", "gt", "gte"]), value: comparable }),
  z.strictObject({
    path: ArgPathSchema,
    op: z.literal("regex"),
    value: z.string().refine(isValidRegex, "not a valid regular expression"),
    flags: z.string().regex(/^[imsu]*$/, "only the flags i, m, s and u").optional(),
  }),
  z.strictObject({ path: ArgPathSchema, op: z.literal("contains"), value: json }),
  z.strictObject({ path: ArgPathSchema, op: z.literal("exists"), value: z.boolean().default(true) }),
  z.strictObject({ path: ArgPathSchema, op: z.enum(["len_lte", "len_gte"]), value: z.number().int().nonnegative() }),
]);

export const RuleSchema = z.strictObject({
  /** All must hold for the rule to match; none (`[]`, as PolicyLayer's starter policies write) means always. */
  conditions: z.array(ConditionSchema),
  /** What the agent is told when this rule refuses the call. */
  on_deny: z.string().optional(),
});

/** `second` … `day`, or a duration like `90s`, `15m`, `6h`, `7d`. */
export const WindowSchema = z.union([
  z.enum(["second", "minute", "hour", "day"]),
  z.string().regex(/^[1-9]\d*[smhd]$/, 'a window like "minute", "15m", "6h" or "7d"'),
]);

/** A length of time: `90s`, `15m`, `1h`, `7d`. */
export const DurationSchema = z.string().regex(/^\d+[smhd]$/, 'a duration like "0s", "90s", "15m", "1h" or "7d"');

const DURATION_UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s" → 90000. */
export function durationMs(duration: string): number {
  const match = /^(\d+)([smhd])$/.exec(duration);
  if (!match) throw new Error(`invalid duration: ${duration}`);
  return Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? "s"] ?? 0);
}

export const MAX_APPROVAL_HOLD_MS = 5 * 60_000;
export const MAX_APPROVAL_TTL_MS = 7 * 86_400_000;

/**
 * How approvals work for calls that need one: `ttl`, how long a human has to
 * decide and an approval stays usable (default 1h, at most 7d); `hold`, how
 * long the agent's call is held open waiting for the decision (default 0s:
 * answered at once as pending; at most 5m).
 */
export const ApprovalSettingsSchema = z.strictObject({
  ttl: DurationSchema.refine((value) => durationMs(value) >= 1_000 && durationMs(value) <= MAX_APPROVAL_TTL_MS, "between 1s and 7d").optional(),
  hold: DurationSchema.refine((value) => durationMs(value) <= MAX_APPROVAL_HOLD_MS, "at most 5m").optional(),
});

export const LimitSchema = z.strictObject({
  /** Limits that name the same counter share one count, across tools. */
  counter: z.string().min(1).max(128),
  window: WindowSchema,
  max: z.number().int().positive(),
  scope: z.enum(["grant", "session", "global"]).default("grant"),
  /** Count by an argument: a number (rounded up, at least 1), or the length of an array or string (at least 1). */
  increment_from: ArgPathSchema.optional(),
  /** "sliding" (default): never more than max in any window-length; "calendar": fixed UTC windows. */
  align: z.enum(["sliding", "calendar"]).default("sliding"),
});

/** A tool name, a glob over names (`delete_*`), or a tag (`@destructive`). */
export const ToolPatternSchema = z
  .string()
  .regex(/^(@[a-z][a-z0-9_-]*|[^@\s][^\s]*)$/, 'a tool name, a glob like "get_*", or a tag like "@read"');

export const ToolRuleSchema = z.strictObject({
  action: z.enum(["allow", "deny", "approve"]).default("allow"),
  /** The text the agent sees when this tool is denied. */
  reason: z.string().optional(),
  require: z.array(RuleSchema).default([]),
  deny_if: z.array(RuleSchema).default([]),
  approve_if: z.array(RuleSchema).default([]),
  limits: z.array(LimitSchema).default([]),
  /** Overrides the policy's `approval` settings for this entry. */
  approval: ApprovalSettingsSchema.optional(),
});

/**
 * What a policy says about tools: everything but `$schema`, `version` and
 * `servers`. The top level of a policy is one; so is each per-server section.
 */
const policyBody = {
  /** What a tool no entry of `tools` matches gets. */
  default: z.enum(["allow", "deny"]),
  /** "monitor": decide and log everything, but forward anyway. */
  mode: z.enum(["enforce", "monitor"]).default("enforce"),
  /**
   * Tool-definition pinning (src/pins/): "enforce" hides and refuses a tool
   * whose definition differs from its pin (or that has none) until an
   * operator accepts it; "monitor" lets it through and records the change;
   * "off" ignores pins.
   */
  pinning: z.enum(["enforce", "monitor", "off"]).default("enforce"),
  /** Removed from tools/list and refused at call time; `"*"` hides every tool. */
  hide: z.array(ToolPatternSchema).default([]),
  all_tools: z.strictObject({ limits: z.array(LimitSchema).default([]) }).default({ limits: [] }),
  /** Approval settings for every entry that needs approval (`action: approve`, `approve_if`). */
  approval: ApprovalSettingsSchema.optional(),
  /** What the audit trail keeps of a call's arguments: their keys and hash (default), or `full` values too. */
  audit: z.strictObject({ arguments: z.enum(["keys", "full"]).default("keys") }).default({ arguments: "keys" }),
  tools: z.record(ToolPatternSchema, ToolRuleSchema).default({}),
  /** Extra tags for tools, beyond the catalog's and the upstream's annotations. */
  tags: z.record(z.string(), z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/))).default({}),
};

/** One server's section: a whole policy body that replaces the top level for that server (no merging). */
export const PolicySectionSchema = z.strictObject(policyBody);

/** A server's name, as servers are declared. */
const SectionNameSchema = z.string().regex(SERVER_NAME_PATTERN, `a server name: ${SERVER_NAME_RULE}`);

export const PolicySchema = z.strictObject({
  /** Editor completion: "./policy.schema.json" or a URL to it. Ignored by the gateway. */
  $schema: z.string().optional(),
  version: z.literal("1"),
  ...policyBody,
  /**
   * Per-server sections: for a server named here, its section is the whole
   * policy (the top level does not apply to it at all); every other server
   * the grant reaches gets the top level.
   */
  servers: z.record(SectionNameSchema, PolicySectionSchema).optional(),
});

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type PolicySection = z.output<typeof PolicySectionSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type Rule = z.output<typeof RuleSchema>;
export type Limit = z.output<typeof LimitSchema>;
export type ToolRule = z.output<typeof ToolRuleSchema>;
export type ApprovalSettings = z.output<typeof ApprovalSettingsSchema>;

function isValidRegex(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** A readable list of what is wrong, each issue at its exact JSON path (`tools.send_campaign.limits[0].max`). */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return "(policy)";
  return path
    .map((key, index) => (typeof key === "number" ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`))
    .join("");
}
