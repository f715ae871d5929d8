import type { AuditRecord, CallDecision, CallRecord } from "../audit/record.ts";
import { toolTags } from "../tools/catalog.ts";
import { conditionHolds } from "./args.ts";
import { decide, type AppliedLimit, type Decision } from "./evaluate.ts";
import { policyForServer, type ServerPolicy } from "./for-server.ts";
import type { Policy, Rule, ToolRule } from "./schema.ts";
import { windowMs } from "./window.ts";

/**
 * Policy replay: a grant's recorded calls decided again under a candidate
 * policy, so an operator sees what the candidate would have done differently
 * before pushing it. Pure (no I/O, no clock): the Worker and the CLI alike
 * can run it over records read from the audit trail.
 *
 * A record answers only what it kept. Without `"audit": {"arguments": "full"}`
 * it holds the argument keys, not their values: a rule that reads a value is
 * then "cannot tell", never a guess. Limits are simulated over the recorded
 * timeline with the ledger's arithmetic, counting the calls the candidate
 * would have forwarded, not the ones the recorded policy did.
 *
 * A candidate with per-server sections decides each call under the section
 * of the server it went to (rule pointers then read `/servers/<name>/…`),
 * and limits count per server, as the gateway counts them.
 */

/** Where a call ends at the policy level: what the agent is told, whatever the upstream then did. */
export type Verdict = "allowed" | "denied" | "limited" | "needs approval";

/** How a call's verdict moves from the record to the candidate ("newly" marks a verdict that depends on the moment: a limit, a human). */
export type ChangeClass = "unchanged" | "cannot tell" | `${Verdict} → ${"allowed" | "denied" | "newly limited" | "newly needs approval"}`;

/** One call the candidate would decide differently, or cannot decide from what the record kept. */
export type ReplayChange = {
  change: Exclude<ChangeClass, "unchanged">;
  /** The audit record's id and time. */
  id: string;
  time: string;
  tool: string;
  /** The server the call went to, as the record names it (null: recorded before servers were named). */
  server: string | null;
  session: string | null;
  /** What the recorded policy decided: for an upstream failure, the decision it followed; in monitor mode, what it would have done. */
  recorded: CallDecision;
  /** What the candidate decides; null when the record cannot tell. */
  candidate: CallDecision | null;
  /** JSON pointer into the candidate: the rule that decides, or the condition or limit that reads a value the record did not keep. */
  rule: string;
  reason: string;
};

export type ReplayReport = {
  /** How many calls were replayed, and the times of the first and the last. */
  calls: number;
  first: string | null;
  last: string | null;
  /** How many calls fell in each class (classes that occurred only). */
  counts: Partial<Record<ChangeClass, number>>;
  /** Every call that is not unchanged, oldest first. */
  changes: ReplayChange[];
  /** Where the replay approximates the gateway, when it matters for this candidate and these records. */
  notes: string[];
};

export type ReplayOptions = {
  /** A tool's tags as the gateway sees them; by default the catalog's (upstream annotations are not on record). */
  tags?: (tool: string) => ReadonlySet<string>;
  /**
   * The server the records' calls went to (the caller chose the records: the audit trail filters by
   * server). Without it, each call is decided under the section of the server its record names, and a
   * record that names none (written before servers were named) under the top level.
   */
  server?: string | undefined;
};

