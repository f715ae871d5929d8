import type { Bindings } from "../../env.ts";
import { fromBase64url } from "../../crypto.ts";
import { isObject } from "../../json.ts";

/**
 * Cloudflare Access in front of /admin: when ACCESS_TEAM_DOMAIN (for example
 * `https://yourteam.cloudflareaccess.com`) and ACCESS_AUD (the Access
 * application's audience tag) are set, a request whose
 * `Cf-Access-Jwt-Assertion` header holds a valid Access token is signed in as
 * the token's email, without the admin token.
 *
 * Valid means: three base64url parts; header `alg` RS256 with a `kid`; the
 * signature verifies (RSASSA-PKCS1-v1_5, SHA-256, Web Crypto) under the key
 * of that `kid` in the team's JWKS (`<team domain>/cdn-cgi/access/certs`);
 * `iss` is the team domain; `aud` (a string or a list) includes ACCESS_AUD;
 * `exp` is in the future and `nbf`, if present, not (a minute of clock skew
 * allowed); `email` is an address. Anything else is no Access identity: the
 * request is then judged by the session cookie alone, as without Access.
 *
 * The JWKS is cached per isolate for KEYS_TTL_MS; a token signed by a key id
 * not in the cache refetches it (at most once per REFETCH_AFTER_MS), so a key
 * rotation is picked up at once. A JWKS that cannot be fetched signs nobody in
 * by Access (the admin token still works) and is logged.
 */
export type AccessSettings = {
  /** The team domain's origin, which is also the tokens' `iss`. */
  issuer: string;
  certsUrl: string;
  audience: string;
};

export type AccessIdentity = {
  email: string;
  /** `iat`, seconds: when Access issued this login's token. */
  issuedAt: number;
  /** `exp`, in ms since the epoch. */
  expiresAt: number;
};

export type AccessVerification = { ok: true; identity: AccessIdentity } | { ok: false; reason: string };

/** The header Cloudflare Access adds to every request it lets through. */
export const ACCESS_JWT_HEADER = "cf-access-jwt-assertion";
/** Where a browser signs out of Access for this application (served by Cloudflare on the application's own host). */
export const ACCESS_LOGOUT_PATH = "/cdn-cgi/access/logout";

const KEYS_TTL_MS = 10 * 60_000;
const REFETCH_AFTER_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
const CLOCK_SKEW_S = 60;
const MAX_TOKEN_LENGTH = 16 * 1024;
const EMAIL_PATTERN = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,189}$/;
const encoder = new TextEncoder();

// Env objects are stable per isolate: the settings are read (and a misconfiguration logged) once per env.
const settingsCache = new WeakMap<object, AccessSettings | null>();

/** Access settings from the Worker's vars, or undefined when Access is not configured (both vars are needed). */
export function accessSettings(env: Pick<Bindings, "ACCESS_TEAM_DOMAIN" | "ACCESS_AUD">): AccessSettings | undefined {
  let settings = settingsCache.get(env);
  if (settings === undefined) {
    settings = readSettings(env) ?? null;
    settingsCache.set(env, settings);
  }
  return settings ?? undefined;
}

function readSettings(env: Pick<Bindings, "ACCESS_TEAM_DOMAIN" | "ACCESS_AUD">): AccessSettings | undefined {
  const { ACCESS_TEAM_DOMAIN: domain, ACCESS_AUD: audience } = env;
  if (typeof domain !== "string" || domain.trim() === "" || typeof audience !== "string" || audience.trim() === "") return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(domain.trim()) ? domain.trim() : `https://${domain.trim()}`);
  } catch {
    console.error("ACCESS_TEAM_DOMAIN is not a URL: Cloudflare Access sign-in is off");
    return undefined;
  }
  if (url.protocol !== "https:") {
    console.error("ACCESS_TEAM_DOMAIN must be an https URL: Cloudflare Access sign-in is off");
    return undefined;
  }
  return { issuer: url.origin, certsUrl: `${url.origin}/cdn-cgi/access/certs`, audience: audience.trim() };
}

