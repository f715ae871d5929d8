import canonicalize from "canonicalize";
import { sha256Hex } from "./crypto.ts";

/**
 * A JSON value's canonical text (RFC 8785, JSON Canonicalization Scheme):
 * members sorted, no whitespace, numbers and strings written one way. Two
 * values that mean the same have the same text, whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("not a JSON value");
  return text;
}

/** The SHA-256 (hex) of a value's canonical text. */
export function canonicalHash(value: unknown): Promise<string> {
  return sha256Hex(canonicalJson(value));
}
