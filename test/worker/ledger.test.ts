import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Ledger, type LedgerItem } from "../../src/grant-object/ledger.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;

/** The ledger inside a real Durable Object's SQLite storage, driven with explicit clock values. */
async function withLedger<T>(run: (ledger: Ledger, sql: SqlStorage) => T): Promise<T> {
  const stub = env.GRANT_OBJECT.getByName(`ledger-${crypto.randomUUID()}`);
  return runInDurableObject(stub, (_instance, state) => run(new Ledger(state.storage.sql), state.storage.sql));
}

const limit = (overrides: Partial<LedgerItem> = {}): LedgerItem => ({
  counter: "send_campaign_rate",
  scopeKey: "grant",
  windowMs: MINUTE,
  calendar: false,
  max: 10,
  amount: 1,
  rule: "/tools/send_campaign/limits/0",
  ...overrides,
});

describe("the ledger's windows, with a controlled clock", () => {
  it("sliding: 10 at t=0, refused at t=59 s with a 1 s retry, allowed from t=60 s", async () => {
    await withLedger((ledger) => {
      const t0 = 1_800_000_000_000;
      for (let i = 0; i < 10; i++) expect(ledger.reserve([limit()], t0, `r${i}`).ok).toBe(true);
      expect(ledger.reserve([limit()], t0 + 30_000, "x")).toMatchObject({ ok: false, hit: { used: 10, retryAfter: 30 } });
      expect(ledger.reserve([limit()], t0 + 59_000, "x")).toMatchObject({ ok: false, hit: { retryAfter: 1 } });
      expect(ledger.reserve([limit()], t0 + 59_999, "x").ok).toBe(false);
      expect(ledger.reserve([limit()], t0 + 60_000, "y").ok).toBe(true);
    });
  });

  it("sliding windows never let more than max through in any window-length", async () => {
    await withLedger((ledger) => {
      const t0 = 1_800_000_000_000;
      const accepted: number[] = [];
      // A call every 7 s for 10 minutes against 3 per minute.
      for (let t = t0; t < t0 + 10 * MINUTE; t += 7_000) {
        if (ledger.reserve([limit({ max: 3 })], t, `r${t}`).ok) accepted.push(t);
      }
      for (const start of accepted) expect(accepted.filter((t) => t >= start && t < start + MINUTE).length).toBeLessThanOrEqual(3);
      expect(accepted.length).toBeGreaterThan(20);
    });
  });

  it("calendar: a daily quota resets at midnight UTC, and says how long until then", async () => {
    await withLedger((ledger) => {
      const daily = limit({ windowMs: DAY, calendar: true, max: 2 });
      const lateEvening = Date.parse("2026-11-25T23:59:00Z");
      expect(ledger.reserve([daily], Date.parse("2026-11-25T00:00:00Z"), "a").ok).toBe(true);
      expect(ledger.reserve([daily], Date.parse("2026-11-25T12:00:00Z"), "b").ok).toBe(true);
      expect(ledger.reserve([daily], lateEvening, "c")).toMatchObject({ ok: false, hit: { retryAfter: 60 } });
      expect(ledger.reserve([daily], Date.parse("2026-11-26T00:00:00Z"), "d").ok).toBe(true);
    });
  });

  it("one call consumes all its limits or none", async () => {
    await withLedger((ledger) => {
      const now = 1_800_000_000_000;
      const perMinute = limit({ counter: "a", max: 5 });
      const perDay = limit({ counter: "b", windowMs: DAY, max: 1 });
      expect(ledger.reserve([perMinute, perDay], now, "first").ok).toBe(true);
      expect(ledger.reserve([perMinute, perDay], now, "second")).toMatchObject({ ok: false, hit: { counter: "b" } });
      // "a" was not consumed by the refused call: four more fit.
      for (let i = 0; i < 4; i++) expect(ledger.reserve([perMinute], now, `a${i}`).ok).toBe(true);
      expect(ledger.reserve([perMinute], now, "over").ok).toBe(false);
    });
  });

  it("a call counting more than max can never pass, and says so", async () => {
    await withLedger((ledger) => {
      expect(ledger.reserve([limit({ max: 2, amount: 3 })], 1_800_000_000_000, "big")).toMatchObject({ ok: false, hit: { retryAfter: null } });
    });
  });

  it("rollback uncounts exactly one reservation", async () => {
    await withLedger((ledger) => {
      const now = 1_800_000_000_000;
      ledger.reserve([limit({ max: 2 })], now, "keep");
      ledger.reserve([limit({ max: 2 })], now, "undo");
      expect(ledger.rollback("undo")).toBe(1);
      expect(ledger.reserve([limit({ max: 2 })], now, "again").ok).toBe(true);
      expect(ledger.reserve([limit({ max: 2 })], now, "over").ok).toBe(false);
    });
  });

  it("storage stays bounded by the limits, not by traffic, over many windows", async () => {
    await withLedger((ledger, sql) => {
      const t0 = 1_800_000_000_000;
      for (let i = 0; i < 2_000; i++) ledger.reserve([limit({ max: 10 })], t0 + i * 1_000, `r${i}`);
      expect(ledger.rowCount()).toBeLessThanOrEqual(10);
      const counted = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM usage").one().n;
      expect(counted).toBe(ledger.rowCount());
    });
  });

  it("a call's check reads the rows that came and went since the last call, not every row in its window, and writes no sum back when none went", async () => {
    await withLedger((_ledger, sql) => {
      // Every statement and its cursor, so the rows each reservation read and wrote can be added up.
      const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
      const statements: string[] = [];
      const counted = {
        exec: (...args: Parameters<SqlStorage["exec"]>) => (statements.push(args[0]), cursors.push(sql.exec(...args)), cursors.at(-1)!),
      } as unknown as SqlStorage;
      const ledger = new Ledger(counted);
      const hourly = limit({ windowMs: 3_600_000, max: 1_000_000 });
      const t0 = 1_800_000_000_000;
      for (let i = 0; i <= 5_000; i++) ledger.reserve([hourly], t0 + i, `r${i}`);
      // The call after (expired rows were pruned at t0 + 5,000, at most once a second).
      [cursors.length, statements.length] = [0, 0];
      expect(ledger.reserve([hourly], t0 + 5_001, "next").ok).toBe(true);
      const read = cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
      // Summing the window would read 5,002 rows.
      expect(read).toBeLessThan(50);
      // Its own row, and the sum moved on by it; the window's start moved, but nothing left it, so no sum is written back.
      expect(statements.filter((statement) => /^(INSERT|UPDATE|DELETE)/.test(statement))).toEqual([
        expect.stringMatching(/^INSERT INTO usage \(/),
        expect.stringMatching(/^UPDATE usage_sums SET used = used \+/),
      ]);
      expect(ledger.used(hourly, t0 + 5_001)).toBe(5_002);
    });
  });

  it("past a thousand session scopes (an agent opening sessions) every scope is still counted and pruned", async () => {
    await withLedger((ledger) => {
      const t0 = 1_800_000_000_000;
      const perSession = (session: number) => limit({ scopeKey: `session:${session}`, max: 1 });
      for (let session = 0; session < 1_500; session++) expect(ledger.reserve([perSession(session)], t0 + session, `r${session}`).ok).toBe(true);
      expect(ledger.reserve([perSession(3)], t0 + 2_000, "again").ok).toBe(false);
      // A window later each session may call again, and the rows of the first window are gone once pruned.
      const later = t0 + MINUTE + 2_000;
      for (let session = 0; session < 1_500; session++) expect(ledger.reserve([perSession(session)], later + session * 1_000, `s${session}`).ok).toBe(true);
      expect(ledger.rowCount()).toBe(1_500);
      expect(ledger.used(perSession(1_499), later + 1_499_000)).toBe(1);
    });
  });

  it("the running sums always equal the rows they stand for, through reservations, rollbacks, resets, prunes and a clock going back", async () => {
    await withLedger((ledger, sql) => {
      let seed = 7;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const items = [
        limit({ counter: "a", windowMs: MINUTE, max: 40 }),
        limit({ counter: "a", windowMs: 10 * MINUTE, max: 200, amount: 2 }),
        limit({ counter: "a", windowMs: DAY, calendar: true, max: 1_000 }),
        limit({ counter: "b", windowMs: 5 * MINUTE, max: 30, scopeKey: "session:x" }),
      ];
      const naive = (item: LedgerItem, now: number) => {
        const start = item.calendar ? Math.floor(now / item.windowMs) * item.windowMs - 1 : now - item.windowMs;
        return sql.exec<{ n: number }>("SELECT COALESCE(SUM(amount), 0) AS n FROM usage WHERE counter = ? AND scope_key = ? AND at > ?", item.counter, item.scopeKey, start).one().n;
      };
      let now = 1_800_000_000_000;
      const reservations: string[] = [];
      for (let step = 0; step < 3_000; step++) {
        const roll = random();
        now += roll < 0.03 ? -Math.floor(random() * 30_000) : Math.floor(random() * (roll < 0.1 ? 600_000 : 5_000));
        const chosen = items.filter(() => random() < 0.5);
        if (roll < 0.02) ledger.pruneAll(now);
        else if (roll < 0.025) ledger.reset("a", "grant");
        else if (roll < 0.1 && reservations.length > 0) ledger.rollback(reservations[Math.floor(random() * reservations.length)]!);
        else if (chosen.length > 0) {
          const id = `r${step}`;
          if (ledger.reserve(chosen.map((item) => ({ ...item, amount: item.amount + Math.floor(random() * 3) })), now, id, random() < 0.2).ok) reservations.push(id);
        }
        for (const item of items) expect(ledger.used(item, now), `step ${step}, ${item.counter} ${item.windowMs}`).toBe(naive(item, now));
      }
    });
  });

  it("the prune alarm empties an idle grant's storage", async () => {
    const stub = env.GRANT_OBJECT.getByName(`idle-${crypto.randomUUID()}`);
    await stub.authorize({ items: [limit({ windowMs: 1_000 })], force: false });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (_instance, state) => new Ledger(state.storage.sql).rowCount())).toBe(0);
  });
});
