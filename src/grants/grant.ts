import { z } from "zod";
import { base64url, randomBytes, sha256Hex } from "../crypto.ts";

/**
 * A grant: one agent's bearer credential, bound to one policy by name.
 *
 * GRANTS KV layout (the token itself is never stored):
 * - `token:<sha256 hex of the token>` → the GrantRecord JSON. The only key
 *   read when authenticating; revocation rewrites it.
 * - `grant:<grant id>` → `{"tokenHash": …}`, with the record's label, policy,
 *   times and revoked flag as KV metadata, so `grant list` is one KV list call
 *   and `grant revoke <id>` finds the token record.
 */
export const GrantRecordSchema = z.object({
  id: z.string(),
  label: z.string(),
  policy: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  revoked: z.boolean(),
  /** The servers it reaches (src/servers/); absent on grants made before there were several: the default server. */
  servers: z.array(z.string()).optional(),
});
export type GrantRecord = z.infer<typeof GrantRecordSchema>;

export const TOKEN_PREFIX = "mcpgw_";
/** `mcpgw_` + 32 random bytes in base64url (43 characters). */
export const TOKEN_PATTERN = /^mcpgw_[A-Za-z0-9_-]{43}$/;

export const tokenKey = (tokenHash: string) => `token:${tokenHash}`;
export const grantKey = (grantId: string) => `grant:${grantId}`;

export function newToken(): string {
  return TOKEN_PREFIX + base64url(randomBytes(32));
}

export function newGrantId(): string {
  return `g_${base64url(randomBytes(9))}`;
}

export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}

/** Why a grant cannot be used now, or undefined when it can. */
export function grantProblem(grant: GrantRecord, now: number): string | undefined {
  if (grant.revoked) return "the grant has been revoked";
  if (grant.expiresAt !== null && Date.parse(grant.expiresAt) <= now) return "the grant has expired";
  return undefined;
}
