import { isObject } from "../json.ts";
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
  const proto = protoKeys(document);
  if (proto.length > 0) return { ok: false, problems: proto };
  const parsed = PolicySchema.safeParse(document);
  return parsed.success ? { ok: true, policy: parsed.data } : { ok: false, problems: describeIssues(parsed.error) };
}

/**
 * JSON.parse keeps a member named `__proto__`, but no object built from it
 * can (zod drops it): a rule for it would vanish silently, so it is refused.
 */
function protoKeys(document: unknown): string[] {
  if (!isObject(document)) return [];
  return (["tools", "tags"] as const)
    .filter((section) => isObject(document[section]) && Object.hasOwn(document[section], "__proto__"))
    .map((section) => `${section}.__proto__: "__proto__" cannot name a tool in a policy`);
}
