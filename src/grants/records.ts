import { grantKey, hashToken, newGrantId, newToken, tokenKey, type GrantRecord } from "./grant.ts";

/** One KV write: what the CLI sends with `wrangler kv key put`, and tests with the binding. */
export type KvEntry = { key: string; value: string; metadata?: GrantListing };

/** The part of a grant shown by `grant list`, kept as KV metadata of `grant:<id>`. */
export type GrantListing = Pick<GrantRecord, "label" | "policy" | "createdAt" | "expiresAt" | "revoked" | "servers">;

export type IssuedGrant = { token: string; record: GrantRecord; entries: KvEntry[] };

/** A new grant: its token (shown once, never stored) and the KV entries that record it. */
/** `servers`: the servers it reaches; absent, the record names none and reaches the default server. */
export async function issueGrant(options: { label: string; policy: string; expiresAt?: Date; now?: Date; servers?: string[] }): Promise<IssuedGrant> {
  const token = newToken();
  const record: GrantRecord = {
    id: newGrantId(),
    label: options.label,
    policy: options.policy,
    createdAt: (options.now ?? new Date()).toISOString(),
    expiresAt: options.expiresAt?.toISOString() ?? null,
    revoked: false,
    ...(options.servers ? { servers: options.servers } : {}),
  };
  return { token, record, entries: recordEntries(record, await hashToken(token)) };
}

/** The entries that mark a grant revoked; the token record is what authentication reads. */
export function revocationEntries(record: GrantRecord, tokenHash: string): KvEntry[] {
  return recordEntries({ ...record, revoked: true }, tokenHash);
}

function recordEntries(record: GrantRecord, tokenHash: string): KvEntry[] {
  const { label, policy, createdAt, expiresAt, revoked, servers } = record;
  return [
    { key: tokenKey(tokenHash), value: JSON.stringify(record) },
    { key: grantKey(record.id), value: JSON.stringify({ tokenHash }), metadata: { label, policy, createdAt, expiresAt, revoked, ...(servers ? { servers } : {}) } },
  ];
}
