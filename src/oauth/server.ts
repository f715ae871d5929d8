import {
  GrantType,
  OAuthAuthorizationServer,
  OAuthError,
  OAuthResourceServer,
  type TokenExchangeCallbackOptions,
  type TokenExchangeCallbackResult,
} from "@cloudflare/workers-oauth-provider";
import { readConfig, type GatewayConfig } from "../config.ts";
import type { Bindings } from "../env.ts";
import { grantProblem } from "../grants/grant.ts";
import { readGrant } from "./grant-lookup.ts";
import { refuseRefreshTokenReuse } from "./refresh-reuse.ts";
import { CLIENT_TTL_SECONDS, UNUSED_CLIENT_TTL_SECONDS, vetRegistration } from "./registration.ts";

/**
 * The gateway as its own OAuth 2.1 authorization server, on the same origin
 * as the resource it protects (`/mcp`), with Cloudflare's
 * `@cloudflare/workers-oauth-provider` doing the protocol: RFC 8414 and
 * RFC 9728 metadata, dynamic client registration (RFC 7591), the token
 * endpoint (authorization code with PKCE S256, refresh with rotation,
 * RFC 7009 revocation), resource indicators (RFC 8707), and token validation.
 * The resources are `<issuer>/mcp` (the grant's view; the default when a
 * request names none) and `<issuer>/mcp/<server>` for each declared server:
 * a sign-in is for one of them, and its tokens work there only.
 * The gateway owns the authorize page (src/oauth/authorize.tsx): what a
 * sign-in yields is a gateway grant.
 *
 * A sign-in is an OAuth grant whose `userId` is the gateway grant's id and
 * whose props are `{grantId}`: every access token it issues acts as that
 * grant, judged by its policy and counted in its Durable Object like its
 * `mcpgw_` token's calls. `/mcp` checks both kinds of token itself
 * (src/grants/authenticate.ts): a grant token by its hash in GRANTS, an
 * access token with the library's `unwrapToken` and its audience against the
 * URL's resource (src/oauth/access-token.ts), so the origin guard, CORS and
 * the gateway's 401 stay in front of both.
 *
 * OAUTH_KV layout (written by the library; tokens, codes and secrets only as
 * SHA-256 hashes, props encrypted with a key wrapped by the token itself):
 * - `client:<client id>`: a registered client (name, redirect URIs, auth
 *   method; every field bounded, src/oauth/registration.ts), expiring a day
 *   after registration until its first token answer, then 90 days after it,
 *   renewed by the library while the client keeps using its tokens.
 * - `grant:<gateway grant id>:<oauth grant id>`: one sign-in of one client:
 *   scopes, metadata (how it was made, by whom), encrypted props, the current
 *   and previous refresh token hashes, the resource it is bound to, its expiry
 *   (OAUTH_REFRESH_TOKEN_TTL after the code exchange). An unexchanged
 *   authorization code lives here for 10 minutes.
 * - `token:<gateway grant id>:<oauth grant id>:<access token hash>`: one
 *   access token, its `audience` the resource its sign-in asked for
 *   (`<issuer>/mcp` or `<issuer>/mcp/<server>`, RFC 8707; none on tokens
 *   issued before tokens were bound, which the library counts as `/mcp`, the
 *   legacy resource), expiring after OAUTH_ACCESS_TOKEN_TTL.
 * - `transaction:<handle hash>`: an authorize page in progress (10 minutes,
 *   bound to the browser that opened it by a `__Host-` cookie).
 * - `rotation:<gateway grant id>:<oauth grant id>` (the gateway's own): the
 *   hash of the refresh token last replaced and when, for 60 s
 *   (src/oauth/refresh-reuse.ts).
 *
 * The issuer is PUBLIC_URL's origin when that is set (and OAuth is then served
 * on that origin only); for a loopback PUBLIC_URL (`npm start`) and without
 * one, it is the origin the request came to, so `localhost` and `127.0.0.1`
 * are each their own issuer and resource. Plain http is accepted on loopback
 * names only (the library refuses anything else).
 */

export const AUTHORIZE_PATH = "/authorize";
export const TOKEN_PATH = "/token";
export const REGISTER_PATH = "/register";
export const RESOURCE_PATH = "/mcp";
export const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
export const SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server";

/** What every OAuth grant (and so every access token) carries: the gateway grant it acts as. */
export type OAuthProps = { grantId: string };

