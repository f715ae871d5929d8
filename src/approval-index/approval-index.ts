import { DurableObject } from "cloudflare:workers";
import type { ApprovalRecord, ApprovalStatus } from "../approvals/record.ts";
import type { IndexEntry } from "../grant-object/approvals.ts";

/** The one index object's name: `env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME)`. */
export const APPROVAL_INDEX_NAME = "all";

/** Approvals are forgotten this long after they were requested (the grants' objects prune the same way). */
export const APPROVAL_RETENTION_MS = 7 * 86_400_000;
const PRUNE_INTERVAL_MS = 60 * 60_000;

/**
 * Every grant's approvals in one place, so an operator's "what is pending?"
 * costs one request whose work grows with the approvals listed, not with the
 * number of grants. The grants' Durable Objects own the approvals (they
 * decide and consume them atomically with the call's limits); each pushes
 * every change of state here, and retries until this object has it.
 *
 * Table `approvals(id, grant_id, status, requested_at, expires_at, revision,
 * record)`: the latest state of each approval as its grant's object reported
 * it (`record` is the ApprovalRecord JSON; a report of a lower revision than
 * the one held is ignored, so late retries cannot roll a state back; a pending
 * or approved one whose `expires_at` has passed reads as expired). Rows are pruned by an alarm once
 * older than the retention period.
 */
export class ApprovalIndex extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS approvals (
          id TEXT PRIMARY KEY,
          grant_id TEXT NOT NULL,
          status TEXT NOT NULL,
          requested_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          revision INTEGER NOT NULL,
          record TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, requested_at);
      `);
    });
  }

  /** Records the latest state of these approvals. */
  async upsert(entries: IndexEntry[]): Promise<void> {
    for (const { record, revision } of entries) {
      this.ctx.storage.sql.exec(
        `INSERT INTO approvals (id, grant_id, status, requested_at, expires_at, revision, record) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at, revision = excluded.revision, record = excluded.record
         WHERE excluded.revision > approvals.revision`,
        record.id,
        record.grant.id,
        record.status,
        Date.parse(record.requestedAt),
        Date.parse(record.expiresAt),
        revision,
        JSON.stringify(record),
      );
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }

  /** Approvals, newest first; with a status, only those (a lapsed pending or approved one is expired). */
  async list(status?: ApprovalStatus, limit = 200): Promise<ApprovalRecord[]> {
    const now = Date.now();
    const rows =
      status === undefined
        ? this.#records("SELECT record FROM approvals ORDER BY requested_at DESC LIMIT ?", limit)
        : status === "expired"
          ? this.#records(
              "SELECT record FROM approvals WHERE status = 'expired' OR (status IN ('pending', 'approved') AND expires_at <= ?) ORDER BY requested_at DESC LIMIT ?",
              now,
              limit,
            )
          : status === "pending" || status === "approved"
            ? this.#records("SELECT record FROM approvals WHERE status = ? AND expires_at > ? ORDER BY requested_at DESC LIMIT ?", status, now, limit)
            : this.#records("SELECT record FROM approvals WHERE status = ? ORDER BY requested_at DESC LIMIT ?", status, limit);
    return rows.map((record) => withLapse(record, now));
  }

  /** The grant an approval belongs to, to reach the object that owns it. */
  async grantOf(id: string): Promise<string | undefined> {
    return this.ctx.storage.sql.exec<{ grant_id: string }>("SELECT grant_id FROM approvals WHERE id = ?", id).toArray()[0]?.grant_id;
  }

  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM approvals WHERE requested_at < ?", Date.now() - APPROVAL_RETENTION_MS);
    const left = this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals").one().n;
    if (left > 0) await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }

  #records(query: string, ...bindings: unknown[]): ApprovalRecord[] {
    return this.ctx.storage.sql
      .exec<{ record: string }>(query, ...bindings)
      .toArray()
      .map((row) => JSON.parse(row.record) as ApprovalRecord);
  }
}

function withLapse(record: ApprovalRecord, now: number): ApprovalRecord {
  const lapsed = (record.status === "pending" || record.status === "approved") && Date.parse(record.expiresAt) <= now;
  return lapsed ? { ...record, status: "expired" } : record;
}
