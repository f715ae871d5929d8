import { GrantRecordSchema, grantKey, tokenKey } from "../grants/grant.ts";
import { issueGrant, revocationEntries, type GrantListing } from "../grants/records.ts";
import { expiryFrom } from "../grants/expiry.ts";
import { kvGet, kvList, kvPutEntries, type KvTarget } from "./wrangler-kv.ts";
import { UsageError } from "./policy-commands.ts";

export function parseExpiry(text: string, now = Date.now()): Date {
  const expiresAt = expiryFrom(text, now);
  if (!expiresAt) throw new UsageError(`--expires takes a duration like 90m, 12h or 30d (at most 3650d), not "${text}"`);
  return expiresAt;
}

export async function createCommand(options: { label: string; policy: string; expires?: string }, target: KvTarget) {
  const issued = await issueGrant({
    label: options.label,
    policy: options.policy,
    ...(options.expires ? { expiresAt: parseExpiry(options.expires) } : {}),
  });
  kvPutEntries(target, issued.entries);
  return issued;
}

export function listCommand(target: KvTarget): Array<GrantListing & { id: string }> {
  return kvList<GrantListing>(target, "grant:").map(({ name, metadata }) => ({
    id: name.slice("grant:".length),
    ...(metadata as GrantListing),
  }));
}

export function revokeCommand(id: string, target: KvTarget) {
  const index = kvGet(target, grantKey(id));
  if (index === undefined) throw new UsageError(`no grant with id ${id}`);
  const { tokenHash } = JSON.parse(index) as { tokenHash: string };
  const stored = kvGet(target, tokenKey(tokenHash));
  const record = GrantRecordSchema.parse(stored === undefined ? undefined : JSON.parse(stored));
  kvPutEntries(target, revocationEntries(record, tokenHash));
  return record;
}