export async function verifyAccessJwt(token: string, settings: AccessSettings, now = Date.now()): Promise<AccessVerification> {
  const fail = (reason: string): AccessVerification => ({ ok: false, reason });
  const parts = token.length <= MAX_TOKEN_LENGTH ? token.split(".") : [];
  if (parts.length !== 3) return fail("not a JWT");
  const [encodedHeader = "", encodedPayload = "", encodedSignature = ""] = parts;
  const header = decodePart(encodedHeader);
  const claims = decodePart(encodedPayload);
  const signature = fromBase64url(encodedSignature);
  if (!isObject(header) || !isObject(claims) || !signature) return fail("not a JWT");
  if (header.alg !== "RS256" || typeof header.kid !== "string") return fail("not an RS256 token with a key id");

  const key = await publicKey(settings.certsUrl, header.kid, now);
  if (!key) return fail("signed with a key the team's JWKS does not have");
  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, encoder.encode(`${encodedHeader}.${encodedPayload}`));
  if (!valid) return fail("the signature does not verify");

  if (claims.iss !== settings.issuer) return fail("issued by another team");
  const audiences = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!audiences.includes(settings.audience)) return fail("meant for another application (aud)");
  const seconds = now / 1000;
  if (typeof claims.exp !== "number" || claims.exp <= seconds) return fail("expired");
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > seconds + CLOCK_SKEW_S)) return fail("not valid yet");
  if (typeof claims.email !== "string" || !EMAIL_PATTERN.test(claims.email)) return fail("no email (a service token names no person)");
  const issuedAt = typeof claims.iat === "number" ? claims.iat : 0;
  return { ok: true, identity: { email: claims.email, issuedAt, expiresAt: claims.exp * 1000 } };
}

function decodePart(part: string): unknown {
  const bytes = fromBase64url(part);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

type KeySet = { keys: Map<string, CryptoKey>; fetchedAt: number };

/** Per isolate, per certs URL: the team's keys by id. */
const keySets = new Map<string, KeySet>();
// No shared in-flight fetch: workerd cancels a request that awaits a promise another request's fetch settles.
/** When fetching a JWKS last failed: not tried again sooner than REFETCH_AFTER_MS. */
const failedAt = new Map<string, number>();

async function publicKey(certsUrl: string, kid: string, now: number): Promise<CryptoKey | undefined> {
  let set = keySets.get(certsUrl);
  const stale = !set || now - set.fetchedAt >= KEYS_TTL_MS;
  const unknownKid = set !== undefined && !set.keys.has(kid) && now - set.fetchedAt >= REFETCH_AFTER_MS;
  const backingOff = now - (failedAt.get(certsUrl) ?? -Infinity) < REFETCH_AFTER_MS;
  if ((stale || unknownKid) && !backingOff) set = (await fetchKeys(certsUrl, now)) ?? set;
  return set?.keys.get(kid);
}

async function fetchKeys(certsUrl: string, now: number): Promise<KeySet | undefined> {
  try {
    const response = await fetch(certsUrl, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as unknown;
    const jwks = isObject(body) && Array.isArray(body.keys) ? body.keys : [];
    const keys = new Map<string, CryptoKey>();
    for (const jwk of jwks) {
      if (!isObject(jwk) || jwk.kty !== "RSA" || typeof jwk.kid !== "string" || typeof jwk.n !== "string" || typeof jwk.e !== "string") continue;
      if (jwk.alg !== undefined && jwk.alg !== "RS256") continue;
      const key = await crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", ext: true }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
      keys.set(jwk.kid, key);
    }
    const set = { keys, fetchedAt: now };
    keySets.set(certsUrl, set);
    failedAt.delete(certsUrl);
    return set;
  } catch (error) {
    failedAt.set(certsUrl, now);
    console.error("Cloudflare Access keys could not be fetched; Access sign-in is unavailable until they can", { certs: certsUrl, error: String(error) });
    return undefined;
  }
}
