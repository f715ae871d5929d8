import type { ApprovalSummary } from "../../approvals/record.ts";
import { clip } from "../../text/clip.ts";

/** One top-level member of an arguments preview: its key and its JSON text, cut when the preview was cut inside it. */
export type PreviewMember = { key: string; value: string; cut: boolean };

/**
 * How a list row shows an approval's arguments: the members whose values
 * differ between the rows of the same tool on the page first, then the
 * others; and, when two rows' previews are the same although their
 * arguments are not (they differ past the preview), the start of the hash
 * that tells them apart.
 */
export type ArgumentSummary = { differing: PreviewMember[]; rest: PreviewMember[]; cut: boolean; fingerprint: string | undefined };

/** Characters of one member's value a row shows. */
const VALUE_CHARS = 48;
/** Hex digits of the hash shown to tell apart rows whose previews are the same. */
const FINGERPRINT_CHARS = 8;

/**
 * The members of a preview (`{"a":1,"b":"x"…`: the start of canonical JSON,
 * ending in "…" when cut), read as far as it goes. Anything that is not an
 * object's members is one member with an empty key.
 */
export function previewMembers(preview: string): { members: PreviewMember[]; cut: boolean } {
  const cut = preview.endsWith("…");
  const text = cut ? preview.slice(0, -1) : preview;
  if (!text.startsWith("{")) return { members: [{ key: "", value: text, cut }], cut };
  const members: PreviewMember[] = [];
  let at = 1;
  while (at < text.length && text[at] !== "}") {
    const key = scanValue(text, at);
    if (!key.complete || text[key.end] !== ":") {
      if (key.end > at) members.push({ key: safeKey(text.slice(at, key.end)), value: "", cut: true });
      break;
    }
    const value = scanValue(text, key.end + 1);
    members.push({ key: safeKey(text.slice(at, key.end)), value: text.slice(key.end + 1, value.end), cut: !value.complete });
    if (!value.complete) break;
    at = text[value.end] === "," ? value.end + 1 : value.end;
  }
  return { members, cut };
}

/** The end of the JSON value that starts at `start`: a string, an object or array (brackets balanced), or a literal. */
function scanValue(text: string, start: number): { end: number; complete: boolean } {
  let depth = 0;
  let inString = false;
  for (let at = start; at < text.length; at++) {
    const char = text[at];
    if (inString) {
      if (char === "\\") at++;
      else if (char === '"') {
        inString = false;
        if (depth === 0) return { end: at + 1, complete: true };
      }
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      if (depth === 0) return { end: at, complete: true };
      depth--;
      if (depth === 0) return { end: at + 1, complete: true };
    } else if (char === "," && depth === 0) return { end: at, complete: true };
  }
  return { end: text.length, complete: false };
}

/** A key as text: its JSON string decoded when whole, else as written. */
function safeKey(json: string): string {
  try {
    const key = JSON.parse(json) as unknown;
    return typeof key === "string" ? key : json;
  } catch {
    return json;
  }
}

/**
 * Each row's summary, from the rows shown together: within each tool, the
 * members some rows hold with another value (or not at all) come first, so
 * three `send_campaign` calls of one grant read as what sets them apart.
 */
export function argumentSummaries(rows: ApprovalSummary[]): Map<string, ArgumentSummary> {
  const parsed = new Map(rows.map((row) => [row.id, previewMembers(row.argumentsPreview)]));
  const byTool = new Map<string, ApprovalSummary[]>();
  for (const row of rows) byTool.set(row.tool, [...(byTool.get(row.tool) ?? []), row]);
  const summaries = new Map<string, ArgumentSummary>();
  for (const group of byTool.values()) {
    const differs = differingKeys(group.map((row) => parsed.get(row.id)!));
    for (const row of group) {
      const { members, cut } = parsed.get(row.id)!;
      const twin = group.some((other) => other.id !== row.id && other.argumentsPreview === row.argumentsPreview && other.argumentsHash !== row.argumentsHash);
      summaries.set(row.id, {
        differing: members.filter((member) => differs.has(member.key)),
        rest: members.filter((member) => !differs.has(member.key)),
        cut,
        fingerprint: twin ? row.argumentsHash.slice(0, FINGERPRINT_CHARS) : undefined,
      });
    }
  }
  return summaries;
}

/** Keys whose values are not the same in every preview of the group (a preview cut before a key says nothing about it). */
function differingKeys(previews: Array<{ members: PreviewMember[]; cut: boolean }>): Set<string> {
  const differing = new Set<string>();
  if (previews.length < 2) return differing;
  const keys = new Set(previews.flatMap((preview) => preview.members.map((member) => member.key)));
  for (const key of keys) {
    const values = previews.flatMap((preview) => {
      const member = preview.members.find((candidate) => candidate.key === key);
      if (member) return [member.cut ? undefined : member.value];
      // Absent from a whole preview: the call has no such member, which sets it apart.
      return preview.cut ? [] : [null];
    });
    const known = values.filter((value) => value !== undefined);
    if (new Set(known).size > 1) differing.add(key);
  }
  return differing;
}

/** A member as a row shows it: `key: value`, the value clipped. */
export function memberText(member: PreviewMember): string {
  const value = member.cut ? `${member.value}…` : member.value;
  return member.key === "" ? clip(value, VALUE_CHARS) : `${member.key}: ${clip(value, VALUE_CHARS)}`;
}
