import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { base64url, fromBase64url, hmacSign, hmacVerify, randomBytes } from "../crypto.ts";
import type { AdminEnv } from "./env.ts";
import { ACCESS_JWT_HEADER, accessSettings, verifyAccessJwt, type AccessIdentity } from "./manage/access.ts";

/**
 * The operator's session on the admin pages: a cookie that proves its holder
 * pasted the admin token, and nothing else. It needs no storage: its value is
 * `<expiry ms>.<nonce>.<mac>`, the MAC an HMAC-SHA256 over the expiry and a
 * random nonce, keyed by a key derived from ADMIN_TOKEN; rotating the token
 * therefore signs every operator out. The cookie is HttpOnly, SameSite=Strict
 * and scoped to /admin (so it never reaches /mcp, which reads only the
 * Authorization header anyway), and Secure except on plain-http loopback.
 *
 * Every state-changing form carries a CSRF token bound to the session (an
 * HMAC of its nonce under the same key, with another label), checked on POST.
 *
 * With Cloudflare Access configured (ACCESS_TEAM_DOMAIN, ACCESS_AUD), a
 * request carrying a valid Access token (manage/access.ts) is signed in as its
 * email without any cookie of ours: Access sends the token with every request.
 * Its CSRF token is bound to the email and the time Access issued that login
 * (`iat`), under the same key, so it changes when the operator signs in to
 * Access again. The session's `identity` (an email, or "admin" for the admin
 * token) is the `by` of what the operator does on the pages.
 */
export const SESSION_COOKIE = "mcp_gateway_admin";
export const SESSION_LIFETIME_MS = 12 * 60 * 60_000;
/** The name of the hidden form field that carries the CSRF token. */
export const CSRF_FIELD = "csrf";

/** Who a session signed in with the admin token is, in the audit trail. */
export const TOKEN_IDENTITY = "admin";

export type AdminSession = {
  /** When the session ends (ms since the epoch). */
  expiresAt: number;
  /** The session's random nonce (base64url); for Access, derived from the email and the login's `iat`. */
  nonce: string;
  /** The token every form of this session must carry. */
  csrfToken: string;
  /** Who is signed in: "admin" (the admin token) or the Access email. */
  identity: string;
  /** How: the admin token (our cookie) or Cloudflare Access (its token, on every request). */
  via: "token" | "access";
};

/** The admin pages' Hono environment: the admin door's, plus the signed-in session. */
export type AdminPagesEnv = {
  Bindings: AdminEnv["Bindings"];
  Variables: AdminEnv["Variables"] & { session: AdminSession };
};

const SESSION_PATTERN = /^(\d{1,15})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const LOOPBACK_HOSTNAMES = ["localhost", "127.0.0.1", "[::1]"];

/** The key for sessions and CSRF tokens, derived from the admin token (never the token itself). */
async function sessionKey(adminToken: string): Promise<string> {
  return base64url(await hmacSign(adminToken, "mcp-policy-gateway admin session key v1"));
}

const sessionMessage = (expiresAt: number, nonce: string) => `session\n${expiresAt}\n${nonce}`;
const csrfMessage = (nonce: string) => `csrf\n${nonce}`;

/** A new session: its cookie value and what it carries. */
export async function issueSession(adminToken: string, now = Date.now()): Promise<{ value: string; session: AdminSession }> {
  const key = await sessionKey(adminToken);
  const expiresAt = now + SESSION_LIFETIME_MS;
  const nonce = base64url(randomBytes(16));
  const mac = base64url(await hmacSign(key, sessionMessage(expiresAt, nonce)));
  return {
    value: `${expiresAt}.${nonce}.${mac}`,
    session: { expiresAt, nonce, csrfToken: base64url(await hmacSign(key, csrfMessage(nonce))), identity: TOKEN_IDENTITY, via: "token" },
  };
}

/** The session a cookie value proves, or undefined: malformed, forged, signed under another admin token, or expired. */
export async function verifySession(adminToken: string, value: string | undefined, now = Date.now()): Promise<AdminSession | undefined> {
  const match = value === undefined ? null : SESSION_PATTERN.exec(value);
  if (!match) return undefined;
  const [, expiry = "", nonce = "", mac = ""] = match;
  const expiresAt = Number(expiry);
  // A session never lasts longer than one lifetime from now, whatever it says.
  if (!(expiresAt > now && expiresAt <= now + SESSION_LIFETIME_MS)) return undefined;
  const signature = fromBase64url(mac);
  const key = await sessionKey(adminToken);
  if (!signature || !(await hmacVerify(key, sessionMessage(expiresAt, nonce), signature))) return undefined;
  return { expiresAt, nonce, csrfToken: base64url(await hmacSign(key, csrfMessage(nonce))), identity: TOKEN_IDENTITY, via: "token" };
}

