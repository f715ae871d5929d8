import type { parseArgs } from "node:util";
import type { AdminTarget } from "./admin-target.ts";

export const HELP = `mcp-gateway: policies, grants, approvals, counters, tool pins and the audit trail of an mcp-policy-gateway

Offline, on a file:
  mcp-gateway policy validate FILE
  mcp-gateway policy simulate FILE --tool NAME [--server S] [--args JSON] [--tags a,b] [--json]

Through the gateway's admin API, which validates and audits every change:
  mcp-gateway policy list [--json]
  mcp-gateway policy push FILE --name NAME
  mcp-gateway policy simulate --name NAME --tool NAME [--server S] [--args JSON] [--tags a,b] [--json]
  mcp-gateway policy replay FILE --grant ID [--server S] [--since 24h] [--until ISO] [--json]
  mcp-gateway grant create --label LABEL --policy NAME [--servers a,b] [--expires 30d] [--json]
  mcp-gateway grant list [--json]
  mcp-gateway grant revoke ID
  mcp-gateway approvals list [--status pending|approved|denied|expired|consumed] [--cursor C] [--json]
  mcp-gateway approvals show ID [--json]
  mcp-gateway approvals approve|deny ID [--note TEXT]
  mcp-gateway counters show GRANT [--json]
  mcp-gateway counters reset GRANT COUNTER [--scope grant|global]
  mcp-gateway tools changes [--server S] [--limit N] [--cursor C] [--json]
  mcp-gateway tools show NAME [--server S] [--json]
  mcp-gateway tools accept NAME [--server S] [--hash H] [--json]
  mcp-gateway tools pins [--server S] [--limit N] [--cursor C] [--json]
  mcp-gateway audit [--grant ID] [--since 24h|ISO] [--until ISO] [--decision D] [--tool NAME]
                    [--server NAME] [--limit N] [--cursor C] [--json]

Which gateway: the running npm start (its URL and admin token); --port PORT picks
one when several run; --url URL, a deployed gateway's origin, with its admin token
in MCP_GATEWAY_ADMIN_TOKEN (which, when set, also overrides npm start's). Changes
are recorded as by "<login name> (cli)"; --by NAME says another name.
audit prints one page, newest first (--limit, default 50), and the command for the
next; with --json, every matching record as one JSON line each (NDJSON).
grant create --servers names the servers the grant reaches (default: the gateway's
first declared); audit --server shows only the calls to one server.
policy replay decides the grant's recorded calls (--since 30m|24h|7d|ISO, default
24h) again under FILE and lists what would change. A policy's section for a server
decides that server's calls: simulate --server S decides on S (default: the
gateway's default server; offline, the top level); replay --server S replays S's
calls alone (default: every server's, each under its own section).
tools changes lists, per server, the tools whose definition differs from its pin
or that have none (hidden and refused under "pinning": "enforce") and which pinned
fields differ; tools show prints the difference; tools accept pins the definition
now served (--hash H: only if it is still the one shown). Without --server, show
and accept find the server where NAME awaits review.

Only when the gateway's Worker cannot be reached: KV through wrangler, which
leaves NO audit record (--local: npm start's state, the default; --remote: the
deployed namespaces; --config PATH: another wrangler.toml):
  mcp-gateway policy push FILE --name NAME --via-kv [--local|--remote]
  mcp-gateway grant create|list|revoke … --via-kv [--local|--remote]

Exit status: 0 ok, 1 refused or invalid (policy replay: something would change),
2 usage error.`;

export const OPTIONS = {
  name: { type: "string" },
  tool: { type: "string" },
  args: { type: "string", default: "{}" },
  tags: { type: "string", default: "" },
  label: { type: "string" },
  policy: { type: "string" },
  expires: { type: "string" },
  status: { type: "string" },
  note: { type: "string" },
  by: { type: "string" },
  grant: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  decision: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  scope: { type: "string" },
  /** `tools accept --hash`: the change as reviewed. */
  hash: { type: "string" },
  /** `grant create --servers a,b`: the servers a grant reaches. */
  servers: { type: "string" },
  /** One server: `audit --server` (and simulate/replay's). */
  server: { type: "string" },
  json: { type: "boolean", default: false },
  url: { type: "string" },
  port: { type: "string" },
  "via-kv": { type: "boolean", default: false },
  local: { type: "boolean", default: false },
  remote: { type: "boolean", default: false },
  config: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The parsed options, as parseArgs gives them for OPTIONS. */
export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>["values"];

/** `g_` + 9 random bytes in base64url (src/grants/grant.ts): checked before asking, so a typo is a usage error. */
export const GRANT_ID_PATTERN = /^g_[A-Za-z0-9_-]{12}$/;

/** What a command group's `run` gets: its command, the words after it, the options, and the gateway to talk to. */
export type CommandInput = {
  command: string | undefined;
  /** The positional words after the command (a file, an id, a counter). */
  words: string[];
  values: Values;
  /** The value, or a usage error naming what is missing. */
  need: <T>(value: T | undefined, what: string) => T;
  /** The gateway this command talks to (resolved on first use: offline commands never look). */
  admin: () => AdminTarget;
};