/** Decides every call record (other records are skipped) again under `candidate`, oldest first. */
export function replay(records: readonly AuditRecord[], candidate: Policy, options: ReplayOptions = {}): ReplayReport {
  const tagsOf = options.tags ?? toolTags;
  const calls = records.filter((record): record is CallRecord => record.kind === "call").sort(chronologically);
  const counters = new Counters();
  const counts: Partial<Record<ChangeClass, number>> = {};
  const changes: ReplayChange[] = [];
  let unnamed = 0;
  for (const record of calls) {
    const server = options.server ?? record.server;
    if (server === undefined) unnamed++;
    const applied: ServerPolicy = server === undefined ? { policy: candidate, pointerBase: "" } : policyForServer(candidate, server);
    const recorded = onRecord(record);
    const outcome = underCandidate(applied.policy, record, recorded, tagsOf(record.tool), counters.of(server ?? ""));
    const change = classify(recorded.verdict, outcome.verdict);
    counts[change] = (counts[change] ?? 0) + 1;
    if (change === "unchanged") continue;
    const { id, time, tool, session } = record;
    const rule = outcome.rule.startsWith("/") ? `${applied.pointerBase}${outcome.rule}` : outcome.rule;
    changes.push({ change, id, time, tool, server: record.server ?? null, session, recorded: recorded.decision, candidate: outcome.decision, rule, reason: outcome.reason });
  }
  const report = { calls: calls.length, first: calls[0]?.time ?? null, last: calls.at(-1)?.time ?? null, counts, changes };
  return { ...report, notes: notesFor(candidate, counts, unnamed) };
}

// ─── The record's side ────────────────────────────────────────────────────────

type Recorded = {
  decision: CallDecision;
  verdict: Verdict;
  /** A human approved this very call: the candidate, if it also asks, is assumed to get the same answer. */
  approvedByHuman: boolean;
  /** Whether the gateway checked the arguments against the tool's inputSchema, which only it can (the replay has no schemas). */
  schema: "fit" | "do not fit" | "unchecked";
};

const VERDICTS: Record<CallDecision, Verdict> = {
  allow: "allowed",
  approved: "needs approval",
  approval_required: "needs approval",
  approval_limit: "needs approval",
  deny: "denied",
  hidden: "denied",
  unknown_tool: "denied",
  invalid_arguments: "denied",
  rate_limited: "limited",
  // The policy let the call through to a limiter that could not be reached: an outage, not a policy's refusal.
  limiter_unavailable: "allowed",
  // Upstream failures are resolved to the decision they followed (policyDecision); forwarded means allowed otherwise.
  upstream_error: "allowed",
  upstream_timeout: "allowed",
  // Refused because the tool's definition changed since it was pinned: not the policy's decision, which let it through.
  definition_changed: "allowed",
};

/** Decisions the gateway reaches only after the arguments fitted the tool's inputSchema (calls/judge.ts). */
const SCHEMA_CHECKED = new Set<CallDecision>(["allow", "approved", "approval_required", "rate_limited", "limiter_unavailable"]);

function onRecord(record: CallRecord): Recorded {
  const decision = policyDecision(record);
  // invalid_arguments is the schema's, unless a limit could not count an argument (checked before the schema).
  const schema = SCHEMA_CHECKED.has(decision)
    ? "fit"
    : decision === "invalid_arguments" && !record.rule.endsWith("/increment_from")
      ? "do not fit"
      : "unchecked";
  return { decision, verdict: VERDICTS[decision], approvedByHuman: decision === "approved", schema };
}

/** What the policy decided, whatever the upstream did next (in monitor mode, a refusal that went ahead). */
function policyDecision(record: CallRecord): CallDecision {
  return record.policyDecision;
}

// ─── The candidate's side ─────────────────────────────────────────────────────

type Outcome = { decision: CallDecision; verdict: Verdict; rule: string; reason: string } | { decision: null; verdict: null; rule: string; reason: string };

