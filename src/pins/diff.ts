/**
 * What changed between a tool's pinned definition and the one now served,
 * as an operator reads it: the description as a text diff (by line, and by
 * word within a changed line), the schemas and annotations as a list of
 * JSON pointers. Pure, and bounded whatever a server sends: a text too long
 * to compare is shown replaced whole, a diff with too many entries is cut
 * with a count of the rest, and nesting deeper than a reader could follow
 * is compared whole.
 */

/** Tokens (lines, or words of a line) per side past which two texts are not compared but shown replaced whole. */
export const MAX_DIFF_TOKENS = 2000;
/** Entries a JSON diff lists; the rest are counted. */
export const MAX_JSON_ENTRIES = 500;
/** Below this depth a changed value is one entry (no call stack is spent on deeper nesting). */
const MAX_JSON_DEPTH = 32;

export type DiffKind = "same" | "removed" | "added";

/** A run of a line's text: unchanged, or only in the pinned (removed) or served (added) one. */
export type DiffPiece = { kind: DiffKind; text: string };

/** One line of a text diff; a changed line paired with its counterpart has `pieces` saying which words changed. */
export type DiffLine = { kind: DiffKind; text: string; pieces?: DiffPiece[] };

export type TextDiff = {
  lines: DiffLine[];
  /** The texts were too long to compare: every line of the one is removed, every line of the other added. */
  whole: boolean;
};

/** Unchanged lines folded away, as a reader sees them between changes. */
export type FoldedLine = DiffLine | { kind: "skipped"; count: number };

export type JsonChange = { path: string; kind: "added" | "removed" | "changed"; before?: unknown; after?: unknown };

export type JsonDiff = {
  entries: JsonChange[];
  /** How many entries past MAX_JSON_ENTRIES were left out. */
  more: number;
};

/** Where each item of `before` and `after` went: kept, removed or added (removals before additions between kept items). */
type Step<T> = { kind: DiffKind; item: T };

/**
 * The shortest edit between two sequences, by their longest common
 * subsequence; undefined when either, once their common start and end are
 * set aside, has more than `max` items (the table would be too large).
 */
function sequenceDiff<T>(before: readonly T[], after: readonly T[], max = MAX_DIFF_TOKENS): Step<T>[] | undefined {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  const a = before.slice(start, before.length - end);
  const b = after.slice(start, after.length - end);
  if (a.length > max || b.length > max) return undefined;

  // lengths[i * width + j]: the longest common subsequence of a[i..] and b[j..] (at most `max`, so 16 bits hold it).
  const width = b.length + 1;
  const lengths = new Uint16Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i * width + j] = a[i] === b[j] ? lengths[(i + 1) * width + j + 1]! + 1 : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!);
    }
  }

  const steps: Step<T>[] = before.slice(0, start).map((item) => ({ kind: "same", item }));
  let removed: Step<T>[] = [];
  let added: Step<T>[] = [];
  const flush = () => {
    steps.push(...removed, ...added);
    removed = [];
    added = [];
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      flush();
      steps.push({ kind: "same", item: a[i]! });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lengths[(i + 1) * width + j]! >= lengths[i * width + j + 1]!)) {
      removed.push({ kind: "removed", item: a[i++]! });
    } else {
      added.push({ kind: "added", item: b[j++]! });
    }
  }
  flush();
  for (const item of before.slice(before.length - end)) steps.push({ kind: "same", item });
  return steps;
}

const linesOf = (text: string) => (text === "" ? [] : text.split("\n"));

/** Words, runs of white space, and each other character alone: what a reader sees change within a line. */
const WORD = /[\p{L}\p{N}\p{M}_]+|\s+|[^\p{L}\p{N}\p{M}_\s]/gu;

/** Adjacent pieces of one kind as one. */
function joined(steps: Step<string>[]): DiffPiece[] {
  const pieces: DiffPiece[] = [];
  for (const step of steps) {
    const last = pieces.at(-1);
    if (last?.kind === step.kind) last.text += step.item;
    else pieces.push({ kind: step.kind, text: step.item });
  }
  return pieces;
}

/** Which words of a changed line changed: the pinned line's pieces and the served line's, or undefined when the line is too long to compare. */
function wordDiff(before: string, after: string): { before: DiffPiece[]; after: DiffPiece[] } | undefined {
  const found = sequenceDiff(before.match(WORD) ?? [], after.match(WORD) ?? []);
  if (!found) return undefined;
  // A space kept between two changes reads as part of them ("[a list]", not "[a] [list]").
  const steps = found.flatMap((step, at): Step<string>[] =>
    at > 0 && at < found.length - 1 && step.kind === "same" && /^\s+$/.test(step.item) && found[at - 1]!.kind !== "same" && found[at + 1]!.kind !== "same"
      ? [
          { kind: "removed", item: step.item },
          { kind: "added", item: step.item },
        ]
      : [step],
  );
  return { before: joined(steps.filter((step) => step.kind !== "added")), after: joined(steps.filter((step) => step.kind !== "removed")) };
}

