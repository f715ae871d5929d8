import type { LedgerItem, LimitHit } from "../grant-object/ledger.ts";
import type { AppliedLimit } from "../policy/evaluate.ts";
import { windowMs } from "../policy/window.ts";

/** The Durable Object that counts limits with `scope: "global"`, shared by all grants. */
export const GLOBAL_OBJECT = "global";

export type LimitOutcome =
  /** Counted. `undo` uncounts it if the upstream provably did not run the call. */
  | { kind: "counted"; undo: () => Promise<void>; overLimit?: LimitHit }
  | { kind: "refused"; hit: LimitHit }
  /** The limiter could not decide: the call must be refused (fail closed). */
  | { kind: "unavailable"; reason: string; rule: string };

type Target = { name: string; items: LedgerItem[] };

/**
 * Consumes a call's limits in the Durable Objects that own them: the grant's
 * (grant and session scope) and, for global limits, the shared one. One RPC
 * per object involved, so a call with grant-scoped limits costs exactly one
 * round trip. When a second object refuses, the first one's count is undone:
 * either every limit of the call is consumed or none is.
 */
export async function consumeLimits(
  namespace: DurableObjectNamespace<import("../grant-object/grant-object.ts").GrantObject>,
  grantId: string,
  sessionId: string | undefined,
  limits: AppliedLimit[],
  monitorOnly: boolean,
): Promise<LimitOutcome> {
  const targets = groupByObject(grantId, sessionId, limits);
  const undos: Array<() => Promise<void>> = [];
  const undoAll = async () => {
    await Promise.all(undos.map((undo) => undo()));
  };
  let overLimit: LimitHit | undefined;
  for (const target of targets) {
    const stub = namespace.getByName(target.name);
    let result;
    try {
      result = await stub.reserve(target.items, monitorOnly);
    } catch (error) {
      console.error("rate limiter unreachable", { object: target.name === grantId ? "grant" : target.name, error: String(error) });
      await undoAll().catch(() => undefined);
      return { kind: "unavailable", reason: "the rate limiter could not be reached, so the call was not forwarded", rule: target.items[0]?.rule ?? "" };
    }
    if (!result.ok) {
      await undoAll().catch(() => undefined);
      return { kind: "refused", hit: result.hit };
    }
    const reservation = result.reservation;
    undos.push(() => stub.rollback(reservation));
    overLimit ??= result.overLimit;
  }
  return { kind: "counted", undo: undoAll, ...(overLimit ? { overLimit } : {}) };
}

function groupByObject(grantId: string, sessionId: string | undefined, limits: AppliedLimit[]): Target[] {
  const targets = new Map<string, LedgerItem[]>();
  for (const limit of limits) {
    const object = limit.scope === "global" ? GLOBAL_OBJECT : grantId;
    // Without a session (stateless 2026-07-28 requests) a session limit counts per grant.
    const scopeKey = limit.scope === "session" ? `session:${sessionId ?? "none"}` : limit.scope;
    const items = targets.get(object) ?? [];
    items.push({
      counter: limit.counter,
      scopeKey,
      windowMs: windowMs(limit.window),
      calendar: limit.align === "calendar",
      max: limit.max,
      amount: limit.amount,
      rule: limit.rule,
    });
    targets.set(object, items);
  }
  return [...targets].map(([name, items]) => ({ name, items }));
}
