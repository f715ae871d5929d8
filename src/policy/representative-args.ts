import { conditionHolds, jsonEqual } from "./args.ts";
import type { Condition, Rule, ToolRule } from "./schema.ts";

/**
 * How a rule of a `tools` entry behaves over every possible call:
 * `always` (no conditions: PolicyLayer's unconditional rules), `sometimes`
 * (some arguments make it hold, others not), `never` (provably: no arguments
 * can make it hold, e.g. `in: []`, or `eq 1` and `eq 2` on one path), or
 * `unknown` (no argument tried made it hold, but that proves nothing: a
 * `regex` no simple string matches).
 */
export type RuleReach = "always" | "sometimes" | "never" | "unknown";

export type Representatives = {
  /** Argument objects that, together, take every rule of the entry both ways where that is possible. */
  args: Array<Record<string, unknown>>;
  reach: (rule: Rule) => RuleReach;
};

/** Values of an `in` list tried; a longer list is tried in part, and a rule it alone bounds is then never proven impossible. */
const MAX_LISTED_VALUES = 16;
/** Argument objects tried for one entry: the product of every path's values, or one path at a time beyond this. */
export const MAX_REPRESENTATIVES = 64;

const ABSENT = Symbol("absent");
type Value = unknown | typeof ABSENT;

/**
 * Arguments that stand for every call a `tools` entry can see: for each path
 * its conditions read, the values on either side of each condition (the
 * value itself, one beside it, absent, another value), combined across
 * paths. Deciding these with `decide()` shows what the entry can do, so a
 * summary of a policy never claims more than the gateway does: an
 * unconditional `deny_if` refuses every one of them.
 */
export function representativeArguments(entry: ToolRule): Representatives {
  const rules = [...entry.require, ...entry.deny_if, ...entry.approve_if];
  const byPath = new Map<string, { values: Value[]; bounded: boolean }>();
  for (const condition of rules.flatMap((rule) => rule.conditions)) {
    const known = byPath.get(condition.path) ?? { values: [ABSENT], bounded: false };
    for (const value of valuesFor(condition)) if (!known.values.some((seen) => same(seen, value))) known.values.push(value);
    byPath.set(condition.path, known);
  }
  for (const known of byPath.values()) known.values.push(anotherValue(known.values));

  const paths = [...byPath.entries()];
  const product = paths.reduce((count, [, known]) => count * known.values.length, 1);
  const assignments: Array<Array<[string, Value]>> =
    product <= MAX_REPRESENTATIVES ? cartesian(paths) : onePathAtATime(paths, rules).slice(0, MAX_REPRESENTATIVES);
  const args = assignments.map(build);

  const reach = (rule: Rule): RuleReach => {
    if (rule.conditions.length === 0) return "always";
    if (args.some((candidate) => holds(rule, candidate))) return "sometimes";
    return provablyNever(rule, byPath) ? "never" : "unknown";
  };
  return { args, reach };
}

function holds(rule: Rule, args: Record<string, unknown>): boolean {
  return rule.conditions.every((condition) => conditionHolds(condition, args));
}

/** Values on either side of one condition. */
function valuesFor(condition: Condition): Value[] {
  switch (condition.op) {
    case "eq":
    case "neq":
      return [condition.value];
    case "in":
    case "not_in":
      return condition.value.slice(0, MAX_LISTED_VALUES);
    case "lt":
    case "lte":
    case "gt":
    case "gte": {
      const { value } = condition;
      return typeof value === "number" ? [value - 1, value, value + 1] : ["", value, `${value}\uffff`];
    }
    case "regex":
      return regexGuesses(condition.value);
    case "contains": {
      const { value } = condition;
      return typeof value === "string" ? [value, [value]] : [[value], []];
    }
    case "exists":
      return ["x"];
    case "len_lte":
    case "len_gte": {
      const { value } = condition;
      return [Math.max(0, value - 1), value, value + 1].map((length) => Array.from({ length }, () => 0));
    }
  }
}

