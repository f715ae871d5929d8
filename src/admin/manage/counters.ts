import { z } from "zod";
import type { Bindings } from "../../env.ts";
import { GLOBAL_OBJECT } from "../../limits/limiter.ts";
import type { Limit, Policy } from "../../policy/schema.ts";
import { policyVersion } from "../../policy/version.ts";
import { windowMs } from "../../policy/window.ts";
import { adminRecord } from "./admin-record.ts";
import { GrantService, type GrantSummary } from "./grants.ts";
import { parsedPolicy } from "./policies.ts";

/** One limit of the grant's policy and how much of it is used now. */
export const CounterRowSchema = z.object({
  /** JSON pointer of the limit in the policy. */
  rule: z.string(),
  counter: z.string(),
  scope: z.enum(["grant", "session", "global"]),
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

export type ResetOutcome =
  | { ok: true; counter: string; scope: "grant" | "global"; dropped: number }
  | { ok: false; reason: "not_found" | "not_in_policy" | "per_session"; message: string };

type Usage = Pick<CounterRow, "counter" | "scope"> & { windowMs: number; calendar: boolean };

/**
 * A grant's counters, live: each limit of its policy (every `tools` entry's
 * and `all_tools`'), with what is used now, read from the Durable Object that
 * counts it exactly as the limiter addresses it (src/limits/limiter.ts):
 * grant scope in the grant's object under the scope key "grant", global scope
 * in the object named "global" under "global". Session-scoped limits count
 * each MCP session apart ("session:<id>"), so there is no one number to show.
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
    const loaded = await this.#policyOf(grant);
    if (!loaded.policy) return { grant, policy: { name: grant.policy, version: null, problem: loaded.problem }, counters: [] };
    const limits = limitsOf(loaded.policy);
    const used = await this.#usage(grant.id, limits);
    return {
      grant,
      policy: { name: grant.policy, version: loaded.version, problem: null },
      counters: limits.map(({ rule, limit }, index) => ({ rule, counter: limit.counter, scope: limit.scope, window: limit.window, align: limit.align, max: limit.max, used: used[index] ?? null })),
    };
  }

  async reset(grantId: string, counter: string, scope: string, by: string, now = Date.now()): Promise<ResetOutcome> {
    const grant = await new GrantService(this.#env).get(grantId);
    if (!grant) return { ok: false, reason: "not_found", message: `no grant with id ${grantId}` };
    if (scope === "session") return { ok: false, reason: "per_session", message: "a session-scoped counter counts each MCP session apart; it ends with its session and its window" };
    const { policy } = await this.#policyOf(grant);
    const known = policy !== undefined && limitsOf(policy).some(({ limit }) => limit.counter === counter && limit.scope === scope);
    if (!known || (scope !== "grant" && scope !== "global")) {
      return { ok: false, reason: "not_in_policy", message: `policy "${grant.policy}" has no ${scope}-scoped limit on counter "${counter}"` };
    }
    const global = scope === "global";
    const record = adminRecord(
      {
        action: "counter.reset",
        by,
        target: `${counter}/${scope}`,
        // A global counter is every grant's: its reset is on no grant, and kept in the global object.
        grant: global ? null : { id: grant.id, label: grant.label },
        detail: { counter, scope, grant: grant.id, policy: grant.policy },
      },
      now,
    );
    // As AuditWriter.writeNow does: the record is a log line at once, and stored by the object with the reset.
    console.log(JSON.stringify({ event: "audit", ...record }));
    const dropped = await this.#env.GRANT_OBJECT.getByName(global ? GLOBAL_OBJECT : grant.id).resetCounter(counter, scope, record);
    return { ok: true, counter, scope, dropped };
  }

  async #policyOf(grant: GrantSummary): Promise<{ policy: Policy; version: string | null; problem: null } | { policy?: undefined; version: null; problem: string }> {
    const text = await this.#env.POLICIES.get(grant.policy, { type: "text" });
    if (text === null) return { version: null, problem: `there is no policy named "${grant.policy}": every call of this grant is refused` };
    const policy = parsedPolicy(text);
    if (!policy) return { version: null, problem: `policy "${grant.policy}" is not valid` };
    return { policy, version: await policyVersion(JSON.parse(text)), problem: null };
  }

  /** Usage of each limit, one RPC per object involved; null for session-scoped ones. */
  async #usage(grantId: string, limits: Array<{ limit: Limit }>): Promise<Array<number | null>> {
    const byObject = new Map<string, Array<{ index: number; item: Usage }>>();
    limits.forEach(({ limit }, index) => {
      if (limit.scope === "session") return;
      const object = limit.scope === "global" ? GLOBAL_OBJECT : grantId;
      const entries = byObject.get(object) ?? [];
      entries.push({ index, item: { counter: limit.counter, scope: limit.scope, windowMs: windowMs(limit.window), calendar: limit.align === "calendar" } });
      byObject.set(object, entries);
    });
    const used: Array<number | null> = limits.map(() => null);
    await Promise.all(
      [...byObject].map(async ([object, entries]) => {
        const counts = await this.#env.GRANT_OBJECT.getByName(object).usage(
          entries.map(({ item }) => ({ counter: item.counter, scopeKey: item.scope, windowMs: item.windowMs, calendar: item.calendar })),
        );
        entries.forEach(({ index }, position) => (used[index] = counts[position] ?? 0));
      }),
    );
    return used;
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
