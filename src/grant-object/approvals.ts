import type { ApprovalRecord, ApprovalStatus, DecisionInput } from "../approvals/record.ts";

/**
 * The approvals of one grant, in its Durable Object's SQLite storage. Every
 * method runs synchronously (no await between reading and writing), so inside
 * the Durable Object each is atomic with the ledger's reservation it is paired
 * with: approving, consuming and counting a call happen in one step.
 *
 * Table `approvals`: one row per approval (see ApprovalRecord for the
 * fields). `arguments` is the canonical JSON (RFC 8785) of the call's
 * arguments and `params` that of its other forwarded params (null when it has
 * none), `arguments_hash` the SHA-256 of both; a call matches an approval on
 * (tool, arguments_hash, policy_version) and its `server` (null on rows made
 * before there were several servers: the default's), the grant being this
 * object; the hash also covers the server, for every server but the
 * default (approvals/call.ts). At
 * most `maxPending` rows of a grant are pending and unexpired at once.
 * `status` is what was last written; a pending or approved row whose
 * `expires_at` has passed reads as expired. `reservation` names the ledger
 * reservation of the call that consumed it, so giving that call's count back
 * also gives the approval back. `revision` counts the row's changes, and
 * `indexed` is 0 while the approval index has not yet confirmed the latest
 * revision. `held_until` is when the last of the agents' calls held open for
 * this pending approval stops waiting (null when none is), so an operator
 * sees that an agent is waiting and for how long. Rows are deleted once
 * older than the retention period.
 */
export const APPROVALS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    arguments_hash TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    grant_label TEXT NOT NULL,
    session TEXT,
    url TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    note TEXT,
    reservation TEXT,
    revision INTEGER NOT NULL DEFAULT 1,
    indexed INTEGER NOT NULL DEFAULT 0,
    params TEXT,
    held_until INTEGER,
    server TEXT
  );
  CREATE INDEX IF NOT EXISTS approvals_call ON approvals (tool, arguments_hash, policy_version, requested_at);
  CREATE INDEX IF NOT EXISTS approvals_reservation ON approvals (reservation);
  CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (status, expires_at);
