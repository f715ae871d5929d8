import { z } from "zod";
import type { Bindings } from "../../env.ts";
import { readConfig } from "../../config.ts";
import { GLOBAL_OBJECT, scopeKeyOf } from "../../limits/limiter.ts";
import { policyForServer } from "../../policy/for-server.ts";
import type { Limit, Policy } from "../../policy/schema.ts";
import { policyVersion } from "../../policy/version.ts";
import { windowMs } from "../../policy/window.ts";
import { auditLog } from "../../audit/writer.ts";
import { adminRecord } from "./admin-record.ts";
import { GrantService, type GrantSummary } from "./grants.ts";
import { parsedPolicy } from "./policies.ts";

/** One limit of the grant's policy and how much of it is used now. */
export const CounterRowSchema = z.object({
  /** JSON pointer of the limit in the policy. */
  rule: z.string(),
  counter: z.string(),
  scope: z.enum(["grant", "session", "global"]),
  /** The server whose calls it counts (each server counts its own); null for a global counter, which every server's calls share. */
  server: z.string().nullable(),
  window: z.string(),
  align: z.enum(["sliding", "calendar"]),
  max: z.number(),
  /** Counted in the current window; null for a session-scoped limit, which counts each session apart. */
  used: z.number().nullable(),
});
export type CounterRow = z.infer<typeof CounterRowSchema>;

export type CountersView = {
  grant: GrantSummary;
  policy: { name: string; version: string | null; problem: string | null };
  counters: CounterRow[];
};

/** Active grants one page of the overview reads counters for: at most one Durable Object request each, plus one for the global counters. */
export const OVERVIEW_GRANTS_PER_PAGE = 25;

/** One grant-scoped limit of one grant, with how much of it is used. */
export type OverviewRow = CounterRow & { grant: { id: string; label: string }; policy: string };

/** Every grant's use against its limits, a page of active grants at a time, nearest the limit first. */
export type CountersOverview = {
  /** The grant-scoped limits of this page's grants, nearest their maximum first. */
  rows: OverviewRow[];
  /** Global counters (shared by every grant whose policy names them), once each, nearest their maximum first. */
  global: Array<CounterRow & { policies: string[] }>;
  /** Grants of this page whose policy cannot be read: every call of theirs is refused. */
  problems: Array<{ grant: { id: string; label: string }; problem: string }>;
  /** Active grants on this page, and how many of them have no limit to show. */
  grants: number;
  withoutLimits: number;
  /** Revoked and expired grants, left out (they make no calls). */
  inactive: number;
  /** Continues with the next, older, active grants; null when this page has the last. */
  cursor: string | null;
};

export type ResetOutcome =
  | { ok: true; counter: string; scope: "grant" | "global"; server: string | null; dropped: number }
  | { ok: false; reason: "not_found" | "not_in_policy" | "per_session"; message: string };

/** One limit as it counts for a grant: on one server (its section of the policy, or the top level), or global. */
type CountedLimit = { rule: string; limit: Limit; server: string | null; scopeKey: string };

/**
 * A grant's counters, live: each limit of its policy (every `tools` entry's
 * and `all_tools`'), with what is used now, read from the Durable Object that
 * counts it exactly as the limiter addresses it (src/limits/limiter.ts
 * scopeKeyOf): grant scope in the grant's object, per server the grant
 * reaches (the default server's under "grant", another's under
 * "server:<name>:grant"), global scope in the object named "global" under
 * "global", once. Session-scoped limits count each MCP session apart
 * ("session:<id>"), so there is no one number to show.
 *
 * A reset forgets everything counted for one counter in one scope, and is
 * recorded ("counter.reset", target `<counter>/<scope>`) in the same object,
 * in the same step.
 */
export class CounterService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  async forGrant(grantId: string): Promise<CountersView | undefined> {
    const grant = await new GrantService(this.#env).get(grantId);
    if (!grant) return undefined;
    const loaded = await this.policyOf(grant);
    if (!loaded.policy) return { grant, policy: { name: grant.policy, version: null, problem: loaded.problem }, counters: [] };
    const limits = this.#countedLimits(grant, loaded.policy);
    const used = await this.#usage(grant.id, limits);
    return {
      grant,
      policy: { name: grant.policy, version: loaded.version, problem: null },
      counters: limits.map((counted, index) => rowOf(counted, used[index] ?? null)),
    };
  }

