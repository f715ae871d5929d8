import type { Context } from "hono";

/**
 * Throttles per client address, on Cloudflare's Workers rate-limiting
 * bindings (`[[ratelimits]]` in wrangler.toml; `wrangler dev` and the
 * Workers tests run the same counters locally). A limiter counts what it is
 * shown: callers show it only what must be throttled (a failed credential, a
 * registration), so a correct token and an agent's /mcp traffic never reach
 * it and are never slowed.
 *
 * On Cloudflare each location counts on its own (the binding is per colo and
 * eventually consistent), so the bound is per address per location: enough to
 * turn a flood or a guessing run into 429s, not an exact global count.
 */

/** The throttles, as wrangler.toml declares them: a window of `periodSeconds` (10 or 60), `limit` per address. */
export const THROTTLES = {
  /** Failed credentials: a wrong admin token (API, console sign-in, operator sign-in on /authorize), a wrong grant token on /authorize. */
  AUTH_FAILURE_THROTTLE: { limit: 10, periodSeconds: 60 },
  /** OAuth dynamic client registrations. */
  REGISTRATION_THROTTLE: { limit: 10, periodSeconds: 60 },
} as const;

export type ThrottleName = keyof typeof THROTTLES;

/** The address a request came from: Cloudflare's CF-Connecting-IP (set by the edge and by `wrangler dev`). */
export function clientAddress(request: Request): string {
  return request.headers.get("cf-connecting-ip")?.trim().slice(0, 64) || "unknown";
}

export type ThrottleOutcome = { throttled: false } | { throttled: true; retryAfterSeconds: number };

/**
 * Counts one event for this request's address; throttled once the address
 * has had more than the limit in the window. A limiter that cannot be reached
 * throttles nothing (the event itself, a failed credential or a bounded
 * registration, is refused or accepted on its own merits) and is logged.
 */
export async function countAgainst(env: object, name: ThrottleName, request: Request, scope: string): Promise<ThrottleOutcome> {
  const limiter = (env as Partial<Record<ThrottleName, RateLimit>>)[name];
  const address = clientAddress(request);
  if (!limiter) {
    console.error(JSON.stringify({ event: "throttle_unavailable", throttle: name, reason: "binding missing" }));
    return { throttled: false };
  }
  try {
    const { success } = await limiter.limit({ key: `${scope}:${address}` });
    if (success) return { throttled: false };
  } catch (error) {
    console.error(JSON.stringify({ event: "throttle_unavailable", throttle: name, reason: String(error).slice(0, 200) }));
    return { throttled: false };
  }
  const retryAfterSeconds = THROTTLES[name].periodSeconds;
  console.warn(JSON.stringify({ event: "throttled", throttle: name, scope, address, retryAfterSeconds }));
  return { throttled: true, retryAfterSeconds };
}

/** HTTP 429 with Retry-After, as JSON (APIs) unless the caller renders a page. */
export function tooManyRequests(c: Context, retryAfterSeconds: number, message: string): Response {
  c.header("Retry-After", String(retryAfterSeconds));
  return c.json({ error: "too_many_requests", message }, 429);
}
