/**
 * Stall control for timeout tests: `?delayMs=N` on any sandbox URL makes the Worker
 * wait N milliseconds before producing any response (status line included), so a
 * test can drive the gateway's upstream timeout without a slow tool.
 */
export const MAX_DELAY_MS = 5 * 60_000;

export async function stallIfAsked(url: URL): Promise<void> {
  const delayMs = Number(url.searchParams.get("delayMs") ?? 0);
  if (!Number.isFinite(delayMs) || delayMs <= 0) return;
  await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, MAX_DELAY_MS)));
}
