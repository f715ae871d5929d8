import { CONFIG_DEFAULTS } from "../config.ts";
import { isObject } from "../json.ts";
import { describeIssues, durationMs, PolicySchema, type ApprovalSettings, type Policy } from "./schema.ts";

/**
 * A valid policy may still carry warnings: settings that work, but not as
 * their author probably expects. They never make a policy invalid.
 */
export type PolicyValidation = { ok: true; policy: Policy; warnings: string[] } | { ok: false; problems: string[] };

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
  return parsed.success ? { ok: true, policy: parsed.data, warnings: policyWarnings(parsed.data) } : { ok: false, problems: describeIssues(parsed.error) };
}

/** Warnings at their JSON path, as problems are given: each `approval.hold` longer than a call without progress is held. */
function policyWarnings(policy: Policy): string[] {
  const settings: Array<[string, ApprovalSettings | undefined]> = [
    ["approval", policy.approval],
    ...Object.entries(policy.tools).map(([pattern, rule]): [string, ApprovalSettings | undefined] => [`tools.${pattern}.approval`, rule.approval]),
  ];
  return settings.flatMap(([path, approval]) => (approval?.hold === undefined ? [] : holdWarning(`${path}.hold`, approval.hold)));
}

function holdWarning(path: string, hold: string): string[] {
  const capMs = CONFIG_DEFAULTS.MAX_HOLD_WITHOUT_PROGRESS_MS;
  if (durationMs(hold) <= capMs) return [];
  return [
    `${path}: ${hold} is longer than the ${capMs / 1000} s a call without a progress token is held (MAX_HOLD_WITHOUT_PROGRESS_MS): ` +
      `MCP clients give up on a request after 60 s unless progress resets their timeout, so only a client that sends a progressToken ` +
      `(and resets its timeout on progress) waits the full ${hold}`,
  ];
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
