import { readConfig } from "../config.ts";
import { sha256Hex } from "../crypto.ts";
import type { Bindings } from "../env.ts";
import type { GrantRecord } from "../grants/grant.ts";
import { IsolateCache } from "../isolate-cache.ts";
import { GrantsById } from "./grant-lookup.ts";
import type { OAuthProps, OAuthResource, OAuthSite } from "./server.ts";

/**
 * The shape of an access token the library issues: `<user id>:<oauth grant
 * id>:<secret>`, where the user id is the gateway grant's id. Anything else
 * is not one of ours and is refused without a KV read.
 */
export const ACCESS_TOKEN_PATTERN = /^g_[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{32}$/;

/** An access token this gateway issued, still valid: the gateway grant it acts as and the client it was issued to. */
export type VerifiedAccessToken = { grant: GrantRecord | undefined; grantId: string; clientId: string };

/** Why an access token is refused where it was presented: what the 401 says. */
export type RefusedAccessToken = { refused: string };

type Unwrapped = { grantId: string; clientId: string; audience: string[] };

/**
 * Checks OAuth access tokens at `/mcp` and `/mcp/<server>`: the token's KV
 * record with the library's `unwrapToken` (unknown, expired: none; its props
 * decrypted with a key the token itself wraps, so only the token's holder
 * gets this far), its audience against the resource of the URL it came to,
 * then the gateway grant its props name. Valid answers are cached in the
 * isolate by the token's SHA-256 for CACHE_TTL_MS (never past the token's
 * expiry), so an OAuth call costs no KV read while cached, exactly like a
 * grant token's; unknown tokens are not cached, so a token just issued works
 * at once. A revoked OAuth grant or token is refused once the cache lets go of
 * it: within CACHE_TTL_MS plus KV's propagation.
 *
 * The audience is checked here, as the library's `validateToken` does it (the
 * stored audience must be the resource exactly; a token stored without one,
 * issued before tokens were bound, counts as the library's legacy resource,
 * `/mcp`), because `validateToken` answers only null and the agent is owed the
 * reason: a token for `/mcp/iterable` at `/mcp/features` is told where it works.
 */
export class AccessTokenVerifier {
  #grants: GrantsById;
  #unwrapped: IsolateCache<Unwrapped>;

  constructor(env: Bindings) {
    const ttlMs = readConfig(env).cacheTtlMs;
    this.#grants = new GrantsById(env.GRANTS, ttlMs);
    this.#unwrapped = new IsolateCache(ttlMs);
  }

  /** The grant behind a valid access token for `resource` of `site`, or why it is refused there. */
  async verify(env: Bindings, site: OAuthSite, resource: OAuthResource, token: string, now = Date.now()): Promise<VerifiedAccessToken | RefusedAccessToken> {
    if (!ACCESS_TOKEN_PATTERN.test(token)) return { refused: NOT_OURS };
    const key = await sha256Hex(`${site.issuer}\n${token}`);
    let unwrapped = this.#unwrapped.get(key, now)?.value;
    if (!unwrapped) {
      const summary = await site.server.getOAuthApi(env).unwrapToken<Partial<OAuthProps>>(token);
      const grantId = summary?.grant.props?.grantId;
      // The props and the token's user id both name the gateway grant; anything else was not written by this gateway.
      if (!summary || typeof grantId !== "string" || grantId !== summary.userId) return { refused: NOT_OURS };
      const stored = summary.audience ?? site.resource.url;
      unwrapped = { grantId, clientId: summary.grant.clientId, audience: typeof stored === "string" ? [stored] : stored };
      this.#unwrapped.set(key, unwrapped, now, summary.expiresAt * 1000);
    }
    if (!unwrapped.audience.includes(resource.url)) return { refused: wrongResource(unwrapped.audience, resource) };
    return { grant: await this.#grants.find(unwrapped.grantId, now), grantId: unwrapped.grantId, clientId: unwrapped.clientId };
  }
}

const NOT_OURS = "the access token is unknown, expired or revoked: sign in again";

function wrongResource(audience: string[], resource: OAuthResource): string {
  const issuedFor = audience.length === 1 ? audience[0]! : audience.join(", ");
  return `the access token was issued for ${issuedFor.slice(0, 300)}, not for ${resource.url}: use it there, or sign in for ${resource.url}`;
}

// The env object is the same for every request an isolate serves.
const perEnv = new WeakMap<object, AccessTokenVerifier>();

export function accessTokenVerifier(env: Bindings): AccessTokenVerifier {
  let verifier = perEnv.get(env);
  if (!verifier) perEnv.set(env, (verifier = new AccessTokenVerifier(env)));
  return verifier;
}
