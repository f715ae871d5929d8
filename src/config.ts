import { z } from "zod";
import { resolveServers, SERVER_NAME_PATTERN, SERVER_NAME_RULE, ServerDeclarationsSchema, type Server } from "./servers/registry.ts";

/**
 * Every setting's default, in one place. docs/configuration.md's table is
 * checked against this object by a test, and wrangler.toml sets only what a
 * deployment must choose (UPSTREAM_URL), so the three cannot drift apart.
 */
export const CONFIG_DEFAULTS = {
  SERVERS: "",
  UPSTREAM_NAME: "iterable",
  UPSTREAM_URL: "",
  UPSTREAM_CREDENTIAL_HEADER: "Api-Key",
  UPSTREAM_TIMEOUT_MS: 30_000,
  UNKNOWN_TOOL_ERROR_CODE: -32601,
  CACHE_TTL_MS: 30_000,
  MAX_BODY_BYTES: 1024 * 1024,
  SSE_KEEPALIVE_MS: 25_000,
  MAX_HOLD_WITHOUT_PROGRESS_MS: 50_000,
  MAX_PENDING_APPROVALS: 50,
  MAX_APPROVAL_ARGUMENT_BYTES: 64 * 1024,
  FORWARD_HEADERS: "",
  ALLOWED_ORIGINS: "",
  PUBLIC_URL: "",
  AUDIT_RETENTION_DAYS: 7,
  ACCESS_TEAM_DOMAIN: "",
  ACCESS_AUD: "",
  APPROVAL_WEBHOOK_URL: "",
  OAUTH_ACCESS_TOKEN_TTL: 3600,
  OAUTH_REFRESH_TOKEN_TTL: 2_592_000,
} as const;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** KV cannot expire anything sooner than 60 s, so no OAuth lifetime is shorter; ten years is a typo. */
const oauthSeconds = (fallback: number) => z.coerce.number().int().min(60).max(3650 * 86_400).default(fallback);
const httpUrl = z.url({ protocol: /^https?$/ });

/** SERVERS: the declared servers as JSON, or empty for the one server of the UPSTREAM_* settings. */
const ServersVarSchema = z
  .string()
  .default(CONFIG_DEFAULTS.SERVERS)
  .transform((text, context) => {
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: "custom", message: "is not JSON (a JSON array of server declarations)" });
      return z.NEVER;
    }
  })
  .pipe(ServerDeclarationsSchema.optional());

const ConfigSchema = z.object({
  SERVERS: ServersVarSchema,
  UPSTREAM_NAME: z.string().regex(SERVER_NAME_PATTERN, SERVER_NAME_RULE).default(CONFIG_DEFAULTS.UPSTREAM_NAME),
  UPSTREAM_URL: z.union([z.literal(""), httpUrl]).default(CONFIG_DEFAULTS.UPSTREAM_URL),
  UPSTREAM_CREDENTIAL: z.string().optional(),
  UPSTREAM_CREDENTIAL_HEADER: z.string().min(1).default(CONFIG_DEFAULTS.UPSTREAM_CREDENTIAL_HEADER),
  UPSTREAM_TIMEOUT_MS: positiveInt(CONFIG_DEFAULTS.UPSTREAM_TIMEOUT_MS),
  UNKNOWN_TOOL_ERROR_CODE: z.coerce.number().int().default(CONFIG_DEFAULTS.UNKNOWN_TOOL_ERROR_CODE),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters (wrangler secret put SESSION_SECRET)"),
  CACHE_TTL_MS: positiveInt(CONFIG_DEFAULTS.CACHE_TTL_MS),
  MAX_BODY_BYTES: positiveInt(CONFIG_DEFAULTS.MAX_BODY_BYTES),
  SSE_KEEPALIVE_MS: positiveInt(CONFIG_DEFAULTS.SSE_KEEPALIVE_MS),
  MAX_HOLD_WITHOUT_PROGRESS_MS: positiveInt(CONFIG_DEFAULTS.MAX_HOLD_WITHOUT_PROGRESS_MS),
  MAX_PENDING_APPROVALS: positiveInt(CONFIG_DEFAULTS.MAX_PENDING_APPROVALS),
  MAX_APPROVAL_ARGUMENT_BYTES: positiveInt(CONFIG_DEFAULTS.MAX_APPROVAL_ARGUMENT_BYTES),
  FORWARD_HEADERS: z
    .string()
    .default(CONFIG_DEFAULTS.FORWARD_HEADERS)
    .transform((list) => list.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean)),
  ALLOWED_ORIGINS: z
    .string()
    .default(CONFIG_DEFAULTS.ALLOWED_ORIGINS)
    .transform((list) => list.split(",").map((origin) => origin.trim()).filter(Boolean)),
  PUBLIC_URL: z.union([z.literal(""), httpUrl]).default(CONFIG_DEFAULTS.PUBLIC_URL),
  AUDIT_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(CONFIG_DEFAULTS.AUDIT_RETENTION_DAYS),
  OAUTH_ACCESS_TOKEN_TTL: oauthSeconds(CONFIG_DEFAULTS.OAUTH_ACCESS_TOKEN_TTL),
  OAUTH_REFRESH_TOKEN_TTL: oauthSeconds(CONFIG_DEFAULTS.OAUTH_REFRESH_TOKEN_TTL),
});

