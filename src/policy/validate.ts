import { describeIssues, PolicySchema, type Policy } from "./schema.ts";

export type PolicyValidation = { ok: true; policy: Policy } | { ok: false; problems: string[] };

/** Parses a policy document's text; problems name the exact JSON path. Used by the Worker and the CLI alike. */
export function validatePolicyText(text: string): PolicyValidation {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`(policy): not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  return validatePolicy(document);
}

export function validatePolicy(document: unknown): PolicyValidation {
  const parsed = PolicySchema.safeParse(document);
  return parsed.success ? { ok: true, policy: parsed.data } : { ok: false, problems: describeIssues(parsed.error) };
}
