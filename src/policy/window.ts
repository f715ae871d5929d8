import { durationMs, type Limit } from "./schema.ts";

const NAMED: ReadonlyMap<string, number> = new Map([
  ["second", 1_000],
  ["minute", 60_000],
  ["hour", 3_600_000],
  ["day", 86_400_000],
]);

/** A limit's window in milliseconds: "minute" → 60000, "15m" → 900000. */
export function windowMs(window: Limit["window"]): number {
  return NAMED.get(window) ?? durationMs(window);
}
