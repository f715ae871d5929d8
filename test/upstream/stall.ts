/**
 * Stall control for timeout tests: `?delayMs=N` on any sandbox URL, or the
 * request header `x-sandbox-delay-ms: N` (which a proxy relays per request),
 * makes the Worker wait N milliseconds before producing any response (status
 * line included), so a test can drive the gateway's upstream timeout without a
 * slow tool.
 */
export const MAX_DELAY_MS = 5 * 60_000;
export const DELAY_HEADER = "x-sandbox-delay-ms";

export async function stallIfAsked(request: Request): Promise<void> {
  const asked = new URL(request.url).searchParams.get("delayMs") ?? request.headers.get(DELAY_HEADER) ?? 0;
  const delayMs = Number(asked);
  if (!Number.isFinite(delayMs) || delayMs <= 0) return;
  await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, MAX_DELAY_MS)));
}
