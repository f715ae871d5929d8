#!/usr/bin/env node
// mcp-gateway: the operator's commands for an mcp-policy-gateway. Runs on Node >= 22.18
// straight from TypeScript (type stripping). Everything that reads or changes the
// gateway's state goes through its admin API (npm start's, or --url's), which
// validates and audits each change; only `policy validate` and `policy simulate FILE`
// work offline, and `--via-kv` is the fallback for a Worker that cannot be reached.
// Each command group is loaded when used, so a command loads only what it needs.
import { parseArgs } from "node:util";
import { adminTarget, type AdminTarget } from "./admin-target.ts";
import { UsageError } from "./errors.ts";
import { HELP, OPTIONS, type CommandInput, type Values } from "./usage.ts";

type Group = { run: (input: CommandInput) => Promise<string | undefined> };

const GROUPS: Record<string, () => Promise<Group>> = {
  policy: () => import("./policy-commands.ts"),
  grant: () => import("./grant-commands.ts"),
  approvals: () => import("./approval-commands.ts"),
  counters: () => import("./counter-commands.ts"),
  tools: () => import("./tool-commands.ts"),
  audit: () => import("./audit-command.ts"),
};

async function run(argv: string[]): Promise<string | undefined> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [group, ...rest] = positionals;
  if (values.help || group === undefined) return HELP;
  const load = Object.hasOwn(GROUPS, group) ? GROUPS[group] : undefined;
  if (!load) throw new UsageError(`unknown command: ${positionals.join(" ")}`);
  // `audit` is a command by itself; the other groups take a command word first.
  const command = group === "audit" ? undefined : rest[0];
  const words = group === "audit" ? rest : rest.slice(1);
  checkKvFlags(`${group} ${command ?? ""}`.trim(), values);
  let target: AdminTarget | undefined;
  return (await load()).run({
    command,
    words,
    values,
    need: (value, what) => {
      if (value === undefined) throw new UsageError(`missing ${what}`);
      return value;
    },
    admin: () => (target ??= adminTarget({ url: values.url, port: values.port })),
  });
}

/** The commands that can write KV directly, for a Worker that cannot be reached. */
const VIA_KV = ["policy push", "grant create", "grant list", "grant revoke"];

/** --local, --remote and --config choose the KV of --via-kv; without it they would be silently ignored. */
function checkKvFlags(command: string, values: Values): void {
  if (values["via-kv"] && !VIA_KV.includes(command)) throw new UsageError(`--via-kv works with ${VIA_KV.join(", ")}; ${command} goes through the admin API only`);
  if (values.local && values.remote) throw new UsageError("choose one of --local and --remote");
  if (!values["via-kv"] && (values.local || values.remote || values.config !== undefined)) {
    throw new UsageError("--local, --remote and --config go with --via-kv; without it the CLI talks to the gateway's admin API (npm start's, --port's or --url's)");
  }
  if (values["via-kv"] && (values.url !== undefined || values.port !== undefined)) throw new UsageError("--via-kv writes KV through wrangler, not to a gateway: drop --url and --port");
}

/** The help's lines for the command group the user typed, or the whole help when there are none. */
function usageOf(argv: string[]): string {
  const group = argv.find((word) => !word.startsWith("-"));
  const lines = HELP.split("\n").filter((line) => group !== undefined && line.startsWith(`  mcp-gateway ${group} `));
  return lines.length === 0 ? HELP : `${lines.join("\n")}\n(mcp-gateway --help says more)`;
}

try {
  const output = await run(process.argv.slice(2));
  if (output !== undefined) console.log(output);
} catch (error) {
  if (error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
    console.error(`${error.message}\n\n${usageOf(process.argv.slice(2))}`);
    process.exit(2);
  }
  // A CliError says what to do; anything else is unexpected, and its message is still the best there is.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
