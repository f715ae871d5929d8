import catalog from "../../policies/iterable/catalog.json" with { type: "json" };
import { decide, isListed, type Decision } from "../policy/evaluate.ts";
import { representativeArguments, type Representatives, type RuleReach } from "../policy/representative-args.ts";
import type { Condition, Limit, Policy, Rule, ToolRule } from "../policy/schema.ts";
import { clip } from "../text/clip.ts";
import { toolTags } from "../tools/catalog.ts";

/**
 * What the policy makes of a tool, over every call the agent could make:
 * `hidden` (absent from tools/list, refused), `refused` (listed, but every
 * call refused: PolicyLayer's unconditional `deny_if`), `approval` (every call
 * needs a human), `allowed`, or `conditional` (the arguments decide).
 */
export const TOOL_VERDICTS = ["allowed", "approval", "conditional", "refused", "hidden"] as const;
export type ToolVerdict = (typeof TOOL_VERDICTS)[number];

/** What a consent screen says about a policy: its rules in words, and what it makes of each catalog tool. */
export type PolicyOverview = {
  name: string;
  version: string | null;
  mode: Policy["mode"];
  /** `allow` or `deny`: what a tool no rule names gets. */
  default: Policy["default"];
  /** Patterns (names, globs, @tags) the agent never sees. */
  hidden: string[];
  /** One line per `tools` entry, in the document's order. */
  rules: Array<{ pattern: string; text: string }>;
  /** Limits on every call. */
  allTools: string[];
  /** The bundled catalog's tools (the Iterable server's), by what the policy makes of each. */
  tools: Record<ToolVerdict, string[]>;
};

const CATALOG_TOOLS = Object.keys(catalog.tools);
/** Characters of one rule's conditions in a line (an `in` list can be long). */
const MAX_CONDITIONS_CHARS = 240;

/**
 * A policy as a person deciding whether to connect an app reads it. Every
 * line comes from `decide()`, the code that judges the agent's calls: each
 * tool (with the catalog's tags) and each `tools` entry is decided for
 * representative arguments (src/policy/representative-args.ts), so a rule
 * whose conditions always hold (`"conditions": []`) or never can is read as
 * the gateway applies it, and "depends on the arguments" is said only when
 * some arguments are decided otherwise than others.
 */
export function policyOverview(name: string, version: string | null, policy: Policy): PolicyOverview {
  const tools: PolicyOverview["tools"] = { allowed: [], approval: [], conditional: [], refused: [], hidden: [] };
  const representatives = new Map<string, Representatives>();
  for (const tool of CATALOG_TOOLS) tools[toolVerdict(policy, tool, toolTags(tool), representatives)].push(tool);
  return {
    name,
    version,
    mode: policy.mode,
    default: policy.default,
    hidden: policy.hide,
    rules: Object.entries(policy.tools).map(([pattern, rule]) => ({ pattern, text: entryText(policy, pattern, rule) })),
    allTools: policy.all_tools.limits.map(limitText),
    tools,
  };
}

/** What the policy makes of one tool: decided for the arguments that stand for every call its entry can see. */
export function toolVerdict(policy: Policy, tool: string, tags: ReadonlySet<string>, cache = new Map<string, Representatives>()): ToolVerdict {
  if (!isListed(policy, tool, tags)) return "hidden";
  const pattern = entryPattern(decide(policy, { name: tool, args: {}, tags }).rule);
  const entry = pattern !== undefined && Object.hasOwn(policy.tools, pattern) ? policy.tools[pattern] : undefined;
  if (!entry || pattern === undefined) return verdictOf([decide(policy, { name: tool, args: {}, tags })], false);
  let representatives = cache.get(pattern);
  if (!representatives) cache.set(pattern, (representatives = representativeArguments(entry)));
  const decisions = representatives.args.map((args) => decide(policy, { name: tool, args, tags }));
  return verdictOf(decisions, uncertain(entry, representatives));
}

