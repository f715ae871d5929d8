import { IsolateCache } from "../isolate-cache.ts";
import { KV_CACHE_TTL_SECONDS } from "../policy/store.ts";
import { GrantRecordSchema, hashToken, tokenKey, type GrantRecord } from "./grant.ts";

/** Longer strings are not kept as keys (a grant token is 49 characters). */
const MAX_CACHED_TOKEN_CHARS = 64;

/**
 * Looks grants up by token hash in the GRANTS KV namespace, caching answers
 * (found or not) in the isolate for `ttlMs`: an authenticated call costs no KV
 * read while cached, and a revocation takes effect within that bound plus KV's
 * edge cache (30 s): within 60 s with the defaults.
 */
export class GrantStore {
  #kv: KVNamespace;
  /**
   * By the token itself, so a cached call is not hashed again: grant tokens are
   * 49 characters (TOKEN_PATTERN, checked before this is asked), and the
   * isolate already holds each request's token; they never leave it.
   */
  #byToken: IsolateCache<GrantRecord | undefined>;

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#byToken = new IsolateCache(ttlMs);
  }

  async findByToken(token: string, now = Date.now()): Promise<GrantRecord | undefined> {
    const cached = token.length <= MAX_CACHED_TOKEN_CHARS ? this.#byToken.get(token, now) : undefined;
    if (cached) return cached.value;
    const hash = await hashToken(token);
    const stored = await this.#kv.get(tokenKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
    const parsed = GrantRecordSchema.safeParse(stored);
    const grant = parsed.success ? parsed.data : undefined;
    if (stored !== null && !parsed.success) console.error("malformed grant record ignored", { key: `token:${hash.slice(0, 8)}…` });
    if (token.length <= MAX_CACHED_TOKEN_CHARS) this.#byToken.set(token, grant, now);
    return grant;
  }
}
