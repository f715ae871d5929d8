import type { Context } from "hono";
import { approvalMeta, approvalReason, approvalInputRequired, approvalRequestFor, ownRetry, reviewBytes, urlElicitationError, withoutOwnRound } from "../approvals/call.ts";
import type { ApprovalRecord } from "../approvals/record.ts";
import { CallAudit, type CallOutcome } from "../audit/call-audit.ts";
import type { AppEnv } from "../env.ts";
import { GatewayError } from "../errors.ts";
import type { ApprovalRequest } from "../grant-object/approvals.ts";
import { authorizeCall, type CallAuthorization } from "../limits/limiter.ts";
import { relayAnswer } from "../mcp/answers.ts";
import { policyForServer } from "../policy/for-server.ts";
import { relay } from "../mcp/relay.ts";
import { isStateless } from "../mcp/revision.ts";
import { provesNotRun } from "../mcp/upstream.ts";
import { pinReporter } from "../pins/reporter.ts";
import { holdForApproval } from "./hold.ts";
import { judgeToolCall, type Outcome, type ToolCallRequest } from "./judge.ts";
import { refusalResponse, type Refusal } from "./refusal.ts";

/** What the gateway knows of the request a tools/call came in. */
export type CallContext = {
  /** The agent's headers as they go upstream (session id unwrapped). */
  headers: Headers;
  /** The re-serialised body, exactly as judged. */
  body: string;
  revision: string | undefined;
  /** The client declared URL-mode elicitation: a pending approval can be opened in its browser. */
  urlElicitation: boolean;
};

/** After a URL elicitation, the retried call waits this long for the human it sent to the approval page. */
const WAIT_AFTER_ELICITATION_MS = 45_000;

/**
 * One `tools/call`: judged by the policy, then (only when it has limits or
 * needs approval) authorized in the grant's Durable Object, which counts its
 * limits and uses its approval in one step; then sent upstream at most once.
 * The count and the approval are given back only when the upstream provably
 * did not run the call (see mcp/answers.ts). Exactly one decision line is
 * logged per call, with its final outcome.
 */
export async function forwardToolCall(c: Context<AppEnv>, request: ToolCallRequest, context: CallContext): Promise<Response> {
  const { services, grant, auth } = c.var;
  const { revision } = context;
  const audit = new CallAudit({
    writer: services.audit,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    requestId: request.id,
    grant,
    auth,
    session: c.req.header("mcp-session-id") ?? null,
    server: c.var.server.server.name,
    tool: request.params.name,
    args: request.params.arguments ?? {},
  });
  const server = c.var.server.server.name;
  // Counters and approvals of the default server keep the keys they had before there were several.
  const otherServer = server === services.config.defaultServer.name ? undefined : server;
  const lookup = await services.policies.get(grant.policy);
  if (lookup.policy) audit.policy(lookup.policy.name, lookup.policy.version, policyForServer(lookup.policy.policy, server).policy.audit.arguments === "full");
  const verdict = await judgeToolCall({ services, server: c.var.server, grant, policy: lookup.policy, policyProblem: lookup.problem, request, upstreamHeaders: context.headers, revision, report: pinReporter(c, c.var.server) });
  const log = (outcome: CallOutcome) => audit.decided(outcome);
  if (verdict.answer) {
    log(verdict.outcome);
    audit.settle();
    return c.json(verdict.answer);
  }
  const wouldRefuse = verdict.outcome.decision !== "allow";
  // Approvals are asked for only when enforced: monitor mode bothers no human.
  const terms = verdict.enforced ? verdict.approval : undefined;
  if (verdict.limits.length === 0 && !terms) {
    log({ ...verdict.outcome, wouldRefuse });
    return send(c, request, context, audit);
  }

  const base = { tool: request.params.name, policy: verdict.policy.name, policyVersion: verdict.policy.version };
  const refuse = (refusal: Omit<Refusal, keyof typeof base>) => {
    log({ decision: refusal.decision, rule: refusal.rule, reason: refusal.reason, approval: refusal.approval?.id });
    audit.settle();
    return c.json(refusalResponse(request.id, { ...base, ...refusal }, revision));
  };

  let approvalRequest: ApprovalRequest | undefined;
  let retry: Exclude<Awaited<ReturnType<typeof ownRetry>>, "forged">;
  if (terms) {
    approvalRequest = await approvalRequestFor({
      server: { name: server, isDefault: otherServer === undefined },
      tool: request.params.name,
      params: request.params,
      policy: verdict.policy,
      grant,
      session: c.req.header("mcp-session-id") ?? null,
      ttlMs: terms.ttlMs,
      pageBase: services.config.publicUrl ?? new URL(c.req.url).origin,
      maxPending: services.config.maxPendingApprovals,
    });
    // A person must be able to read what they approve; an approval also keeps it for days.
    const bytes = reviewBytes(approvalRequest);
    if (bytes > services.config.maxApprovalArgumentBytes) {
      const limit = services.config.maxApprovalArgumentBytes;
      return refuse({ decision: "approval_limit", rule: verdict.outcome.rule, reason: `it needs a human's approval, and at ${bytes} bytes its arguments are too large to review: at most ${limit} bytes (${Math.floor(limit / 1024)} KiB) can be approved` });
    }
    const call = { grantId: grant.id, tool: request.params.name, argumentsHash: approvalRequest.argumentsHash };
    const round = isStateless(revision) ? await ownRetry(request.params, services.config.sessionSecret, call) : undefined;
    if (round === "forged") {
      return refuse({ decision: "invalid_arguments", rule: verdict.outcome.rule, reason: "its requestState was not issued by this gateway for this call" });
    }
    retry = round;
    // The gateway's own elicitation round is not the upstream's business.
    if (retry) context = { ...context, body: JSON.stringify({ ...request, params: withoutOwnRound(request.params) }) };
  }

  // A 2026-07-28 request has no session: whatever session id it carries, session-scoped limits count per grant.
  const session = isStateless(revision) ? undefined : (context.headers.get("mcp-session-id") ?? undefined);
  const authorize = () =>
    authorizeCall(c.env.GRANT_OBJECT, grant.id, session, verdict.limits, { monitorOnly: !verdict.enforced, approval: approvalRequest, server: otherServer });
  const authorized = await authorize();

  if (authorized.kind === "approval" && terms) {
    const { state } = authorized;
    if (state.kind === "full") return refuse(fullRefusal(state, verdict.outcome.rule));
    const { approval } = state;
    // The client opened the approval page: its retry waits a while for the human it sent there.
    const waitMs = retry?.accepted && approval.status === "pending" ? Math.max(terms.holdMs, WAIT_AFTER_ELICITATION_MS) : terms.holdMs;
    if (approval.status === "pending" && waitMs > 0) {
      return holdCall(c, request, context, { approval, waitMs, rule: verdict.outcome.rule, authorize, refuse, log, audit });
    }
    if (approval.status === "pending" && context.urlElicitation && !retry) {
      log({ decision: "approval_required", rule: verdict.outcome.rule, approval: approval.id });
      audit.settle();
      return c.json(isStateless(revision) ? await approvalInputRequired(request.id, approval, services.config.sessionSecret) : urlElicitationError(request.id, approval));
    }
    return refuse(approvalRefusal(approval, verdict.outcome.rule));
  }
  return proceed(c, request, context, authorized, { outcome: verdict.outcome, wouldRefuse, enforced: verdict.enforced, refuse, log, audit });
}

