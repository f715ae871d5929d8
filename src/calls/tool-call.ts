import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { consumeLimits, type LimitOutcome } from "../limits/limiter.ts";
import { relayAnswer } from "../mcp/answers.ts";
import { refusalResponse, type Refusal } from "./refusal.ts";
import { relay } from "../mcp/relay.ts";
import { isStateless } from "../mcp/revision.ts";
import { judgeToolCall, type Outcome, type ToolCallRequest } from "./judge.ts";
import { provesNotRun } from "../mcp/upstream.ts";

/**
 * One `tools/call`: judged by the policy, then its limits consumed in the
 * grant's Durable Object (only when it has limits), then sent upstream at
 * most once. The count is undone only when the upstream provably did not run
 * the call (see answers.ts); a timeout, a broken connection or an internal
 * error keeps it, because a send that may have happened must stay counted.
 * Exactly one decision line is logged per call, with its final outcome.
 */
export async function forwardToolCall(c: Context<AppEnv>, request: ToolCallRequest, headers: Headers, body: string, revision: string | undefined): Promise<Response> {
  const { services, grant } = c.var;
  const lookup = await services.policies.get(grant.policy);
  const verdict = await judgeToolCall({ services, grant, policy: lookup.policy, policyProblem: lookup.problem, request, upstreamHeaders: headers, revision });
  const log = (outcome: Outcome, extra: Record<string, unknown> = {}) =>
    logDecision(c, request, { policyVersion: lookup.policy?.version ?? null, mode: lookup.policy?.policy.mode ?? "enforce", ...outcome, ...extra });
  if (verdict.answer) {
    log(verdict.outcome);
    return c.json(verdict.answer);
  }
  const wouldRefuse = verdict.outcome.decision !== "allow";
  if (verdict.limits.length === 0) {
    log(verdict.outcome, wouldRefuse ? { wouldRefuse } : {});
    return send(c, request, headers, body);
  }

  // A 2026-07-28 request has no session: whatever session id it carries, session-scoped limits count per grant.
  const session = isStateless(revision) ? undefined : (headers.get("mcp-session-id") ?? undefined);
  const limited = await consumeLimits(c.env.GRANT_OBJECT, grant.id, session, verdict.limits, !verdict.enforced);
  if (limited.kind !== "counted") {
    const refusal = limitRefusal(limited);
    const outcome = { decision: refusal.decision, rule: refusal.rule };
    if (!verdict.enforced) {
      log(wouldRefuse ? verdict.outcome : outcome, { wouldRefuse: true });
      return send(c, request, headers, body);
    }
    log(outcome);
    const base = { tool: request.params.name, policy: verdict.policy.name, policyVersion: verdict.policy.version };
    return c.json(refusalResponse(request.id, { ...base, ...refusal }, revision));
  }
  const overLimit = limited.overLimit ? { decision: "rate_limited", rule: limited.overLimit.rule } : undefined;
  const final = wouldRefuse ? verdict.outcome : (overLimit ?? verdict.outcome);
  log(final, final.decision === "allow" ? {} : { wouldRefuse: true });

  const undo = () => c.executionCtx.waitUntil(limited.undo().catch((error) => console.error("rollback failed", { error: String(error) })));
  return send(c, request, headers, body, undo);
}

/** Forwards the call once and guarantees the agent an answer for its id; `onNotRun` gives counts back. */
async function send(c: Context<AppEnv>, request: ToolCallRequest, headers: Headers, body: string, onNotRun?: () => void): Promise<Response> {
  let response: Response;
  try {
    response = await relay(c, { method: "POST", headers, body });
  } catch (error) {
    if (provesNotRun(error)) onNotRun?.();
    throw error;
  }
  const { config } = c.var.services;
  return relayAnswer(response, { ids: [request.id], timeoutMs: config.upstreamTimeoutMs, keepAliveMs: config.sseKeepAliveMs, onNotRun });
}

/** Why the limiter refuses the call. */
function limitRefusal(limited: Exclude<LimitOutcome, { kind: "counted" }>): Pick<Refusal, "decision" | "rule" | "reason" | "retryAfter"> {
  if (limited.kind === "unavailable") return { decision: "limiter_unavailable", rule: limited.rule, reason: limited.reason };
  const { hit } = limited;
  const reason =
    hit.retryAfter === null
      ? `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and this call alone counts ${hit.amount}`
      : `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and ${hit.used} are used`;
  return { decision: "rate_limited", rule: hit.rule, reason, ...(hit.retryAfter === null ? {} : { retryAfter: hit.retryAfter }) };
}

/** One structured log line per call: what was finally decided, by which rule of which policy version. Never the token. */
function logDecision(c: Context<AppEnv>, request: ToolCallRequest, entry: Record<string, unknown>): void {
  const { grant } = c.var;
  console.log(JSON.stringify({ event: "decision", grant: grant.id, policy: grant.policy, tool: request.params.name, ...entry }));
}
