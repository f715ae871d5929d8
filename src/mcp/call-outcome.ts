import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import { createParser } from "eventsource-parser";
import { isEventStream } from "./sse.ts";

/**
 * Watches the upstream's answer to one request and reports, once known,
 * whether the upstream provably did not run it: the transport rejected it
 * (HTTP 4xx) or the answer is a JSON-RPC error. A result, even an `isError`
 * one, means the tool ran. The body reaches the agent byte for byte; only a
 * copy of the text is parsed on the side.
 */
export async function watchOutcome(
  response: Response,
  id: RequestId,
  onNotRun: () => void,
): Promise<Response> {
  if (response.status >= 400 && response.status < 500) {
    onNotRun();
    return response;
  }
  const isError = (data: string): boolean | undefined => {
    try {
      const message = JSON.parse(data) as { id?: unknown; error?: unknown; result?: unknown };
      if (message?.id !== id) return undefined;
      return message.error !== undefined;
    } catch {
      return undefined;
    }
  };
  if (isEventStream(response.headers) && response.body) {
    let settled = false;
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (event) => {
        if (settled) return;
        const failed = isError(event.data);
        if (failed === undefined) return;
        settled = true;
        if (failed) onNotRun();
      },
    });
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        parser.feed(decoder.decode(chunk, { stream: true }));
      },
    });
    return new Response(response.body.pipeThrough(tap), response);
  }
  if ((response.headers.get("content-type") ?? "").includes("json")) {
    const text = await response.text();
    if (isError(text)) onNotRun();
    return new Response(text, response);
  }
  return response;
}