`;

/** Brings a table made by an older version up to APPROVALS_SCHEMA (run after it). */
export function migrateApprovals(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('approvals')").toArray();
  if (!columns.some((column) => column.name === "params")) sql.exec("ALTER TABLE approvals ADD COLUMN params TEXT");
  if (!columns.some((column) => column.name === "held_until")) sql.exec("ALTER TABLE approvals ADD COLUMN held_until INTEGER");
  // Approvals made before there were several servers have none: they are the default server's.
  if (!columns.some((column) => column.name === "server")) sql.exec("ALTER TABLE approvals ADD COLUMN server TEXT");
}

/** One call that needs approval, as the gateway describes it. */
export type ApprovalRequest = {
  /** The server the call goes to. */
  server: string;
  tool: string;
  /** Canonical JSON (RFC 8785) of the arguments. */
  arguments: string;
  /** Canonical JSON of the other params forwarded with them (approvals/call.ts boundParams), or null. */
  params: string | null;
  /** SHA-256 (hex) of the whole call as bound (approvals/call.ts approvalRequestFor). */
  argumentsHash: string;
  policy: { name: string; version: string };
  grant: { id: string; label: string };
  session: string | null;
  ttlMs: number;
  /** Where the approval page lives; the approval's id is appended. */
  pageBase: string;
  /** Pending approvals this grant may have at once (MAX_PENDING_APPROVALS). */
  maxPending: number;
};

/** Where a call stands with its approval. `approved` is ready to be consumed by this call. */
export type ApprovalState =
  | { kind: "approved"; approval: ApprovalRecord }
  | { kind: "pending"; approval: ApprovalRecord; created: boolean }
  | { kind: "denied"; approval: ApprovalRecord }
  | { kind: "expired"; approval: ApprovalRecord }
  /** A new approval would be one more than the grant may have pending: none was made. */
  | { kind: "full"; pending: number; max: number };

/** An approval's state as sent to the approval index; the higher revision wins there. */
export type IndexEntry = { record: ApprovalRecord; revision: number };

export type Decided = { ok: true; approval: ApprovalRecord } | { ok: false; approval: ApprovalRecord };

type Row = {
  id: string;
  tool: string;
  arguments: string;
  arguments_hash: string;
  policy_name: string;
  policy_version: string;
  grant_id: string;
  grant_label: string;
  session: string | null;
  url: string;
  requested_at: number;
  expires_at: number;
  status: ApprovalStatus;
  decided_at: number | null;
  decided_by: string | null;
  note: string | null;
  reservation: string | null;
  revision: number;
  indexed: number;
  params: string | null;
  held_until: number | null;
  server: string | null;
};

export class Approvals {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /**
   * Where this call stands: an approval in force for exactly this call
   * (approved, pending or denied, latest first), or one that has just run out
   * (reported once, then forgotten); otherwise a new pending approval. The
   * approval is not consumed here (see consume): a limit may still refuse.
   */
  resolve(request: ApprovalRequest, now: number, newId: string): ApprovalState {
    // The hash binds every server but the default; the column also keeps a call from matching another
    // server's approval should the default change (rows without one are from before: the default's).
    const latest = this.#rows(
      "SELECT * FROM approvals WHERE tool = ? AND arguments_hash = ? AND policy_version = ? AND (server IS NULL OR server = ?) ORDER BY requested_at DESC, rowid DESC LIMIT 1",
      request.tool,
      request.argumentsHash,
      request.policy.version,
      request.server,
    )[0];
    if (latest) {
      const live = latest.expires_at > now;
      if (live && latest.status === "approved") return { kind: "approved", approval: toRecord(latest, now) };
      if (live && latest.status === "pending") return { kind: "pending", approval: toRecord(latest, now), created: false };
      if (live && latest.status === "denied") return { kind: "denied", approval: toRecord(latest, now) };
      if (!live && (latest.status === "pending" || latest.status === "approved")) {
        this.#sql.exec("UPDATE approvals SET status = 'expired', revision = revision + 1, indexed = 0 WHERE id = ?", latest.id);
        return { kind: "expired", approval: this.#get(latest.id, now) as ApprovalRecord };
      }
    }
    const pending = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > ?", now).one().n;
    if (pending >= request.maxPending) return { kind: "full", pending, max: request.maxPending };
    this.#sql.exec(
      `INSERT INTO approvals (id, server, tool, arguments, params, arguments_hash, policy_name, policy_version, grant_id, grant_label, session, url, requested_at, expires_at, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
      newId,
      request.server,
      request.tool,
      request.arguments,
      request.params,
      request.argumentsHash,
      request.policy.name,
      request.policy.version,
      request.grant.id,
      request.grant.label,
      request.session,
      `${request.pageBase}/admin/approvals/${newId}`,
      now,
      now + request.ttlMs,
    );
    return { kind: "pending", approval: this.#get(newId, now) as ApprovalRecord, created: true };
  }

  /** The approved call is going ahead under this ledger reservation: the approval is used up. */
  consume(id: string, reservation: string): void {
    this.#sql.exec("UPDATE approvals SET status = 'consumed', reservation = ?, revision = revision + 1, indexed = 0 WHERE id = ? AND status = 'approved'", reservation, id);
  }

  /** The upstream provably did not run the call of this reservation: its approval is usable again. Returns its id. */
  restore(reservation: string): string | undefined {
    const row = this.#rows("SELECT * FROM approvals WHERE reservation = ? AND status = 'consumed'", reservation)[0];
    if (!row) return undefined;
    this.#sql.exec("UPDATE approvals SET status = 'approved', reservation = NULL, revision = revision + 1, indexed = 0 WHERE id = ?", row.id);
    return row.id;
  }

  /** An operator's decision on a pending approval; anything else is a conflict (decided, used or expired). */
  decide(id: string, decision: "approve" | "deny", input: DecisionInput & { by: string }, now: number): Decided | undefined {
    const current = this.#get(id, now);
    if (!current) return undefined;
    if (current.status !== "pending") return { ok: false, approval: current };
    this.#sql.exec(
      "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ?, held_until = NULL, revision = revision + 1, indexed = 0 WHERE id = ?",
      decision === "approve" ? "approved" : "denied",
      now,
      input.by,
      input.note ?? null,
      id,
    );
    return { ok: true, approval: this.#get(id, now) as ApprovalRecord };
  }

  get(id: string, now: number): ApprovalRecord | undefined {
    return this.#get(id, now);
  }

  /**
   * Until when agents' calls are held open for this pending approval (null:
   * none is). Returns whether that changed what the record says.
   */
  hold(id: string, until: number | null): boolean {
    return this.#sql.exec("UPDATE approvals SET held_until = ?, revision = revision + 1, indexed = 0 WHERE id = ? AND status = 'pending' AND held_until IS NOT ?", until, id, until).rowsWritten > 0;
  }

  /** Approvals whose latest revision the approval index has not confirmed. */
  unindexed(now: number): IndexEntry[] {
    return this.#rows("SELECT * FROM approvals WHERE indexed = 0 ORDER BY requested_at").map((row) => ({ record: toRecord(row, now), revision: row.revision }));
  }

  markIndexed(entries: IndexEntry[]): void {
    // Only the revision the index received: a change made meanwhile is sent again.
    for (const { record, revision } of entries) this.#sql.exec("UPDATE approvals SET indexed = 1 WHERE id = ? AND revision = ?", record.id, revision);
  }

  /** Deletes approvals requested before `now - retentionMs`; returns how many remain. */
  prune(now: number, retentionMs: number): number {
    this.#sql.exec("DELETE FROM approvals WHERE requested_at < ?", now - retentionMs);
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals").one().n;
  }

  #get(id: string, now: number): ApprovalRecord | undefined {
    const row = this.#rows("SELECT * FROM approvals WHERE id = ?", id)[0];
    return row ? toRecord(row, now) : undefined;
  }

  #rows(query: string, ...bindings: unknown[]): Row[] {
    return this.#sql.exec<Row>(query, ...bindings).toArray();
  }
}

function toRecord(row: Row, now: number): ApprovalRecord {
  const lapsed = (row.status === "pending" || row.status === "approved") && row.expires_at <= now;
  return {
    id: row.id,
    grant: { id: row.grant_id, label: row.grant_label },
    ...(row.server === null ? {} : { server: row.server }),
    tool: row.tool,
    arguments: JSON.parse(row.arguments) as Record<string, unknown>,
    params: row.params === null ? null : (JSON.parse(row.params) as Record<string, unknown>),
    argumentsHash: row.arguments_hash,
    policy: { name: row.policy_name, version: row.policy_version },
    session: row.session,
    status: lapsed ? "expired" : row.status,
    requestedAt: new Date(row.requested_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    decidedAt: row.decided_at === null ? null : new Date(row.decided_at).toISOString(),
    decidedBy: row.decided_by,
    note: row.note,
    url: row.url,
    heldUntil: row.held_until === null ? null : new Date(row.held_until).toISOString(),
  };
}
