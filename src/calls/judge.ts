import type { CallToolRequest, JSONRPCErrorResponse, JSONRPCResultResponse } from "@modelcontextprotocol/sdk/types.js";
import type { CallDecision } from "../audit/record.ts";
import type { GrantRecord } from "../grants/grant.ts";
import { decide, type AppliedLimit, type ApprovalTerms, type Decision } from "../policy/evaluate.ts";
import { inDocument, policyForServer } from "../policy/for-server.ts";
import type { LoadedPolicy } from "../policy/store.ts";
import type { ServerRuntime, Services } from "../services.ts";
import type { ToolInfo } from "../tools/tool-index.ts";
import { MAX_TOOL_NAME_LENGTH } from "../tools/tool-name.ts";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import { refusalResponse, unknownToolResponse, type Refusal } from "./refusal.ts";
import type { PinReporter } from "../pins/types.ts";
import { checkPin } from "./pin-check.ts";
import { fetchToolList } from "./tool-list.ts";

export type ToolCallRequest = CallToolRequest & { jsonrpc: "2.0"; id: string | number };

/**
 * What was decided about a call, as its audit record and log line report it:
 * the reason names what was wrong, never an argument's value, unless the
 * policy keeps argument values (`"audit": {"arguments": "full"}`).
 */
export type Outcome = { decision: CallDecision; rule: string; reason?: string | undefined };

/** The outcome of judging one call: answer it here, or forward it (with the limits it must pass). */
export type Verdict =
  | { answer: JSONRPCResultResponse | JSONRPCErrorResponse; outcome: Outcome }
  | {
      answer?: undefined;
      limits: AppliedLimit[];
      policy: LoadedPolicy;
      /** False in monitor mode: a refusal is only logged (as `outcome`), and the call goes on. */
      enforced: boolean;
      outcome: Outcome;
      /** Set when the call needs a human's approval (outcome `approval_required`). */
      approval?: ApprovalTerms;
    };

export type Judgement = {
  services: Services;
  /** The server the call goes to: its tools and their tags. */
  server: ServerRuntime;
  grant: GrantRecord;
  policy: LoadedPolicy | undefined;
  policyProblem: string | undefined;
  request: ToolCallRequest;
  /** The agent's headers as they would go upstream (session id already unwrapped). */
  upstreamHeaders: Headers;
  /** The request's protocol revision: the gateway's own answers must be valid for it. */
  revision: string | undefined;
  /** Shows a tool list the gateway fetched itself to the server's pins. */
  report?: PinReporter | undefined;
};

/**
 * Judges a `tools/call` before anything reaches the upstream: the policy's
 * decision, then the arguments against the tool's advertised inputSchema.
 * Everything needed is cached in the isolate, so an allowed call costs no
 * I/O here once the upstream's tool list is known.
 */