function verdictOf(decisions: Decision[], uncertainRules: boolean): ToolVerdict {
  // An argument a limit cannot count is a malformed call, not what the policy makes of the tool.
  const kinds = new Set(decisions.map((decision) => decision.decision).filter((kind) => kind !== "invalid_arguments"));
  if (kinds.has("hidden")) return "hidden";
  if (uncertainRules || kinds.size > 1) return "conditional";
  if (kinds.has("approve")) return "approval";
  if (kinds.has("allow")) return "allowed";
  return "refused";
}

/** A rule no tried arguments made hold, and that is not provably impossible: some arguments may still. */
function uncertain(entry: ToolRule, representatives: Representatives): boolean {
  return [...entry.require, ...entry.deny_if, ...entry.approve_if].some((rule) => representatives.reach(rule) === "unknown");
}

/** The `tools` entry a decision's JSON pointer names (`/tools/send_campaign/deny_if/0` → `send_campaign`). */
function entryPattern(pointer: string): string | undefined {
  const [, root, key] = pointer.split("/");
  return root === "tools" && key !== undefined ? key.replaceAll("~1", "/").replaceAll("~0", "~") : undefined;
}

/**
 * One `tools` entry in words, decided on its own: the policy with this entry
 * alone (its `all_tools` limits and approval settings kept, nothing hidden),
 * a call it governs, and the representative arguments.
 */
function entryText(policy: Policy, pattern: string, rule: ToolRule): string {
  if (rule.action === "deny") return `hidden from the app; every call refused${quoted(rule.reason)}`;
  const alone: Policy = { ...policy, hide: [], tags: {}, tools: { [pattern]: rule } };
  const probe = pattern.startsWith("@") ? { name: pattern, tags: new Set([pattern.slice(1)]) } : { name: pattern.replaceAll("*", ""), tags: new Set<string>() };
  const representatives = representativeArguments(rule);
  const decisions = representatives.args.map((args) => decide(alone, { name: probe.name, args, tags: probe.tags }));
  const verdict = verdictOf(decisions, uncertain(rule, representatives));
  const limits = rule.limits.map(limitText);
  const never = ruleLists(rule)
    .filter(({ rule: candidate }) => representatives.reach(candidate) === "never")
    .map(({ list }) => `its ${list} rule can match no arguments, so it never applies`);
  switch (verdict) {
    case "refused": {
      const refusal = decisions.find((decision) => decision.decision === "deny");
      return [`listed, but every call is refused${quoted(refusal ? authoredReason(rule, refusal.rule) : undefined)}`, ...never].join("; ");
    }
    case "approval":
      return ["every call needs a human's approval", ...limits, ...never].join("; ");
    case "allowed":
      return ["allowed", ...limits, ...never].join("; ");
    default: {
      const kinds = new Set(decisions.map((decision) => decision.decision));
      const can = [kinds.has("allow") ? "allowed" : "", kinds.has("approve") ? "needs a human's approval" : "", kinds.has("deny") ? "refused" : ""].filter(Boolean);
      const clauses = ruleLists(rule).flatMap(({ list, rule: candidate }) => clause(list, candidate, representatives.reach(candidate)));
      return [`${can.length > 1 ? `${can.join(" or ")}, by its arguments` : "depends on its arguments"}: ${clauses.join("; ")}`, ...limits, ...never].join("; ");
    }
  }
}

type RuleList = "require" | "deny_if" | "approve_if";

function ruleLists(rule: ToolRule): Array<{ list: RuleList; rule: Rule }> {
  return (["require", "deny_if", "approve_if"] as const).flatMap((list) => rule[list].map((entry) => ({ list, rule: entry })));
}

