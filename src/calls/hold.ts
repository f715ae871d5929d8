import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { ApprovalRecord } from "../approvals/record.ts";
import { forRequest, toJsonRpcError } from "../errors.ts";
import { isEventStream, serializeEvent } from "../mcp/sse.ts";

export type Hold = {
  /** The held request's id: whatever happens, the stream ends with an answer for it. */
  requestId: RequestId;
  approval: ApprovalRecord;
  /** How long to wait for the decision. */
  waitMs: number;
  keepAliveMs: number;
  /** The progress token the agent sent, if any: it then hears every few seconds that its call is waiting. */
  progressToken: RequestId | undefined;
  /** The agent's request's signal: workerd aborts it when the agent disconnects (compatibility flag `enable_request_signal`). */
  signal: AbortSignal;
  /** Keeps the Worker running until the hold is over, so that a step begun after the agent left is finished or undone. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Resolves once the approval is decided (or when waiting is over), with the approval as it then stands. */
  decision: () => Promise<ApprovalRecord | undefined>;
  /**
   * The agent's answer once waiting is over: the call forwarded, or the
   * refusal to send instead; undefined when `agent` turned out to be gone
   * and nothing was done for it.
   */
  answer: (approval: ApprovalRecord | undefined, agent: Presence) => Promise<Response | undefined>;
  /** The agent went away before its call was made: nothing was sent for it, and its approval is as the operator left it. */
  gone: () => void;
};

/** Whether the agent of a held call is still there to read its answer. */
export type Presence = {
  /** The runtime has reported the agent gone. */
  readonly gone: boolean;
  /**
   * Writes to the agent and gives the runtime a moment to report a closed
   * connection; true if none was reported. The check to make last thing
   * before a step that cannot be taken back.
   */
  stillThere: () => Promise<boolean>;
};

const PROGRESS_EVERY_MS = 5_000;
/**
 * workerd learns that a client disconnected only when a write to it fails,
 * and reports it a few milliseconds later (the stream's cancel, then the
 * request's signal): a held call quiet for a while can be decided after its
 * agent left. So before the approval is used, the gateway writes and waits:
 * twice, because over TCP the first write to a closed connection is often
 * accepted, and it is the peer's reset to it that fails the next one.
 */
const PRESENCE_PROBES = 2;
const PRESENCE_PROBE_WAIT_MS = 100;

/**
 * Holds an agent's call open while a human decides its approval: the answer
 * is an SSE stream at once, quiet stretches filled with keep-alive comments
 * (and progress notifications when the agent asked for progress), until the
 * approval is decided or the hold elapses; then the call's own answer (the
 * upstream's, when approved) follows on the same stream, so the agent never
 * has to retry. Waiting is one Durable Object call that returns when the
 * decision is made: no polling. An agent that goes away ends the hold: its
 * call is not made, and its approval stays as the operator leaves it, for
 * the agent's retry.
 */
export function holdForApproval(hold: Hold): Response {
  const encoder = new TextEncoder();
  const started = Date.now();
  let cancelled = false;
  let ticker: number | null = null;
  let leave!: () => void;
  const left = new Promise<void>((resolve) => (leave = resolve));
  if (hold.signal.aborted) leave();
  else hold.signal.addEventListener("abort", () => leave(), { once: true });
  const isGone = () => cancelled || hold.signal.aborted;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (!cancelled) controller.enqueue(encoder.encode(text));
      };
      const progress = () => {
        if (hold.progressToken === undefined) return send(": keep-alive\n\n");
        const waited = Math.floor((Date.now() - started) / 1000);
        const notification = {
          jsonrpc: "2.0",
          method: "notifications/progress",
          params: {
            progressToken: hold.progressToken,
            progress: waited,
            total: Math.ceil(hold.waitMs / 1000),
            message: `Waiting for a human to approve ${hold.approval.tool} (approval ${hold.approval.id}): ${hold.approval.url}`,
          },
        };
        send(serializeEvent({ event: "message", data: JSON.stringify(notification) }));
      };
      const agent: Presence = {
        get gone() {
          return isGone();
        },
        stillThere: async () => {
          for (let probe = 0; probe < PRESENCE_PROBES && !isGone(); probe++) {
            send(": keep-alive\n\n");
            await Promise.race([left, new Promise((resolve) => setTimeout(resolve, PRESENCE_PROBE_WAIT_MS))]);
          }
          return !isGone();
        },
      };
      progress();
      ticker = setInterval(progress, hold.progressToken === undefined ? hold.keepAliveMs : Math.min(PROGRESS_EVERY_MS, hold.keepAliveMs)) as unknown as number;
      hold.waitUntil(
        (async () => {
          try {
            const decided = await Promise.race([hold.decision(), left.then(() => "gone" as const)]);
            clearInterval(ticker);
            const answer = decided === "gone" || isGone() ? undefined : await hold.answer(decided, agent);
            if (answer) await relayInto(answer, send);
            else hold.gone();
          } catch (error) {
            // Still an answer for the id: the same JSON-RPC error the call would get if it had not been held.
            const failure = forRequest(error, hold.requestId);
            send(serializeEvent({ event: "message", data: JSON.stringify(toJsonRpcError(failure)) }));
          } finally {
            clearInterval(ticker);
            if (!cancelled) controller.close();
          }
        })(),
      );
    },
    cancel() {
      cancelled = true;
      clearInterval(ticker);
      leave();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** The call's answer, on the held stream: SSE events as they come, or a JSON answer as one event. */
async function relayInto(answer: Response, send: (text: string) => void): Promise<void> {
  if (isEventStream(answer.headers) && answer.body) {
    const decoder = new TextDecoder();
    for await (const chunk of answer.body) send(decoder.decode(chunk, { stream: true }));
    return;
  }
  const text = await answer.text();
  send(serializeEvent({ event: "message", data: text }));
}
