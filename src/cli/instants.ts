import { durationMs } from "../policy/schema.ts";
import { UsageError } from "./errors.ts";
import { printable } from "./text.ts";

/** `30m`, `24h`, `7d` (that long before now) or an ISO time, in ms since the epoch; anything else is a usage error naming the flag. */
export function instant(flag: string, value: string, now = Date.now()): number {
  if (/^\d+[smhd]$/.test(value)) return now - durationMs(value);
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new UsageError(`${flag} takes a duration before now (30m, 24h, 7d) or an ISO time (2026-11-25T10:00:00Z), not "${printable(value)}"`);
  return at;
}

/** A window from --since and --until (either may be absent), checked in order. */
export function timeWindow(since: string | undefined, until: string | undefined, now = Date.now()): { since?: string; until?: string } {
  const from = since === undefined ? undefined : instant("--since", since, now);
  const to = until === undefined ? undefined : instant("--until", until, now);
  if (from !== undefined && to !== undefined && from >= to) throw new UsageError(`--since (${new Date(from).toISOString()}) must be before --until (${new Date(to).toISOString()})`);
  return { ...(from !== undefined ? { since: new Date(from).toISOString() } : {}), ...(to !== undefined ? { until: new Date(to).toISOString() } : {}) };
}