  /**
   * Every active grant's use against its grant-scoped limits, and the global
   * counters, nearest their maximum first. Bounded per page view: one KV list
   * of the grants (per 1000), one KV read per distinct policy of the page's
   * grants, one Durable Object request per grant of the page that has
   * grant-scoped limits (at most OVERVIEW_GRANTS_PER_PAGE), and one to the
   * global object when a policy has global limits. Session-scoped limits
   * count each session apart and are left to a grant's own page.
   */
  async overview(cursor?: string, now = Date.now()): Promise<CountersOverview> {
    const all = await new GrantService(this.#env).list(now);
    const active = all.filter((grant) => grant.status === "active");
    const after = cursor === undefined ? undefined : decodeGrantCursor(cursor);
    const remaining = after ? active.filter((grant) => grant.createdAt < after.createdAt || (grant.createdAt === after.createdAt && grant.id > after.id)) : active;
    const page = remaining.slice(0, OVERVIEW_GRANTS_PER_PAGE);
    const last = page.at(-1);

    const policies = new Map<string, Promise<Awaited<ReturnType<CounterService["policyOf"]>>>>();
    const loaded = await Promise.all(
      page.map(async (grant) => {
        if (!policies.has(grant.policy)) policies.set(grant.policy, this.policyOf(grant));
        return { grant, loaded: await policies.get(grant.policy)! };
      }),
    );
    const rows: OverviewRow[] = [];
    const problems: CountersOverview["problems"] = [];
    const globals = new Map<string, CounterRow & { policies: string[]; item: UsageItem }>();
    let withoutLimits = 0;
    await Promise.all(
      loaded.map(async ({ grant, loaded: { policy, problem } }) => {
        const ref = { id: grant.id, label: grant.label };
        if (!policy) return problems.push({ grant: ref, problem: problem ?? "its policy cannot be read" });
        const limits = this.#countedLimits(grant, policy);
        for (const counted of limits.filter(({ limit }) => limit.scope === "global")) {
          const { limit } = counted;
          const key = JSON.stringify([limit.counter, windowMs(limit.window), limit.align, limit.max]);
          const known = globals.get(key);
          if (known) known.policies.includes(grant.policy) || known.policies.push(grant.policy);
          else globals.set(key, { ...rowOf(counted, null), policies: [grant.policy], item: usageItem(counted) });
        }
        const own = limits.filter(({ limit }) => limit.scope === "grant");
        if (limits.every(({ limit }) => limit.scope === "session")) withoutLimits++;
        if (own.length === 0) return;
        const used = await this.#env.GRANT_OBJECT.getByName(grant.id).usage(own.map(usageItem));
        own.forEach((counted, index) => rows.push({ ...rowOf(counted, used[index] ?? 0), grant: ref, policy: grant.policy }));
      }),
    );
    const shared = [...globals.values()];
    if (shared.length > 0) {
      const used = await this.#env.GRANT_OBJECT.getByName(GLOBAL_OBJECT).usage(shared.map((row) => row.item));
      shared.forEach((row, index) => (row.used = used[index] ?? 0));
    }
    return {
      rows: rows.sort(nearestFirst),
      global: shared.map(({ item: _item, ...row }) => row).sort(nearestFirst),
      problems,
      grants: page.length,
      withoutLimits,
      inactive: all.length - active.length,
      cursor: remaining.length > page.length && last ? encodeGrantCursor(last) : null,
    };
  }

  /** `server`: whose grant-scoped count to reset (default: the default server's); a global counter is every server's. */
  async reset(grantId: string, counter: string, scope: string, by: string, { server, now = Date.now() }: { server?: string | undefined; now?: number } = {}): Promise<ResetOutcome> {
    const grant = await new GrantService(this.#env).get(grantId);
    if (!grant) return { ok: false, reason: "not_found", message: `no grant with id ${grantId}` };
    if (scope === "session") return { ok: false, reason: "per_session", message: "a session-scoped counter counts each MCP session apart; it ends with its session and its window" };
    const { policy } = await this.policyOf(grant);
    const global = scope === "global";
    const on = global ? null : (server ?? readConfig(this.#env).defaultServer.name);
    const known = policy !== undefined && this.#countedLimits(grant, policy).find(({ limit, server: counts }) => limit.counter === counter && limit.scope === scope && counts === on);
    if (!known || (scope !== "grant" && scope !== "global")) {
      const where = on === null ? "" : ` on server "${on}"`;
      return { ok: false, reason: "not_in_policy", message: `policy "${grant.policy}" has no ${scope}-scoped limit on counter "${counter}"${where}` };
    }
    const record = adminRecord(
      {
        action: "counter.reset",
        by,
        target: `${counter}/${scope}`,
        // A global counter is every grant's: its reset is on no grant, and kept in the global object.
        grant: global ? null : { id: grant.id, label: grant.label },
        detail: { counter, scope, grant: grant.id, policy: grant.policy, ...(on === null ? {} : { server: on }) },
      },
      now,
    );
    // As AuditWriter.writeNow does: the record is a log line at once, and stored by the object with the reset.
    auditLog([record]);
    const dropped = await this.#env.GRANT_OBJECT.getByName(global ? GLOBAL_OBJECT : grant.id).resetCounter(counter, known.scopeKey, record);
    return { ok: true, counter, scope, server: on, dropped };
  }

  /**
   * Each limit as it counts for this grant: per server it reaches (under that server's section of the
   * policy, or the top level; pointers into the whole document), and a global limit once, whichever
   * servers' parts of the policy name it.
   */
  #countedLimits(grant: GrantSummary, policy: Policy): CountedLimit[] {
    const { servers, defaultServer } = readConfig(this.#env);
    const reached = (grant.servers ?? [defaultServer.name]).filter((name) => servers.has(name));
    const counted: CountedLimit[] = [];
    const globals = new Set<string>();
    for (const server of reached) {
      const applied = policyForServer(policy, server);
      for (const { rule, limit } of limitsOf(applied.policy)) {
        const at = `${applied.pointerBase}${rule}`;
        if (limit.scope === "global") {
          // The same count, whichever part of the policy names it: shown once, at the first rule that does.
          const key = JSON.stringify([limit.counter, windowMs(limit.window), limit.align, limit.max]);
          if (!globals.has(key)) counted.push({ rule: at, limit, server: null, scopeKey: "global" });
          globals.add(key);
          continue;
        }
        counted.push({ rule: at, limit, server, scopeKey: scopeKeyOf(limit.scope, { server: server === defaultServer.name ? undefined : server }) });
      }
    }
    return counted;
  }

  /** The grant's policy, parsed, with its version; or why it cannot be used. */
  async policyOf(grant: GrantSummary): Promise<{ policy: Policy; version: string | null; problem: null } | { policy?: undefined; version: null; problem: string }> {
    const text = await this.#env.POLICIES.get(grant.policy, { type: "text" });
    if (text === null) return { version: null, problem: `there is no policy named "${grant.policy}": every call of this grant is refused` };
    const policy = parsedPolicy(text);
    if (!policy) return { version: null, problem: `policy "${grant.policy}" is not valid` };
    return { policy, version: await policyVersion(JSON.parse(text)), problem: null };
  }

  /** Usage of each limit, one RPC per object involved; null for session-scoped ones. */
  async #usage(grantId: string, limits: CountedLimit[]): Promise<Array<number | null>> {
    const byObject = new Map<string, Array<{ index: number; item: UsageItem }>>();
    limits.forEach((counted, index) => {
      if (counted.limit.scope === "session") return;
      const object = counted.limit.scope === "global" ? GLOBAL_OBJECT : grantId;
      const entries = byObject.get(object) ?? [];
      entries.push({ index, item: usageItem(counted) });
      byObject.set(object, entries);
    });
    const used: Array<number | null> = limits.map(() => null);
    await Promise.all(
      [...byObject].map(async ([object, entries]) => {
        const counts = await this.#env.GRANT_OBJECT.getByName(object).usage(entries.map(({ item }) => item));
        entries.forEach(({ index }, position) => (used[index] = counts[position] ?? 0));
      }),
    );
    return used;
  }
}

function rowOf({ rule, limit, server }: CountedLimit, used: number | null): CounterRow {
  return { rule, counter: limit.counter, scope: limit.scope, server, window: limit.window, align: limit.align, max: limit.max, used };
}

type UsageItem = { counter: string; scopeKey: string; windowMs: number; calendar: boolean };

/** What the ledger needs to read a limit's usage (src/limits/limiter.ts addresses it the same way). */
function usageItem({ limit, scopeKey }: CountedLimit): UsageItem {
  return { counter: limit.counter, scopeKey, windowMs: windowMs(limit.window), calendar: limit.align === "calendar" };
}

/** Nearest its maximum first (the largest share used), then the most used. */
function nearestFirst(a: CounterRow, b: CounterRow): number {
  return (b.used ?? 0) / b.max - (a.used ?? 0) / a.max || (b.used ?? 0) - (a.used ?? 0);
}

/** Where a page of the overview ended: the last grant's creation time and id (grants are listed newest first). */
function encodeGrantCursor(grant: Pick<GrantSummary, "createdAt" | "id">): string {
  return btoa(JSON.stringify([grant.createdAt, grant.id])).replaceAll("=", "");
}

function decodeGrantCursor(cursor: string): { createdAt: string; id: string } | undefined {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor.slice(0, 400))) as [unknown, unknown];
    return typeof createdAt === "string" && typeof id === "string" ? { createdAt, id } : undefined;
  } catch {
    return undefined;
  }
}

/** Every limit of a policy with its JSON pointer, in the order decide() applies them: tool entries, then all_tools. */
export function limitsOf(policy: Policy): Array<{ rule: string; limit: Limit }> {
  return [
    ...Object.entries(policy.tools).flatMap(([pattern, entry]) => entry.limits.map((limit, index) => ({ rule: `/tools/${escapePointer(pattern)}/limits/${index}`, limit }))),
    ...policy.all_tools.limits.map((limit, index) => ({ rule: `/all_tools/limits/${index}`, limit })),
  ];
}

/** RFC 6901: "~" and "/" inside a key. */
function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
