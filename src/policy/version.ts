import { sha256Hex } from "../crypto.ts";

/**
 * A policy's version: the first 16 hex digits of the SHA-256 of its canonical
 * JSON (keys sorted, no whitespace), so re-uploading the same rules with other
 * formatting keeps the version, and any change of rule changes it.
 */
export async function policyVersion(document: unknown): Promise<string> {
  return (await sha256Hex(canonicalJson(document))).slice(0, 16);
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}
