import { z } from "zod";
import { PolicySchema } from "./schema.ts";

/** The JSON Schema of a policy document, for editors (policies/policy.schema.json). */
export function policyJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(PolicySchema, { io: "input", target: "draft-2020-12" }), title: "mcp-policy-gateway policy" };
}
