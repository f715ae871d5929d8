import { conditionHolds, incrementFrom } from "./args.ts";
import { durationMs, type Limit, type Policy, type Rule, type ToolRule } from "./schema.ts";

/** What the gateway knows about one `tools/call`. */
export type ToolCall = {
  name: string;
  args: Record<string, unknown>;
  /** From the catalog and the upstream's annotations, without the "@". */
  tags: ReadonlySet<string>;
};

/** A limit the call must pass, with how much this call adds to its counter. */
export type AppliedLimit = Limit & { rule: string; amount: number };

/** How a call that needs approval is handled (from the entry's `approval`, else the policy's, else the defaults). */
export type ApprovalTerms = { ttlMs: number; holdMs: number };

const DEFAULT_APPROVAL = { ttl: "1h", hold: "0s" } as const;

/**
 * `rule` is a JSON pointer into the policy naming what decided, so a user can
 * find the line that refused a call.
 */
export type Decision =
  | { decision: "allow"; rule: string; limits: AppliedLimit[] }
  | { decision: "deny"; rule: string; reason: string }
  /** An argument a limit counts by cannot be counted. */
  | { decision: "invalid_arguments"; rule: string; reason: string }
  | { decision: "approve"; rule: string; reason: string; limits: AppliedLimit[]; approval: ApprovalTerms }
  | { decision: "hidden"; rule: string };

type Match = { pointer: string; rule: ToolRule } | undefined;

/**
 * Decides one tool call. Pure: no I/O, no clock; the same policy and call
 * always give the same decision.
 *
 * Precedence: no policy denies everything; `hide` beats everything; then the
 * most specific `tools` entry applies (exact name, then the longest matching
 * glob, then the first matching `@tag` in document order); without one,
 * `default` decides. Within an entry: `action`, then every `require` rule must
 * hold, then any matching `deny_if` denies, then any matching `approve_if`
 * asks for approval.
 */
export function decide(policy: Policy | undefined, call: ToolCall): Decision {
  if (!policy) return { decision: "deny", rule: "", reason: "no policy is configured for this grant, so every call is refused" };
  const tags = tagsOf(policy, call.name, call.tags);
  const hiddenBy = policy.hide.findIndex((pattern) => matches(pattern, call.name, tags));
  if (hiddenBy >= 0) return { decision: "hidden", rule: `/hide/${hiddenBy}` };

  const match = findToolRule(policy, call.name, tags);
  if (!match) {
    if (policy.default === "deny") return { decision: "deny", rule: "/default", reason: `tool ${call.name} is not allowed by this policy (default: deny)` };
    const limits = applyLimits(policy, undefined, call.args);
    return "reason" in limits ? { decision: "invalid_arguments", ...limits } : { decision: "allow", rule: "/default", limits };
  }
  const { pointer, rule } = match;
  if (rule.action === "deny") {
    return { decision: "deny", rule: `${pointer}/action`, reason: rule.reason ?? `tool ${call.name} is denied by policy` };
  }
  const unmet = firstRule(rule.require, false, `${pointer}/require`, call.args, "arguments must satisfy");
  if (unmet) return { decision: "deny", ...unmet };
  const denial = firstRule(rule.deny_if, true, `${pointer}/deny_if`, call.args, "arguments match a denial rule");
  if (denial) return { decision: "deny", ...denial };
  const limits = applyLimits(policy, match, call.args);
  if ("reason" in limits) return { decision: "invalid_arguments", ...limits };
  const approval = approvalTerms(policy, rule);
  if (rule.action === "approve") {
    return { decision: "approve", rule: `${pointer}/action`, reason: rule.reason ?? `tool ${call.name} needs human approval`, limits, approval };
  }
  const asking = firstRule(rule.approve_if, true, `${pointer}/approve_if`, call.args, "these arguments need human approval");
  if (asking) return { decision: "approve", ...asking, limits, approval };
  return { decision: "allow", rule: pointer, limits };
}

/**
 * Whether `tools/list` shows a tool: hidden tools and tools the policy denies
 * whatever their arguments are left out, so the model is only offered what it
 * may use.
 */
