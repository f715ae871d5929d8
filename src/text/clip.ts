/**
 * Text from agents and OAuth clients (labels, tool names, arguments) made
 * fit to show on one line: cut to a length, and rid of the characters that
 * would change what a reader sees (control characters that break or rewrite
 * a line, bidirectional formatting characters that reorder it: U+202E makes
 * `exe.png` read as `gnp.exe`).
 */

/** C0 and C1 controls, DEL, line and paragraph separators: a run of them reads as one space. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
/** Bidirectional formatting: embeddings and overrides, isolates, LRM/RLM and the Arabic letter mark. */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Half of a surrogate pair (an emoji cut in two): encodes to nothing valid, and JSON writes it as a six-character escape. */
const LONE_SURROGATE = /\p{Cs}/gu;

/** The text on one line: controls become a space, bidirectional formatting characters go, lone surrogates become U+FFFD. */
export function stripControls(text: string): string {
  return text.replace(CONTROLS, " ").replace(BIDI, "").replace(LONE_SURROGATE, "\ufffd");
}

/** At most `max` (≥ 1) characters, whole code points so that no emoji is cut in half, the last one an ellipsis when the text was cut. */
export function clip(text: string, max: number): string {
  // A string's UTF-16 length is never less than its count of code points.
  if (text.length <= max) return text;
  const kept: string[] = [];
  for (const char of text) {
    kept.push(char);
    if (kept.length > max) return `${kept.slice(0, max - 1).join("")}…`;
  }
  return text;
}

/** Both: text to show on one line, at most `max` characters, cut after the invisible characters are gone. */
export function clipLine(text: string, max: number): string {
  return clip(stripControls(text), max);
}
