import { DurableObject } from "cloudflare:workers";
import { Ledger, LEDGER_SCHEMA, type LedgerItem, type Reservation } from "./ledger.ts";

/** Old rows are swept this often while any remain, so an idle grant's storage empties itself. */
const PRUNE_INTERVAL_MS = 15 * 60_000;

/**
 * One Durable Object per grant, addressed with `idFromName(grantId)`, plus one
 * named "global" for limits with `scope: "global"`: the strongly consistent
 * counter behind the policy's `limits`. A Durable Object handles one call at a
 * time, and every RPC method below reads and writes its SQLite storage
 * without awaiting in between, so with `max: 10` exactly ten of any number of
 * concurrent calls get through.
 *
 * Storage (SQLite, see ledger.ts): `usage` rows per counted call and
 * `retention` per counter. Lifecycle: tables are created in the constructor;
 * rows are pruned on every write for the counters written, and by an alarm
 * every 15 minutes for the rest, until none remain. Counts live in durable
 * storage, so they survive eviction and restarts.
 *
 * Reached only over RPC from the gateway Worker; it has no fetch handler.
 */
export class GrantObject extends DurableObject<Env> {
  #ledger: Ledger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#ledger = new Ledger(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(LEDGER_SCHEMA);
    });
  }

  /** Checks all limits of one call and consumes them together, or none of them. */
  async reserve(items: LedgerItem[], force = false): Promise<Reservation> {
    const result = this.#ledger.reserve(items, Date.now(), crypto.randomUUID(), force);
    if (result.ok && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
    }
    return result;
  }

  /** Uncounts a call the upstream provably did not run. */
  async rollback(reservation: string): Promise<void> {
    this.#ledger.rollback(reservation);
  }

  override async alarm(): Promise<void> {
    if (this.#ledger.pruneAll(Date.now()) > 0) await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }
}
