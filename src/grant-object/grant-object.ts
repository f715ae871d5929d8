import { DurableObject } from "cloudflare:workers";
import { APPROVAL_INDEX_NAME, APPROVAL_RETENTION_MS } from "../approval-index/approval-index.ts";
import type { ApprovalRecord, DecisionInput } from "../approvals/record.ts";
import { CONFIG_DEFAULTS } from "../config.ts";
import { base64url, randomBytes } from "../crypto.ts";
import type { AuditRecord } from "../audit/record.ts";
import { newAuditId } from "../audit/writer.ts";
import { Approvals, APPROVALS_SCHEMA, migrateApprovals, type ApprovalRequest, type ApprovalState, type Decided } from "./approvals.ts";
import { AuditLog, AUDIT_SCHEMA, migrateAudit, type AuditPage, type AuditPageQuery } from "./audit.ts";
import { Ledger, LEDGER_SCHEMA, type LedgerItem, type LimitHit } from "./ledger.ts";

/** Old rows are swept this often while any remain, so an idle grant's storage empties itself. */
const PRUNE_INTERVAL_MS = 15 * 60_000;
/** A change the approval index could not take is sent again this soon. */
const INDEX_RETRY_MS = 30_000;
/** Approvals sent to the index in one call (each carries its arguments, up to the 1 MiB a request may hold). */
const INDEX_BATCH = 20;

/** One call's claim on its grant: its limits to count and, if it needs one, its approval to use. */
export type AuthorizeRequest = {
  items: LedgerItem[];
  /** Monitor mode: count even past a limit, and report the hit instead of refusing. */
  force: boolean;
  approval?: ApprovalRequest | undefined;
};

export type Authorization =
  /** Counted (and the approval, if any, consumed). `reservation` undoes both (rollback). */
  | { kind: "counted"; reservation: string; overLimit?: LimitHit; approval?: ApprovalRecord }
  /** A limit refused the call; an approval it had stays approved for a later try. */
  | { kind: "limited"; hit: LimitHit }
  /** The call's approval is not (or no longer) granted: nothing was counted. */
  | { kind: "approval"; state: Exclude<ApprovalState, { kind: "approved" }> };

/**
 * One Durable Object per grant, addressed with `idFromName(grantId)`, plus one
 * named "global" for limits with `scope: "global"`: the strongly consistent
 * counter behind the policy's `limits`, and the keeper of the grant's
 * approvals. A Durable Object handles one call at a time, and `authorize`
 * reads and writes its SQLite storage without awaiting in between, so with
 * `max: 10` exactly ten of any number of concurrent calls get through, and an
 * approval is used by exactly one of any number of identical calls.
 *
 * Storage (SQLite): `usage`, `usage_sums` and `retention` (ledger.ts), `approvals`
 * (approvals.ts). Lifecycle: tables are created in the constructor; usage
 * rows are pruned on writes (at most once a second) for the counters written, and an alarm
 * prunes the rest, drops approvals past their retention (7 days) and resends
 * approval changes the approval index has not confirmed, until nothing is left.
 * Counts and approvals live in durable storage, so they survive eviction.
 *
 * Reached only over RPC from the gateway Worker; it has no fetch handler.
 */