export function isListed(policy: Policy | undefined, name: string, upstreamTags: ReadonlySet<string>): boolean {
  if (!policy) return false;
  const tags = tagsOf(policy, name, upstreamTags);
  if (policy.hide.some((pattern) => matches(pattern, name, tags))) return false;
  const match = findToolRule(policy, name, tags);
  if (!match) return policy.default === "allow";
  return match.rule.action !== "deny";
}

function findToolRule(policy: Policy, name: string, tags: ReadonlySet<string>): Match {
  const entries = Object.entries(policy.tools);
  const at = (pattern: string, rule: ToolRule) => ({ pointer: `/tools/${escapePointer(pattern)}`, rule });
  const exact = entries.find(([pattern]) => pattern === name);
  if (exact) return at(...exact);
  let glob: [string, ToolRule] | undefined;
  for (const entry of entries) {
    const [pattern] = entry;
    if (pattern.includes("*") && globMatches(pattern, name) && (!glob || pattern.length > glob[0].length)) glob = entry;
  }
  if (glob) return at(...glob);
  const tagged = entries.find(([pattern]) => pattern.startsWith("@") && tags.has(pattern.slice(1)));
  return tagged ? at(...tagged) : undefined;
}

/** The limits a call must pass, each with what the call counts; or the first limit whose argument cannot be counted. */
function applyLimits(policy: Policy, match: Match, args: Record<string, unknown>): AppliedLimit[] | { rule: string; reason: string } {
  const entries = [
    ...(match?.rule.limits ?? []).map((limit, index) => ({ limit, rule: `${match?.pointer}/limits/${index}` })),
    ...policy.all_tools.limits.map((limit, index) => ({ limit, rule: `/all_tools/limits/${index}` })),
  ];
  const applied: AppliedLimit[] = [];
  for (const { limit, rule } of entries) {
    const increment = incrementFrom(args, limit.increment_from);
    if ("problem" in increment) return { rule: `${rule}/increment_from`, reason: increment.problem };
    applied.push({ ...limit, rule, amount: increment.amount });
  }
  return applied;
}

function approvalTerms(policy: Policy, rule: ToolRule): ApprovalTerms {
  const ttl = rule.approval?.ttl ?? policy.approval?.ttl ?? DEFAULT_APPROVAL.ttl;
  const hold = rule.approval?.hold ?? policy.approval?.hold ?? DEFAULT_APPROVAL.hold;
  return { ttlMs: durationMs(ttl), holdMs: durationMs(hold) };
}

function tagsOf(policy: Policy, name: string, upstreamTags: ReadonlySet<string>): ReadonlySet<string> {
  // The name is the agent's: `constructor` or `__proto__` must not reach Object.prototype.
  const extra = Object.hasOwn(policy.tags, name) ? policy.tags[name] : undefined;
  return extra ? new Set([...upstreamTags, ...extra]) : upstreamTags;
}

function matches(pattern: string, name: string, tags: ReadonlySet<string>): boolean {
  if (pattern.startsWith("@")) return tags.has(pattern.slice(1));
  return pattern.includes("*") ? globMatches(pattern, name) : pattern === name;
}

function globMatches(pattern: string, name: string): boolean {
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${source}$`, "s").test(name);
}

/**
 * The first rule of a list whose match equals `matching` (a `require` rule
 * that does not hold, a `deny_if` / `approve_if` rule that does), with its
 * pointer and the reason the agent is given.
 */
function firstRule(
  rules: Rule[],
  matching: boolean,
  pointer: string,
  args: Record<string, unknown>,
  lead: string,
): { rule: string; reason: string } | undefined {
  const index = rules.findIndex((candidate) => ruleMatches(candidate, args) === matching);
  const found = rules[index];
  if (!found) return undefined;
  return { rule: `${pointer}/${index}`, reason: found.on_deny ?? describeRule(found, lead) };
}

function ruleMatches(rule: Rule, args: Record<string, unknown>): boolean {
  return rule.conditions.every((condition) => conditionHolds(condition, args));
}

function describeRule(rule: Rule, lead: string): string {
  if (rule.conditions.length === 0) return `${lead}: always (a rule without conditions)`;
  const parts = rule.conditions.map((c) => `${c.path} ${c.op} ${JSON.stringify(c.value)}`);
  return `${lead}: ${parts.join(" and ")}`;
}

/** RFC 6901: "~" and "/" inside a key. */
function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