/**
 * One protected resource of an origin (RFC 8707, RFC 9728): `<issuer>/mcp`,
 * the grant's view, or `<issuer>/mcp/<server>`, one declared server. An
 * access token is bound to the one its sign-in asked for and works there only.
 */
export type OAuthResource = {
  /** The resource identifier, the audience of its tokens: `<issuer>/mcp` or `<issuer>/mcp/<server>`. */
  url: string;
  /** The declared server it is; undefined for `/mcp`. */
  server: string | undefined;
  /** `<issuer>/.well-known/oauth-protected-resource<path>`, as a 401 there names it. */
  metadataUrl: string;
  /** Publishes its RFC 9728 document only; /mcp authenticates in src/grants/authenticate.ts. */
  metadata: OAuthResourceServer<Bindings, OAuthProps>;
};

/** The authorization server and the resources of one origin. */
export type OAuthSite = {
  issuer: string;
  /** `<issuer>/mcp`: the grant's view, the default resource (an authorization request without one, tokens issued before resources were bound). */
  resource: OAuthResource;
  /** `<issuer>/mcp/<server>` for each declared server, by server name. */
  servers: ReadonlyMap<string, OAuthResource>;
  server: OAuthAuthorizationServer<Bindings>;
  /** The same server for /register only: it stores a new client for a day, until its first token answer renews it (registration.ts). */
  registrar: OAuthAuthorizationServer<Bindings>;
};

/** The resource a request path's server names (`/mcp/<server>`), or `/mcp` itself; undefined for a server this gateway does not declare. */
export function resourceOf(site: OAuthSite, server: string | undefined): OAuthResource | undefined {
  return server === undefined ? site.resource : site.servers.get(server);
}

/** The resource an identifier names (as the library's parsed request carries it, canonical), or undefined. */
export function resourceByUrl(site: OAuthSite, url: string | undefined): OAuthResource | undefined {
  if (url === undefined) return undefined;
  if (url === site.resource.url) return site.resource;
  return [...site.servers.values()].find((resource) => resource.url === url);
}

/** The issuer that serves a request to `url`: PUBLIC_URL's origin, or (loopback or unset) the request's own. */
export function issuerFor(config: GatewayConfig, url: string | URL): string {
  const origin = new URL(url).origin;
  return config.publicUrl !== undefined && !config.publicUrlIsLoopback ? config.publicUrl : origin;
}

/**
 * The metadata URL a 401 at `url` points to: `/mcp`'s, or for `/mcp/<server>`
 * that server's; undefined when OAuth cannot be offered there.
 */
export function resourceMetadataUrlFor(env: Bindings, url: string | URL, server?: string): string | undefined {
  const site = siteFor(env, issuerFor(readConfig(env), url));
  return site ? resourceOf(site, server)?.metadataUrl : undefined;
}

/** The OAuth site serving a request to `url`, or undefined when this origin serves none. */
export function oauthSiteFor(env: Bindings, url: string | URL): OAuthSite | undefined {
  const issuer = issuerFor(readConfig(env), url);
  return issuer === new URL(url).origin ? siteFor(env, issuer) : undefined;
}

// Per env (one per isolate, or per test), per issuer; null: the library refuses this origin (http off loopback).
const sites = new WeakMap<object, Map<string, OAuthSite | null>>();

function siteFor(env: Bindings, issuer: string): OAuthSite | undefined {
  let byIssuer = sites.get(env);
  if (!byIssuer) sites.set(env, (byIssuer = new Map()));
  let site = byIssuer.get(issuer);
  if (site === undefined) {
    site = buildSite(env, issuer);
    byIssuer.set(issuer, site);
  }
  return site ?? undefined;
}

