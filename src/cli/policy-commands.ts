import { z } from "zod";
import { POLICY_NAME_RULE, PolicySummarySchema, type PolicySummary } from "../policy/stored.ts";
import type { Simulation } from "../policy/simulate.ts";
import { AdminApiError, adminRequest, operator } from "./admin-client.ts";
import { CliError, UsageError } from "./errors.ts";
import { printable } from "./text.ts";
import type { CommandInput } from "./usage.ts";

/**
 * `mcp-gateway policy …`: validate and simulate a file offline; list, push,
 * simulate a stored policy and replay through the gateway's admin API.
 */
export async function run(input: CommandInput): Promise<string | undefined> {
  const { command, words, values, need } = input;
  switch (command) {
    case "validate":
      return (await import("./policy-file.ts")).validateCommand(need(words[0], "FILE"));
    case "simulate":
      return simulateCommand(input);
    case "list": {
      const policies = await listPolicies(input);
      return values.json ? JSON.stringify(policies, null, 2) : formatPolicyList(policies);
    }
    case "push": {
      const file = need(words[0], "FILE");
      const name = need(values.name, "--name");
      if (values["via-kv"]) return (await import("./kv-fallback.ts")).pushViaKv(file, name, values);
      return pushPolicy(input, file, name);
    }
    case "replay":
      return (await import("./replay-command.ts")).run(input);
    default:
      throw new UsageError(`unknown command: policy ${command ?? ""}`.trimEnd());
  }
}

const PolicyListSchema = z.object({ policies: z.array(PolicySummarySchema) });

async function listPolicies(input: CommandInput): Promise<PolicySummary[]> {
  return (await adminRequest(input.admin(), PolicyListSchema, "GET", "/policies")).policies;
}

export function formatPolicyList(policies: PolicySummary[]): string {
  if (policies.length === 0) return "no policies";
  const width = Math.max(...policies.map((policy) => policy.name.length));
  return policies
    .map((policy) =>
      [printable(policy.name).padEnd(width), policy.valid ? `version ${policy.version}` : "INVALID (its grants refuse every call)", policy.pushable ? "" : `old name: takes no new version (a name is ${POLICY_NAME_RULE})`]
        .filter(Boolean)
        .join("  "),
    )
    .join("\n");
}

const PushedSchema = z.object({ name: z.string(), version: z.string() });

/** The file's text as it is (the gateway stores it so), validated and audited by the gateway. */
async function pushPolicy(input: CommandInput, file: string, name: string): Promise<string> {
  const { readText, warningsOf, withWarnings } = await import("./policy-file.ts");
  const text = readText(file);
  const target = input.admin();
  const by = operator(input.values.by);
  let pushed: z.infer<typeof PushedSchema>;
  try {
    pushed = await adminRequest(target, PushedSchema, "PUT", `/policies/${encodeURIComponent(name)}`, { policy: text, by });
  } catch (error) {
    if (error instanceof AdminApiError && error.answer?.error === "invalid_policy") {
      throw new CliError(`${file} is not a valid policy; nothing was stored:\n${(error.answer.problems ?? []).map((problem) => `  ${printable(problem)}`).join("\n")}`);
    }
    throw error;
  }
  return withWarnings(`policy "${pushed.name}" (version ${pushed.version}) pushed to ${target.origin}, recorded as by ${printable(by)}`, warningsOf(text));
}

/** `policy simulate FILE …` decides on this machine; `policy simulate --name NAME …` asks the gateway about a stored policy. */
async function simulateCommand(input: CommandInput): Promise<string> {
  const { words, values, need } = input;
  const file = words[0];
  if ((file === undefined) === (values.name === undefined)) throw new UsageError("policy simulate takes a FILE or --name NAME (a stored policy), not both");
  const tool = need(values.tool, "--tool");
  const args = callArguments(values.args);
  const tags = values.tags.split(",").map((tag) => tag.trim().replace(/^@/, "")).filter(Boolean);
  const { simulate, SimulationSchema } = await import("../policy/simulate.ts");
  let simulation: Simulation;
  // Offline, without --server, the top level decides (the file knows no gateway's default server); the gateway defaults to its own.
  const server = values.server;
  if (file !== undefined) {
    simulation = simulate((await import("./policy-file.ts")).loadPolicyFile(file).policy, tool, args, tags, server);
  } else {
    simulation = await adminRequest(input.admin(), SimulationSchema, "POST", "/policies/simulate", { name: values.name, tool, ...(server === undefined ? {} : { server }), arguments: args, tags });
  }
  const { text, ...decision } = simulation;
  return values.json ? JSON.stringify(decision, null, 2) : text;
}

function callArguments(json: string): Record<string, unknown> {
  let args: unknown;
  try {
    args = JSON.parse(json);
  } catch {
    throw new CliError(`--args is not valid JSON: ${printable(json)}`);
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new CliError("--args must be a JSON object");
  return args as Record<string, unknown>;
}
