#!/usr/bin/env node
// mcp-gateway: manage the gateway's policies, grants and approvals.
// Runs on Node >= 22.18 directly from TypeScript (type stripping); KV access goes
// through wrangler, `--local` (default) for `npm start`'s state, `--remote` for
// the deployed namespaces. Approvals go through the gateway's admin API.
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { adminTarget, decideApproval, formatApproval, formatDecision, formatList, listApprovals, showApproval } from "./approval-commands.ts";
import { createCommand, listCommand, revokeCommand } from "./grant-commands.ts";
import { formatPolicyList, listPoliciesCommand, pushCommand, simulateCommand, UsageError, validateCommand } from "./policy-commands.ts";
import { formatReplay, loadCandidate, replayCommand, replayWindow, type ReplayWindow } from "./replay-command.ts";
import type { KvTarget } from "./wrangler-kv.ts";

const HELP = `mcp-gateway: policies, grants and approvals of an mcp-policy-gateway deployment

  mcp-gateway policy validate FILE
  mcp-gateway policy list [--url URL] [--json]
  mcp-gateway policy push FILE --name NAME [--local|--remote]
  mcp-gateway policy simulate FILE --tool NAME [--args JSON] [--tags a,b]
  mcp-gateway policy replay FILE --grant ID [--since 24h] [--until ISO] [--url URL] [--json]
  mcp-gateway grant create --label LABEL --policy NAME [--expires 30d] [--local|--remote] [--json]
  mcp-gateway grant list [--local|--remote] [--json]
  mcp-gateway grant revoke ID [--local|--remote]
  mcp-gateway approvals list [--status pending|approved|denied|expired|consumed] [--cursor C] [--url URL] [--json]
  mcp-gateway approvals show ID [--url URL] [--json]
  mcp-gateway approvals approve ID [--note TEXT] [--by NAME] [--url URL] [--json]
  mcp-gateway approvals deny ID [--note TEXT] [--by NAME] [--url URL] [--json]

--local (the default) works on the state of \`npm start\` / \`wrangler dev\`;
--remote on the KV namespaces of the deployed Worker. --config PATH picks another
wrangler.toml. The approvals commands and policy replay talk to the gateway's
admin API: by default to the running \`npm start\` (its URL and admin token), or
to --url URL (the gateway's origin) with the admin token in MCP_GATEWAY_ADMIN_TOKEN.
policy replay decides the grant's recorded calls (--since 30m|24h|7d|ISO, default
24h) again under FILE and lists what would change.
Exit status: 0 ok, 1 invalid input or refused (policy replay: something would
change), 2 usage error.`;

