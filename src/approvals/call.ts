import type { CallToolResult, JSONRPCErrorResponse, JSONRPCResultResponse, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { canonicalHash, canonicalJson } from "../canonical.ts";
import { base64url, fromBase64url, hmacSign, hmacVerify } from "../crypto.ts";
import { jsonRpcError } from "../errors.ts";
import type { ApprovalRequest } from "../grant-object/approvals.ts";
import type { GrantRecord } from "../grants/grant.ts";
import { isObject } from "../json.ts";
import type { LoadedPolicy } from "../policy/store.ts";
import type { ApprovalRecord } from "./record.ts";

/** The key of the gateway's own input request (2026-07-28 `input_required`), and the prefix of its `requestState`. */
export const APPROVAL_INPUT_KEY = "mcp-policy-gateway/approval";
const STATE_PREFIX = "mcpgw-approval";

/** `_meta` keys that are the protocol's own bookkeeping, new on every request: never part of what is approved. */
const PROTOCOL_META = (key: string) => key === "progressToken" || key.startsWith("io.modelcontextprotocol/");

/**
 * What of a call's params, besides its name and arguments, reaches the
 * upstream and so must be approved with them: every other member (`task`,
 * an upstream's own `inputResponses`, anything unknown) and `_meta` keys that
 * are not the protocol's own. Undefined when there is nothing else.
 */
export function boundParams(params: Record<string, unknown>): Record<string, unknown> | undefined {
  const ownRound = typeof params.requestState === "string" && params.requestState.startsWith(`${STATE_PREFIX}.`);
  const { name: _name, arguments: _arguments, _meta, ...rest } = ownRound ? withoutOwnRound(params) : params;
  const meta = isObject(_meta) ? Object.fromEntries(Object.entries(_meta).filter(([key]) => !PROTOCOL_META(key))) : {};
  const bound = Object.keys(meta).length > 0 ? { ...rest, _meta: meta } : rest;
  return Object.keys(bound).length > 0 ? bound : undefined;
}

/**
 * The approval a call asks for: exactly this grant, server, tool, arguments
 * and other forwarded params (key order aside) and policy version. On the
 * default server the hash covers the arguments alone when there is nothing
 * else (so approvals made before other params were bound still match),
 * otherwise a tagged array of both; on any other server, a differently tagged
 * array that names the server too (so an approval for one server's tool can
 * never let another server's tool of the same name run). No arguments object
 * can collide with either array.
 */
export async function approvalRequestFor(input: {
  /** The server the call goes to; approvals on the default server hash as they did before there were several. */
  server: { name: string; isDefault: boolean };
  tool: string;
  params: Record<string, unknown>;
  policy: LoadedPolicy;
  grant: GrantRecord;
  session: string | null;
  ttlMs: number;
  pageBase: string;
  maxPending: number;
}): Promise<ApprovalRequest> {
  const args = isObject(input.params.arguments) ? input.params.arguments : {};
  const extra = boundParams(input.params);
  return {
    server: input.server.name,
    tool: input.tool,
    arguments: canonicalJson(args),
    params: extra === undefined ? null : canonicalJson(extra),
    argumentsHash: await canonicalHash(callBinding(input.server, args, extra)),
    policy: { name: input.policy.name, version: input.policy.version },
    grant: { id: input.grant.id, label: input.grant.label },
    session: input.session,
    ttlMs: input.ttlMs,
    pageBase: input.pageBase,
    maxPending: input.maxPending,
  };
}

/** What an approval's hash covers (see approvalRequestFor). */
function callBinding(server: { name: string; isDefault: boolean }, args: Record<string, unknown>, extra: Record<string, unknown> | undefined): unknown {
  if (!server.isDefault) return ["mcp-policy-gateway/server-call", server.name, args, extra ?? null];
  return extra === undefined ? args : ["mcp-policy-gateway/call", args, extra];
}

/** How many UTF-8 bytes a person is asked to review for this approval. */
export function reviewBytes(request: ApprovalRequest): number {
  const encoder = new TextEncoder();
  return encoder.encode(request.arguments).byteLength + (request.params === null ? 0 : encoder.encode(request.params).byteLength);
}

/** What the agent is told about an approval that does not (yet) let its call through. */
export function approvalReason(approval: ApprovalRecord): string {
  switch (approval.status) {
    case "pending":
      return `approval ${approval.id} is pending for exactly this call (these arguments) until ${approval.expiresAt}; a human decides it at ${approval.url}. Call ${approval.tool} again with the same arguments once it is approved`;
    case "denied":
      return `an operator denied approval ${approval.id}${approval.note ? `: ${approval.note}` : " (no note given)"}. This call is refused until ${approval.expiresAt}; after that, calling it again asks for a new approval`;
    case "consumed":
    case "approved":
      return `approval ${approval.id} was used by an identical call already; calling ${approval.tool} again with the same arguments asks for a new approval`;
    case "expired":
      return `approval ${approval.id} expired at ${approval.expiresAt} without being used; calling ${approval.tool} again with the same arguments asks for a new approval`;
  }
}

export function approvalMeta(approval: ApprovalRecord) {
  return { id: approval.id, status: approval.status, expiresAt: approval.expiresAt, url: approval.url };
}

/**
 * 2025-11-25, for a client that declared URL-mode elicitation: the spec's
 * -32042 error, whose URL opens the approval page. The URL grants nothing by
 * itself: whoever opens it signs in as an operator there.
 */
export function urlElicitationError(id: RequestId, approval: ApprovalRecord): JSONRPCErrorResponse {
  return jsonRpcError(id, -32042, `Tool call ${approval.tool} needs human approval: open the approval page, then call it again with the same arguments`, {
    elicitations: [{ mode: "url", elicitationId: approval.id, url: approval.url, message: elicitationMessage(approval) }],
  });
}

/**
 * 2026-07-28, for a client that declared URL-mode elicitation: an
 * `input_required` result asking it to open the approval page; the retry
 * carries `requestState`, which binds it to this approval and this call.
 */
export async function approvalInputRequired(id: RequestId, approval: ApprovalRecord, secret: string): Promise<JSONRPCResultResponse> {
  const result = {
    resultType: "input_required",
    inputRequests: { [APPROVAL_INPUT_KEY]: { method: "elicitation/create", params: { mode: "url", url: approval.url, message: elicitationMessage(approval) } } },
    requestState: await signState(secret, { a: approval.id, g: approval.grant.id, t: approval.tool, h: approval.argumentsHash }),
  };
  return { jsonrpc: "2.0", id, result: result as unknown as CallToolResult };
}

function elicitationMessage(approval: ApprovalRecord): string {
  return `A human must approve this ${approval.tool} call (approval ${approval.id}) before it runs.`;
}

/** What a requestState binds: the approval, and the grant, tool and call hash it was issued for. */
type ApprovalState = { a: string; g: string; t: string; h: string };

async function signState(secret: string, state: ApprovalState): Promise<string> {
  const payload = base64url(new TextEncoder().encode(JSON.stringify(state)));
  return `${STATE_PREFIX}.${payload}.${base64url(await hmacSign(secret, `${STATE_PREFIX}\n${payload}`))}`;
}

/**
 * The gateway's own round of a retried call (2026-07-28): the approval its
 * `requestState` names, if the state is the gateway's, unaltered, and for
 * this grant, this tool and this call. Undefined when the round is not the
 * gateway's (an upstream's own `input_required` round), which passes through.
 */
export async function ownRetry(
  params: Record<string, unknown>,
  secret: string,
  call: { grantId: string; tool: string; argumentsHash: string },
): Promise<{ approvalId: string; accepted: boolean } | "forged" | undefined> {
  const state = params.requestState;
  if (typeof state !== "string" || !state.startsWith(`${STATE_PREFIX}.`)) return undefined;
  const [, payload, mac] = state.split(".");
  const signature = mac === undefined ? undefined : fromBase64url(mac);
  if (!payload || !signature || !(await hmacVerify(secret, `${STATE_PREFIX}\n${payload}`, signature))) return "forged";
  const decoded = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as ApprovalState;
  if (decoded.g !== call.grantId || decoded.t !== call.tool || decoded.h !== call.argumentsHash) return "forged";
  const responses = isObject(params.inputResponses) ? params.inputResponses : {};
  const answer = Object.hasOwn(responses, APPROVAL_INPUT_KEY) ? responses[APPROVAL_INPUT_KEY] : undefined;
  return { approvalId: decoded.a, accepted: isObject(answer) && answer.action === "accept" };
}

/** The call as the upstream must see it: without the gateway's own round (its requestState and input response). */
export function withoutOwnRound(params: Record<string, unknown>): Record<string, unknown> {
  const { requestState: _state, inputResponses, ...rest } = params;
  if (!isObject(inputResponses)) return rest;
  const others = Object.fromEntries(Object.entries(inputResponses).filter(([key]) => key !== APPROVAL_INPUT_KEY));
  return Object.keys(others).length > 0 ? { ...rest, inputResponses: others } : rest;
}