function underCandidate(policy: Policy, record: CallRecord, recorded: Recorded, tags: ReadonlySet<string>, counters: ServerCounters): Outcome {
  let decision: Decision;
  if (record.arguments) {
    decision = decide(policy, { name: record.tool, args: record.arguments, tags });
  } else {
    // The keys stand in for the arguments: decide() is trusted only when no rule it reaches reads a value.
    const keys = new Set(record.argumentKeys);
    const stand = Object.fromEntries(record.argumentKeys.map((key) => [key, null]));
    decision = decide(policy, { name: record.tool, args: stand, tags });
    const read = valueRead(policy, decision, stand, keys);
    if (read) {
      const reason = `${read.what} reads ${read.path}, and the record kept only the argument keys (${record.argumentKeys.join(", ") || "none"})`;
      return { decision: null, verdict: null, rule: read.rule, reason };
    }
  }
  const { rule } = decision;
  switch (decision.decision) {
    case "hidden":
      return { decision: "hidden", verdict: "denied", rule, reason: "hidden by the policy: answered as an unknown tool" };
    case "deny":
    case "invalid_arguments":
      return { decision: decision.decision, verdict: "denied", rule, reason: decision.reason };
  }
  // The policy lets the call reach the tool; what the gateway checks after the policy still applies.
  if (record.decision === "unknown_tool") return { decision: "unknown_tool", verdict: "denied", rule, reason: "the upstream has no such tool" };
  if (recorded.schema === "do not fit") {
    return { decision: "invalid_arguments", verdict: "denied", rule, reason: record.reason ?? "the arguments do not fit the tool's inputSchema" };
  }
  const outcome = passing(policy, decision, record, recorded, counters);
  return recorded.schema === "fit" ? outcome : { ...outcome, reason: withCaveat(outcome.reason, record) };
}

/** What becomes of a call the policy lets through: a human, then its limits. */
function passing(policy: Policy, decision: Extract<Decision, { decision: "allow" | "approve" }>, record: CallRecord, recorded: Recorded, counters: ServerCounters): Outcome {
  const { rule } = decision;
  const monitor = policy.mode === "monitor";
  const asks = decision.decision === "approve";
  // A call waiting for a human is not counted; a human's answer on record is assumed to stand.
  if (asks && !monitor && !recorded.approvedByHuman) return { decision: "approval_required", verdict: "needs approval", rule, reason: decision.reason };
  const hit = counters.count(decision.limits, Date.parse(record.time), record.session, monitor);
  // Monitor mode reports a call that needs approval as such, over its limit or not (calls/tool-call.ts).
  if (hit && !(monitor && asks)) return { decision: "rate_limited", verdict: "limited", rule: hit.rule, reason: hit.reason };
  if (!asks) return { decision: "allow", verdict: "allowed", rule, reason: "" };
  return monitor
    ? { decision: "approval_required", verdict: "needs approval", rule, reason: decision.reason }
    : { decision: "approved", verdict: "needs approval", rule, reason: `${decision.reason}; a human approved this call on record` };
}

/**
 * The gateway checks a call's arguments against the tool's inputSchema before
 * asking a human or counting limits; a call the recorded policy refused first
 * was never checked, and the replay has no schemas to check it with.
 */
function withCaveat(reason: string, record: CallRecord): string {
  const tool = record.decision === "hidden" ? " and the upstream has the tool" : "";
  const caveat = `if the arguments fit the tool's inputSchema${tool} (the replay cannot check)`;
  return reason ? `${reason}; ${caveat}` : caveat;
}

// ─── What the argument keys alone can answer ──────────────────────────────────

/** A rule of the candidate that needs an argument value to decide this call. */
type ValueRead = { rule: string; path: string; what: string };

/**
 * The first rule, in decide()'s order, that reads a value the record did not
 * keep before anything settles the call: `require`, `deny_if`, every limit's
 * `increment_from`, then `approve_if`. A rule with a condition that is false
 * from the keys alone (an absent key) settles without its other conditions.
 */
function valueRead(policy: Policy, decision: Decision, args: Record<string, unknown>, keys: ReadonlySet<string>): ValueRead | undefined {
  if (decision.decision === "hidden") return undefined;
  const entry = entryOf(policy, decision.rule);
  if (!entry && policy.default === "deny") return undefined;
  if (entry?.rule.action === "deny") return undefined;
  if (entry) {
    for (const [list, matching] of [["require", false], ["deny_if", true]] as const) {
      const found = scanRules(entry.rule[list], matching, `${entry.pointer}/${list}`, args, keys);
      if (found === "settled") return undefined;
      if (found) return found;
    }
  }
  const limits = [
    ...(entry?.rule.limits ?? []).map((limit, index) => ({ limit, pointer: `${entry?.pointer}/limits/${index}` })),
    ...policy.all_tools.limits.map((limit, index) => ({ limit, pointer: `/all_tools/limits/${index}` })),
  ];
  for (const { limit, pointer } of limits) {
    const path = limit.increment_from;
    if (path !== undefined && !settledByKeys(path, keys, false)) return { rule: `${pointer}/increment_from`, path, what: "increment_from" };
  }
  if (entry?.rule.action === "allow") {
    const found = scanRules(entry.rule.approve_if, true, `${entry.pointer}/approve_if`, args, keys);
    if (found && found !== "settled") return found;
  }
  return undefined;
}

