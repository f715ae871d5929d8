import { OAuthError, type TokenExchangeCallbackOptions } from "@cloudflare/workers-oauth-provider";
import { z } from "zod";
import { adminRecord, writeAdminRecord } from "../admin/manage/admin-record.ts";
import { sha256Hex } from "../crypto.ts";
import type { Bindings } from "../env.ts";
import { readBodyWithin } from "../http/body.ts";
import { parseJson } from "../json.ts";
import { readGrant } from "./grant-lookup.ts";
import { oauthStorage } from "./storage.ts";

/**
 * Refresh token reuse detection (RFC 9700 §4.14.2), which the library lacks.
 *
 * The library rotates refresh tokens on every refresh and keeps honouring the
 * previous one until the new one is used, so that a client that lost the
 * answer can retry; but a thief holding a superseded token can redeem it at
 * any later time, which kills the legitimate client's tokens and hands the
 * thief a live chain. Here a superseded token is honoured for
 * REFRESH_GRACE_SECONDS after it was replaced; presented any later, it proves
 * that two parties hold the sign-in, and the whole sign-in (the OAuth grant,
 * its refresh token and every access token of it) is revoked, audited as
 * `oauth.revoke` by REUSE_ACTOR, and the request gets `invalid_grant`.
 *
 * The check runs in the token-exchange callback, after the library has
 * authenticated the client and matched the token to the grant's current or
 * previous refresh token hash, and before it writes anything. The callback is
 * not told which of the two was presented, so the /token route reads the
 * request's refresh token first and hands its SHA-256 to the callback in the
 * env the library passes back to it (withPresentedRefreshToken).
 *
 * OAUTH_KV `rotation:<gateway grant id>:<oauth grant id>` holds `{superseded,
 * at}`: the hash of the refresh token last replaced and when (ms), written
 * before the library rotates. It lives 60 s (KV's shortest lifetime); a
 * superseded token with no such record is past its grace. A retry within the
 * grace does not rewrite it, so retrying never extends the window.
 */
export const REFRESH_GRACE_SECONDS = 30;
export const REUSE_ACTOR = "gateway (refresh token reuse)";

/** A /token request's form is a few hundred bytes; a larger one is not read here (the callback then refuses a refresh). */
const MAX_TOKEN_FORM_BYTES = 16 * 1024;
const ROTATION_TTL_SECONDS = 60;

const PRESENTED = Symbol("sha-256 of the presented refresh token");
type TokenRequestEnv = Bindings & { [PRESENTED]?: string };

/**
 * The env to hand the library for a /token request: with the SHA-256 of its
 * refresh token when it is a refresh (read from a copy of the body; the
 * library reads the request itself).
 */
export async function withPresentedRefreshToken(env: Bindings, request: Request): Promise<Bindings> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (request.method !== "POST" || type !== "application/x-www-form-urlencoded") return env;
  const bytes = await readBodyWithin(request.clone(), MAX_TOKEN_FORM_BYTES);
  const form = bytes && new URLSearchParams(new TextDecoder().decode(bytes));
  const refreshToken = form?.get("grant_type") === "refresh_token" ? form.get("refresh_token") : null;
  if (!refreshToken) return env;
  const withToken: TokenRequestEnv = { ...env, [PRESENTED]: await sha256Hex(refreshToken) };
  return withToken;
}

/** What the check reads of the library's OAuth grant record (src/oauth/server.ts describes it). */
const OAuthGrantSchema = z
  .object({
    clientId: z.string(),
    refreshTokenId: z.string().optional(),
    previousRefreshTokenId: z.string().optional(),
    metadata: z.object({ clientName: z.string().optional() }).loose().optional(),
  })
  .loose();

const RotationSchema = z.object({ superseded: z.string(), at: z.number() });

const oauthGrantKey = (userId: string, grantId: string) => `grant:${userId}:${grantId}`;
const rotationKey = (userId: string, grantId: string) => `rotation:${userId}:${grantId}`;

async function readJson<T>(kv: KVNamespace, key: string, schema: z.ZodType<T>): Promise<T | undefined> {
  const text = await kv.get(key);
  if (text === null) return undefined;
  const parsed = schema.safeParse(parseJson(text));
  return parsed.success ? parsed.data : undefined;
}

/**
 * For a refresh in the token-exchange callback: records the rotation of the
 * current token, lets a superseded one through within the grace, and
 * otherwise revokes the sign-in and throws `invalid_grant`.
 */
export async function refuseRefreshTokenReuse(options: TokenExchangeCallbackOptions<Bindings>, now = Date.now()): Promise<void> {
  const env = options.env as TokenRequestEnv;
  const presented = env[PRESENTED];
  // Not expected (the route reads every refresh): refuse without revoking anything, as nothing was proven.
  const unchecked = () => new OAuthError("invalid_request", { description: "The refresh token could not be checked; send the request again" });
  if (presented === undefined) throw unchecked();
  const { userId, grantId } = options;
  const grant = await readJson(env.OAUTH_KV, oauthGrantKey(userId, grantId), OAuthGrantSchema);
  if (!grant) throw new OAuthError("invalid_grant", { description: "The sign-in no longer exists. Sign in again." });
  if (presented === grant.refreshTokenId) {
    // Written before the library rotates: the grace window can only start earlier than the rotation, never later.
    await env.OAUTH_KV.put(rotationKey(userId, grantId), JSON.stringify({ superseded: presented, at: now }), { expirationTtl: ROTATION_TTL_SECONDS });
    return;
  }
  if (presented !== grant.previousRefreshTokenId) throw unchecked();
  const rotation = await readJson(env.OAUTH_KV, rotationKey(userId, grantId), RotationSchema);
  const age = rotation?.superseded === presented ? now - rotation.at : undefined;
  if (age !== undefined && age <= REFRESH_GRACE_SECONDS * 1000) return;

  const reason =
    age === undefined
      ? `a superseded refresh token was presented more than ${REFRESH_GRACE_SECONDS} s after it was replaced`
      : `a superseded refresh token was presented ${Math.round(age / 1000)} s after it was replaced (grace: ${REFRESH_GRACE_SECONDS} s)`;
  console.warn(JSON.stringify({ event: "oauth_refresh_reuse", grant: userId, signIn: grantId, client: options.clientId, reason }));
  // Revoked here, not only by the library after the throw (which is best effort), so the audit record states a fact.
  await oauthStorage(env).revokeGrant(grantId, userId);
  await auditRevocation(env, { userId, grantId, clientId: grant.clientId, clientName: grant.metadata?.clientName ?? null, reason }, now);
  throw new OAuthError("invalid_grant", { description: "This refresh token was already used. The sign-in has been revoked: sign in again." });
}

type Revocation = { userId: string; grantId: string; clientId: string; clientName: string | null; reason: string };

/** The revocation in the gateway grant's audit trail, as the console's Revoke writes it; a failure is logged, the refusal stands. */
async function auditRevocation(env: Bindings, revocation: Revocation, now: number): Promise<void> {
  const { userId, grantId, clientId, clientName, reason } = revocation;
  try {
    const label = (await readGrant(env.GRANTS, userId))?.label ?? "";
    const record = adminRecord({ action: "oauth.revoke", by: REUSE_ACTOR, target: grantId, grant: { id: userId, label }, detail: { client: clientId, clientName, reason } }, now);
    await writeAdminRecord(env, userId, record);
  } catch (error) {
    console.error("refresh token reuse: the revocation is not audited", { grant: userId, signIn: grantId, error: String(error) });
  }
}
