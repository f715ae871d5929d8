import type { Limit } from "./schema.ts";

const NAMED: Record<string, number> = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const UNIT: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A limit's window in milliseconds: "minute" → 60000, "15m" → 900000. */
export function windowMs(window: Limit["window"]): number {
  const named = NAMED[window];
  if (named !== undefined) return named;
  const match = /^(\d+)([smhd])$/.exec(window);
  if (!match) throw new Error(`invalid window: ${window}`);
  return Number(match[1]) * (UNIT[match[2] ?? "s"] ?? 0);
}