/** Walks a rule list as decide() does: a rule whose match is `matching` settles the call; an unknown one before it cannot be passed. */
function scanRules(rules: Rule[], matching: boolean, pointer: string, args: Record<string, unknown>, keys: ReadonlySet<string>): ValueRead | "settled" | undefined {
  for (const [index, rule] of rules.entries()) {
    let unknown: number | undefined;
    let matches = true;
    for (const [at, condition] of rule.conditions.entries()) {
      if (!settledByKeys(condition.path, keys, condition.op === "exists")) unknown ??= at;
      else if (!conditionHolds(condition, args)) matches = false;
    }
    // All conditions must hold: one that is false from the keys alone decides the rule whatever the others read.
    if (matches && unknown !== undefined) {
      const path = rule.conditions[unknown]?.path ?? "args";
      return { rule: `${pointer}/${index}/conditions/${unknown}`, path, what: `a "${rule.conditions[unknown]?.op}" condition` };
    }
    if (matches === matching) return "settled";
  }
  return undefined;
}

/**
 * Whether the keys alone settle what a path resolves to: under an absent
 * top-level key (or an index into the arguments object) it is missing,
 * whatever the values; under a present key only presence is known.
 */
function settledByKeys(path: string, keys: ReadonlySet<string>, presenceOnly: boolean): boolean {
  const top = /^args\.([^.[\]]+)/.exec(path)?.[1];
  if (top === undefined) return path !== "args" || presenceOnly;
  if (!keys.has(top)) return true;
  return presenceOnly && path === `args.${top}`;
}

/** The `tools` entry a decision came from, read back from its rule pointer (`/tools/<pattern>/…`). */
function entryOf(policy: Policy, pointer: string): { pointer: string; rule: ToolRule } | undefined {
  const match = /^\/tools\/([^/]*)/.exec(pointer);
  if (!match) return undefined;
  const pattern = (match[1] ?? "").replaceAll("~1", "/").replaceAll("~0", "~");
  const rule = Object.hasOwn(policy.tools, pattern) ? policy.tools[pattern] : undefined;
  return rule ? { pointer: match[0], rule } : undefined;
}

// ─── Limits over the recorded timeline ────────────────────────────────────────

type LimitHit = { rule: string; reason: string };

/**
 * The ledger's arithmetic (grant-object/ledger.ts) in memory: a call fits when
 * what its window already holds plus what it adds stays within max; a call
 * consumes all its limits or none; limits that name the same counter and
 * scope count it once. Scopes: the grant (per server, as the gateway counts);
 * the session on record; "global" counts this grant's calls to every
 * server, the other grants' being out of sight.
 */
class Counters {
  /** Per counter and scope: the times counted, oldest first, and the running total of the amounts up to each. */
  #buckets = new Map<string, { at: number[]; total: number[] }>();

  /** The counters of one server's calls (global limits still count across servers). */
  of(server: string): ServerCounters {
    return { count: (limits, at, session, force) => this.count(limits, at, session, force, server) };
  }

