import { z } from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const ConfigSchema = z.object({
  UPSTREAM_URL: z.url({ protocol: /^https?$/ }),
  UPSTREAM_CREDENTIAL: z.string().optional(),
  UPSTREAM_CREDENTIAL_HEADER: z.string().min(1).default("Authorization"),
  UPSTREAM_TIMEOUT_MS: positiveInt(30_000),
  UNKNOWN_TOOL_ERROR_CODE: z.coerce.number().int().default(-32602),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters (wrangler secret put SESSION_SECRET)"),
  CACHE_TTL_MS: positiveInt(30_000),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  SSE_KEEPALIVE_MS: positiveInt(25_000),
  ALLOWED_ORIGINS: z
    .string()
    .default("")
    .transform((list) => list.split(",").map((origin) => origin.trim()).filter(Boolean)),
});

export type GatewayConfig = {
  upstreamUrl: URL;
  upstreamCredential: string | undefined;
  upstreamCredentialHeader: string;
  upstreamTimeoutMs: number;
  /** How the upstream answers a call to a tool it does not have (-32602 per spec; Iterable: -32601). */
  unknownToolErrorCode: number;
  sessionSecret: string;
  /** How long policies and grants are cached in the isolate. */
  cacheTtlMs: number;
  maxBodyBytes: number;
  sseKeepAliveMs: number;
  allowedOrigins: string[];
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
  const config: GatewayConfig = {
    upstreamUrl: new URL(vars.UPSTREAM_URL),
    upstreamCredential: vars.UPSTREAM_CREDENTIAL || undefined,
    upstreamCredentialHeader: vars.UPSTREAM_CREDENTIAL_HEADER,
    upstreamTimeoutMs: vars.UPSTREAM_TIMEOUT_MS,
    unknownToolErrorCode: vars.UNKNOWN_TOOL_ERROR_CODE,
    sessionSecret: vars.SESSION_SECRET,
    cacheTtlMs: vars.CACHE_TTL_MS,
    maxBodyBytes: vars.MAX_BODY_BYTES,
    sseKeepAliveMs: vars.SSE_KEEPALIVE_MS,
    allowedOrigins: vars.ALLOWED_ORIGINS,
  };
  cache.set(env, config);
  return config;
}
