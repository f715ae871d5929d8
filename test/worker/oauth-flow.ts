/**
 * Driving an OAuth sign-in through the gateway Worker as a connector and its
 * user's browser do: registration, the authorize pages, PKCE, the token
 * endpoint, and /mcp with the access token. Shared by the OAuth test files.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { base64url } from "../../src/crypto.ts";
import { gateway, GATEWAY_URL, newTag, type Gateway } from "./gateway.ts";

export const ORIGIN = "https://gateway.test";
export const RESOURCE = `${ORIGIN}/mcp`;
export const REDIRECT = "https://app.example/oauth/callback";

/** A browser: keeps the cookies the gateway sets, follows nothing by itself. */
export class Browser {
  cookies = new Map<string, string>();
  readonly gw: Gateway;

  constructor(gw: Gateway) {
    this.gw = gw;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await this.gw.fetch(new URL(path, ORIGIN).href, { ...init, headers, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = cookie.split(";");
      const name = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      const gone = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute) || /^\s*expires=Thu, 01 Jan 1970/i.test(attribute));
      if (gone || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** Submits a form of `page` (the one whose hidden `step` is `step`) with `fields` added (a list: one value each, as checkboxes send them). */
  async submit(page: string, step: string, fields: Record<string, string | string[]> = {}): Promise<Response> {
    const form = formsOf(page).find((candidate) => candidate.fields.step === step);
    expect(form, `a form with step=${step}`).toBeDefined();
    const body = new URLSearchParams(form!.fields);
    for (const [name, value] of Object.entries(fields)) {
      body.delete(name);
      for (const one of typeof value === "string" ? [value] : value) body.append(name, one);
    }
    return this.fetch(form!.action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() });
  }
}

export const decode = (text: string) => text.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const attribute = (tag: string, name: string) => {
  const value = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
  return value === undefined ? undefined : decode(value);
};

/** Every form of a page: where it posts and its hidden fields. */
export function formsOf(page: string): Array<{ action: string; fields: Record<string, string> }> {
  return [...page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, open = "", body = ""]) => ({
    action: attribute(open, "action") ?? "",
    fields: Object.fromEntries(
      [...body.matchAll(/<input\b[^>]*>/g)]
        .map(([tag]) => tag)
        .filter((tag) => attribute(tag, "type") === "hidden")
        .map((tag) => [attribute(tag, "name") ?? "", attribute(tag, "value") ?? ""]),
    ),
  }));
}

/** The values of the checked checkboxes named `name` on a page, as a browser would send them untouched. */
export function checkedBoxes(page: string, name: string): Record<string, string[]> {
  const values = [...page.matchAll(/<input\b[^>]*>/g)]
    .map(([tag]) => tag)
    .filter((tag) => attribute(tag, "type") === "checkbox" && attribute(tag, "name") === name && /\schecked(=""|\s|\/?>)/.test(tag))
    .map((tag) => attribute(tag, "value") ?? "on");
  return values.length > 0 ? { [name]: values } : {};
}

/** A connector's registration, as it would send it, with `metadata` added or replaced; the answer as it comes. */
export function registration(gw: Gateway, metadata: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return gw.fetch(`${ORIGIN}/register`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ client_name: "Test Connector", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], ...metadata }),
  });
}

/** A registered client (the registration must succeed). */
export async function register(gw: Gateway, metadata: Record<string, unknown> = {}) {
  const response = await registration(gw, metadata);
  expect(response.status).toBe(201);
  return (await response.json()) as { client_id: string; client_name: string; redirect_uris: string[] };
}

export async function pkce() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

export function authorizeUrl(clientId: string, challenge: string, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", state: "st4te", resource: RESOURCE, ...extra });
  return `/authorize?${query}`;
}

export type Tokens = { access_token: string; refresh_token: string; expires_in: number; token_type: string; scope: string; resource?: string };

export function token(gw: Gateway, fields: Record<string, string>) {
  return gw.fetch(`${ORIGIN}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
}

export type SignInOptions = {
  gw?: Gateway;
  grantToken?: string;
  /** `servers`: the boxes the operator leaves checked (absent: as the page checks them). */
  operator?: { policy: string; expires?: string; servers?: string[] };
  clientName?: string;
  /** The resource the app signs in for (RFC 8707); `/mcp` unless given. */
  resource?: string;
};

/**
 * The whole sign-in as a connector and its user go through it: registration,
 * the authorize pages in a browser (a grant token, or the operator's admin
 * token and a policy), the redirect with the code, the code exchange.
 */
export async function signIn(options: SignInOptions) {
  const gw = options.gw ?? gateway();
  const client = await register(gw, { client_name: options.clientName ?? "Test Connector" });
  const { verifier, challenge } = await pkce();
  const browser = new Browser(gw);
  const resource = options.resource ?? RESOURCE;
  const start = await browser.fetch(authorizeUrl(client.client_id, challenge, { resource }));
  expect(start.status).toBe(200);
  let page = await start.text();
  let consent: Response;
  if (options.grantToken !== undefined) {
    consent = await browser.submit(page, "grant", { grant_token: options.grantToken });
  } else {
    const operator = await browser.submit(page, "operator", { admin_token: env.ADMIN_TOKEN });
    expect(operator.status).toBe(200);
    page = await operator.text();
    const { policy, expires = "", servers } = options.operator!;
    consent = await browser.submit(page, "policy", { policy, expires, ...(servers ? { servers } : checkedBoxes(page, "servers")) });
  }
  expect(consent.status).toBe(200);
  const consentPage = await consent.text();
  const back = await browser.submit(consentPage, "consent", { decision: "approve" });
  expect(back.status).toBe(302);
  const location = new URL(back.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get("state")).toBe("st4te");
  expect(location.searchParams.get("iss")).toBe(ORIGIN);
  const code = location.searchParams.get("code")!;
  const exchanged = await token(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier, resource });
  expect(exchanged.status).toBe(200);
  return { gw, client, browser, consentPage, tokens: (await exchanged.json()) as Tokens };
}

export const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };

export function mcpPost(gw: Gateway, accessToken: string | undefined, body: object = INITIALIZE, tag = newTag()) {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  return gw.fetch(GATEWAY_URL, { method: "POST", headers, body: JSON.stringify(body) });
}
