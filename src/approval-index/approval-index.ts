import { DurableObject } from "cloudflare:workers";
import { ARGUMENTS_PREVIEW_CHARS, LIST_FIELD_CHARS, type ApprovalRecord, type ApprovalStatus, type ApprovalSummary } from "../approvals/record.ts";
import type { AuditPosition } from "../audit/record.ts";
import { clip } from "../text/clip.ts";
import type { IndexEntry } from "../grant-object/approvals.ts";
import { defaultServerOf, sendWebhook, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_OUTBOX_SCHEMA, WebhookOutbox, webhookTarget, type Delivery, type WebhookTarget } from "./webhook.ts";

/** A list query as the index takes it: `before` is where the previous page ended. */
export type IndexListQuery = {
  status?: ApprovalStatus | undefined;
  decided?: boolean;
  /** Only this server's approvals; `isDefault` says whether those without a server are its. */
  server?: { name: string; isDefault: boolean } | undefined;
  limit: number;
  before?: AuditPosition | undefined;
};
export type IndexListPage = { approvals: ApprovalSummary[]; next: AuditPosition | undefined };

/** The one index object's name: `env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME)`. */
export const APPROVAL_INDEX_NAME = "all";

/** Approvals are forgotten this long after they were requested (the grants' objects prune the same way). */
export const APPROVAL_RETENTION_MS = 7 * 86_400_000;
/** Pruning waits until this much has passed retention, so it runs at most this often. */
const PRUNE_INTERVAL_MS = 60 * 60_000;
/** Bytes of list rows one page carries at most (about; never fewer than one row). */
const PAGE_BYTES = 256 * 1024;
/** Webhook attempts made at once; more due ones are sent by the next alarm, set at once. */
const DELIVERY_BATCH = 25;

/**
 * Every grant's approvals in one place, so an operator's "what is pending?"
 * costs one request whose work grows with the approvals listed, not with the
 * number of grants. The grants' Durable Objects own the approvals (they
 * decide and consume them atomically with the call's limits); each pushes
 * every change of state here, and retries until this object has it. Being
 * the one place that sees each approval arrive, it also sends the approval
 * webhook (webhook.ts).
 *
 * Table `approvals(id, grant_id, status, requested_at, expires_at, revision,
 * record)`: the latest state of each approval as its grant's object reported
 * it (`record` is the ApprovalRecord JSON; a report of a lower revision than
 * the one held is ignored, so late retries cannot roll a state back; a pending
 * or approved one whose `expires_at` has passed reads as expired). Rows are
 * pruned by the alarm once older than the retention period (within
 * PRUNE_INTERVAL_MS of it, so pruning runs at most hourly).
 *
 * Table `webhook_outbox(approval_id, delivery_id, body, enqueued_at,
 * attempts, next_attempt_at, sending_since, last_error)` (webhook.ts): the
 * webhook notices still to deliver. Lifecycle: when APPROVAL_WEBHOOK_URL is
 * set, the report that first brings an approval id here with status pending
 * (and not yet expired) writes its row in the same transaction as the
 * approval's, so the grant's object is told "recorded" only once the notice
 * is stored too and a crash cannot lose it. Its body (the payload, frozen)
 * and delivery id never change. An attempt is made at once (ctx.waitUntil,
 * after the report is answered: never on the agent's path), then by the
 * alarm: `attempts` is counted and `sending_since` set when an attempt
 * starts, and `next_attempt_at` moves to the end of a lease
 * (WEBHOOK_LEASE_MS), so an attempt cut short by eviction is made again. A
 * 2xx answer deletes the row; a failure (network error, non-2xx, no answer in
 * 10 s) is logged and the row is due again after 30 s, 1, 2, 4 and 8 min;
 * after the sixth failed attempt (about 15.5 min) it is logged as given up
 * and deleted. A row whose approval is no longer pending when an attempt is
 * due (decided, expired, pruned), or that is due when no URL is configured
 * any more, is deleted unsent. A failing webhook never touches the approval:
 * it stays pending, listed and decidable.
 *
 * The alarm does both jobs: it prunes, sends the due notices, then sets
 * itself for whichever comes first, the next due notice or the next prune.
 */
