import catalog from "../../policies/iterable/catalog.json" with { type: "json" };
import { decide, isListed } from "../policy/evaluate.ts";
import type { Limit, Policy, ToolRule } from "../policy/schema.ts";
import { toolTags } from "../tools/catalog.ts";

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
  /** The bundled catalog's tools (the Iterable server's), by what the agent may do with each. */
  tools: { allowed: string[]; approval: string[]; conditional: string[]; hidden: string[] };
};

const CATALOG_TOOLS = Object.keys(catalog.tools);

/**
 * A policy as a person deciding whether to connect an app reads it: what is
 * hidden, what needs a human, what is limited, and which of the catalog's
 * tools the agent is offered. Decided exactly as the gateway decides (the
 * catalog's tags): a tool is offered when `tools/list` would show it, needs
 * approval when its entry asks for it, and is "allowed with conditions" when
 * it is offered but refused without suitable arguments.
 */
export function policyOverview(name: string, version: string | null, policy: Policy): PolicyOverview {
  const tools: PolicyOverview["tools"] = { allowed: [], approval: [], conditional: [], hidden: [] };
  for (const tool of CATALOG_TOOLS) {
    const tags = toolTags(tool);
    if (!isListed(policy, tool, tags)) {
      tools.hidden.push(tool);
      continue;
    }
    const decision = decide(policy, { name: tool, args: {}, tags }).decision;
    if (decision === "approve") tools.approval.push(tool);
    else if (decision === "allow") tools.allowed.push(tool);
    else tools.conditional.push(tool);
  }
  return {
    name,
    version,
    mode: policy.mode,
    default: policy.default,
    hidden: policy.hide,
    rules: Object.entries(policy.tools).map(([pattern, rule]) => ({ pattern, text: ruleText(rule) })),
    allTools: policy.all_tools.limits.map(limitText),
    tools,
  };
}

function ruleText(rule: ToolRule): string {
  const parts = [rule.action === "deny" ? "denied" : rule.action === "approve" ? "needs human approval" : "allowed"];
  if (rule.action !== "deny") {
    if (rule.require.length > 0) parts.push("only with arguments its rules accept");
    if (rule.deny_if.length > 0) parts.push("refused for some arguments");
    if (rule.approve_if.length > 0) parts.push("some arguments need approval");
    parts.push(...rule.limits.map(limitText));
  }
  return parts.join("; ");
}

function limitText(limit: Limit): string {
  const window = /^\d/.test(limit.window) ? `per ${limit.window}` : `a ${limit.window}`;
  const scope = limit.scope === "grant" ? "for this grant" : limit.scope === "session" ? "per session" : "across all grants";
  return `at most ${limit.max} ${window} ${scope}`;
}
