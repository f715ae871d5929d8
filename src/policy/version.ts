import { canonicalHash } from "../canonical.ts";

/**
 * A policy's version: the first 16 hex digits of the SHA-256 of its canonical
 * JSON (RFC 8785), so re-uploading the same rules with other formatting keeps
 * the version, and any change of rule changes it.
 */
export async function policyVersion(document: unknown): Promise<string> {
  return (await canonicalHash(document)).slice(0, 16);
}
