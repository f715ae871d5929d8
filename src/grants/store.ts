import { IsolateCache } from "../isolate-cache.ts";
import { KV_CACHE_TTL_SECONDS } from "../policy/store.ts";
import { GrantRecordSchema, hashToken, tokenKey, type GrantRecord } from "./grant.ts";

/**
 * Looks grants up by token hash in the GRANTS KV namespace, caching answers
 * (found or not) in the isolate for `ttlMs`: an authenticated call costs no KV
 * read while cached, and a revocation takes effect within that bound plus KV's
 * edge cache (30 s): within 60 s with the defaults.
 */
export class GrantStore {
  #kv: KVNamespace;
  #byHash: IsolateCache<GrantRecord | undefined>;

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#byHash = new IsolateCache(ttlMs);
  }

  async findByToken(token: string, now = Date.now()): Promise<GrantRecord | undefined> {
    const hash = await hashToken(token);
    const cached = this.#byHash.get(hash, now);
    if (cached) return cached.value;
    const stored = await this.#kv.get(tokenKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
    const parsed = GrantRecordSchema.safeParse(stored);
    const grant = parsed.success ? parsed.data : undefined;
    if (stored !== null && !parsed.success) console.error("malformed grant record ignored", { key: `token:${hash.slice(0, 8)}…` });
    this.#byHash.set(hash, grant, now);
    return grant;
  }
}
