import { grantKey, GrantRecordSchema, type GrantRecord } from "../grants/grant.ts";
import type { GrantListing } from "../grants/records.ts";
import { KV_CACHE_TTL_SECONDS } from "../policy/store.ts";

/**
 * A grant by its id, as an OAuth access token names it (its props carry the
 * grant id, never the grant token). One KV read: `grant:<id>` holds the
 * grant's label, policy, times and revoked flag as metadata (src/grants/grant.ts),
 * and revocation rewrites it together with the token record.
 */
export async function readGrant(kv: KVNamespace, grantId: string, options: { cacheTtl?: number } = {}): Promise<GrantRecord | undefined> {
  const { value, metadata } = await kv.getWithMetadata<GrantListing>(grantKey(grantId), options.cacheTtl === undefined ? {} : { cacheTtl: options.cacheTtl });
  if (value === null || !metadata) return undefined;
  const parsed = GrantRecordSchema.safeParse({ id: grantId, ...metadata });
  if (!parsed.success) console.error("malformed grant listing ignored", { grant: grantId });
  return parsed.success ? parsed.data : undefined;
}

type CacheEntry = { grant: GrantRecord | undefined; fetchedAt: number };

/** Bounds memory when many grants sign in through one isolate. */
const MAX_CACHED = 10_000;

/**
 * Grants by id, cached in the isolate for `ttlMs` as GrantStore caches them by
 * token: an OAuth call costs no KV read while cached, and a revocation reaches
 * OAuth tokens within the same bound as grant tokens (CACHE_TTL_MS plus KV's
 * 30 s edge cache).
 */
export class GrantsById {
  #kv: KVNamespace;
  #ttlMs: number;
  #entries = new Map<string, CacheEntry>();

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#ttlMs = ttlMs;
  }

  async find(grantId: string, now = Date.now()): Promise<GrantRecord | undefined> {
    const cached = this.#entries.get(grantId);
    if (cached && now - cached.fetchedAt < this.#ttlMs) return cached.grant;
    const grant = await readGrant(this.#kv, grantId, { cacheTtl: KV_CACHE_TTL_SECONDS });
    this.#entries.delete(grantId);
    if (this.#entries.size >= MAX_CACHED) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(grantId, { grant, fetchedAt: now });
    return grant;
  }
}