/** The session of a request Cloudflare Access let through, as its email. */
export async function accessSession(adminToken: string, identity: AccessIdentity): Promise<AdminSession> {
  const key = await sessionKey(adminToken);
  const nonce = `access.${base64url(await hmacSign(key, `access\n${identity.email}\n${identity.issuedAt}`))}`;
  return { expiresAt: identity.expiresAt, nonce, csrfToken: base64url(await hmacSign(key, csrfMessage(nonce))), identity: identity.email, via: "access" };
}

/** Whether a form's CSRF token is the one bound to this session (constant time). */
export async function isCsrfToken(adminToken: string, session: AdminSession, presented: unknown): Promise<boolean> {
  const signature = typeof presented === "string" && /^[A-Za-z0-9_-]{43}$/.test(presented) ? fromBase64url(presented) : undefined;
  return signature !== undefined && hmacVerify(await sessionKey(adminToken), csrfMessage(session.nonce), signature);
}

/** Secure everywhere but plain http to a loopback name (`npm start`), where a browser would drop a Secure cookie. */
function cookieIsSecure(c: Context): boolean {
  const url = new URL(c.req.url);
  return !(url.protocol === "http:" && LOOPBACK_HOSTNAMES.includes(url.hostname));
}

export function setSessionCookie(c: Context, value: string): void {
  setCookie(c, SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/admin",
    secure: cookieIsSecure(c),
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, sameSite: "Strict", path: "/admin", secure: cookieIsSecure(c) });
}

/**
 * The session of this request: its Cloudflare Access identity when Access is
 * configured and the request carries a valid Access token, else what its
 * cookie proves, if anything. A token that does not verify is logged (why,
 * never the token) and counts for nothing.
 */
export async function currentSession(c: Context, adminToken: string): Promise<AdminSession | undefined> {
  const settings = accessSettings(c.env as object);
  const assertion = c.req.header(ACCESS_JWT_HEADER);
  if (settings && assertion) {
    const verified = await verifyAccessJwt(assertion.trim(), settings);
    if (verified.ok) return accessSession(adminToken, verified.identity);
    console.log(JSON.stringify({ event: "admin_page", action: "access_sign_in", ok: false, reason: verified.reason }));
  }
  return verifySession(adminToken, getCookie(c, SESSION_COOKIE));
}

/**
 * Where to go after signing in: only a path under /admin on this site (no
 * scheme, no `//host`, no backslashes or control characters); anything else
 * falls back to the list of pending approvals.
 */
export function safeNext(next: unknown): string {
  const fallback = "/admin/approvals";
  if (typeof next !== "string" || next.length > 2048 || !/^[\x21-\x7e]+$/.test(next)) return fallback;
  if (!/^\/admin(?:[/?]|$)/.test(next) || /[\\\s\p{Cc}]|\/\/|\/\.\.?(?:[/?]|$)/u.test(next)) return fallback;
  const resolved = new URL(next, "https://admin.invalid");
  return resolved.origin === "https://admin.invalid" && /^\/admin(?:\/|$)/.test(resolved.pathname) ? next : fallback;
}

/** The sign-in page, asked to come back here afterwards. */
export function signInLocation(next: string): string {
  return `/admin/sign-in?next=${encodeURIComponent(safeNext(next))}`;
}

/**
 * A top-level navigation from another site (a link in a chat, an agent's
 * client in a browser tab). Browsers do not send a SameSite=Strict cookie with
 * it, so a signed-in operator would look signed out.
 */
function isCrossSiteNavigation(c: Context): boolean {
  return c.req.method === "GET" && c.req.header("sec-fetch-site") === "cross-site" && c.req.header("sec-fetch-mode") === "navigate";
}

export type RequireSessionOptions = {
  /**
   * The answer to a cross-site navigation that came without a session: a page
   * that reloads `path` from this site, whose request then carries the cookie
   * if there is one (otherwise it is sent to sign-in as usual).
   */
  reloadFromThisSite?: (c: Context, path: string) => Response | Promise<Response>;
};

/**
 * Pages need a signed-in operator: without a valid session the browser is
 * sent (303) to the sign-in form, which brings it back here.
 */
export function requireSession(options: RequireSessionOptions = {}) {
  return createMiddleware<AdminPagesEnv>(async function requireSession(c, next) {
    const session = await currentSession(c, c.var.adminToken);
    if (!session) {
      const url = new URL(c.req.url);
      const here = c.req.method === "GET" ? url.pathname + url.search : url.pathname;
      if (options.reloadFromThisSite && isCrossSiteNavigation(c)) return options.reloadFromThisSite(c, safeNext(here));
      return c.redirect(signInLocation(here), 303);
    }
    c.set("session", session);
    await next();
  });
}
