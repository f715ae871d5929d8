import { z } from "zod";
import { ApprovalSettingsSchema, ConditionSchema, LimitSchema, PolicySchema, RuleSchema, ToolRuleSchema } from "./schema.ts";

/**
 * The parts a policy repeats (the top level and every per-server section hold
 * the same rules), written once each under `$defs` with a readable name.
 */
const SHARED = z.registry<{ id: string }>();
SHARED.add(ToolRuleSchema, { id: "ToolRule" });
SHARED.add(RuleSchema, { id: "Rule" });
SHARED.add(ConditionSchema, { id: "Condition" });
SHARED.add(LimitSchema, { id: "Limit" });
SHARED.add(ApprovalSettingsSchema, { id: "ApprovalSettings" });

/** The JSON Schema of a policy document, for editors (policies/policy.schema.json). */
export function policyJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(PolicySchema, { io: "input", target: "draft-2020-12", metadata: SHARED }), title: "mcp-policy-gateway policy" };
}
