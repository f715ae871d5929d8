import { base64url, fromBase64url } from "../crypto.ts";

/** A merged list's cursor: each server's own cursor, for the servers with more to list. */
export function mergeCursor(cursors: Map<string, unknown>): string {
  return base64url(new TextEncoder().encode(JSON.stringify([...cursors])));
}

/** Cursors come back from the agent: longer than any this gateway writes for 32 servers is not one. */
const MAX_CURSOR_CHARS = 64 * 1024;

/** The servers' cursors inside a merged one, only for servers this request may ask; undefined when it is not one. */
export function readMergedCursor(cursor: unknown, servers: string[]): Map<string, unknown> | undefined {
  if (typeof cursor !== "string" || cursor.length > MAX_CURSOR_CHARS) return undefined;
  const bytes = fromBase64url(cursor);
  if (!bytes) return undefined;
  let entries: unknown;
  try {
    entries = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (!Array.isArray(entries)) return undefined;
  const cursors = new Map<string, unknown>();
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || !servers.includes(entry[0])) return undefined;
    cursors.set(entry[0], entry[1]);
  }
  return cursors.size > 0 ? cursors : undefined;
}
