import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { canonicalJson } from "../canonical.ts";

/**
 * The parts of a tool that say what it does and what it takes: what a pin
 * covers. A change to any of them (a description that now carries
 * instructions to the model, a new `bcc` argument, a tool no longer marked
 * destructive) is a change an operator must review; anything else a server
 * adds to a listed tool (`_meta`, `icons`, `execution`) is not pinned.
 */
export const PINNED_FIELDS = ["name", "title", "description", "inputSchema", "outputSchema", "annotations"] as const;

export type ToolDefinition = { name: string } & Partial<Record<Exclude<(typeof PINNED_FIELDS)[number], "name">, unknown>>;

/** A pin is a SHA-256, hex: 64 characters. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The pinned fields a listed tool has (an absent field stays absent, so adding one is a change). */
export function definitionOf(tool: { name: string } & Record<string, unknown>): ToolDefinition {
  const definition: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS) if (Object.hasOwn(tool, field) && tool[field] !== undefined) definition[field] = tool[field];
  return definition as ToolDefinition;
}

/**
 * The definition's canonical text (RFC 8785): the same for the same
 * definition whatever its key order or spacing, so a server that reorders
 * its JSON does not look changed.
 */
export function canonicalDefinition(definition: ToolDefinition): string {
  return canonicalJson(definition);
}

/**
 * SHA-256 (hex) of the canonical text. Synchronous, because a tool list is
 * filtered inside a stream transform that cannot wait; not node:crypto, whose
 * import loads Node's internal modules at every isolate's start (14 ms of the gateway's
 * startup on the benchmark machine, docs/performance.md).
 */
export function hashText(canonical: string): string {
  return bytesToHex(sha256(encoder.encode(canonical)));
}

const encoder = new TextEncoder();

export function definitionHash(definition: ToolDefinition): string {
  return hashText(canonicalDefinition(definition));
}