/**
 * A text diff, line by line. Where a run of removed lines meets a run of as
 * many added ones, each pair is a changed line, and its pieces say which
 * words changed.
 */
export function diffText(before: string, after: string): TextDiff {
  const steps = sequenceDiff(linesOf(before), linesOf(after));
  if (!steps) {
    const lines: DiffLine[] = [...linesOf(before).map((text): DiffLine => ({ kind: "removed", text })), ...linesOf(after).map((text): DiffLine => ({ kind: "added", text }))];
    return { lines, whole: true };
  }
  const lines: DiffLine[] = steps.map((step) => ({ kind: step.kind, text: step.item }));
  for (let at = 0; at < lines.length; ) {
    if (lines[at]!.kind !== "removed") {
      at++;
      continue;
    }
    let removed = 0;
    while (lines[at + removed]?.kind === "removed") removed++;
    let added = 0;
    while (lines[at + removed + added]?.kind === "added") added++;
    if (removed === added) {
      for (let k = 0; k < removed; k++) {
        const old = lines[at + k]!;
        const now = lines[at + removed + k]!;
        const words = wordDiff(old.text, now.text);
        if (words) {
          old.pieces = words.before;
          now.pieces = words.after;
        }
      }
    }
    at += removed + added;
  }
  return { lines, whole: false };
}

/** The diff with runs of unchanged lines folded, keeping `context` lines next to each change. */
export function foldUnchanged(lines: DiffLine[], context = 3): FoldedLine[] {
  const folded: FoldedLine[] = [];
  for (let at = 0; at < lines.length; ) {
    if (lines[at]!.kind !== "same") {
      folded.push(lines[at++]!);
      continue;
    }
    let run = 0;
    while (lines[at + run]?.kind === "same") run++;
    const keepBefore = at === 0 ? 0 : context;
    const keepAfter = at + run === lines.length ? 0 : context;
    if (run > keepBefore + keepAfter + 1) {
      folded.push(...lines.slice(at, at + keepBefore), { kind: "skipped", count: run - keepBefore - keepAfter }, ...lines.slice(at + run - keepAfter, at + run));
    } else {
      folded.push(...lines.slice(at, at + run));
    }
    at += run;
  }
  return folded;
}

/** A JSON pointer's reference token (RFC 6901). */
const token = (key: string | number) => String(key).replaceAll("~", "~0").replaceAll("/", "~1");

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether two JSON values are the same, walked with a stack of its own (however deep they are). */
export function sameJson(a: unknown, b: unknown): boolean {
  const pending: Array<[unknown, unknown]> = [[a, b]];
  while (pending.length > 0) {
    const [x, y] = pending.pop()!;
    if (x === y) continue;
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) pending.push([x[i], y[i]]);
    } else if (isObject(x) && isObject(y)) {
      const keys = Object.keys(x);
      if (keys.length !== Object.keys(y).length) return false;
      for (const key of keys) {
        if (!Object.hasOwn(y, key)) return false;
        pending.push([x[key], y[key]]);
      }
    } else {
      return false;
    }
  }
  return true;
}

/**
 * What differs between two JSON values, as JSON pointers: a member or item
 * only in `after` is added, only in `before` removed, and a value of
 * another type or a different scalar changed. Objects are compared by key,
 * arrays by index. At most `max` entries; the rest are counted in `more`.
 */
export function diffJson(before: unknown, after: unknown, max = MAX_JSON_ENTRIES): JsonDiff {
  const diff: JsonDiff = { entries: [], more: 0 };
  const note = (entry: JsonChange) => {
    if (diff.entries.length < max) diff.entries.push(entry);
    else diff.more++;
  };
  const walk = (a: unknown, b: unknown, path: string, depth: number): void => {
    if (depth < MAX_JSON_DEPTH && Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const at = `${path}/${i}`;
        if (i >= b.length) note({ path: at, kind: "removed", before: a[i] });
        else if (i >= a.length) note({ path: at, kind: "added", after: b[i] });
        else walk(a[i], b[i], at, depth + 1);
      }
    } else if (depth < MAX_JSON_DEPTH && isObject(a) && isObject(b)) {
      for (const key of Object.keys(a)) {
        const at = `${path}/${token(key)}`;
        if (Object.hasOwn(b, key)) walk(a[key], b[key], at, depth + 1);
        else note({ path: at, kind: "removed", before: a[key] });
      }
      for (const key of Object.keys(b)) if (!Object.hasOwn(a, key)) note({ path: `${path}/${token(key)}`, kind: "added", after: b[key] });
    } else if (!sameJson(a, b)) {
      note({ path, kind: "changed", before: a, after: b });
    }
  };
  walk(before, after, "", 0);
  return diff;
}
