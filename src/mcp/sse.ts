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
 * Streams an SSE body event by event through `rewriteData`, which gets each
 * event's data and returns the data to send instead. Events are relayed as
 * they arrive; nothing is buffered beyond the event being parsed.
 */
export function rewriteEventStream(
  body: ReadableStream<Uint8Array>,
  rewriteData: (data: string) => string,
): ReadableStream<Uint8Array> {
  let controller!: TransformStreamDefaultController<Uint8Array>;
  const parser = createParser({
    onEvent: (event) => controller.enqueue(encoder.encode(serializeEvent({ ...event, data: rewriteData(event.data) }))),
    onRetry: (retry) => controller.enqueue(encoder.encode(`retry: ${retry}\n\n`)),
    onComment: (comment) => controller.enqueue(encoder.encode(`:${comment}\n\n`)),
  });
  return body.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, Uint8Array>({
      start(c) {
        controller = c;
      },
      transform(chunk) {
        parser.feed(chunk);
      },
    }),
  );
}

/** The data of every event in a complete SSE body (for the gateway's own requests). */
export function eventData(text: string): string[] {
  const data: string[] = [];
  const parser = createParser({ onEvent: (event) => data.push(event.data) });
  parser.feed(text);
  parser.feed("\n\n");
  return data;
}
