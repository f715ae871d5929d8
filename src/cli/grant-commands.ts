import { z } from "zod";
import { GrantRecordSchema } from "../grants/grant.ts";
import { SERVER_NAME_PATTERN, SERVER_NAME_RULE } from "../servers/registry.ts";
import { AdminApiError, adminRequest, operator } from "./admin-client.ts";
import { CliError, UsageError } from "./errors.ts";
import { printable } from "./text.ts";
import type { CommandInput } from "./usage.ts";

/** A grant as the admin API shows it: its record (never its token) and how it stands now. */
export const GrantSchema = GrantRecordSchema.extend({ status: z.enum(["active", "revoked", "expired"]) });
export type Grant = z.infer<typeof GrantSchema>;

const CreatedSchema = z.object({ grant: GrantSchema, token: z.string() });
const GrantListSchema = z.object({ grants: z.array(GrantSchema) });
const RevokedSchema = z.object({ grant: GrantSchema });

/** How soon a revocation is in force everywhere: CACHE_TTL_MS plus KV's edge cache. */
export const REVOCATION_DELAY = "within 60 s (CACHE_TTL_MS plus KV's 30 s edge cache; 2 s under npm start)";

/** `mcp-gateway grant create|list|revoke`, through the admin API (or, with --via-kv, KV directly). */
export async function run(input: CommandInput): Promise<string | undefined> {
  const { command, words, values, need } = input;
  const viaKv = values["via-kv"] ? await import("./kv-fallback.ts") : undefined;
  switch (command) {
    case "create": {
      const request = {
        label: need(values.label, "--label"),
        policy: need(values.policy, "--policy"),
        ...(values.expires !== undefined ? { expires: values.expires } : {}),
        ...(values.servers !== undefined ? { servers: serverList(values.servers) } : {}),
      };
      const { grant, token } = viaKv ? await viaKv.createGrantViaKv(request, values) : await createGrant(input, request);
      return values.json ? JSON.stringify({ token, grant }, null, 2) : formatCreated(grant, token);
    }
    case "list": {
      const grants = viaKv ? viaKv.listGrantsViaKv(values) : (await adminRequest(input.admin(), GrantListSchema, "GET", "/grants")).grants;
      return values.json ? JSON.stringify(grants, null, 2) : formatGrantList(grants);
    }
    case "revoke": {
      const id = need(words[0], "ID");
      const grant = viaKv ? viaKv.revokeGrantViaKv(id, values) : await revokeGrant(input, id);
      return `grant ${grant.id} "${printable(grant.label)}" revoked; the gateway refuses it everywhere ${REVOCATION_DELAY}`;
    }
    default:
      throw new UsageError(`unknown command: grant ${command ?? ""}`.trimEnd());
  }
}

type CreateRequest = { label: string; policy: string; expires?: string; servers?: string[] };

/** `--servers iterable,crm`: server names, comma-separated, each once; a malformed one is a usage error before anything is sent. */
export function serverList(text: string): string[] {
  const names = text.split(",").map((name) => name.trim());
  const bad = names.find((name) => !SERVER_NAME_PATTERN.test(name));
  if (bad !== undefined) {
    throw new UsageError(bad === "" ? `--servers takes server names separated by commas, not "${printable(text)}"` : `--servers: "${printable(bad)}" is not a server name (${SERVER_NAME_RULE})`);
  }
  return [...new Set(names)];
}

async function createGrant(input: CommandInput, request: CreateRequest): Promise<{ grant: Grant; token: string }> {
  try {
    return await adminRequest(input.admin(), CreatedSchema, "POST", "/grants", { ...request, by: operator(input.values.by) });
  } catch (error) {
    // The gateway's reason (no such policy, a bad expiry) is the whole story.
    if (error instanceof AdminApiError && error.status === 400) throw new CliError(`grant not created: ${printable(error.answer?.message ?? "the gateway refused it")}`);
    throw error;
  }
}

async function revokeGrant(input: CommandInput, id: string): Promise<Grant> {
  try {
    return (await adminRequest(input.admin(), RevokedSchema, "POST", `/grants/${encodeURIComponent(id)}/revoke`, { by: operator(input.values.by) })).grant;
  } catch (error) {
    if (error instanceof AdminApiError && error.status === 409) throw new CliError(`grant ${printable(id)} is revoked already`);
    throw error;
  }
}

export function formatCreated(grant: Grant, token: string): string {
  return [
    `grant ${grant.id} "${printable(grant.label)}" on policy "${printable(grant.policy)}", servers ${serversOf(grant)}${grant.expiresAt ? `, expires ${grant.expiresAt}` : ""}`,
    "",
    `  token: ${token}`,
    "",
    "This token is shown once and cannot be recovered: only its SHA-256 is stored.",
    `Use it as: Authorization: Bearer ${token.slice(0, 10)}…`,
  ].join("\n");
}

export function formatGrantList(grants: Grant[]): string {
  if (grants.length === 0) return "no grants";
  return grants
    .map((g) => `${g.id}  ${g.status.padEnd(7)}  ${printable(g.label)}  policy=${printable(g.policy)}  servers=${serversOf(g)}  created=${g.createdAt}${g.expiresAt ? `  expires=${g.expiresAt}` : ""}`)
    .join("\n");
}

/** The servers a grant names; a record that names none reaches the gateway's default server. */
function serversOf(grant: Grant): string {
  return grant.servers === undefined ? "(default)" : grant.servers.map(printable).join(",");
}
