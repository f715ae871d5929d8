import { z } from "zod";
import { adminRequest, operator } from "./admin-client.ts";
import { CliError, UsageError } from "./errors.ts";
import { GrantSchema } from "./grant-commands.ts";
import { columns, plural, printable } from "./text.ts";
import type { CommandInput } from "./usage.ts";

/** A grant's limits and their live use, as GET /admin/api/grants/:id/counters answers. */
const CountersSchema = z.object({
  grant: GrantSchema,
  policy: z.object({ name: z.string(), version: z.string().nullable(), problem: z.string().nullable() }),
  counters: z.array(
    z.object({
      rule: z.string(),
      counter: z.string(),
      scope: z.enum(["grant", "session", "global"]),
      window: z.string(),
      align: z.enum(["sliding", "calendar"]),
      max: z.number(),
      used: z.number().nullable(),
    }),
  ),
});
type Counters = z.infer<typeof CountersSchema>;

const ResetSchema = z.object({ counter: z.string(), scope: z.enum(["grant", "global"]), dropped: z.number() });
const SCOPES = ["grant", "global"] as const;

/** `mcp-gateway counters show GRANT` and `counters reset GRANT COUNTER [--scope grant|global]`, through the admin API. */
export async function run(input: CommandInput): Promise<string | undefined> {
  const { command, words, values, need } = input;
  const grant = encodeURIComponent(need(words[0], "GRANT"));
  switch (command) {
    case "show": {
      const view = await adminRequest(input.admin(), CountersSchema, "GET", `/grants/${grant}/counters`);
      return values.json ? JSON.stringify(view, null, 2) : formatCounters(view);
    }
    case "reset": {
      const counter = need(words[1], "COUNTER");
      const scope = values.scope ?? "grant";
      if (!(SCOPES as readonly string[]).includes(scope)) throw new CliError(`--scope takes grant or global (a session's counter ends with its session), not "${printable(scope)}"`);
      const by = operator(values.by);
      const reset = await adminRequest(input.admin(), ResetSchema, "POST", `/grants/${grant}/counters/reset`, { counter, scope, by });
      const whose = reset.scope === "global" ? "of every grant (global scope)" : `of grant ${printable(words[0] ?? "")}`;
      return `counter "${printable(reset.counter)}" ${whose} reset: ${plural(reset.dropped, "usage row")} forgotten, recorded as by ${printable(by)}`;
    }
    default:
      throw new UsageError(`unknown command: counters ${command ?? ""}`.trimEnd());
  }
}

export function formatCounters(view: Counters): string {
  const { grant, policy } = view;
  const head = `grant ${grant.id} "${printable(grant.label)}" (${grant.status}), policy "${printable(policy.name)}"${policy.version ? ` version ${policy.version}` : ""}`;
  if (policy.problem !== null) return `${head}\n  ${printable(policy.problem)}`;
  if (view.counters.length === 0) return `${head}\n  its policy sets no limits`;
  const rows = view.counters.map((c) => [
    printable(c.counter),
    c.scope,
    `${c.window} ${c.align}`,
    c.used === null ? `per session, max ${c.max}` : `${c.used}/${c.max}`,
    c.rule,
  ]);
  return [head, ...columns([["COUNTER", "SCOPE", "WINDOW", "USED", "RULE"], ...rows]).map((line) => `  ${line}`)].join("\n");
}