export async function judgeToolCall(judgement: Judgement): Promise<Verdict> {
  const { services, grant, policy, request, revision } = judgement;
  const name = request.params.name;
  const args = request.params.arguments ?? {};
  // Not a policy decision: such a name is no tool's, and is refused in monitor mode too.
  if (name.length > MAX_TOOL_NAME_LENGTH && (await knownTool(judgement)) === undefined) return overlongName(request.id);
  if (!policy) {
    const reason = judgement.policyProblem ?? "no policy is configured for this grant";
    const answer = refusalResponse(request.id, { decision: "deny", tool: name, rule: "", reason, policy: grant.policy }, revision);
    return { answer, outcome: { decision: "deny", rule: "", reason } };
  }
  const tool = await knownTool(judgement);
  // The server's section of the policy, when it has one, decides its calls; its rules are pointed to where they are written.
  const applied = policyForServer(policy.policy, judgement.server.server.name);
  const decision = inDocument(decide(applied.policy, { name, args, tags: tool?.tags ?? judgement.server.server.tags(name) }), applied.pointerBase);
  const unknown = decision.decision === "hidden" || tool === undefined;
  const pins = unknown ? undefined : await checkPin(services, judgement.server, applied.policy.pinning, tool);
  const pinned: RefusalCore | undefined =
    pins?.problem === undefined ? undefined : { decision: "definition_changed", rule: `${applied.pointerBase}/pinning`, reason: pins.problem, recordedReason: pins.problem };
  const refusal = (applied.policy.pinning === "enforce" ? pinned : undefined) ?? refusalFor(decision, pins?.validate, args);
  const allowed: CallDecision = decision.decision === "approve" ? "approval_required" : "allow";
  const keepsValues = applied.policy.audit.arguments === "full";
  const outcome: Outcome = {
    decision: decision.decision === "hidden" ? "hidden" : tool === undefined ? "unknown_tool" : (refusal?.decision ?? allowed),
    rule: decision.rule,
    reason: decision.decision === "hidden" ? "hidden by the policy" : tool === undefined ? "the upstream has no such tool" : keepsValues ? refusal?.reason : refusal?.recordedReason,
  };
  // Monitor mode decides exactly as enforce would, then forwards anyway.
  const enforced = applied.policy.mode !== "monitor";
  if (enforced && unknown) return { answer: unknownToolResponse(request.id, name, services.config.unknownToolErrorCode), outcome };
  if (enforced && refusal) {
    const { decision: refused, rule, reason } = refusal;
    return { answer: refusalResponse(request.id, { decision: refused, rule, reason, tool: name, policy: policy.name, policyVersion: policy.version }, revision), outcome };
  }
  const limits = decision.decision === "allow" || decision.decision === "approve" ? decision.limits : [];
  return { limits, policy, enforced, outcome, ...(decision.decision === "approve" ? { approval: decision.approval } : {}) };
}

/** A refusal's reason for the agent, and for the record when argument values are not kept. */
type RefusalCore = Pick<Refusal, "decision" | "rule" | "reason"> & { recordedReason: string };

function refusalFor(decision: Decision, validate: ToolInfo["validate"] | undefined, args: Record<string, unknown>): RefusalCore | undefined {
  switch (decision.decision) {
    case "deny":
    case "invalid_arguments":
      // The policy's reasons quote the policy (its conditions, its limits' paths), never the arguments.
      return { decision: decision.decision, rule: decision.rule, reason: decision.reason, recordedReason: decision.reason };
    case "hidden":
      return undefined;
    case "allow":
    case "approve": {
      // Arguments are checked before a human is asked to approve them.
      const problem = validate?.(args);
      return problem === undefined ? undefined : { decision: "invalid_arguments", rule: decision.rule, reason: problem.detail, recordedReason: problem.valueFree };
    }
  }
}

/** A `tools/call` naming no tool of the upstream's with a name past the specification's bound. */
function overlongName(id: ToolCallRequest["id"]): Verdict {
  const bound = `longer than ${MAX_TOOL_NAME_LENGTH} characters (the MCP specification's bound on tool names)`;
  return {
    answer: { jsonrpc: "2.0", id, error: { code: ErrorCode.InvalidParams, message: `Invalid params: the tool name is ${bound}, and the upstream has no such tool` } },
    outcome: { decision: "invalid_arguments", rule: "", reason: `the tool name is ${bound}; the name is recorded cut short` },
  };
}

/**
 * The tool as the upstream advertises it. When this isolate's knowledge of it
 * is missing or stale, the complete list is fetched first (on the agent's
 * behalf, once for all calls waiting), so a tool's schema and annotations are
 * never older than the index's TTL.
 */
async function knownTool({ services, server, request, upstreamHeaders, report }: Judgement): Promise<ToolInfo | undefined> {
  const name = request.params.name;
  const known = server.tools.lookup(name);
  if (known.fresh) return known.tool;
  const meta = request.params._meta;
  const protocolMeta = meta
    ? Object.fromEntries(Object.entries(meta).filter(([key]) => key.startsWith("io.modelcontextprotocol/")))
    : undefined;
  report?.(await server.tools.load(() => fetchToolList(server.server, services.config, upstreamHeaders, protocolMeta)), true);
  return server.tools.lookup(name).tool;
}
