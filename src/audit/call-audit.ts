import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { canonicalHash } from "../canonical.ts";
import type { AgentAuth } from "../grants/authenticate.ts";
import type { GrantRecord } from "../grants/grant.ts";
import { recordedToolName } from "../tools/tool-name.ts";
import type { CallDecision, CallRecord } from "./record.ts";
import { newAuditId, type AuditWriter } from "./writer.ts";

/** What was decided about a call, once known. */
export type CallOutcome = {
  decision: CallDecision;
  rule: string;
  reason?: string | undefined;
  wouldRefuse?: boolean | undefined;
  approval?: string | undefined;
};

/** How the upstream answered a forwarded call. */
export type UpstreamOutcome = { status: number | null; failure: "error" | "timeout" | undefined };

export type CallAuditStart = {
  writer: AuditWriter;
  waitUntil: (promise: Promise<unknown>) => void;
  requestId: RequestId;
  grant: GrantRecord;
  /** How the agent authenticated: recorded with the call, the OAuth client's id included. */
  auth: AgentAuth;
  session: string | null;
  /** The server the call goes to. */
  server: string;
  tool: string;
  args: Record<string, unknown>;
};

/**
 * The audit record of one `tools/call`, filled in as the call goes: the
 * decision when it is made, the upstream's status and latency when its answer
 * is known; then written once. Everything costly (hashing the canonical
 * arguments) happens after the agent has its answer, and nothing in it can
 * keep the record from being written: arguments that cannot be hashed are
 * recorded as such.
 */
export class CallAudit {
  #start: CallAuditStart;
  #startedAt = Date.now();
  /** Taken when the call arrives, so calls in one millisecond keep their order. */
  #id = newAuditId(this.#startedAt);
  #sentAt: number | undefined;
  #outcome: CallOutcome = { decision: "deny", rule: "", reason: "the call ended before it was decided" };
  #policy: { name: string; version: string | null } = { name: "", version: null };
  #fullArguments = false;
  #written = false;

  constructor(start: CallAuditStart) {
    this.#start = start;
    this.#policy = { name: start.grant.policy, version: null };
  }

  /** The policy the call is judged by, and whether it keeps argument values (`"audit": {"arguments": "full"}`). */
  policy(name: string, version: string | null, fullArguments: boolean): void {
    this.#policy = { name, version };
    this.#fullArguments = fullArguments;
  }

  decided(outcome: CallOutcome): void {
    this.#outcome = outcome;
  }

  /** The call is going to the upstream now. */
  sending(): void {
    this.#sentAt = Date.now();
  }

  /** The call is over: answered by the gateway (no upstream), or by the upstream as described. */
  settle(upstream?: UpstreamOutcome): void {
    if (this.#written) return;
    this.#written = true;
    const now = Date.now();
    const upstreamMs = this.#sentAt === undefined ? 0 : now - this.#sentAt;
    const failed = upstream?.failure === "timeout" ? "upstream_timeout" : upstream?.failure === "error" ? "upstream_error" : undefined;
    const record = this.#record(this.#outcome, failed, upstream, upstreamMs, now);
    const { writer, waitUntil, grant, args } = this.#start;
    // The arguments are hashed when the record's batch goes, after the agent has its answer.
    writer.write(grant.id, async () => ({ ...record, argumentsHash: await argumentsHash(args) }), waitUntil);
  }

  #record(outcome: CallOutcome, failed: CallDecision | undefined, upstream: UpstreamOutcome | undefined, upstreamMs: number, now: number): Omit<CallRecord, "argumentsHash"> {
    const { requestId, grant, auth, session, server, tool, args } = this.#start;
    return {
      kind: "call",
      id: this.#id,
      time: new Date(this.#startedAt).toISOString(),
      requestId,
      grant: { id: grant.id, label: grant.label },
      auth: auth.method,
      ...(auth.method === "oauth" ? { oauthClientId: auth.clientId } : {}),
      session,
      server,
      tool: recordedToolName(tool),
      decision: failed ?? outcome.decision,
      policyDecision: outcome.decision,
      rule: outcome.rule,
      reason: failed ? `the upstream ${failed === "upstream_timeout" ? "did not answer in time" : "failed"} (the policy's decision: ${outcome.decision})` : (outcome.reason ?? null),
      policy: this.#policy,
      wouldRefuse: outcome.wouldRefuse ?? false,
      argumentKeys: Object.keys(args),
      ...(this.#fullArguments ? { arguments: args } : {}),
      approval: outcome.approval ?? null,
      upstream: this.#sentAt === undefined ? null : { status: upstream?.status ?? null, latencyMs: upstreamMs },
      gatewayMs: Math.max(0, now - this.#startedAt - upstreamMs),
    };
  }
}

/**
 * The SHA-256 of the canonical arguments, or why there is none: the record
 * is written either way. (The gateway refuses arguments JCS cannot write, such
 * as lone surrogates, before judging them; this is the last line.)
 */
async function argumentsHash(args: Record<string, unknown>): Promise<string> {
  try {
    return await canonicalHash(args);
  } catch (error) {
    return `unavailable: ${String(error).slice(0, 200)}`;
  }
}
