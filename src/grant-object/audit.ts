import { boundedRecord } from "../audit/bounds.ts";
import type { AuditPosition, AuditRecord } from "../audit/record.ts";

/** The most record text one page carries (about: never fewer than one record, each at most 64 KiB). */
export const PAGE_BYTES = 1024 * 1024;

/**
 * The audit trail of one grant, in its Durable Object's SQLite storage:
 * every decision about its calls and every operator action on it.
 *
 * Table `audit(id, at, kind, decision, tool, record)`: one row per record;
 * `at` is its time in ms, `decision` the call's decision or "admin" for an
 * operator's action, `record` the AuditRecord JSON. Queried newest first
 * (at, id), filtered by decision, tool and time. Rows older than the
 * retention period are deleted by the object's alarm, so storage is bounded
 * by traffic over that period.
 */
export const AUDIT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT NOT NULL,
    tool TEXT,
    record TEXT NOT NULL,
    server TEXT
  );
  CREATE INDEX IF NOT EXISTS audit_at ON audit (at, id);
  CREATE INDEX IF NOT EXISTS audit_decision ON audit (decision, at);
  CREATE INDEX IF NOT EXISTS audit_tool ON audit (tool, at);
`;

/** Brings a table made by an older version up to AUDIT_SCHEMA (run after it): rows without a server are the default server's. */
export function migrateAudit(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('audit')").toArray();
  if (!columns.some((column) => column.name === "server")) sql.exec("ALTER TABLE audit ADD COLUMN server TEXT");
}

/** One page of a query: filters in milliseconds, `before` the position the previous page ended at. */
export type AuditPageQuery = {
  decision?: string | undefined;
  tool?: string | undefined;
  /** Only this server's calls; `defaultServer` says whether records without a server count as its. */
  server?: { name: string; isDefault: boolean } | undefined;
  sinceMs?: number | undefined;
  untilMs?: number | undefined;
  before?: AuditPosition | undefined;
  limit: number;
};

export type AuditPage = { records: AuditRecord[]; next: AuditPosition | undefined };

export class AuditLog {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  append(records: AuditRecord[]): void {
    for (const written of records) {
      // Whoever wrote it, a stored record is within its bounds.
      const record = boundedRecord(written);
      this.#sql.exec(
        "INSERT OR IGNORE INTO audit (id, at, kind, decision, tool, record, server) VALUES (?, ?, ?, ?, ?, ?, ?)",
        record.id,
        Date.parse(record.time),
        record.kind,
        record.kind === "call" ? record.decision : "admin",
        record.kind === "call" ? record.tool : null,
        JSON.stringify(record),
        record.kind === "call" ? (record.server ?? null) : null,
      );
    }
  }

  /** Newest first; `next` is where the following page starts, when there may be one. */
  query(query: AuditPageQuery): AuditPage {
    const where: string[] = [];
    const bindings: unknown[] = [];
    const filter = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      bindings.push(...values);
    };
    if (query.decision !== undefined) filter("decision = ?", query.decision);
    if (query.tool !== undefined) filter("tool = ?", query.tool);
    if (query.server !== undefined) {
      filter(query.server.isDefault ? "(server = ? OR (server IS NULL AND kind = 'call'))" : "server = ?", query.server.name);
    }
    if (query.sinceMs !== undefined) filter("at >= ?", query.sinceMs);
    if (query.untilMs !== undefined) filter("at <= ?", query.untilMs);
    if (query.before !== undefined) filter("(at < ? OR (at = ? AND id < ?))", query.before.at, query.before.at, query.before.id);
    const cursor = this.#sql.exec<{ id: string; at: number; record: string }>(
      `SELECT id, at, record FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT ?`,
      ...bindings,
      query.limit,
    );
    // Rows are read one at a time and the page ends at PAGE_BYTES (never before its first row), so one
    // page is a bounded RPC whatever the records hold; `next` then starts right after the last one sent.
    const records: AuditRecord[] = [];
    let bytes = 0;
    let last: { id: string; at: number } | undefined;
    let cut = false;
    for (const row of cursor) {
      if (records.length > 0 && bytes + row.record.length > PAGE_BYTES) {
        cut = true;
        break;
      }
      bytes += row.record.length;
      records.push(JSON.parse(row.record) as AuditRecord);
      last = { at: row.at, id: row.id };
    }
    return { records, next: (cut || records.length === query.limit) && last ? last : undefined };
  }

  /** Deletes records older than `now - retentionMs`; returns how many remain. */
  prune(now: number, retentionMs: number): number {
    this.#sql.exec("DELETE FROM audit WHERE at < ?", now - retentionMs);
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit").one().n;
  }
}