  /** Counts a call the candidate forwards and returns the limit it exceeds; `force` (monitor mode) counts it anyway. */
  count(limits: AppliedLimit[], at: number, session: string | null, force: boolean, server: string): LimitHit | undefined {
    const items = limits.map((limit) => ({ limit, bucket: `${limit.counter}\u0000${scopeKey(limit, session, server)}`, windowMs: windowMs(limit.window) }));
    let hit: LimitHit | undefined;
    for (const { limit, bucket, windowMs } of items) {
      const used = this.#used(bucket, windowStart(windowMs, limit.align === "calendar", at));
      if (used + limit.amount > limit.max) {
        hit = { rule: limit.rule, reason: limitReason(limit, windowMs, used) };
        break;
      }
    }
    if (hit && !force) return hit;
    const amounts = new Map<string, number>();
    for (const { limit, bucket } of items) amounts.set(bucket, Math.max(amounts.get(bucket) ?? 0, limit.amount));
    for (const [bucket, amount] of amounts) {
      const rows = this.#buckets.get(bucket) ?? { at: [], total: [] };
      rows.at.push(at);
      rows.total.push((rows.total.at(-1) ?? 0) + amount);
      this.#buckets.set(bucket, rows);
    }
    return hit;
  }

  /** What a bucket holds after `start`: a binary search, so a long monitor-mode window stays cheap. */
  #used(bucket: string, start: number): number {
    const rows = this.#buckets.get(bucket);
    if (!rows) return 0;
    let low = 0;
    let high = rows.at.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((rows.at[middle] ?? 0) > start) high = middle;
      else low = middle + 1;
    }
    return (rows.total.at(-1) ?? 0) - (low === 0 ? 0 : (rows.total[low - 1] ?? 0));
  }
}

type ServerCounters = { count: (limits: AppliedLimit[], at: number, session: string | null, force: boolean) => LimitHit | undefined };

function scopeKey(limit: AppliedLimit, session: string | null, server: string): string {
  if (limit.scope === "global") return "global";
  return `${server}\u0000${limit.scope === "session" ? `session:${session ?? "none"}` : limit.scope}`;
}

/** As the ledger: usage strictly after this instant counts (sliding: the last window-length; calendar: the current UTC window). */
function windowStart(length: number, calendar: boolean, at: number): number {
  return calendar ? Math.floor(at / length) * length - 1 : at - length;
}

/** The gateway's own words for a limit hit (calls/tool-call.ts). */
function limitReason(limit: AppliedLimit, length: number, used: number): string {
  const allows = `limit "${limit.counter}" allows ${limit.max} per ${length / 1000} s`;
  return limit.amount > limit.max ? `${allows} and this call alone counts ${limit.amount}` : `${allows} and ${used} are used`;
}

// ─── The report ───────────────────────────────────────────────────────────────

function classify(from: Verdict, to: Verdict | null): ChangeClass {
  if (to === null) return "cannot tell";
  if (from === to) return "unchanged";
  return `${from} → ${to === "limited" ? "newly limited" : to === "needs approval" ? "newly needs approval" : to}`;
}

function notesFor(policy: Policy, counts: Partial<Record<ChangeClass, number>>, unnamed: number): string[] {
  const notes: string[] = [];
  const unknown = counts["cannot tell"] ?? 0;
  if (unknown > 0) {
    notes.push(
      `${unknown === 1 ? "1 call" : `${unknown} calls`} cannot be told: the candidate reads argument values the audit did not keep; with "audit": {"arguments": "full"} in the grant's policy, later calls can be replayed in full`,
    );
  }
  const bodies = [policy, ...Object.values(policy.servers ?? {})];
  const limits = bodies.flatMap((body) => [...Object.values(body.tools).flatMap((entry) => entry.limits), ...body.all_tools.limits]);
  if (limits.length > 0) {
    notes.push(
      "limits count from zero at the first replayed call, every call the candidate would forward, even one the upstream provably did not run (the gateway gives that count back), and no call that cannot be told",
    );
  }
  if (limits.some((limit) => limit.scope === "global")) notes.push('"global" limits count this grant\'s calls only: other grants share them in the gateway');
  if (unnamed > 0 && policy.servers !== undefined && Object.keys(policy.servers).length > 0) {
    notes.push(
      `${unnamed === 1 ? "1 call was" : `${unnamed} calls were`} recorded before records named their server and ${unnamed === 1 ? "was" : "were"} decided under the top level: to decide them under the default server's section, replay that server alone (--server)`,
    );
  }
  return notes;
}

function chronologically(a: CallRecord, b: CallRecord): number {
  return Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