function buildSite(env: Bindings, issuer: string): OAuthSite | null {
  const config = readConfig(env);
  try {
    const resource = protectedResource(issuer, undefined);
    const servers = new Map([...config.servers.keys()].map((name) => [name, protectedResource(issuer, name)] as const));
    const options = {
      issuer,
      resources: [resource.url, ...[...servers.values()].map((server) => server.url)],
      // With several resources the library asks for one in every authorization request, and binds a token issued
      // before resources were (none stored) to none: `/mcp` is both, as it was the only resource before.
      defaultResource: resource.url,
      legacyGrantResource: resource.url,
      authorizeEndpoint: AUTHORIZE_PATH,
      tokenEndpoint: TOKEN_PATH,
      clientRegistrationEndpoint: REGISTER_PATH,
      clientRegistrationCallback: vetRegistration(env),
      accessTokenTTL: config.oauthAccessTokenTtlSeconds,
      refreshTokenTTL: config.oauthRefreshTokenTtlSeconds,
      tokenExchangeCallback: checkTokenRequest,
      onError: logOAuthError,
    };
    // A successful token request in the second half of a registration's lifetime renews it (the library's rule):
    // a client the registrar stored for a day is in its second half of CLIENT_TTL_SECONDS, so its first token
    // answer, the code exchange that completes its sign-in, gives it the long lifetime.
    const server = new OAuthAuthorizationServer<Bindings>({ ...options, clientRegistrationTTL: CLIENT_TTL_SECONDS });
    const registrar = new OAuthAuthorizationServer<Bindings>({ ...options, clientRegistrationTTL: UNUSED_CLIENT_TTL_SECONDS });
    return { issuer, resource, servers, server, registrar };
  } catch (error) {
    console.error("OAuth sign-in is not offered on this origin", { issuer, error: String(error) });
    return null;
  }
}

function protectedResource(issuer: string, server: string | undefined): OAuthResource {
  // Server names are lower-case letters, digits and '-' (SERVER_NAME_PATTERN): a path segment as they are.
  const path = server === undefined ? RESOURCE_PATH : `${RESOURCE_PATH}/${server}`;
  const url = `${issuer}${path}`;
  const metadata = new OAuthResourceServer<Bindings, OAuthProps>({
    resourceMetadata: { resource: url, authorization_servers: [issuer], resource_name: server === undefined ? "mcp-policy-gateway" : `mcp-policy-gateway: ${server}` },
    validateToken: () => async () => null,
    handler: { fetch: () => new Response(null, { status: 404 }) },
  });
  return { url, server, metadataUrl: `${issuer}${RESOURCE_METADATA_PATH}${path}`, metadata };
}

// The console's storage helpers live in storage.ts (imported from here by the console).
export { oauthStorage } from "./storage.ts";

/**
 * What the gateway adds to every code exchange and refresh, after the library
 * has authenticated the client and matched the code or refresh token: a
 * superseded refresh token past its grace ends the sign-in
 * (src/oauth/refresh-reuse.ts), and the gateway grant must still work.
 */
async function checkTokenRequest(options: TokenExchangeCallbackOptions<Bindings>): Promise<TokenExchangeCallbackResult | undefined> {
  if (options.grantType !== GrantType.AUTHORIZATION_CODE && options.grantType !== GrantType.REFRESH_TOKEN) {
    throw new OAuthError("unsupported_grant_type", { description: "this gateway issues tokens only by authorization code and refresh" });
  }
  if (options.grantType === GrantType.REFRESH_TOKEN) await refuseRefreshTokenReuse(options);
  return grantStillActive(options);
}

/**
 * A code exchange or a refresh works only while the gateway grant does: a
 * revoked, expired or deleted grant answers `invalid_grant`, which also makes
 * the library revoke the OAuth grant and its tokens. Read fresh from KV (no
 * isolate cache): this runs once an access token's lifetime per client, not
 * per call. Tokens of a grant that expires never outlive it: their lifetimes
 * are cut to the grant's (KV keeps nothing shorter than 60 s).
 */
async function grantStillActive(options: TokenExchangeCallbackOptions<Bindings>): Promise<TokenExchangeCallbackResult | undefined> {
  const props = options.props as Partial<OAuthProps> | undefined;
  const grantId = props?.grantId;
  const grant = typeof grantId === "string" && grantId === options.userId ? await readGrant(options.env.GRANTS, grantId) : undefined;
  const problem = grant ? grantProblem(grant, Date.now()) : "the grant no longer exists";
  if (!grant || problem) throw new OAuthError("invalid_grant", { description: `The sign-in no longer works: ${problem}. Sign in again.` });
  if (grant.expiresAt === null) return undefined;
  const config = readConfig(options.env);
  const left = Math.max(60, Math.floor((Date.parse(grant.expiresAt) - Date.now()) / 1000));
  return { accessTokenTTL: Math.min(config.oauthAccessTokenTtlSeconds, left), refreshTokenTTL: Math.min(config.oauthRefreshTokenTtlSeconds, left) };
}

/** Token-endpoint and registration refusals, as one JSON log line each: the check that failed, never a token. */
function logOAuthError(error: { code: string; status: number; internal: { category: string; reason: string } }): void {
  console.warn(JSON.stringify({ event: "oauth_error", code: error.code, status: error.status, category: error.internal.category, reason: error.internal.reason }));
}
