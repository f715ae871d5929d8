import { sha256Hex } from "../crypto.ts";

/**
 * Names on the merged endpoint: `<server>__<name>`. Server names have no "_"
 * (registry.ts), so the first "__" always ends the server's part.
 *
 * A merged name stays within 64 characters (the bound several clients and
 * model APIs put on tool names) and within the characters the MCP
 * specification allows (letters, digits, "_", "-", "."). A name that would
 * not is cut, its other characters replaced by "_", and ended with "_" and 8
 * hex digits of its SHA-256: the same name always gives the same merged name,
 * and a call finds its tool again among the server's names.
 */
export const MERGED_NAME_MAX = 64;
export const SEPARATOR = "__";
const ALLOWED = /^[A-Za-z0-9_.-]+$/;
const HASH_CHARS = 8;
const CUT_ENDING = /_[0-9a-f]{8}$/;

export async function mergedName(server: string, name: string): Promise<string> {
  const plain = `${server}${SEPARATOR}${name}`;
  if (plain.length <= MERGED_NAME_MAX && ALLOWED.test(name)) return plain;
  const hash = (await sha256Hex(name)).slice(0, HASH_CHARS);
  const room = MERGED_NAME_MAX - server.length - SEPARATOR.length - 1 - HASH_CHARS;
  const kept = [...name].slice(0, room).join("").replace(/[^A-Za-z0-9_.-]/g, "_");
  return `${server}${SEPARATOR}${kept}_${hash}`;
}

/** The server a merged name names, and the rest (the tool's own name, unless it was cut). */
export function splitMergedName(merged: string): { server: string; rest: string } | undefined {
  const at = merged.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  return { server: merged.slice(0, at), rest: merged.slice(at + SEPARATOR.length) };
}

/**
 * The server's own name behind a merged one. A name that does not end like a
 * cut one is the rest itself; one that does is looked for among the server's
 * `known` names (it may be a real name that ends that way). Undefined when
 * none or several match: nothing is sent on a guess.
 */
export async function originalName(server: string, merged: string, rest: string, known: () => Promise<Iterable<string>>): Promise<string | undefined> {
  if (!CUT_ENDING.test(rest)) return (await mergedName(server, rest)) === merged ? rest : undefined;
  const matches: string[] = [];
  for (const name of await known()) if ((await mergedName(server, name)) === merged) matches.push(name);
  return matches.length === 1 ? matches[0] : undefined;
}
