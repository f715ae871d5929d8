import { readConfig } from "../config.ts";
import { sha256Hex } from "../crypto.ts";
import type { Bindings } from "../env.ts";
import type { GrantRecord } from "../grants/grant.ts";
import { IsolateCache } from "../isolate-cache.ts";
import { GrantsById } from "./grant-lookup.ts";
import type { OAuthProps, OAuthSite } from "./server.ts";

/**
 * The shape of an access token the library issues: `<user id>:<oauth grant
 * id>:<secret>`, where the user id is the gateway grant's id. Anything else
 * is not one of ours and is refused without a KV read.
 */
export const ACCESS_TOKEN_PATTERN = /^g_[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{32}$/;

/** An access token this gateway issued, still valid: the gateway grant it acts as and the client it was issued to. */
export type VerifiedAccessToken = { grant: GrantRecord | undefined; grantId: string; clientId: string };

type Validated = { grantId: string; clientId: string };

/**
 * Checks OAuth access tokens at `/mcp`: the library's `validateToken` (the
 * token's KV record, its audience against this origin's resource, its expiry,
 * its props decrypted), then the gateway grant its props name. Valid answers
 * are cached in the isolate by the token's SHA-256 for CACHE_TTL_MS (never
 * past the token's expiry), so an OAuth call costs no KV read while cached,
 * exactly like a grant token's; unknown tokens are not cached, so a token
 * just issued works at once. A revoked OAuth grant or token is refused once
 * the cache lets go of it: within CACHE_TTL_MS plus KV's propagation.
 */
export class AccessTokenVerifier {
  #grants: GrantsById;
  #validated: IsolateCache<Validated>;

  constructor(env: Bindings) {
    const ttlMs = readConfig(env).cacheTtlMs;
    this.#grants = new GrantsById(env.GRANTS, ttlMs);
    this.#validated = new IsolateCache(ttlMs);
  }

  /** The grant behind a valid access token for `site`, or undefined (unknown, expired, revoked, another resource's). */
  async verify(env: Bindings, site: OAuthSite, token: string, now = Date.now()): Promise<VerifiedAccessToken | undefined> {
    if (!ACCESS_TOKEN_PATTERN.test(token)) return undefined;
    const key = await sha256Hex(`${site.resource}\n${token}`);
    let validated = this.#validated.get(key, now)?.value;
    if (!validated) {
      const result = await site.server.validateToken<Partial<OAuthProps>>(site.resource, token, env);
      const grantId = result?.props?.grantId;
      // The props and the token's user id both name the gateway grant; anything else was not written by this gateway.
      if (!result || typeof grantId !== "string" || grantId !== result.userId) return undefined;
      validated = { grantId, clientId: result.clientId };
      this.#validated.set(key, validated, now, result.expiresAt * 1000);
    }
    return { grant: await this.#grants.find(validated.grantId, now), grantId: validated.grantId, clientId: validated.clientId };
  }
}

// The env object is the same for every request an isolate serves.
const perEnv = new WeakMap<object, AccessTokenVerifier>();

export function accessTokenVerifier(env: Bindings): AccessTokenVerifier {
  let verifier = perEnv.get(env);
  if (!verifier) perEnv.set(env, (verifier = new AccessTokenVerifier(env)));
  return verifier;
}
