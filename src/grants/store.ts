import { KV_CACHE_TTL_SECONDS } from "../policy/store.ts";
import { GrantRecordSchema, hashToken, tokenKey, type GrantRecord } from "./grant.ts";

type CacheEntry = { grant: GrantRecord | undefined; fetchedAt: number };

/** Bounds memory when many distinct (mostly invalid) tokens are presented. */
const MAX_CACHED = 10_000;

/**
 * Looks grants up by token hash in the GRANTS KV namespace, caching answers
 * (found or not) in the isolate for `ttlMs`: an authenticated call costs no KV
 * read while cached, and a revocation takes effect within that bound plus KV's
 * edge cache (30 s): within 60 s with the defaults.
 */
export class GrantStore {
  #kv: KVNamespace;
  #ttlMs: number;
  #entries = new Map<string, CacheEntry>();

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#ttlMs = ttlMs;
  }

  async findByToken(token: string, now = Date.now()): Promise<GrantRecord | undefined> {
    const hash = await hashToken(token);
    const cached = this.#entries.get(hash);
    if (cached && now - cached.fetchedAt < this.#ttlMs) return cached.grant;
    const stored = await this.#kv.get(tokenKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
    const parsed = GrantRecordSchema.safeParse(stored);
    const grant = parsed.success ? parsed.data : undefined;
    if (stored !== null && !parsed.success) console.error("malformed grant record ignored", { key: `token:${hash.slice(0, 8)}…` });
    this.#entries.delete(hash);
    if (this.#entries.size >= MAX_CACHED) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(hash, { grant, fetchedAt: now });
    return grant;
  }
}
