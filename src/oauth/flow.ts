import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { readConfig } from "../config.ts";
import { base64url, fromBase64url, hmacSign, hmacVerify, randomBytes } from "../crypto.ts";
import { AUTHORIZE_PATH } from "./server.ts";

/**
 * The state of one sign-in in the browser, between the authorize pages,
 * without storage: a cookie holds a random nonce, every form carries a CSRF
 * token (an HMAC of the nonce), and what an earlier step established (which
 * grant a token proved, which operator signed in, which policy they chose)
 * travels in hidden fields under an HMAC over those fields, the nonce and the
 * library's consent handle, so it can neither be forged nor replayed into
 * another sign-in or another browser. The key is derived from SESSION_SECRET.
 *
 * The cookie, `mcp_gateway_authorize`: HttpOnly, SameSite=Strict, Path=/authorize,
 * Secure except over plain http to a loopback name, 10 minutes (as long as the
 * library's consent transaction).
 */
const FLOW_COOKIE = "mcp_gateway_authorize";
/** How long a sign-in may take, and so how long its proofs hold. */
export const FLOW_LIFETIME_MS = 10 * 60_000;
export const CSRF_FIELD = "csrf";

const NONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const MAC_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const LOOPBACK_HOSTNAMES = ["localhost", "127.0.0.1", "[::1]"];

export type Flow = { nonce: string; csrfToken: string };

async function flowKey(c: Context): Promise<string> {
  return base64url(await hmacSign(readConfig(c.env as object).sessionSecret, "mcp-policy-gateway authorize flow key v1"));
}

async function flowOf(c: Context, nonce: string): Promise<Flow> {
  return { nonce, csrfToken: base64url(await hmacSign(await flowKey(c), `csrf\n${nonce}`)) };
}

function cookieIsSecure(c: Context): boolean {
  const url = new URL(c.req.url);
  return !(url.protocol === "http:" && LOOPBACK_HOSTNAMES.includes(url.hostname));
}

/** The flow of this browser: its cookie's, or a new one (the cookie set on this response). */
export async function startFlow(c: Context): Promise<Flow> {
  const existing = getCookie(c, FLOW_COOKIE);
  const nonce = existing !== undefined && NONCE_PATTERN.test(existing) ? existing : base64url(randomBytes(16));
  setCookie(c, FLOW_COOKIE, nonce, { httpOnly: true, sameSite: "Strict", path: AUTHORIZE_PATH, secure: cookieIsSecure(c), maxAge: FLOW_LIFETIME_MS / 1000 });
  return flowOf(c, nonce);
}

/** The flow a POST belongs to, when its cookie is there and the form's CSRF token is the one bound to it. */
export async function checkedFlow(c: Context, form: URLSearchParams): Promise<Flow | undefined> {
  const nonce = getCookie(c, FLOW_COOKIE);
  const presented = form.get(CSRF_FIELD) ?? "";
  if (nonce === undefined || !NONCE_PATTERN.test(nonce) || !MAC_PATTERN.test(presented)) return undefined;
  const signature = fromBase64url(presented);
  if (!signature || !(await hmacVerify(await flowKey(c), `csrf\n${nonce}`, signature))) return undefined;
  return flowOf(c, nonce);
}

export function endFlow(c: Context): void {
  deleteCookie(c, FLOW_COOKIE, { httpOnly: true, sameSite: "Strict", path: AUTHORIZE_PATH, secure: cookieIsSecure(c) });
}

/** What an earlier step established, as hidden form fields (names and values). */
export type Claims = Record<string, string>;

const claimsMessage = (flow: Flow, handle: string, claims: Claims) =>
  ["claims", flow.nonce, handle, ...Object.keys(claims).sort().map((name) => `${name}=${JSON.stringify(claims[name])}`)].join("\n");

/** The claims, timed now, with their MAC: every field the next form must carry back. */
export async function sealClaims(c: Context, flow: Flow, handle: string, claims: Claims, now = Date.now()): Promise<Claims> {
  const timed = { ...claims, issued: String(now) };
  return { ...timed, seal: base64url(await hmacSign(await flowKey(c), claimsMessage(flow, handle, timed))) };
}

/** The claims named `names` from a form, if they carry their seal for this flow and handle and are not older than a sign-in may take. */
export async function openClaims<Name extends string>(
  c: Context,
  flow: Flow,
  handle: string,
  form: URLSearchParams,
  names: readonly Name[],
  now = Date.now(),
): Promise<Record<Name, string> | undefined> {
  const claims: Claims = { issued: form.get("issued") ?? "" };
  for (const name of names) claims[name] = form.get(name) ?? "";
  const issued = Number(claims.issued);
  const seal = form.get("seal") ?? "";
  if (!Number.isSafeInteger(issued) || !(issued <= now && now - issued < FLOW_LIFETIME_MS) || !MAC_PATTERN.test(seal)) return undefined;
  const signature = fromBase64url(seal);
  if (!signature || !(await hmacVerify(await flowKey(c), claimsMessage(flow, handle, claims), signature))) return undefined;
  return claims as Record<Name, string>;
}
