/**
 * The counting core of the per-grant Durable Object, over its SQLite storage.
 * Every method runs synchronously (no await between reading and writing), so
 * inside a Durable Object each call is atomic: concurrent reservations are
 * decided one after another, never interleaved.
 *
 * Tables:
 * - `usage(id, reservation, counter, scope_key, at, amount)`: one row per
 *   counted call and counter. A call counts from the moment it is reserved;
 *   rows disappear only when a reservation is rolled back (the upstream
 *   provably did not run the call) or when they are older than every window
 *   that reads them.
 * - `retention(counter, scope_key, keep_ms)`: the longest window any limit
 *   has used for a counter, which is how long its rows must be kept.
 * - `usage_sums(counter, scope_key, window_ms, calendar, after, used)`: per
 *   window a counter is read with, `used` is always the SUM of its rows with
 *   `at > after`. A check moves `after` up to its window's start, taking off
 *   the rows that left the window, so a call costs the rows that came and went
 *   since the last one, not every row in the window (a grant allowed 100,000
 *   calls a day would otherwise sum up to 100,000 rows on each call).
 *
 * Rows are bounded by the limits in force: a window never holds more than
 * `max` counted units, and nothing is kept more than PRUNE_EVERY_MS past the
 * longest window.
 */

/** One limit to check and consume, as the gateway resolved it. */
export type LedgerItem = {
  counter: string;
  /** "grant", "session:<id>" or "global": counts in separate buckets. */
  scopeKey: string;
  windowMs: number;
  calendar: boolean;
  max: number;
  amount: number;
  /** JSON pointer of the limit in the policy, echoed back on refusal. */
  rule: string;
};

export type Reservation =
  | { ok: true; reservation: string; overLimit?: LimitHit }
  | { ok: false; hit: LimitHit };

export type LimitHit = {
  counter: string;
  rule: string;
  max: number;
  windowMs: number;
  used: number;
  amount: number;
  /** Seconds until the call would fit, or null when it never can (amount > max). */
  retryAfter: number | null;
};

export const LEDGER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY,
    reservation TEXT NOT NULL,
    counter TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    at INTEGER NOT NULL,
    amount INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS usage_window ON usage (counter, scope_key, at);
  CREATE INDEX IF NOT EXISTS usage_reservation ON usage (reservation);
  CREATE TABLE IF NOT EXISTS usage_sums (
    counter TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    calendar INTEGER NOT NULL,
    after INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (counter, scope_key, window_ms, calendar)
  );
  CREATE TABLE IF NOT EXISTS retention (
    counter TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    keep_ms INTEGER NOT NULL,
    PRIMARY KEY (counter, scope_key)
  );