/** Strings a pattern may match: its literal characters, and a few short ones. */
function regexGuesses(pattern: string): string[] {
  const literal = pattern.replace(/\\(.)/g, "$1").replace(/[\^$.*+?()[\]{}|]/g, "");
  return [literal, "", "a", "0"];
}

/**
 * Whether no arguments at all can make a rule hold: on some path, a
 * condition allows only listed values (`eq`, a fully tried `in`, `exists:
 * false`), and none of them meets every condition the rule puts on that path.
 */
function provablyNever(rule: Rule, byPath: Map<string, { values: Value[] }>): boolean {
  const paths = new Set(rule.conditions.map((condition) => condition.path));
  for (const path of paths) {
    const onPath = rule.conditions.filter((condition) => condition.path === path);
    const closed = onPath.some((c) => c.op === "eq" || (c.op === "in" && c.value.length <= MAX_LISTED_VALUES) || (c.op === "exists" && !c.value));
    if (!closed) continue;
    const values = byPath.get(path)?.values ?? [];
    if (!values.some((value) => onPath.every((condition) => conditionHolds(condition, build([[path, value]]))))) return true;
  }
  return false;
}

/** A value equal to none of these. */
function anotherValue(values: Value[]): Value {
  for (let n = 0; ; n++) {
    const candidate = `\u0000other${n}`;
    if (!values.some((value) => same(value, candidate))) return candidate;
  }
}

function same(a: Value, b: Value): boolean {
  return a === ABSENT || b === ABSENT ? a === b : jsonEqual(a, b);
}

function cartesian(paths: Array<[string, { values: Value[] }]>): Array<Array<[string, Value]>> {
  return paths.reduce<Array<Array<[string, Value]>>>(
    (combined, [path, { values }]) => combined.flatMap((partial) => values.map((value) => [...partial, [path, value] as [string, Value]])),
    [[]],
  );
}

/**
 * Too many paths for every combination: each path's values alone (the others
 * absent), and for each rule the values that make it hold together.
 */
function onePathAtATime(paths: Array<[string, { values: Value[] }]>, rules: Rule[]): Array<Array<[string, Value]>> {
  const single = paths.flatMap(([path, { values }]) => values.map((value) => [[path, value]] as Array<[string, Value]>));
  const witnesses = rules.map((rule) =>
    paths.flatMap(([path, { values }]) => {
      const onPath = rule.conditions.filter((condition) => condition.path === path);
      if (onPath.length === 0) return [];
      const fitting = values.find((value) => onPath.every((condition) => conditionHolds(condition, build([[path, value]]))));
      return fitting === undefined ? [] : [[path, fitting] as [string, Value]];
    }),
  );
  return [[], ...witnesses, ...single];
}

/** An arguments object with these values at these paths (`args.a.b`, `args.list[1]`); an absent one is left out. */
function build(assignment: Array<[string, Value]>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of assignment) {
    if (value === ABSENT) continue;
    const steps = (path.slice("args".length).match(/\.[^.[\]]+|\[\d+\]/g) ?? []).map((step) => (step.startsWith("[") ? Number(step.slice(1, -1)) : step.slice(1)));
    let node: Record<string | number, unknown> = root;
    steps.forEach((step, index) => {
      if (index === steps.length - 1) {
        put(node, step, value);
        return;
      }
      const next = steps[index + 1];
      const existing = node[step];
      const fits = typeof next === "number" ? Array.isArray(existing) : typeof existing === "object" && existing !== null && !Array.isArray(existing);
      if (!fits) put(node, step, typeof next === "number" ? Array.from({ length: next + 1 }, () => null) : {});
      const child = node[step] as Record<string | number, unknown>;
      if (Array.isArray(child) && typeof next === "number" && child.length <= next) child.length = next + 1;
      node = child;
    });
  }
  return root;
}

/** An own member even when the policy's path names `__proto__`. */
function put(node: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
}
