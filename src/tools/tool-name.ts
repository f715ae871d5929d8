/**
 * The MCP specification's bound on a tool's name (1 to 128 characters). A
 * longer name the upstream does not list is refused before the policy reads
 * it; records and log lines hold at most this much of any name.
 */
export const MAX_TOOL_NAME_LENGTH = 128;

/** The name as a record keeps it: whole up to the bound, else its start and how long it was. */
export function recordedToolName(name: string): string {
  if (name.length <= MAX_TOOL_NAME_LENGTH) return name;
  // Never end on half of a surrogate pair: the record must stay well-formed Unicode.
  const end = /[\ud800-\udbff]/.test(name.charAt(MAX_TOOL_NAME_LENGTH - 1)) ? MAX_TOOL_NAME_LENGTH - 1 : MAX_TOOL_NAME_LENGTH;
  return `${name.slice(0, end)}… (${name.length} characters)`;
}
