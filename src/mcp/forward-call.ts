import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { GatewayError } from "../errors.ts";
import { consumeLimits } from "../limits/limiter.ts";
import { watchOutcome } from "./call-outcome.ts";
import { refusalResponse } from "./refusal.ts";
import { relay } from "./relay.ts";
import { judgeToolCall, type ToolCallRequest } from "./tool-call.ts";
import { provesNotRun } from "./upstream.ts";

/**
 * One `tools/call`: judged by the policy, then its limits consumed in the
 * grant's Durable Object (only when it has limits), then sent upstream at
 * most once. The count is undone only when the upstream provably did not run
 * the call; a timeout or a broken connection keeps it, because a send that
 * may have happened must stay counted.
 */
export async function forwardToolCall(c: Context<AppEnv>, request: ToolCallRequest, headers: Headers, body: string): Promise<Response> {
  const { services, grant } = c.var;
  const policy = await services.policies.get(grant.policy);
  const verdict = await withRequestId(request, judgeToolCall({ services, grant, policy: policy.policy, policyProblem: policy.problem, request, upstreamHeaders: headers }));
  if (verdict.answer) return c.json(verdict.answer);
  if (verdict.limits.length === 0) return relay(c, { method: "POST", headers, body });

  const refusal = { tool: request.params.name, policy: verdict.policy.name, policyVersion: verdict.policy.version };
  const outcome = await consumeLimits(c.env.GRANT_OBJECT, grant.id, headers.get("mcp-session-id") ?? undefined, verdict.limits, !verdict.enforced);
  if (outcome.kind === "unavailable") {
    return c.json(refusalResponse(request.id, { ...refusal, decision: "limiter_unavailable", rule: verdict.limits[0]?.rule ?? "", reason: outcome.reason }));
  }
  if (outcome.kind === "refused") {
    const { hit } = outcome;
    const reason =
      hit.retryAfter === null
        ? `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and this call alone counts ${hit.amount}`
        : `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and ${hit.used} are used`;
    console.log(JSON.stringify({ event: "limit", grant: grant.id, tool: request.params.name, counter: hit.counter, rule: hit.rule, refused: true }));
    return c.json(
      refusalResponse(request.id, { ...refusal, decision: "rate_limited", rule: hit.rule, reason, ...(hit.retryAfter === null ? {} : { retryAfter: hit.retryAfter }) }),
    );
  }
  if (outcome.overLimit) {
    console.log(JSON.stringify({ event: "limit", grant: grant.id, tool: request.params.name, counter: outcome.overLimit.counter, rule: outcome.overLimit.rule, wouldRefuse: true }));
  }

  const undo = () => c.executionCtx.waitUntil(outcome.undo().catch((error) => console.error("rollback failed", { error: String(error) })));
  let response: Response;
  try {
    response = await relay(c, { method: "POST", headers, body });
  } catch (error) {
    if (provesNotRun(error)) undo();
    throw error;
  }
  return watchOutcome(response, request.id, undo);
}

/** A refusal on the way (the upstream's own, say) answers with the call's id. */
async function withRequestId<T>(request: ToolCallRequest, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof GatewayError) error.requestId = request.id;
    throw error;
  }
}
