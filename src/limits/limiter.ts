import type { ApprovalRecord } from "../approvals/record.ts";
import type { ApprovalRequest, ApprovalState } from "../grant-object/approvals.ts";
import type { Authorization, GrantObject } from "../grant-object/grant-object.ts";
import type { LedgerItem, LimitHit } from "../grant-object/ledger.ts";
import type { AppliedLimit } from "../policy/evaluate.ts";
import { windowMs } from "../policy/window.ts";

/** The Durable Object that counts limits with `scope: "global"`, shared by all grants. */
export const GLOBAL_OBJECT = "global";

export type CallAuthorization =
  /** Counted, and its approval (if any) used. `undo` gives both back if the upstream provably did not run the call. */
  | { kind: "counted"; undo: () => Promise<void>; overLimit?: LimitHit; approval?: ApprovalRecord }
  | { kind: "refused"; hit: LimitHit }
  /** The call needs an approval that is not granted (pending, denied, expired): nothing was counted. */
  | { kind: "approval"; state: Exclude<ApprovalState, { kind: "approved" }> }
  /** The limiter could not decide: the call must be refused (fail closed). */
  | { kind: "unavailable"; reason: string; rule: string };

type Target = { name: string; items: LedgerItem[] };

/**
 * The bucket a limit counts in, inside its object: "grant", "session:<id>"
 * or "global" for the default server, as before there were several (an
 * upgraded deployment keeps its counts); "server:<name>:grant" and
 * "server:<name>:session:<id>" for any other server, so a counter named in
 * limits for two servers counts each apart. Global limits count across
 * servers (and grants). `server` is undefined for the default server.
 */
export function scopeKeyOf(scope: AppliedLimit["scope"], where: { session?: string | undefined; server?: string | undefined }): string {
  if (scope === "global") return "global";
  // Without a session (stateless 2026-07-28 requests) a session limit counts per grant.
  const key = scope === "session" ? `session:${where.session ?? "none"}` : scope;
  return where.server === undefined ? key : `server:${where.server}:${key}`;
}

/**
 * Authorizes a call in the Durable Objects that own its limits and approval:
 * the grant's (its approval, grant and session scope) and, for global limits,
 * the shared one. One RPC per object involved, the grant's first, so a call
 * with an approval and grant-scoped limits costs exactly one round trip. When
 * a later object refuses, the earlier ones are undone: either every limit of
 * the call is consumed (and its approval used) or none is.
 */
export async function authorizeCall(
  namespace: DurableObjectNamespace<GrantObject>,
  grantId: string,
  sessionId: string | undefined,
  limits: AppliedLimit[],
  options: {
    monitorOnly: boolean;
    approval?: ApprovalRequest | undefined;
    /** The server the call goes to, unless it is the default server (see scopeKeyOf). */
    server?: string | undefined;
  },
): Promise<CallAuthorization> {
  const targets = groupByObject(grantId, { session: sessionId, server: options.server }, limits, options.approval !== undefined);
  const undos: Array<() => Promise<void>> = [];
  const undoAll = async () => {
    await Promise.all(undos.map((undo) => undo()));
  };
  let overLimit: LimitHit | undefined;
  let approval: ApprovalRecord | undefined;
  for (const target of targets) {
    const stub = namespace.getByName(target.name);
    const isGrant = target.name !== GLOBAL_OBJECT;
    let result: Authorization;
    try {
      // The RPC typings cannot express `unknown` JSON (an approval's arguments); the value is the method's own.
      result = (await stub.authorize({ items: target.items, force: options.monitorOnly, approval: isGrant ? options.approval : undefined })) as Authorization;
    } catch (error) {
      console.error("rate limiter unreachable", { object: isGrant ? "grant" : target.name, error: String(error) });
      await undoAll().catch(() => undefined);
      const rule = target.items[0]?.rule ?? limits[0]?.rule ?? "";
      return { kind: "unavailable", reason: "the rate limiter could not be reached, so the call was not forwarded", rule };
    }
    if (result.kind !== "counted") {
      await undoAll().catch(() => undefined);
      return result.kind === "limited" ? { kind: "refused", hit: result.hit } : result;
    }
    const reservation = result.reservation;
    undos.push(() => stub.rollback(reservation));
    overLimit ??= result.overLimit;
    approval ??= result.approval;
  }
  return { kind: "counted", undo: undoAll, ...(overLimit ? { overLimit } : {}), ...(approval ? { approval } : {}) };
}

/** The objects to ask, the grant's first (it holds the approval). */
function groupByObject(grantId: string, where: { session: string | undefined; server: string | undefined }, limits: AppliedLimit[], needsGrant: boolean): Target[] {
  const targets = new Map<string, LedgerItem[]>(needsGrant ? [[grantId, []]] : []);
  for (const limit of limits) {
    const object = limit.scope === "global" ? GLOBAL_OBJECT : grantId;
    const scopeKey = scopeKeyOf(limit.scope, where);
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
  return [...targets].map(([name, items]) => ({ name, items })).sort((a, b) => Number(a.name === GLOBAL_OBJECT) - Number(b.name === GLOBAL_OBJECT));
}
