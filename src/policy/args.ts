import type { Condition } from "./schema.ts";

const MISSING = Symbol("missing");
type Resolved = unknown | typeof MISSING;

/** Resolves `args.a.b[0]` against the call's arguments; MISSING when any step is absent. */
export function resolvePath(args: Record<string, unknown>, path: string): Resolved {
  const steps = path.slice("args".length).match(/\.[^.[\]]+|\[\d+\]/g) ?? [];
  let current: unknown = args;
  for (const step of steps) {
    if (step.startsWith("[")) {
      const index = Number(step.slice(1, -1));
      if (!Array.isArray(current) || index >= current.length) return MISSING;
      current = current[index];
    } else {
      const key = step.slice(1);
      if (current === null || typeof current !== "object" || Array.isArray(current) || !Object.hasOwn(current, key)) {
        return MISSING;
      }
      current = (current as Record<string, unknown>)[key];
    }
  }
  return current;
}

/** Whether one condition holds for these arguments. A missing path fails every op but `exists`. */
export function conditionHolds(condition: Condition, args: Record<string, unknown>): boolean {
  const actual = resolvePath(args, condition.path);
  if (condition.op === "exists") return (actual !== MISSING) === condition.value;
  if (actual === MISSING) return false;
  switch (condition.op) {
    case "eq":
      return jsonEqual(actual, condition.value);
    case "neq":
      return !jsonEqual(actual, condition.value);
    case "in":
      return condition.value.some((candidate) => jsonEqual(actual, candidate));
    case "not_in":
      return !condition.value.some((candidate) => jsonEqual(actual, candidate));
    case "lt":
    case "lte":
    case "gt":
    case "gte":
      return compare(condition.op, actual, condition.value);
    case "regex":
      return typeof actual === "string" && compileRegex(condition.value, condition.flags).test(actual);
    case "contains":
      if (typeof actual === "string") return typeof condition.value === "string" && actual.includes(condition.value);
      return Array.isArray(actual) && actual.some((element) => jsonEqual(element, condition.value));
    case "len_lte":
    case "len_gte": {
      const length = typeof actual === "string" || Array.isArray(actual) ? actual.length : undefined;
      if (length === undefined) return false;
      return condition.op === "len_lte" ? length <= condition.value : length >= condition.value;
    }
  }
}

/** How much one call adds to a counter, or why its arguments cannot be counted. */
export type Increment = { amount: number } | { problem: string };

/**
 * How much one call adds to a counter with `increment_from`. A counted call
 * never counts less than 1, so no argument makes calls free: a number counts
 * its value rounded up, an array or string its length, a missing value 1.
 * A value that cannot be counted (an object, a boolean, null) refuses the call.
 */
export function incrementFrom(args: Record<string, unknown>, path: string | undefined): Increment {
  if (path === undefined) return { amount: 1 };
  const value = resolvePath(args, path);
  if (value === MISSING) return { amount: 1 };
  if (typeof value === "number" && Number.isFinite(value)) {
    return { amount: Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.ceil(value))) };
  }
  if (Array.isArray(value) || typeof value === "string") return { amount: Math.max(1, value.length) };
  const kind = value === null ? "null" : typeof value === "number" ? "not a finite number" : `a ${typeof value === "object" ? "object" : typeof value}`;
  return { problem: `${path} is ${kind}, which a rate limit cannot count (it counts a number, or the length of an array or string)` };
}

function compare(op: "lt" | "lte" | "gt" | "gte", actual: unknown, expected: number | string): boolean {
  // Numbers compare with numbers, strings (ISO dates) with strings; anything else fails.
  if (typeof actual !== typeof expected || (typeof actual !== "number" && typeof actual !== "string")) return false;
  const a = actual as number | string;
  switch (op) {
    case "lt":
      return a < expected;
    case "lte":
      return a <= expected;
    case "gt":
      return a > expected;
    case "gte":
      return a >= expected;
  }
}

const regexCache = new Map<string, RegExp>();

function compileRegex(pattern: string, flags = ""): RegExp {
  const key = `${flags}/${pattern}`;
  let regex = regexCache.get(key);
  if (!regex) {
    regex = new RegExp(pattern, `${flags}u`);
    regexCache.set(key, regex);
  }
  return regex;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((element, index) => jsonEqual(element, b[index]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  return (
    aKeys.length === Object.keys(bRecord).length &&
    aKeys.every((key) => Object.hasOwn(bRecord, key) && jsonEqual((a as Record<string, unknown>)[key], bRecord[key]))
  );
}