`;

/** A counter's expired rows are deleted at most this often (so at most this much longer than its longest window). */
const PRUNE_EVERY_MS = 1_000;
/**
 * What the object remembers per counter and scope (below) is forgotten whole
 * past this many buckets: session scopes are as many as an agent opens
 * sessions, and forgetting costs a statement on the next call, never a count.
 */
const MEMO_BUCKETS = 1_000;

/** A counter in one scope: the unit that retention, sums and pruning go by. */
const bucketOf = (counter: string, scopeKey: string) => `${counter}\u0000${scopeKey}`;

function remember<V>(memo: Map<string, V>, bucket: string, value: V): void {
  if (memo.size >= MEMO_BUCKETS && !memo.has(bucket)) memo.clear();
  memo.set(bucket, value);
}

export class Ledger {
  #sql: SqlStorage;
  /** What this object knows of `retention` (keep_ms by counter and scope), so a call writes it only when it grows. */
  #keep = new Map<string, number>();
  /** When each counter and scope was last pruned. */
  #prunedAt = new Map<string, number>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /**
   * Checks every item and, only if all fit, records them all under one
   * reservation id. `force` (monitor mode) records even when a limit is
   * exceeded and reports the hit instead of refusing.
   */
  reserve(items: LedgerItem[], now: number, reservation: string, force = false): Reservation {
    const hit = items.map((item) => this.#check(item, now)).find((result) => result !== undefined);
    if (hit && !force) return { ok: false, hit };
    // Limits that share a counter and scope share one count: record it once.
    const recorded = new Map<string, LedgerItem>();
    for (const item of items) {
      const bucket = bucketOf(item.counter, item.scopeKey);
      const seen = recorded.get(bucket);
      if (!seen || item.amount > seen.amount) recorded.set(bucket, item);
      this.#retain(item);
    }
    for (const item of recorded.values()) {
      if (item.amount <= 0) continue;
      this.#sql.exec(
        "INSERT INTO usage (reservation, counter, scope_key, at, amount) VALUES (?, ?, ?, ?, ?)",
        reservation,
        item.counter,
        item.scopeKey,
        now,
        item.amount,
      );
      this.#sql.exec("UPDATE usage_sums SET used = used + ? WHERE counter = ? AND scope_key = ? AND after < ?", item.amount, item.counter, item.scopeKey, now);
      this.#prune(item.counter, item.scopeKey, now);
    }
    return hit ? { ok: true, reservation, overLimit: hit } : { ok: true, reservation };
  }

  /** How much of a limit is used now (what a call would be checked against). */
  used(item: Pick<LedgerItem, "counter" | "scopeKey" | "windowMs" | "calendar">, now: number): number {
    const start = windowStart(item, now);
    const key = [item.counter, item.scopeKey, item.windowMs, item.calendar ? 1 : 0] as const;
    const sum = this.#sql.exec<{ after: number; used: number }>("SELECT after, used FROM usage_sums WHERE counter = ? AND scope_key = ? AND window_ms = ? AND calendar = ?", ...key).toArray()[0];
    if (sum && sum.after === start) return sum.used;
    // Moving on: take off what left the window. First use, or a clock that went back: sum it whole.
    const leaving = sum && sum.after < start ? this.#sumBetween(item.counter, item.scopeKey, sum.after, start) : undefined;
    // Nothing left: the sum stands as it is, from where it was (a sliding window moves every
    // millisecond, and this saves a write per call; #prune moves a sum on before rows behind it go).
    if (sum && leaving === 0) return sum.used;
    const used = sum && leaving !== undefined ? sum.used - leaving : this.#sumAfter(item.counter, item.scopeKey, start);
    this.#sql.exec(
      `INSERT INTO usage_sums (counter, scope_key, window_ms, calendar, after, used) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (counter, scope_key, window_ms, calendar) DO UPDATE SET after = excluded.after, used = excluded.used`,
      ...key,
      start,
      used,
    );
    return used;
  }

  #sumAfter(counter: string, scopeKey: string, after: number): number {
    return this.#sql.exec<{ used: number }>("SELECT COALESCE(SUM(amount), 0) AS used FROM usage WHERE counter = ? AND scope_key = ? AND at > ?", counter, scopeKey, after).one().used;
  }

  /** The rows with `from < at <= to`: those leaving a window whose start moves from `from` to `to`. */
  #sumBetween(counter: string, scopeKey: string, from: number, to: number): number {
    return this.#sql
      .exec<{ used: number }>("SELECT COALESCE(SUM(amount), 0) AS used FROM usage WHERE counter = ? AND scope_key = ? AND at > ? AND at <= ?", counter, scopeKey, from, to)
      .one().used;
  }

  /** An operator's reset: everything counted for this counter and scope is forgotten. Returns the rows dropped. */
  reset(counter: string, scopeKey: string): number {
    this.#sql.exec("DELETE FROM usage_sums WHERE counter = ? AND scope_key = ?", counter, scopeKey);
    return this.#sql.exec("DELETE FROM usage WHERE counter = ? AND scope_key = ?", counter, scopeKey).rowsWritten;
  }

  /** Uncounts a reservation whose call provably never ran upstream. */
  rollback(reservation: string): number {
    const rows = this.#sql.exec<{ counter: string; scope_key: string; at: number; amount: number }>("SELECT counter, scope_key, at, amount FROM usage WHERE reservation = ?", reservation).toArray();
    for (const row of rows) {
      this.#sql.exec("UPDATE usage_sums SET used = used - ? WHERE counter = ? AND scope_key = ? AND after < ?", row.amount, row.counter, row.scope_key, row.at);
    }
    return this.#sql.exec("DELETE FROM usage WHERE reservation = ?", reservation).rowsWritten;
  }

  /** Drops every row older than its counter's longest window; returns how many rows remain. */
  pruneAll(now: number): number {
    // Rare (the alarm): the sums are worked out again from the rows left, on their next use.
    this.#sql.exec("DELETE FROM usage_sums");
    this.#sql.exec(
      `DELETE FROM usage WHERE at <= ? - COALESCE(
         (SELECT keep_ms FROM retention r WHERE r.counter = usage.counter AND r.scope_key = usage.scope_key), 0)`,
      now,
    );
    return this.rowCount();
  }

  rowCount(): number {
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM usage").one().n;
  }

  #check(item: LedgerItem, now: number): LimitHit | undefined {
    const used = this.used(item, now);
    if (used + item.amount <= item.max) return undefined;
    return { counter: item.counter, rule: item.rule, max: item.max, windowMs: item.windowMs, used, amount: item.amount, retryAfter: this.#retryAfter(item, now, used) };
  }

  /** When enough of the window's usage will have expired for this call to fit. */
  #retryAfter(item: LedgerItem, now: number, used: number): number | null {
    if (item.amount > item.max) return null;
    if (item.calendar) return Math.ceil((windowStart(item, now) + 1 + item.windowMs - now) / 1000);
    let remaining = used;
    const rows = this.#sql.exec<{ at: number; amount: number }>(
      "SELECT at, amount FROM usage WHERE counter = ? AND scope_key = ? AND at > ? ORDER BY at",
      item.counter,
      item.scopeKey,
      now - item.windowMs,
    );
    for (const row of rows) {
      remaining -= row.amount;
      if (remaining + item.amount <= item.max) return Math.max(1, Math.ceil((row.at + item.windowMs - now) / 1000));
    }
    return Math.ceil(item.windowMs / 1000);
  }

  #retain(item: LedgerItem): void {
    const bucket = bucketOf(item.counter, item.scopeKey);
    if ((this.#keep.get(bucket) ?? -1) >= item.windowMs) return;
    const kept = this.#sql
      .exec<{ keep_ms: number }>(
        `INSERT INTO retention (counter, scope_key, keep_ms) VALUES (?, ?, ?)
         ON CONFLICT (counter, scope_key) DO UPDATE SET keep_ms = MAX(keep_ms, excluded.keep_ms) RETURNING keep_ms`,
        item.counter,
        item.scopeKey,
        item.windowMs,
      )
      .one().keep_ms;
    remember(this.#keep, bucket, kept);
  }

  #prune(counter: string, scopeKey: string, now: number): void {
    const bucket = bucketOf(counter, scopeKey);
    const keepMs = this.#keep.get(bucket);
    const last = this.#prunedAt.get(bucket);
    if (keepMs === undefined || (last !== undefined && now >= last && now - last < PRUNE_EVERY_MS)) return;
    remember(this.#prunedAt, bucket, now);
    const cutoff = now - keepMs;
    // A sum that still counts rows about to go moves past them first (keep_ms is every window's length or more).
    const behind = this.#sql.exec<{ window_ms: number; calendar: number; after: number }>(
      "SELECT window_ms, calendar, after FROM usage_sums WHERE counter = ? AND scope_key = ? AND after < ?",
      counter,
      scopeKey,
      cutoff,
    );
    for (const sum of behind.toArray()) {
      const leaving = this.#sumBetween(counter, scopeKey, sum.after, cutoff);
      this.#sql.exec(
        "UPDATE usage_sums SET after = ?, used = used - ? WHERE counter = ? AND scope_key = ? AND window_ms = ? AND calendar = ?",
        cutoff,
        leaving,
        counter,
        scopeKey,
        sum.window_ms,
        sum.calendar,
      );
    }
    this.#sql.exec("DELETE FROM usage WHERE counter = ? AND scope_key = ? AND at <= ?", counter, scopeKey, cutoff);
  }
}

/**
 * Usage strictly after this instant counts. Sliding: the last window-length.
 * Calendar: since the start of the current fixed UTC window (epoch-aligned,
 * so "day" resets at midnight UTC).
 */
function windowStart(item: Pick<LedgerItem, "windowMs" | "calendar">, now: number): number {
  return item.calendar ? Math.floor(now / item.windowMs) * item.windowMs - 1 : now - item.windowMs;
}