/** What one rule that holds for some arguments does, in words. */
function clause(list: RuleList, rule: Rule, reach: RuleReach): string[] {
  if (reach !== "sometimes" && reach !== "unknown") return [];
  const when = clip(rule.conditions.map(conditionText).join(" and "), MAX_CONDITIONS_CHARS);
  const maybe = reach === "unknown" ? " (which arguments do could not be worked out here: simulate a call in the console)" : "";
  if (list === "require") return [`refused unless ${when}${quoted(rule.on_deny)}${maybe}`];
  if (list === "deny_if") return [`refused when ${when}${quoted(rule.on_deny)}${maybe}`];
  return [`needs a human's approval when ${when}${maybe}`];
}

/** The text the policy's author wrote for the rule a pointer names (`…/deny_if/0` → its `on_deny`), if any. */
function authoredReason(rule: ToolRule, pointer: string): string | undefined {
  const match = /\/(require|deny_if|approve_if)\/(\d+)$/.exec(pointer);
  if (match) return rule[match[1] as RuleList][Number(match[2])]?.on_deny;
  return pointer.endsWith("/action") ? rule.reason : undefined;
}

/** The policy author's words for a refusal, as the agent reads them. */
function quoted(text: string | undefined): string {
  return text ? `, saying “${clip(text, MAX_CONDITIONS_CHARS)}”` : "";
}

function conditionText(condition: Condition): string {
  const { path } = condition;
  const json = (value: unknown) => JSON.stringify(value);
  switch (condition.op) {
    case "eq":
      return `${path} is ${json(condition.value)}`;
    case "neq":
      return `${path} is not ${json(condition.value)}`;
    case "in":
      return `${path} is one of ${condition.value.map(json).join(", ")}`;
    case "not_in":
      return `${path} is none of ${condition.value.map(json).join(", ")}`;
    case "lt":
      return `${path} is less than ${json(condition.value)}`;
    case "lte":
      return `${path} is at most ${json(condition.value)}`;
    case "gt":
      return `${path} is more than ${json(condition.value)}`;
    case "gte":
      return `${path} is at least ${json(condition.value)}`;
    case "regex":
      return `${path} matches /${condition.value}/${condition.flags ?? ""}`;
    case "contains":
      return `${path} contains ${json(condition.value)}`;
    case "exists":
      return condition.value ? `${path} is given` : `${path} is not given`;
    case "len_lte":
      return `${path} has at most ${plural(condition.value, "item")} (or characters)`;
    case "len_gte":
      return `${path} has at least ${plural(condition.value, "item")} (or characters)`;
  }
}

/** `a, b and c`. */
export function listed(parts: string[]): string {
  return parts.length < 2 ? (parts[0] ?? "") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

/** `1 call`, `20 calls`. */
export function plural(count: number, noun: string): string {
  return `${count} ${count === 1 ? noun : `${noun}s`}`;
}

const NAMED_WINDOWS: Record<string, string> = { second: "a second", minute: "a minute", hour: "an hour", day: "a day" };
const UNITS: Record<string, string> = { s: "second", m: "minute", h: "hour", d: "day" };

/** `an hour`, `a day`, `per 6 hours`, `per 90 seconds`. */
export function windowText(window: string): string {
  const named = Object.hasOwn(NAMED_WINDOWS, window) ? NAMED_WINDOWS[window] : undefined;
  if (named) return named;
  const match = /^(\d+)([smhd])$/.exec(window);
  const unit = UNITS[match?.[2] ?? ""] ?? window;
  const count = Number(match?.[1] ?? 1);
  return count === 1 ? `per ${unit}` : `per ${plural(count, unit)}`;
}

/** `at most 20 calls an hour for this grant`; a limit counted by an argument says so. */
export function limitText(limit: Limit): string {
  const amount = limit.increment_from ? String(limit.max) : plural(limit.max, "call");
  const calendar = limit.align === "calendar" ? " (fixed UTC windows)" : "";
  const scope = limit.scope === "grant" ? "for this grant" : limit.scope === "session" ? "per session" : "across all grants";
  const counted = limit.increment_from ? `, each call counting ${limit.increment_from} (its value, or its length)` : "";
  return `at most ${amount} ${windowText(limit.window)}${calendar} ${scope}${counted}`;
}