type Proceeding = {
  outcome: Outcome;
  wouldRefuse: boolean;
  enforced: boolean;
  refuse: (refusal: Omit<Refusal, "tool" | "policy" | "policyVersion">) => Response;
  log: (outcome: CallOutcome) => void;
  audit: CallAudit;
};

/** A call the grant's object has ruled on (other than "waiting for approval"): refuse it, or send it. */
async function proceed(c: Context<AppEnv>, request: ToolCallRequest, context: CallContext, authorized: CallAuthorization, how: Proceeding): Promise<Response> {
  if (authorized.kind === "unavailable" || authorized.kind === "refused") {
    const refusal = limitRefusal(authorized);
    if (how.enforced) return how.refuse(refusal);
    how.log({ ...(how.wouldRefuse ? how.outcome : { decision: refusal.decision, rule: refusal.rule, reason: refusal.reason }), wouldRefuse: true });
    return send(c, request, context, how.audit);
  }
  if (authorized.kind === "approval") {
    const { state } = authorized;
    return how.refuse(state.kind === "full" ? fullRefusal(state, how.outcome.rule) : approvalRefusal(state.approval, how.outcome.rule));
  }
  const overLimit: Outcome | undefined = authorized.overLimit ? { decision: "rate_limited", rule: authorized.overLimit.rule } : undefined;
  const final: Outcome = authorized.approval ? { decision: "approved", rule: how.outcome.rule } : how.wouldRefuse ? how.outcome : (overLimit ?? how.outcome);
  how.log({ ...final, wouldRefuse: final.decision !== "allow" && final.decision !== "approved", approval: authorized.approval?.id });
  const undo = () => c.executionCtx.waitUntil(authorized.undo().catch((error: unknown) => console.error("rollback failed", { error: String(error) })));
  return send(c, request, context, how.audit, undo);
}

