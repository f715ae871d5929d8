import { expiryFrom } from "../grants/expiry.ts";
import { GrantRecordSchema, grantKey, tokenKey } from "../grants/grant.ts";
import { issueGrant, revocationEntries, type GrantListing } from "../grants/records.ts";
import { POLICY_NAME_PATTERN, POLICY_NAME_RULE } from "../policy/stored.ts";
import { policyVersion } from "../policy/version.ts";
import { CliError } from "./errors.ts";
import type { Grant } from "./grant-commands.ts";
import { loadPolicyFile, withWarnings } from "./policy-file.ts";
import { printable } from "./text.ts";
import type { Values } from "./usage.ts";
import { kvGet, kvList, kvPutEntries, kvPutFile, type KvTarget } from "./wrangler-kv.ts";

/**
 * `--via-kv`: the fallback for a deployment whose Worker cannot be reached.
 * KV is written through wrangler (`--local`, npm start's state, or `--remote`,
 * the deployed namespaces, with the user's wrangler login), with the KV layout
 * the gateway reads (src/grants/grant.ts). Nothing here passes the admin API,
 * so nothing here is audited: each command says so on stderr. It checks what
 * it can (a valid policy, a policy that exists), and takes 10 s or more per
 * wrangler call.
 */

function target(binding: KvTarget["binding"], values: Values): KvTarget {
  return { binding, remote: values.remote, ...(values.config !== undefined ? { config: values.config } : {}) };
}

function where(values: Values): string {
  return values.remote ? "remote" : "local";
}

function warn(values: Values): void {
  console.error(`--via-kv: writing the ${where(values)} KV through wrangler, past the gateway: this leaves NO audit record. Use it only when the gateway cannot be reached.`);
}

export async function pushViaKv(file: string, name: string, values: Values): Promise<string> {
  if (!POLICY_NAME_PATTERN.test(name)) throw new CliError(`--name "${printable(name)}" cannot be pushed to: a policy name is ${POLICY_NAME_RULE}`);
  const { text, warnings } = loadPolicyFile(file);
  warn(values);
  kvPutFile(target("POLICIES", values), name, file);
  return withWarnings(`policy "${name}" (version ${await policyVersion(JSON.parse(text))}) pushed to the ${where(values)} POLICIES namespace (no audit record)`, warnings);
}

/**
 * `servers` are written as given (checked for their form only: what the gateway
 * declares is in its configuration, not in KV); without them the grant reaches
 * the default server.
 */
export async function createGrantViaKv(request: { label: string; policy: string; expires?: string; servers?: string[] }, values: Values): Promise<{ grant: Grant; token: string }> {
  const expiresAt = request.expires === undefined ? undefined : expiryFrom(request.expires);
  if (request.expires !== undefined && expiresAt === undefined) throw new CliError(`--expires takes a duration like 90m, 12h or 30d (at most 3650d), not "${printable(request.expires ?? "")}"`);
  // As the admin API does: a grant on a policy that does not exist would refuse every call.
  if (kvGet(target("POLICIES", values), request.policy) === undefined) {
    throw new CliError(`grant not created: there is no policy named "${printable(request.policy)}" in the ${where(values)} POLICIES namespace`);
  }
  warn(values);
  const issued = await issueGrant({ label: request.label, policy: request.policy, ...(expiresAt ? { expiresAt } : {}), ...(request.servers ? { servers: request.servers } : {}) });
  kvPutEntries(target("GRANTS", values), issued.entries);
  return { grant: { ...issued.record, status: "active" }, token: issued.token };
}

export function listGrantsViaKv(values: Values, now = Date.now()): Grant[] {
  return kvList<GrantListing>(target("GRANTS", values), grantKey(""))
    .filter((key): key is { name: string; metadata: GrantListing } => key.metadata !== undefined)
    .map(({ name, metadata }) => {
      const grant = {
        id: name.slice(grantKey("").length),
        label: metadata.label,
        policy: metadata.policy,
        createdAt: metadata.createdAt,
        expiresAt: metadata.expiresAt,
        revoked: metadata.revoked,
        ...(metadata.servers ? { servers: metadata.servers } : {}),
      };
      const status = grant.revoked ? "revoked" : grant.expiresAt !== null && Date.parse(grant.expiresAt) <= now ? "expired" : "active";
      return { ...grant, status } as const;
    })
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
}

export function revokeGrantViaKv(id: string, values: Values): Grant {
  const grants = target("GRANTS", values);
  const index = kvGet(grants, grantKey(id));
  if (index === undefined) throw new CliError(`no grant with id ${printable(id)} in the ${where(values)} GRANTS namespace`);
  const { tokenHash } = JSON.parse(index) as { tokenHash: string };
  const stored = kvGet(grants, tokenKey(tokenHash));
  const record = GrantRecordSchema.parse(stored === undefined ? undefined : JSON.parse(stored));
  if (record.revoked) throw new CliError(`grant ${record.id} is revoked already`);
  warn(values);
  kvPutEntries(grants, revocationEntries(record, tokenHash));
  return { ...record, revoked: true, status: "revoked" };
}
