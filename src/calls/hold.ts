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
  /** Resolves once the approval is decided (or when waiting is over), with the approval as it then stands. */
  decision: () => Promise<ApprovalRecord | undefined>;
  /** The agent's answer once waiting is over: the call forwarded, or the refusal to send instead. */
  answer: (approval: ApprovalRecord | undefined) => Promise<Response>;
};

const PROGRESS_EVERY_MS = 5_000;

/**
 * Holds an agent's call open while a human decides its approval: the answer
 * is an SSE stream at once, quiet stretches filled with keep-alive comments
 * (and progress notifications when the agent asked for progress), until the
 * approval is decided or the hold elapses; then the call's own answer (the
 * upstream's, when approved) follows on the same stream, so the agent never
 * has to retry. Waiting is one Durable Object call that returns when the
 * decision is made: no polling. An agent that goes away stops the wait; its
 * approval stays as it is, and its call is not made.
 */
export function holdForApproval(hold: Hold): Response {
  const encoder = new TextEncoder();
  const started = Date.now();
  let gone = false;
  let ticker: number | null = null;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (!gone) controller.enqueue(encoder.encode(text));
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
      progress();
      ticker = setInterval(progress, hold.progressToken === undefined ? hold.keepAliveMs : Math.min(PROGRESS_EVERY_MS, hold.keepAliveMs)) as unknown as number;
      void (async () => {
        try {
          const decided = await hold.decision();
          clearInterval(ticker);
          if (gone) return;
          const answer = await hold.answer(decided);
          await relayInto(answer, send);
        } catch (error) {
          // Still an answer for the id: the same JSON-RPC error the call would get if it had not been held.
          const failure = forRequest(error, hold.requestId);
          send(serializeEvent({ event: "message", data: JSON.stringify(toJsonRpcError(failure)) }));
        } finally {
          clearInterval(ticker);
          if (!gone) controller.close();
        }
      })();
    },
    cancel() {
      gone = true;
      clearInterval(ticker);
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
