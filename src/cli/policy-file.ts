import { readFileSync } from "node:fs";
import type { Policy } from "../policy/schema.ts";
import { validatePolicyText } from "../policy/validate.ts";
import { policyVersion } from "../policy/version.ts";
import { CliError } from "./errors.ts";

/**
 * A policy file, read and validated on this machine: what `policy validate`
 * and `policy simulate FILE` need, offline. Pushing goes to the gateway,
 * which validates again and decides.
 */

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export function loadPolicyFile(file: string): { text: string; policy: Policy; warnings: string[] } {
  const text = readText(file);
  const validation = validatePolicyText(text);
  if (!validation.ok) throw new CliError(`${file} is not a valid policy:\n${validation.problems.map((problem) => `  ${problem}`).join("\n")}`);
  return { text, policy: validation.policy, warnings: validation.warnings };
}

/** What a policy's validation warns about (an answer still valid), for a file that may not even parse. */
export function warningsOf(text: string): string[] {
  const validation = validatePolicyText(text);
  return validation.ok ? validation.warnings : [];
}

/** Warnings under a command's answer, as problems are listed: they do not make the policy invalid. */
export function withWarnings(answer: string, warnings: string[]): string {
  return warnings.length === 0 ? answer : `${answer}\nwarnings:\n${warnings.map((warning) => `  ${warning}`).join("\n")}`;
}

export async function validateCommand(file: string): Promise<string> {
  const { text, warnings } = loadPolicyFile(file);
  return withWarnings(`${file}: valid (version ${await policyVersion(JSON.parse(text))})`, warnings);
}
