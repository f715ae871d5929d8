import { readFileSync } from "node:fs";
import { z } from "zod";
import { POLICY_NAME_PATTERN, POLICY_NAME_RULE, PolicySummarySchema } from "../policy/stored.ts";
import { simulate } from "../policy/simulate.ts";
import { validatePolicyText } from "../policy/validate.ts";
import { policyVersion } from "../policy/version.ts";
import { adminRequest, type AdminTarget } from "./approval-commands.ts";
import { kvPutFile, type KvTarget } from "./wrangler-kv.ts";

export class UsageError extends Error {}

function load(file: string) {
  const text = readFileSync(file, "utf8");
  const validation = validatePolicyText(text);
  if (!validation.ok) {
    throw new UsageError(`${file} is not a valid policy:\n${validation.problems.map((problem) => `  ${problem}`).join("\n")}`);
  }
  return { text, policy: validation.policy, warnings: validation.warnings };
}

/** Warnings under a command's answer, as problems are listed: they do not make the policy invalid. */
function withWarnings(answer: string, warnings: string[]): string {
  return warnings.length === 0 ? answer : `${answer}\nwarnings:\n${warnings.map((warning) => `  ${warning}`).join("\n")}`;
}

export async function validateCommand(file: string): Promise<string> {
  const { text, warnings } = load(file);
  return withWarnings(`${file}: valid (version ${await policyVersion(JSON.parse(text))})`, warnings);
}

export async function pushCommand(file: string, name: string, target: KvTarget): Promise<string> {
  if (!POLICY_NAME_PATTERN.test(name)) throw new UsageError(`--name "${name}" cannot be pushed to: a policy name is ${POLICY_NAME_RULE}`);
  const { text, warnings } = load(file);
  kvPutFile(target, name, file);
  const where = target.remote ? "remote" : "local";
  return withWarnings(`policy "${name}" (version ${await policyVersion(JSON.parse(text))}) pushed to the ${where} POLICIES namespace`, warnings);
}

export function simulateCommand(file: string, tool: string, argsJson: string, extraTags: string[]): { decision: unknown; text: string } {
  const { policy } = load(file);
  let args: unknown;
  try {
    args = JSON.parse(argsJson);
  } catch {
    throw new UsageError(`--args is not valid JSON: ${argsJson}`);
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new UsageError("--args must be a JSON object");
  const { text, ...decision } = simulate(policy, tool, args as Record<string, unknown>, extraTags);
  return { decision, text };
}

const PolicyListSchema = z.object({ policies: z.array(PolicySummarySchema) });

/** `policy list`: the stored policies, from the admin API, with the names that take no new version marked. */
export async function listPoliciesCommand(target: AdminTarget): Promise<z.infer<typeof PolicyListSchema>["policies"]> {
  return PolicyListSchema.parse(await adminRequest(target, "GET", "/admin/api/policies")).policies;
}

export function formatPolicyList(policies: z.infer<typeof PolicyListSchema>["policies"]): string {
  if (policies.length === 0) return "no policies";
  const width = Math.max(...policies.map((policy) => policy.name.length));
  return policies
    .map((policy) =>
      [policy.name.padEnd(width), policy.valid ? `version ${policy.version}` : "INVALID (its grants refuse every call)", policy.pushable ? "" : `old name: takes no new version (a name is ${POLICY_NAME_RULE})`]
        .filter(Boolean)
        .join("  "),
    )
    .join("\n");
}
