import type { Policy } from "./schema.ts";
import { validatePolicyText } from "./validate.ts";
import { policyVersion } from "./version.ts";

export type LoadedPolicy = { name: string; policy: Policy; version: string };

/** The policy to judge with, or why there is none (then every call is refused). */
export type PolicyLookup = { policy: LoadedPolicy; problem?: undefined } | { policy?: undefined; problem: string };

type CacheEntry = { lookup: PolicyLookup; fetchedAt: number; lastGood?: LoadedPolicy };

/**
 * KV's own edge cache for reads (its minimum). With the isolate cache of
 * CACHE_TTL_MS (30 s by default) an upload is in force everywhere within 60 s.
 */
export const KV_CACHE_TTL_SECONDS = 30;

/**
 * Policies from the POLICIES KV namespace (key: the policy name, value: the
 * JSON document), cached in the isolate for `ttlMs`, so an upload takes
 * effect within that bound plus KV's edge cache (30 s).
 *
 * A document that fails validation never replaces the last valid copy this
 * isolate loaded: a typo in an upload keeps yesterday's rules instead of
 * opening or closing everything. A missing or never-valid policy, or KV
 * failing before any copy was loaded, refuses every call.
 */
export class PolicyStore {
  #kv: KVNamespace;
  #ttlMs: number;
  #entries = new Map<string, CacheEntry>();

  constructor(kv: KVNamespace, ttlMs: number) {
    this.#kv = kv;
    this.#ttlMs = ttlMs;
  }

  async get(name: string, now = Date.now()): Promise<PolicyLookup> {
    const entry = this.#entries.get(name);
    if (entry && now - entry.fetchedAt < this.#ttlMs) return entry.lookup;
    // Requests that miss together each read KV (cheap: KV caches at the edge)
    // rather than await one shared read: workerd cancels a request that awaits
    // a promise another request's I/O settles.
    return this.#refresh(name, entry?.lastGood, now);
  }

  async #refresh(name: string, lastGood: LoadedPolicy | undefined, now: number): Promise<PolicyLookup> {
    const lookup = await this.#load(name, lastGood);
    this.#entries.set(name, { lookup, fetchedAt: now, lastGood: lookup.policy ?? lastGood });
    return lookup;
  }

  async #load(name: string, lastGood: LoadedPolicy | undefined): Promise<PolicyLookup> {
    let text: string | null;
    try {
      text = await this.#kv.get(name, { type: "text", cacheTtl: KV_CACHE_TTL_SECONDS });
    } catch (error) {
      console.error("policy read failed", { policy: name, error: String(error) });
      return lastGood ? { policy: lastGood } : { problem: `policy "${name}" could not be read` };
    }
    if (text === null) return { problem: `no policy named "${name}" exists` };
    const validation = validatePolicyText(text);
    if (!validation.ok) {
      console.error("invalid policy ignored", { policy: name, problems: validation.problems, keeping: lastGood?.version ?? null });
      return lastGood ? { policy: lastGood } : { problem: `policy "${name}" is invalid: ${validation.problems.join("; ")}` };
    }
    const version = await policyVersion(JSON.parse(text));
    return { policy: { name, policy: validation.policy, version } };
  }
}