export type GatewayConfig = {
  /** The MCP servers behind the gateway, in declaration order (src/servers/registry.ts). */
  servers: Map<string, Server>;
  /** The first of them: the one a grant reaches when its record names none (every grant made before servers were named). */
  defaultServer: Server;
  /** How the upstream answers a call to a tool it does not have (Iterable: -32601; the spec suggests -32602). */
  unknownToolErrorCode: number;
  sessionSecret: string;
  /** How long policies and grants are cached in the isolate. */
  cacheTtlMs: number;
  maxBodyBytes: number;
  sseKeepAliveMs: number;
  /**
   * The longest a call is held for approval when it carries no progress token: MCP clients give up on a
   * request after 60 s by default (the TS SDK's DEFAULT_REQUEST_TIMEOUT_MSEC) unless progress resets the clock.
   */
  maxHoldWithoutProgressMs: number;
  /** Pending approvals one grant may have at once: the next distinct call needing one is refused (approval_limit). */
  maxPendingApprovals: number;
  /** Largest canonical call (arguments and other params) a person is asked to approve, in UTF-8 bytes. */
  maxApprovalArgumentBytes: number;
  /** Agent headers forwarded upstream beyond the protocol's own and trace context (lower case). */
  forwardHeaders: string[];
  /** Browser origins allowed to call /mcp: ALLOWED_ORIGINS plus the public URL's origin(s). */
  allowedOrigins: string[];
  /** Host header values accepted, or undefined when any host is (see allowedHostsFor). */
  allowedHosts: string[] | undefined;
  /** The deployment's own origin (PUBLIC_URL), for links it hands out (approval pages); also the OAuth issuer. */
  publicUrl: string | undefined;
  /** PUBLIC_URL is a loopback URL (`npm start`): each loopback name of its port is the same server. */
  publicUrlIsLoopback: boolean;
  /** How long an OAuth access token lives (seconds). */
  oauthAccessTokenTtlSeconds: number;
  /** How long an OAuth sign-in lasts, refreshes included (seconds): then the client signs in again. */
  oauthRefreshTokenTtlSeconds: number;
};

// Env objects are stable per isolate, so the parsed config is computed once per env.
const cache = new WeakMap<object, GatewayConfig>();

/**
 * The gateway's settings from Worker vars and secrets. A misconfiguration is a
 * deploy-time mistake: it throws with the offending variable named, and the
 * request fails closed.
 */
export function readConfig(env: object): GatewayConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid gateway configuration: ${issues}`);
  }
  const vars = parsed.data;
  const legacy = {
    name: vars.UPSTREAM_NAME,
    url: vars.UPSTREAM_URL,
    credentialHeader: vars.UPSTREAM_CREDENTIAL_HEADER,
    credential: vars.UPSTREAM_CREDENTIAL || undefined,
    timeoutMs: vars.UPSTREAM_TIMEOUT_MS,
  };
  const servers = resolveServers(env, vars.SERVERS, legacy, vars.UPSTREAM_TIMEOUT_MS);
  const publicUrl = vars.PUBLIC_URL === "" ? undefined : new URL(vars.PUBLIC_URL);
  const config: GatewayConfig = {
    servers,
    defaultServer: [...servers.values()][0]!,
    unknownToolErrorCode: vars.UNKNOWN_TOOL_ERROR_CODE,
    sessionSecret: vars.SESSION_SECRET,
    cacheTtlMs: vars.CACHE_TTL_MS,
    maxBodyBytes: vars.MAX_BODY_BYTES,
    sseKeepAliveMs: vars.SSE_KEEPALIVE_MS,
    maxHoldWithoutProgressMs: vars.MAX_HOLD_WITHOUT_PROGRESS_MS,
    maxPendingApprovals: vars.MAX_PENDING_APPROVALS,
    maxApprovalArgumentBytes: vars.MAX_APPROVAL_ARGUMENT_BYTES,
    forwardHeaders: vars.FORWARD_HEADERS,
    allowedOrigins: [...vars.ALLOWED_ORIGINS, ...publicOrigins(publicUrl)],
    allowedHosts: allowedHostsFor(publicUrl),
    publicUrl: publicUrl?.origin,
    publicUrlIsLoopback: publicUrl !== undefined && isLoopback(publicUrl),
    oauthAccessTokenTtlSeconds: vars.OAUTH_ACCESS_TOKEN_TTL,
    oauthRefreshTokenTtlSeconds: vars.OAUTH_REFRESH_TOKEN_TTL,
  };
  cache.set(env, config);
  return config;
}

const LOOPBACK_HOSTNAMES = ["localhost", "127.0.0.1", "[::1]"];

function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTNAMES.includes(url.hostname);
}

/** The origins a page served by the gateway itself would send: for a loopback URL, each loopback name on its port. */
function publicOrigins(publicUrl: URL | undefined): string[] {
  if (!publicUrl) return [];
  if (!isLoopback(publicUrl)) return [publicUrl.origin];
  return LOOPBACK_HOSTNAMES.map((hostname) => `${publicUrl.protocol}//${hostname}${publicUrl.port ? `:${publicUrl.port}` : ""}`);
}

/**
 * DNS rebinding targets servers on a developer's machine: a page on
 * evil.example whose name re-resolves to 127.0.0.1 reaches the local gateway
 * with `Host: evil.example`. So when the public URL is a loopback one (as
 * under `npm start`), only loopback names on its port are accepted as Host.
 * On Cloudflare the edge routes only the hostnames the deployment owns, so a
 * deployed gateway does not restrict Host.
 */
function allowedHostsFor(publicUrl: URL | undefined): string[] | undefined {
  if (!publicUrl || !isLoopback(publicUrl)) return undefined;
  return LOOPBACK_HOSTNAMES.map((hostname) => (publicUrl.port ? `${hostname}:${publicUrl.port}` : hostname));
}
