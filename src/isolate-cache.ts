/** Bounds memory when many distinct keys (most of them invalid tokens) are presented. */
const MAX_ENTRIES = 10_000;

/**
 * Answers kept in the isolate, found or not: each for `ttlMs` (or until its
 * own expiry, if sooner), the oldest dropped past MAX_ENTRIES. What keeps KV
 * off an authenticated call's path, and what bounds how late a revocation
 * takes effect.
 */
export class IsolateCache<V> {
  #ttlMs: number;
  #entries = new Map<string, { value: V; until: number }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** The cached answer, wrapped so that a cached `undefined` (not found) is a hit. */
  get(key: string, now: number): { value: V } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now < entry.until) return { value: entry.value };
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, now: number, expiresAt = Number.POSITIVE_INFINITY): void {
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, until: Math.min(now + this.#ttlMs, expiresAt) });
  }
}
