import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { isObject } from "../json.ts";

/** The first revision of the stateless era: no sessions, `_meta` envelopes, `resultType` on every result. */
export const FIRST_STATELESS_REVISION = "2026-07-28";
export const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
/** Where a stateless-era request carries its client's capabilities. */
export const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";

/**
 * The protocol revision one request speaks: the `_meta` envelope's version on
 * stateless-era requests, else the `MCP-Protocol-Version` header that clients
 * send after initialization (2025-06-18 on). Undefined before negotiation.
 * The two are checked to agree (request-headers.ts) before anything is judged.
 */
export function requestRevision(headers: Headers, message: JSONRPCMessage | undefined): string | undefined {
  const params = message && "params" in message ? message.params : undefined;
  const version = isObject(params) && isObject(params._meta) ? params._meta[PROTOCOL_VERSION_META_KEY] : undefined;
  return typeof version === "string" ? version : (headers.get("mcp-protocol-version") ?? undefined);
}

/** Revisions are dates, so they compare as strings. */
export function isStateless(revision: string | undefined): boolean {
  return revision !== undefined && revision >= FIRST_STATELESS_REVISION;
}

/** Whether client capabilities (from `initialize`, or a stateless request's `_meta`) include URL-mode elicitation. */
export function declaresUrlElicitation(capabilities: unknown): boolean {
  return isObject(capabilities) && isObject(capabilities.elicitation) && isObject(capabilities.elicitation.url);
}
