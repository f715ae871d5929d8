import { createParser, type EventSourceMessage } from "eventsource-parser";

const encoder = new TextEncoder();

export function isEventStream(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

/** One SSE event back on the wire, as the SSE spec reads it. */
export function serializeEvent(event: EventSourceMessage): string {
  let out = "";
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * Streams an SSE body event by event: `rewriteData` gets each event's data
 * and returns the data to send instead, or undefined to leave the event
 * alone. Untouched events go out as the exact bytes that came in; only a
 * rewritten event is serialised anew. Events are relayed as they complete;
 * nothing is buffered beyond the event being read.
 */
export function rewriteEventStream(
  body: ReadableStream<Uint8Array>,
  rewriteData: (data: string) => string | undefined,
): ReadableStream<Uint8Array> {
  let pending = "";
  const emit = (raw: string, controller: TransformStreamDefaultController<Uint8Array>) => {
    controller.enqueue(encoder.encode(rewriteRawEvent(raw, rewriteData)));
  };
  return body.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, Uint8Array>({
      transform(chunk, controller) {
        pending += chunk;
        for (;;) {
          const end = eventEnd(pending);
          if (end === undefined) break;
          emit(pending.slice(0, end), controller);
          pending = pending.slice(end);
        }
      },
      flush(controller) {
        if (pending) emit(pending, controller);
      },
    }),
  );
}

/**
 * Where the first complete event (up to and including the blank line that
 * ends it) stops, or undefined if none is complete yet. A trailing CR waits
 * for the next chunk: it may be the first half of a CRLF.
 */
function eventEnd(text: string): number | undefined {
  // A lone CR is a line ending only once we know no LF follows it.
  const match = /(\r\n|\n|\r(?!\n|$))(\r\n|\n|\r(?!\n|$))/.exec(text);
  return match ? match.index + match[0].length : undefined;
}

function rewriteRawEvent(raw: string, rewriteData: (data: string) => string | undefined): string {
  let event: EventSourceMessage | undefined;
  const parser = createParser({ onEvent: (parsed) => (event = parsed) });
  parser.feed(raw);
  parser.feed("\n\n");
  if (!event) return raw;
  const data = rewriteData(event.data);
  return data === undefined ? raw : serializeEvent({ ...event, data });
}

/** The data of every event in a complete SSE body (for the gateway's own requests). */
export function eventData(text: string): string[] {
  const data: string[] = [];
  const parser = createParser({ onEvent: (event) => data.push(event.data) });
  parser.feed(text);
  parser.feed("\n\n");
  return data;
}
