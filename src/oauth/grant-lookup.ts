import { grantKey, GrantRecordSchema, type GrantRecord } from "../grants/grant.ts";
import type { GrantListing } from "../grants/records.ts";
import { IsolateCache } from "../isolate-cache.ts";
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

/**
 * Grants by id, cached in the isolate for `ttlMs` as GrantStore caches them by
 * token: an OAuth call costs no KV read while cached, and a revocation reaches
 * OAuth tokens within the same bound as grant tokens (CACHE_TTL_MS plus KV's
 * 30 s edge cache).
 */
export class GrantsById {
  #kv: KVNamespace;
  #byId: IsolateCache<GrantRecord | undefined>;

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#byId = new IsolateCache(ttlMs);
  }

  async find(grantId: string, now = Date.now()): Promise<GrantRecord | undefined> {
    const cached = this.#byId.get(grantId, now);
    if (cached) return cached.value;
    const grant = await readGrant(this.#kv, grantId, { cacheTtl: KV_CACHE_TTL_SECONDS });
    this.#byId.set(grantId, grant, now);
    return grant;
  }
}
