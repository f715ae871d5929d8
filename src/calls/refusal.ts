import type { CallToolResult, JSONRPCErrorResponse, JSONRPCResultResponse, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { isStateless } from "../mcp/revision.ts";

/** The `_meta` key under which a refused call carries the machine-readable decision. */
export const DECISION_META_KEY = "mcp-policy-gateway/decision";

/** Why the gateway answered a `tools/call` itself instead of forwarding it. */
export type Refusal = {
  decision: "deny" | "approval_required" | "approval_limit" | "invalid_arguments" | "rate_limited" | "limiter_unavailable" | "definition_changed";
  tool: string;
  /** JSON pointer into the policy; "" when there is no usable policy. */
  rule: string;
  reason: string;
  policy: string;
  /** Absent when no valid policy could be loaded. */
  policyVersion?: string;
  /** Seconds until a rate-limited call may succeed. */
  retryAfter?: number;
  /** The approval this call needs (or needed): where it stands and where a human decides it. */
  approval?: { id: string; status: string; expiresAt: string; url: string };
};

const HEADLINES: Record<Refusal["decision"], string> = {
  deny: "was denied by the gateway policy",
  approval_required: "needs human approval before it can run",
  approval_limit: "was refused: it needs an approval that cannot be opened",
  invalid_arguments: "was refused: its arguments are invalid",
  rate_limited: "was refused: a rate limit is exhausted",
  limiter_unavailable: "was refused: its rate limits could not be checked",
  definition_changed: "was refused until an operator reviews the tool",
};

/**
 * A refusal is a successful JSON-RPC answer carrying an error *result*: the
 * model reads the text and can adapt (pick another tool, fix arguments, wait),
 * while clients and logs read the structured decision in `_meta`. It is valid
 * for the request's revision: from 2026-07-28 on, a result without
 * `resultType` is rejected by clients before the model ever sees it.
 */
export function refusalResponse(id: RequestId, refusal: Refusal, revision: string | undefined): JSONRPCResultResponse {
  const where = refusal.rule === "" ? "" : ` (rule ${refusal.rule} of policy "${refusal.policy}")`;
  const retry = refusal.retryAfter === undefined ? "" : ` Retry after ${refusal.retryAfter} s.`;
  const result: CallToolResult = {
    content: [{ type: "text", text: `Tool call ${refusal.tool} ${headline(refusal)}${where}: ${refusal.reason.replace(/\.$/, "")}.${retry}` }],
    isError: true,
    _meta: { [DECISION_META_KEY]: refusal },
    ...(isStateless(revision) ? { resultType: "complete" } : {}),
  };
  return { jsonrpc: "2.0", id, result };
}

function headline(refusal: Refusal): string {
  return refusal.approval?.status === "denied" ? "was denied by an operator" : HEADLINES[refusal.decision];
}

/** What the upstream itself would answer for a tool it does not have. */
export function unknownToolResponse(id: RequestId, name: string, code: number): JSONRPCErrorResponse {
  return { jsonrpc: "2.0", id, error: { code, message: `Unknown tool: ${name}` } };
}
