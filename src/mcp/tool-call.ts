import type { CallToolRequest, JSONRPCErrorResponse, JSONRPCResultResponse } from "@modelcontextprotocol/sdk/types.js";
import type { GrantRecord } from "../grants/grant.ts";
import { decide, type AppliedLimit, type Decision } from "../policy/evaluate.ts";
import type { LoadedPolicy } from "../policy/store.ts";
import type { Services } from "../services.ts";
import { toolTags } from "../tools/catalog.ts";
import type { ToolInfo } from "../tools/tool-index.ts";
import { refusalResponse, unknownToolResponse, type Refusal } from "./refusal.ts";
import { fetchToolList } from "./tool-list.ts";

export type ToolCallRequest = CallToolRequest & { jsonrpc: "2.0"; id: string | number };

/** The outcome of judging one call: answer it here, or forward it (with the limits it must pass). */
export type Verdict =
  | { answer: JSONRPCResultResponse | JSONRPCErrorResponse }
  | { answer?: undefined; limits: AppliedLimit[]; policy: LoadedPolicy; enforced: boolean };

type Judgement = {
  services: Services;
  grant: GrantRecord;
  policy: LoadedPolicy | undefined;
  policyProblem: string | undefined;
  request: ToolCallRequest;
  /** The agent's headers as they would go upstream (session id already unwrapped). */
  upstreamHeaders: Headers;
};

/**
 * Judges a `tools/call` before anything reaches the upstream: the policy's
 * decision, then the arguments against the tool's advertised inputSchema.
 * Everything needed is cached in the isolate, so an allowed call costs no
 * I/O here once the upstream's tool list is known.
 */
export async function judgeToolCall(judgement: Judgement): Promise<Verdict> {
  const { services, grant, policy, request } = judgement;
  const name = request.params.name;
  const args = request.params.arguments ?? {};
  if (!policy) {
    const reason = judgement.policyProblem ?? "no policy is configured for this grant";
    logDecision(judgement, { outcome: "deny", rule: "", enforced: true });
    return { answer: refusalResponse(request.id, { decision: "deny", tool: name, rule: "", reason, policy: grant.policy }) };
  }
  const tool = await knownTool(judgement);
  const decision = decide(policy.policy, { name, args, tags: tool?.tags ?? toolTags(name) });
  const refusal = refusalFor(decision, tool, args);
  const unknown = decision.decision === "hidden" || tool === undefined;
  // Monitor mode decides and logs exactly as enforce would, then forwards anyway.
  const enforced = policy.policy.mode !== "monitor";
  logDecision(judgement, { outcome: unknown ? "unknown_tool" : (refusal?.decision ?? "allow"), rule: decision.rule, enforced });
  if (enforced && unknown) return { answer: unknownToolResponse(request.id, name, services.config.unknownToolErrorCode) };
  if (enforced && refusal) {
    return { answer: refusalResponse(request.id, { ...refusal, tool: name, policy: policy.name, policyVersion: policy.version }) };
  }
  const limits = decision.decision === "allow" || decision.decision === "approve" ? decision.limits : [];
  return { limits, policy, enforced };
}

type RefusalCore = Pick<Refusal, "decision" | "rule" | "reason">;

function refusalFor(decision: Decision, tool: ToolInfo | undefined, args: Record<string, unknown>): RefusalCore | undefined {
  switch (decision.decision) {
    case "deny":
      return { decision: "deny", rule: decision.rule, reason: decision.reason };
    case "approve":
      return { decision: "approval_required", rule: decision.rule, reason: decision.reason };
    case "hidden":
      return undefined;
    case "allow": {
      const problem = tool?.validate(args);
      return problem === undefined ? undefined : { decision: "invalid_arguments", rule: decision.rule, reason: problem };
    }
  }
}

/** One structured log line per decision: what was decided, by which rule of which policy version. Never the token. */
function logDecision(judgement: Judgement, entry: { outcome: string; rule: string; enforced: boolean }): void {
  const { grant, policy, request } = judgement;
  console.log(
    JSON.stringify({
      event: "decision",
      grant: grant.id,
      policy: grant.policy,
      policyVersion: policy?.version ?? null,
      mode: policy?.policy.mode ?? "enforce",
      tool: request.params.name,
      decision: entry.outcome,
      rule: entry.rule,
      ...(entry.enforced || entry.outcome === "allow" ? {} : { wouldRefuse: true }),
    }),
  );
}

/** The tool as the upstream advertises it, fetching the list once if this isolate has not seen it. */
async function knownTool({ services, request, upstreamHeaders }: Judgement): Promise<ToolInfo | undefined> {
  const name = request.params.name;
  const cached = services.tools.get(name);
  if (cached || services.tools.isFresh()) return cached;
  const meta = request.params._meta;
  const protocolMeta = meta
    ? Object.fromEntries(Object.entries(meta).filter(([key]) => key.startsWith("io.modelcontextprotocol/")))
    : undefined;
  await services.tools.load(() => fetchToolList(services.config, upstreamHeaders, protocolMeta));
  return services.tools.get(name);
}
