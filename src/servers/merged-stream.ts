import { isObject, parseJson } from "../json.ts";
import type { EventStreamOptions } from "../mcp/event-stream.ts";
import { serializeEvent, SseParser } from "../mcp/sse.ts";

/** A notification larger than this is no notification: it is dropped, with a log line. */
const MAX_EVENT_CHARS = 1024 * 1024;

export type StreamSource = { server: string; body: ReadableStream<Uint8Array> };

/**
 * The servers' own streams (GET), as one: each server's notifications
 * (`notifications/tools/list_changed` and the rest) as they arrive. Only
 * notifications pass: an answer on such a stream would be a replay, and a
 * server's request could not be answered back through the merged endpoint.
 * Events lose their ids, since one Last-Event-ID cannot resume several
 * streams. The stream ends when every server's has; the agent leaving
 * cancels them all.
 */
export function mergeStreams(sources: StreamSource[], keepAliveMs: number, watch?: EventStreamOptions["watch"]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const readers = sources.map((source) => ({ server: source.server, reader: source.body.getReader() }));
  const cancelAll = () => {
    for (const { reader } of readers) void reader.cancel().catch(() => undefined);
  };
  let timer: ReturnType<typeof setInterval> | null = null;
  // The gateway's own messages (pins changed the tools shown), asked for as on one server's stream.
  let watchTimer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let open = readers.length;
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cancelAll();
        }
      };
      timer = setInterval(() => send(": keep-alive\n\n"), keepAliveMs);
      const watchAfter = (ms: number) => {
        if (!watch) return;
        watchTimer = setTimeout(async () => {
          const message = await watch.check().catch(() => undefined);
          if (closed) return;
          if (message !== undefined) send(serializeEvent({ data: message }));
          watchAfter(watch.everyMs);
        }, ms);
      };
      watchAfter(0);
      for (const { server, reader } of readers) {
        void pump(server, reader, send).finally(() => {
          if (--open > 0) return;
          closed = true;
          if (watchTimer !== null) clearTimeout(watchTimer);
          if (timer !== null) clearInterval(timer);
          try {
            controller.close();
          } catch {
            // already cancelled by the agent
          }
        });
      }
    },
    cancel() {
      closed = true;
      if (watchTimer !== null) clearTimeout(watchTimer);
      if (timer !== null) clearInterval(timer);
      cancelAll();
    },
  });
}

async function pump(server: string, reader: ReadableStreamDefaultReader<Uint8Array>, send: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let data = "";
  let tooLarge = false;
  const parser = new SseParser({
    onData: (piece) => {
      if (data.length + piece.length > MAX_EVENT_CHARS) tooLarge = true;
      else data += piece;
    },
    onEventEnd: (event) => {
      const text = data;
      const dropped = tooLarge;
      data = "";
      tooLarge = false;
      if (!event.hasData) return;
      const message = dropped ? undefined : parseJson(text);
      if (isObject(message) && typeof message.method === "string" && !("id" in message)) {
        send(serializeEvent({ data: text }));
        return;
      }
      console.error("merged stream: a server's message was not passed on", { server, why: dropped ? "larger than 1 MiB" : isObject(message) ? "not a notification" : "not JSON" });
    },
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch {
    // That server's stream broke: the others go on.
  }
}