/** A pending approval with a hold: the call waits, on an SSE stream, for the decision, and goes ahead if it is yes. */
function holdCall(
  c: Context<AppEnv>,
  request: ToolCallRequest,
  context: CallContext,
  held: { approval: ApprovalRecord; waitMs: number; rule: string; authorize: () => Promise<CallAuthorization> } & Pick<Proceeding, "refuse" | "log" | "audit">,
): Response {
  const { services, grant } = c.var;
  const { rule } = held;
  const progressToken = request.params._meta?.progressToken;
  // Clients give up on a request after 60 s unless progress resets their clock (the TS SDK's
  // resetTimeoutOnProgress): without a progress token, the hold ends in time for the pending answer to be read.
  const waitMs = progressToken === undefined ? Math.min(held.waitMs, services.config.maxHoldWithoutProgressMs) : held.waitMs;
  // Names this wait in the grant's object, so that an agent going away stops counting as waiting there.
  const holdId = crypto.randomUUID();
  return holdForApproval({
    requestId: request.id,
    approval: held.approval,
    waitMs,
    keepAliveMs: services.config.sseKeepAliveMs,
    progressToken,
    signal: c.req.raw.signal,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    decision: async () => {
      try {
        return (await c.env.GRANT_OBJECT.getByName(grant.id).awaitDecision(held.approval.id, waitMs, holdId)) as ApprovalRecord | undefined;
      } catch (error) {
        console.error("waiting for an approval failed", { approval: held.approval.id, error: String(error) });
        return held.approval;
      }
    },
    answer: async (decided, agent) => {
      if (decided?.status !== "approved") return held.refuse(approvalRefusal(decided ?? held.approval, rule));
      // Approved while held: use it now, with the call's limits, and send the call; but only for an agent
      // still there to read the answer, asked last thing before the grant's object uses the approval.
      if (!(await agent.stillThere())) return undefined;
      const authorized = await held.authorize();
      if (agent.gone) {
        // It left while the approval was being used: give the approval and the counts back, and send nothing.
        if (authorized.kind === "counted") await authorized.undo().catch((error: unknown) => console.error("rollback failed", { error: String(error) }));
        return undefined;
      }
      return proceed(c, request, context, authorized, { outcome: { decision: "approved", rule }, wouldRefuse: false, enforced: true, refuse: held.refuse, log: held.log, audit: held.audit });
    },
    gone: () => {
      c.executionCtx.waitUntil(
        c.env.GRANT_OBJECT.getByName(grant.id)
          .releaseHold(held.approval.id, holdId)
          .catch((error: unknown) => console.error("ending a hold failed; it ends at its time", { approval: held.approval.id, error: String(error) })),
      );
      held.log({ decision: "approval_required", rule, reason: `the agent went away while its call was held for approval ${held.approval.id}: the call was not made`, approval: held.approval.id });
      held.audit.settle();
    },
  });
}

/**
 * Forwards the call once and guarantees the agent an answer for its id;
 * `onNotRun` gives counts and approvals back; the audit record is completed
 * with the upstream's status once its answer is known.
 */
async function send(c: Context<AppEnv>, request: ToolCallRequest, context: CallContext, audit: CallAudit, onNotRun?: () => void): Promise<Response> {
  let response: Response;
  audit.sending();
  try {
    response = await relay(c, { method: "POST", headers: context.headers, body: context.body });
  } catch (error) {
    if (provesNotRun(error)) onNotRun?.();
    audit.settle({ status: null, failure: error instanceof GatewayError && error.status === 504 ? "timeout" : "error" });
    throw error;
  }
  const { config } = c.var.services;
  return relayAnswer(response, {
    ids: [request.id],
    timeoutMs: c.var.server.server.timeoutMs,
    keepAliveMs: config.sseKeepAliveMs,
    onNotRun,
    onSettled: (upstream) => audit.settle(upstream),
  });
}

/** Why an approval does not let the call through: pending or expired (approval_required), or denied. */
function approvalRefusal(approval: ApprovalRecord, rule: string): Omit<Refusal, "tool" | "policy" | "policyVersion"> {
  const decision = approval.status === "denied" ? "deny" : "approval_required";
  return { decision, rule, reason: approvalReason(approval), approval: approvalMeta(approval) };
}

/** The grant has as many pending approvals as it may: no new one is opened for this call. */
function fullRefusal(full: { pending: number; max: number }, rule: string): Omit<Refusal, "tool" | "policy" | "policyVersion"> {
  return {
    decision: "approval_limit",
    rule,
    reason: `it needs a human's approval, and this grant already has ${full.pending} approvals waiting for a decision, the most it may have (${full.max}); no new one was opened. Retry once an operator has decided some of them`,
  };
}

/** Why the limiter refuses the call. */
function limitRefusal(limited: Extract<CallAuthorization, { kind: "unavailable" | "refused" }>): Omit<Refusal, "tool" | "policy" | "policyVersion"> {
  if (limited.kind === "unavailable") return { decision: "limiter_unavailable", rule: limited.rule, reason: limited.reason };
  const { hit } = limited;
  const reason =
    hit.retryAfter === null
      ? // Not the amount: it is an argument's value (or length), which records keep only under "arguments": "full".
        `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and this call alone counts more than that`
      : `limit "${hit.counter}" allows ${hit.max} per ${hit.windowMs / 1000} s and ${hit.used} are used`;
  return { decision: "rate_limited", rule: hit.rule, reason, ...(hit.retryAfter === null ? {} : { retryAfter: hit.retryAfter }) };
}

