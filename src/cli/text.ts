import { relative } from "node:path";

/**
 * Text from the gateway as a terminal may show it: arguments, labels and
 * notes come from agents and people, so control characters (which could
 * rewrite the screen) and bidirectional overrides (which could reorder what an
 * operator reads) are shown escaped.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const GLANCE_CHARS = 72;

/** Printable text cut to what one line of a listing shows. */
export function glance(text: string, chars = GLANCE_CHARS): string {
  const shown = printable(text);
  return shown.length <= chars ? shown : `${shown.slice(0, chars - 1)}…`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Columns padded to their widest cell, two spaces apart (the last one not padded). */
export function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join("  ").trimEnd());
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A path as the user would type it from here. */
export function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