export class GrantObject extends DurableObject<Env> {
  #ledger: Ledger;
  #approvals: Approvals;
  #audit: AuditLog;
  /** Calls held open until an approval is decided (awaitDecision), by approval id, then by hold id: how to wake each, and until when it waits. */
  #waiting = new Map<string, Map<string, { wake: (approval: ApprovalRecord | undefined) => void; until: number }>>();
  /** When the alarm is set for, as this instance last set or read it (undefined: not read yet; null: none). */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#ledger = new Ledger(ctx.storage.sql);
    this.#approvals = new Approvals(ctx.storage.sql);
    this.#audit = new AuditLog(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(LEDGER_SCHEMA);
      ctx.storage.sql.exec(APPROVALS_SCHEMA);
      migrateApprovals(ctx.storage.sql);
      ctx.storage.sql.exec(AUDIT_SCHEMA);
      migrateAudit(ctx.storage.sql);
    });
  }

  /**
   * Checks a call's approval and limits and, only if all allow it, uses the
   * approval and counts the limits, in one atomic step. A call waiting for
   * approval is not counted; a call refused by a limit does not use its approval.
   */
  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const now = Date.now();
    let approved: ApprovalRecord | undefined;
    if (request.approval) {
      const state = this.#approvals.resolve(request.approval, now, newApprovalId());
      if (state.kind === "full") {
        this.#changed();
        return { kind: "approval", state };
      }
      if (state.kind !== "approved") {
        // A new approval is sent to the index before its id reaches anyone, so an operator can decide
        // it at once; if the index cannot take it now, the alarm sends it again within INDEX_RETRY_MS.
        if (state.kind === "pending" && state.created) await this.#sync();
        else this.#changed();
        return { kind: "approval", state };
      }
      approved = state.approval;
    }
    const result = this.#ledger.reserve(request.items, now, crypto.randomUUID(), request.force);
    if (!result.ok) return { kind: "limited", hit: result.hit };
    if (approved) {
      this.#approvals.consume(approved.id, result.reservation);
      this.#changed();
    }
    await this.#alarmWithin(PRUNE_INTERVAL_MS);
    return {
      kind: "counted",
      reservation: result.reservation,
      ...(result.overLimit ? { overLimit: result.overLimit } : {}),
      ...(approved ? { approval: this.#approvals.get(approved.id, now) as ApprovalRecord } : {}),
    };
  }

  /** Uncounts a call the upstream provably did not run, and makes its approval usable again. */
  async rollback(reservation: string): Promise<void> {
    this.#ledger.rollback(reservation);
    if (this.#approvals.restore(reservation) !== undefined) this.#changed();
  }

  /** An operator approves or denies a pending approval, on the record; calls held for it are woken. */
  async decide(id: string, decision: "approve" | "deny", input: DecisionInput & { by: string }): Promise<Decided | undefined> {
    const now = Date.now();
    const decided = this.#approvals.decide(id, decision, input, now);
    if (decided?.ok) {
      const { approval } = decided;
      this.#audit.append([
        {
          kind: "admin",
          id: newAuditId(now),
          time: new Date(now).toISOString(),
          grant: approval.grant,
          action: decision === "approve" ? "approval.approve" : "approval.deny",
          by: input.by,
          target: approval.id,
          detail: { tool: approval.tool, argumentsHash: approval.argumentsHash, note: input.note ?? null },
        },
      ]);
      this.#changed();
      for (const { wake } of [...(this.#waiting.get(id)?.values() ?? [])]) wake(decided.approval);
      this.#waiting.delete(id);
    }
    return decided;
  }

  async approval(id: string): Promise<ApprovalRecord | undefined> {
    return this.#approvals.get(id, Date.now());
  }

  /**
   * Waits (without polling) until a pending approval is decided, or
   * `timeoutMs` passes, and returns it as it then stands. While it waits, the
   * approval records until when (`heldUntil`), so an operator sees that an
   * agent is waiting; `releaseHold` with the same `holdId` ends the wait of a
   * caller that went away. The approval's decision is not touched.
   */
  async awaitDecision(id: string, timeoutMs: number, holdId: string = crypto.randomUUID()): Promise<ApprovalRecord | undefined> {
    const current = this.#approvals.get(id, Date.now());
    if (current?.status !== "pending") return current;
    const holds = this.#waiting.get(id) ?? new Map();
    this.#waiting.set(id, holds);
    const waitMs = Math.max(0, Math.min(timeoutMs, new Date(current.expiresAt).getTime() - Date.now()));
    return new Promise((resolve) => {
      const wake = (approval: ApprovalRecord | undefined) => {
        clearTimeout(timer);
        holds.delete(holdId);
        if (holds.size === 0 && this.#waiting.get(id) === holds) this.#waiting.delete(id);
        this.#heldChanged(id);
        resolve(approval);
      };
      const timer = setTimeout(() => wake(this.#approvals.get(id, Date.now())), waitMs);
      holds.set(holdId, { wake, until: Date.now() + waitMs });
      this.#heldChanged(id);
    });
  }

  /** The agent of a held call went away: its wait ends, and the approval no longer counts it as waiting. */
  async releaseHold(id: string, holdId: string): Promise<void> {
    this.#waiting.get(id)?.get(holdId)?.wake(this.#approvals.get(id, Date.now()));
  }

  /** Records on the approval until when calls are held for it (the latest of them), and tells the index if that changed. */
  #heldChanged(id: string): void {
    const holds = [...(this.#waiting.get(id)?.values() ?? [])];
    const until = holds.length === 0 ? null : Math.max(...holds.map((hold) => hold.until));
    if (this.#approvals.hold(id, until)) this.#changed();
  }

  /** Appends audit records (written off the agents' path, in batches). */
  async recordAudit(records: AuditRecord[]): Promise<void> {
    this.#audit.append(records);
    await this.#alarmWithin(PRUNE_INTERVAL_MS);
  }

  /** One page of the grant's audit trail, newest first. */
  async auditPage(query: AuditPageQuery): Promise<AuditPage> {
    return this.#audit.query(query);
  }

  /** How much of each limit is used now. */
  async usage(items: Array<Pick<LedgerItem, "counter" | "scopeKey" | "windowMs" | "calendar">>): Promise<number[]> {
    const now = Date.now();
    return items.map((item) => this.#ledger.used(item, now));
  }

  /** An operator's reset of one counter (in one scope), recorded in the trail with who did it. */
  async resetCounter(counter: string, scopeKey: string, record: AuditRecord): Promise<number> {
    const dropped = this.#ledger.reset(counter, scopeKey);
    this.#audit.append([record]);
    return dropped;
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    const usage = this.#ledger.pruneAll(now);
    const approvals = this.#approvals.prune(now, APPROVAL_RETENTION_MS);
    const audit = this.#audit.prune(now, auditRetentionMs(this.env));
    const unsent = await this.#sendToIndex();
    if (unsent > 0) await this.#setAlarm(Date.now() + INDEX_RETRY_MS);
    else if (usage > 0 || approvals > 0 || audit > 0) await this.#setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }

  /** Approvals changed: the index hears of it off the caller's path. */
  #changed(): void {
    this.ctx.waitUntil(this.#sync());
  }

  /** Sends approval changes to the index; what it misses, the alarm sends again. */
  async #sync(): Promise<void> {
    const unsent = await this.#sendToIndex();
    await this.#alarmWithin(unsent > 0 ? INDEX_RETRY_MS : PRUNE_INTERVAL_MS);
  }

  /** Sends unconfirmed approval changes to the approval index, a bounded batch at a time; returns how many are still unsent. */
  async #sendToIndex(): Promise<number> {
    const entries = this.#approvals.unindexed(Date.now());
    const index = this.env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME);
    for (let start = 0; start < entries.length; start += INDEX_BATCH) {
      const batch = entries.slice(start, start + INDEX_BATCH);
      try {
        await index.upsert(batch);
        this.#approvals.markIndexed(batch);
      } catch (error) {
        console.error("approval index unreachable; will retry", { approvals: entries.length - start, error: String(error) });
        return entries.length - start;
      }
    }
    return 0;
  }

  /** Every counted call asks for the alarm: the storage is read once per instance, not per call. */
  async #alarmWithin(ms: number): Promise<void> {
    this.#alarmAt ??= await this.ctx.storage.getAlarm();
    const wanted = Date.now() + ms;
    if (this.#alarmAt === null || this.#alarmAt > wanted) await this.#setAlarm(wanted);
  }

  async #setAlarm(at: number): Promise<void> {
    await this.ctx.storage.setAlarm(at);
    this.#alarmAt = at;
  }
}

/** AUDIT_RETENTION_DAYS (default 7): how long the trail is kept. */
function auditRetentionMs(env: object): number {
  const days = Number((env as { AUDIT_RETENTION_DAYS?: string }).AUDIT_RETENTION_DAYS ?? CONFIG_DEFAULTS.AUDIT_RETENTION_DAYS);
  return (Number.isFinite(days) && days > 0 ? days : CONFIG_DEFAULTS.AUDIT_RETENTION_DAYS) * 86_400_000;
}

/** `apr_` + 16 random bytes (base64url, 22 characters). */
function newApprovalId(): string {
  return `apr_${base64url(randomBytes(16))}`;
}
