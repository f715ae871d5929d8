import type { OutputUnit } from "@cfworker/json-schema";

/**
 * What is wrong with a call's arguments, said twice: `detail` for the agent,
 * which sent the values and may read them back; `valueFree` for the audit
 * record and its log line, which keep argument values only when the policy
 * says `"audit": {"arguments": "full"}`.
 */
export type ArgumentProblem = { detail: string; valueFree: string };

/** Problems listed in a reason; the rest are counted. A wrong value can make thousands (one per array item). */
export const MAX_PROBLEMS_LISTED = 5;
/** Instance and schema locations hold the agent's member names: each is cut to this many characters. */
const MAX_LOCATION_CHARS = 120;
const MAX_MESSAGE_CHARS = 200;

/**
 * @cfworker/json-schema keywords whose messages are built from the schema
 * alone (its types, enums, required names, formats) or from member names,
 * which records keep anyway. Every other keyword (minimum, multipleOf,
 * maxLength, uniqueItems, …) may quote the value or measure it, so its
 * value-free form names only the keyword: an allow-list, so a keyword this
 * list does not know is never quoted.
 */
const SCHEMA_ONLY_MESSAGES = new Set([
  "type",
  "const",
  "enum",
  "required",
  "format",
  "pattern",
  "not",
  "anyOf",
  "allOf",
  "oneOf",
  "if",
  "minProperties",
  "maxProperties",
  "properties",
  "patternProperties",
  "additionalProperties",
  "unevaluatedProperties",
  "propertyNames",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "items",
  "prefixItems",
  "additionalItems",
  "unevaluatedItems",
  "contains",
  "$ref",
  "$recursiveRef",
  "false",
]);

/** A validator's errors as both reasons, each bounded however many errors there are and however long the names in them. */
export function describeProblems(errors: readonly OutputUnit[]): ArgumentProblem {
  const listed = errors.slice(0, MAX_PROBLEMS_LISTED);
  const more = errors.length > listed.length ? `; and ${errors.length - listed.length} more` : "";
  const detail = listed.map((error) => `${location(error.instanceLocation)}: ${cut(error.error, MAX_MESSAGE_CHARS)}`);
  const valueFree = listed.map((error) => `${location(error.instanceLocation)}: ${valueFreeMessage(error)}`);
  return { detail: `${detail.join("; ")}${more}`, valueFree: `${valueFree.join("; ")}${more}` };
}

function valueFreeMessage(error: OutputUnit): string {
  if (SCHEMA_ONLY_MESSAGES.has(error.keyword)) return cut(error.error, MAX_MESSAGE_CHARS);
  return `does not satisfy "${cut(error.keyword, 40)}" (${location(error.keywordLocation)}); the value is not recorded`;
}

function location(pointer: string): string {
  return cut(pointer, MAX_LOCATION_CHARS);
}

/** At most `max` UTF-16 units plus an ellipsis, never ending on half a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}