export class ApprovalIndex extends DurableObject<Env> {
  #outbox: WebhookOutbox;
  #warnedUnsigned = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
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
        CREATE INDEX IF NOT EXISTS approvals_by_age ON approvals (requested_at);
      `);
      ctx.storage.sql.exec(WEBHOOK_OUTBOX_SCHEMA);
    });
  }

  /**
   * Records the latest state of these approvals and, with a webhook
   * configured, queues the notice of each new pending one in the same
   * transaction; the notices are sent after this returns.
   */
  async upsert(entries: IndexEntry[]): Promise<void> {
    const now = Date.now();
    const target = webhookTarget(this.env);
    const queued = this.ctx.storage.transactionSync(() => {
      let count = 0;
      for (const { record, revision } of entries) {
        const known = this.ctx.storage.sql.exec("SELECT 1 FROM approvals WHERE id = ?", record.id).toArray().length > 0;
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
        if (target && !known && record.status === "pending" && Date.parse(record.expiresAt) > now) {
          this.#outbox.enqueue(record, now, defaultServerOf(this.env));
          count++;
        }
      }
      return count;
    });
    // Sent after this report is answered; whatever this attempt misses, the alarm sends.
    if (queued > 0) this.ctx.waitUntil(this.#deliverDue().catch((error: unknown) => console.error("approval webhook delivery failed; the alarm retries", { error: String(error) })));
    await this.#schedule();
  }

  /**
   * One page of approvals as list rows, newest first, after `before`: at most
   * `limit` rows and about PAGE_BYTES of them (never fewer than one), so a
   * page costs the same whatever agents put into arguments. A lapsed pending
   * or approved one is expired; `decided` lists all but the pending ones.
   */
  async list(query: IndexListQuery): Promise<IndexListPage> {
    const now = Date.now();
    const where: string[] = [];
    const bindings: unknown[] = [];
    const filter = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      bindings.push(...values);
    };
    const { status } = query;
    if (status === "expired") filter("(status = 'expired' OR (status IN ('pending', 'approved') AND expires_at <= ?))", now);
    else if (status === "pending" || status === "approved") filter("status = ? AND expires_at > ?", status, now);
    else if (status !== undefined) filter("status = ?", status);
    if (query.decided) filter("NOT (status = 'pending' AND expires_at > ?)", now);
    if (query.server) {
      filter(query.server.isDefault ? "coalesce(json_extract(record, '$.server'), ?) = ?" : "json_extract(record, '$.server') IS ?", ...(query.server.isDefault ? [query.server.name, query.server.name] : [query.server.name]));
    }
    if (query.before) filter("(requested_at < ? OR (requested_at = ? AND id < ?))", query.before.at, query.before.at, query.before.id);
    // The arguments stay in SQLite: only their start and their size are read.
    const rows = this.ctx.storage.sql
      .exec<{ id: string; requested_at: number; head: string; preview: string | null; bytes: number | null }>(
        `SELECT id, requested_at, json_remove(record, '$.arguments', '$.params') AS head, substr(json_extract(record, '$.arguments'), 1, ?) AS preview,
                length(CAST(json_extract(record, '$.arguments') AS BLOB)) AS bytes
           FROM approvals ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY requested_at DESC, id DESC LIMIT ?`,
        ARGUMENTS_PREVIEW_CHARS + 1,
        ...bindings,
        query.limit,
      )
      .toArray();
    const approvals: ApprovalSummary[] = [];
    let bytes = 0;
    for (const row of rows) {
      const summary = listRow(JSON.parse(row.head) as Omit<ApprovalRecord, "arguments" | "params">, row.preview ?? "{}", row.bytes ?? 2, now);
      bytes += JSON.stringify(summary).length;
      if (approvals.length > 0 && bytes > PAGE_BYTES) break;
      approvals.push(summary);
    }
    const last = rows[approvals.length - 1];
    const more = approvals.length < rows.length || rows.length === query.limit;
    return { approvals, next: more && last ? { at: last.requested_at, id: last.id } : undefined };
  }

  /** The grant an approval belongs to, to reach the object that owns it. */
  async grantOf(id: string): Promise<string | undefined> {
    return this.ctx.storage.sql.exec<{ grant_id: string }>("SELECT grant_id FROM approvals WHERE id = ?", id).toArray()[0]?.grant_id;
  }

  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM approvals WHERE requested_at < ?", Date.now() - APPROVAL_RETENTION_MS);
    await this.#deliverDue();
  }

  /** Makes every due webhook attempt (dropping the notices no longer worth sending), then sets the alarm. */
  async #deliverDue(): Promise<void> {
    const now = Date.now();
    const target = webhookTarget(this.env);
    const deliveries: Delivery[] = [];
    for (const row of this.#outbox.due(now, DELIVERY_BATCH)) {
      const unsent = !target ? "APPROVAL_WEBHOOK_URL is no longer set" : this.#stillPending(row.approval_id, now) ? undefined : "the approval is no longer pending";
      if (unsent === undefined) deliveries.push(this.#outbox.claim(row, now));
      else {
        this.#outbox.drop(row.approval_id);
        console.log(JSON.stringify({ event: "approval_webhook_dropped", approval: row.approval_id, attempts: row.attempts, reason: unsent }));
      }
    }
    if (target && deliveries.length > 0) {
      // The leases' ends are due times too: an attempt cut short is made again.
      await this.#schedule();
      this.#warnIfUnsigned(target);
      await Promise.all(deliveries.map((delivery) => this.#attempt(target, delivery)));
    }
    await this.#schedule();
  }

  async #attempt(target: WebhookTarget, delivery: Delivery): Promise<void> {
    const result = await sendWebhook(target, delivery);
    const settled = this.#outbox.settle(delivery, result, Date.now());
    const about = { approval: delivery.approvalId, delivery: delivery.deliveryId, attempt: delivery.attempt, of: WEBHOOK_MAX_ATTEMPTS };
    if (result.ok) {
      console.log(JSON.stringify({ event: "approval_webhook_delivered", ...about, status: result.status }));
    } else if (settled.kind === "retrying") {
      console.error("approval webhook attempt failed; will retry", { ...about, status: result.status, error: result.error, retryAt: new Date(settled.at).toISOString() });
    } else {
      console.error("approval webhook given up", { ...about, status: result.status, error: result.error, since: new Date(delivery.enqueuedAt).toISOString() });
    }
  }

  #stillPending(id: string, now: number): boolean {
    const row = this.ctx.storage.sql.exec<{ status: string; expires_at: number }>("SELECT status, expires_at FROM approvals WHERE id = ?", id).toArray()[0];
    return row?.status === "pending" && row.expires_at > now;
  }

  #warnIfUnsigned(target: WebhookTarget): void {
    if (target.secret || this.#warnedUnsigned) return;
    this.#warnedUnsigned = true;
    console.warn("APPROVAL_WEBHOOK_SECRET is not set: approval webhooks are sent without X-Signature-256 (wrangler secret put APPROVAL_WEBHOOK_SECRET)");
  }

  /** Sets the alarm for the earliest due work: the next webhook attempt, or the next prune. */
  async #schedule(): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    const oldest = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT MIN(requested_at) AS at FROM approvals").one().at;
    const due = [this.#outbox.nextDueAt(), oldest === null ? undefined : oldest + APPROVAL_RETENTION_MS + PRUNE_INTERVAL_MS].filter((at) => at !== undefined);
    if (due.length === 0) return;
    const wanted = Math.min(...due);
    if (current !== wanted) await this.ctx.storage.setAlarm(wanted);
  }
}

/** A list row: bounded fields, the arguments' start and size; a lapsed pending or approved one reads as expired. */
function listRow(head: Omit<ApprovalRecord, "arguments" | "params">, preview: string, bytes: number, now: number): ApprovalSummary {
  const lapsed = (head.status === "pending" || head.status === "approved") && Date.parse(head.expiresAt) <= now;
  const field = (text: string) => clip(text, LIST_FIELD_CHARS);
  return {
    ...head,
    grant: { id: head.grant.id, label: field(head.grant.label) },
    tool: field(head.tool),
    session: head.session === null ? null : field(head.session),
    decidedBy: head.decidedBy === null ? null : field(head.decidedBy),
    note: head.note === null ? null : field(head.note),
    status: lapsed ? "expired" : head.status,
    argumentsPreview: clip(preview, ARGUMENTS_PREVIEW_CHARS),
    argumentsBytes: bytes,
  };
}