const OPTIONS = {
  name: { type: "string" },
  cursor: { type: "string" },
  tool: { type: "string" },
  args: { type: "string", default: "{}" },
  tags: { type: "string", default: "" },
  label: { type: "string" },
  policy: { type: "string" },
  expires: { type: "string" },
  local: { type: "boolean", default: false },
  remote: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  config: { type: "string" },
  url: { type: "string" },
  status: { type: "string" },
  note: { type: "string" },
  by: { type: "string" },
  grant: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

async function run(argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [group, command, subject] = positionals;
  if (values.help || !group) return HELP;
  if (values.local && values.remote) throw new UsageError("choose one of --local and --remote");
  const target = (binding: KvTarget["binding"]): KvTarget => ({ binding, remote: values.remote, ...(values.config ? { config: values.config } : {}) });
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new UsageError(`missing ${what}\n\n${HELP}`);
    return value;
  };

  if ((group === "approvals" || ["policy replay", "policy list"].includes(`${group} ${command}`)) && (values.local || values.remote)) {
    throw new UsageError(`${group === "approvals" ? "approvals talk" : `policy ${command} talks`} to the gateway's admin API, not to KV: --url URL for a deployed gateway, nothing for npm start's`);
  }
  const admin = () => adminTarget(values.url);

  switch (`${group} ${command}`) {
    case "policy validate":
      return validateCommand(need(subject, "FILE"));
    case "policy list": {
      const policies = await listPoliciesCommand(admin());
      return values.json ? JSON.stringify(policies, null, 2) : formatPolicyList(policies);
    }
    case "policy push":
      return pushCommand(need(subject, "FILE"), need(values.name, "--name"), target("POLICIES"));
    case "policy simulate": {
      const tags = values.tags.split(",").map((tag: string) => tag.trim().replace(/^@/, "")).filter(Boolean);
      const result = simulateCommand(need(subject, "FILE"), need(values.tool, "--tool"), values.args, tags);
      return values.json ? JSON.stringify(result.decision, null, 2) : result.text;
    }
    case "policy replay": {
      const file = need(subject, "FILE");
      const grant = need(values.grant, "--grant");
      let window: ReplayWindow;
      try {
        window = replayWindow(grant, values.since, values.until);
      } catch (error) {
        throw error instanceof UsageError ? new UsageError(`${error.message}\n\n${HELP}`) : error;
      }
      const candidate = loadCandidate(file);
      const result = await replayCommand(admin(), file, candidate, grant, window);
      // Anything that would change (or cannot be told) fails the command: a CI gate for pushing FILE.
      if (result.changed) process.exitCode = 1;
      return values.json ? JSON.stringify(result, null, 2) : formatReplay(result);
    }
    case "grant create": {
      const { token, record } = await createCommand(
        { label: need(values.label, "--label"), policy: need(values.policy, "--policy"), ...(values.expires ? { expires: values.expires } : {}) },
        target("GRANTS"),
      );
      if (values.json) return JSON.stringify({ token, grant: record }, null, 2);
      return [
        `grant ${record.id} "${record.label}" on policy "${record.policy}"${record.expiresAt ? `, expires ${record.expiresAt}` : ""}`,
        "",
        `  token: ${token}`,
        "",
        "This token is shown once and cannot be recovered: only its SHA-256 is stored.",
        `Use it as: Authorization: Bearer ${token.slice(0, 10)}…`,
      ].join("\n");
    }
    case "grant list": {
      const grants = listCommand(target("GRANTS"));
      if (values.json) return JSON.stringify(grants, null, 2);
      if (grants.length === 0) return "no grants";
      return grants
        .map((g) => {
          const status = g.revoked ? "revoked" : g.expiresAt && Date.parse(g.expiresAt) <= Date.now() ? "expired" : "active";
          return `${g.id}  ${status.padEnd(7)}  ${g.label}  policy=${g.policy}  created=${g.createdAt}${g.expiresAt ? `  expires=${g.expiresAt}` : ""}`;
        })
        .join("\n");
    }
    case "grant revoke": {
      const record = revokeCommand(need(subject, "ID"), target("GRANTS"));
      return `grant ${record.id} "${record.label}" revoked; the gateway refuses it everywhere within 60 s (CACHE_TTL_MS plus KV's 30 s edge cache)`;
    }
    case "approvals list": {
      const page = await listApprovals(admin(), { status: values.status, cursor: values.cursor });
      return values.json ? JSON.stringify(page, null, 2) : formatList(page, values.status);
    }
    case "approvals show": {
      const id = need(subject, "ID");
      const approval = await showApproval(admin(), id);
      return values.json ? JSON.stringify(approval, null, 2) : formatApproval(approval);
    }
    case "approvals approve":
    case "approvals deny": {
      const decision = command === "approve" ? "approve" : "deny";
      // Who decided goes into the record: the operator's login name unless --by says otherwise.
      const input = { ...(values.note !== undefined ? { note: values.note } : {}), by: values.by ?? `${userInfo().username} (cli)` };
      const id = need(subject, "ID");
      const approval = await decideApproval(admin(), id, decision, input);
      return values.json ? JSON.stringify(approval, null, 2) : formatDecision(approval);
    }
    default:
      throw new UsageError(`unknown command: ${positionals.join(" ")}\n\n${HELP}`);
  }
}

try {
  console.log(await run(process.argv.slice(2)));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exit(error.message.includes(HELP) ? 2 : 1);
  }
  if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
    console.error(`${error.message}\n\n${HELP}`);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
