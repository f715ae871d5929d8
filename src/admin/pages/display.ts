/**
 * Text an operator must read exactly. Characters that would not show, or
 * would show as something else, are written as `\uXXXX` escapes: controls,
 * format characters (bidirectional overrides, zero-width joiners, the Tags
 * block used to smuggle invisible text), variation selectors, unusual spaces,
 * line and paragraph separators, private-use and unassigned code points.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}\p{Co}\p{Cn}\p{Default_Ignorable_Code_Point}]/gu;

function escapeCodePoint(char: string): string {
  // UTF-16 units, so that an escaped astral character is still valid JSON.
  return Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0")}`).join("");
}

/** Text (a tool name, a label) with hidden characters escaped; a line break too, unless `lines` (a note). */
export function visible(text: string, options: { lines?: boolean } = {}): string {
  return text.replace(HIDDEN, (char) => (char === " " || (options.lines && char === "\n") ? char : escapeCodePoint(char)));
}

/**
 * The call's arguments as pretty-printed JSON, the same value that will be
 * sent: hidden characters can only stand inside JSON strings there, so
 * escaping them keeps it valid JSON of the same value. (Keys keep the
 * record's order, which is the canonical order except that a JavaScript
 * object lists integer-like keys first.)
 */
export function prettyArguments(args: Record<string, unknown>): string {
  return prettyJson(args);
}

/** Any JSON value as JSON text (indented by `indent` spaces), hidden characters escaped as in prettyArguments. */
export function prettyJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(HIDDEN, (char) => (char === " " || char === "\n" ? char : escapeCodePoint(char)));
}

/** `2026-11-25 23:51:30 UTC`. */
export function utc(iso: string): string {
  return `${iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "")} UTC`;
}

/** `in 59 min`, `3 h ago`: how far a time is from now, roughly. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const amount =
    abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return ms >= 0 ? `in ${amount}` : `${amount} ago`;
}
