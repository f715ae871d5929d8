import { JsonRpcScanner, PARSED_SUMMARY_CHARS, summarizeMessages, type MessageSummary, type Rewrite } from "./json-scan.ts";
import { concatBytes } from "../http/body.ts";
import { EventEnds, serializeEvent, SseParser, type SseEventEnd } from "./sse.ts";

export type EventStreamOptions = {
  /** A `: keep-alive` comment is sent between events whenever the stream has been quiet this long. */
  keepAliveMs: number;
  /** Rewrites an event's data (tool lists); an event is then held until it is complete. Undefined leaves it as it came. */
  rewrite?: Rewrite | undefined;
  /** Each message the agent receives, summarised. */
  onMessage?: ((message: MessageSummary) => void) | undefined;
  /**
   * Called when the stream ends, normally or broken off (`broken`), at a point
   * where events may still be added: what it returns is sent last.
   */
  onEnd?: ((broken: boolean) => string) | undefined;
  /**
   * Asked every `everyMs` while the stream is open: a message of the
   * gateway's own to add between events (a tools/list_changed notice), or
   * undefined. A failing or slow check adds nothing.
   */
  watch?: { everyMs: number; check: () => Promise<string | undefined> } | undefined;
};

const KEEP_ALIVE = ": keep-alive\n\n";

/**
 * Relays an upstream SSE body to the agent in a single pass: chunks go out as
 * they arrive (byte for byte, unless an event is rewritten), keep-alive
 * comments fill quiet stretches between events, each event's data is read on
 * the side by the streaming JSON scanner, and the end of the stream, or its
 * breaking off, can be followed by events of the gateway's own. Linear in the
 * body, and it holds nothing but the event being rewritten. Chunks are read
 * only as the agent reads them, so a slow agent slows the upstream instead of
 * filling memory.
 */
export function relayEventStream(body: ReadableStream<Uint8Array>, options: EventStreamOptions): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const { rewrite, onMessage } = options;

  // An event's data is kept while it is short (then summarised by JSON.parse), scanned as it streams once it is not.
  let scanner: JsonRpcScanner | undefined;
  let dataPieces: string[] = [];
  let dataChars = 0;
  // Rewriting holds the current event as the bytes it came in (found by EventEnds, decoded once it is whole):
  // an event that is not rewritten goes on as those bytes, neither joined nor encoded again.
  const eventEnds = new EventEnds();
  let held: Uint8Array[] = [];
  let heldData: string[] = [];
  let heldEvent: SseEventEnd | undefined;

  const parser = new SseParser({
    onData: (piece) => {
      if (rewrite) heldData.push(piece);
      else if (scanner) scanner.feed(piece);
      else if (dataChars + piece.length <= PARSED_SUMMARY_CHARS) {
        dataPieces.push(piece);
        dataChars += piece.length;
      } else {
        scanner = new JsonRpcScanner();
        for (const held of dataPieces) scanner.feed(held);
        scanner.feed(piece);
        [dataPieces, dataChars] = [[], 0];
      }
    },
    onEventEnd: (event) => {
      if (rewrite) {
        heldEvent = event;
        return;
      }
      if (event.hasData) {
        const { messages } = scanner ? scanner.finish() : summarizeMessages(dataPieces.join(""));
        for (const message of messages) onMessage?.(message);
      }
      [scanner, dataPieces, dataChars] = [undefined, [], 0];
    },
  });

  /** One whole held event (its bytes end with the blank line that ends it): what goes on in its place. */
  const rewriteEvent = (rewrite: Rewrite, bytes: Uint8Array[]): Uint8Array[] => {
    [heldData, heldEvent] = [[], undefined];
    parser.feed(decoder.decode(bytes.length === 1 ? bytes[0] : concatBytes(bytes)));
    const event = heldEvent as SseEventEnd | undefined;
    if (!event?.hasData) return bytes;
    const data = heldData.join("");
    heldData = [];
    const rewritten = rewrite(data);
    const text = rewritten?.text;
    for (const message of (rewritten?.summary ?? summarizeMessages(text ?? data)).messages) onMessage?.(message);
    return text === undefined ? bytes : [encoder.encode(serializeEvent({ id: event.id, event: event.event, data: text }))];
  };

  /** Holds a chunk's bytes, and returns the events it completed, rewritten (or as they came). */
  const holdChunk = (rewrite: Rewrite, chunk: Uint8Array): Uint8Array[] => {
    const out: Uint8Array[] = [];
    let from = 0;
    for (const end of eventEnds.find(chunk)) {
      held.push(chunk.subarray(from, end));
      out.push(...rewriteEvent(rewrite, held));
      held = [];
      from = end;
    }
    // What stays held is copied: the chunk itself has gone on with the events before it.
    if (from < chunk.length) held.push(from === 0 ? chunk : chunk.slice(from));
    return out;
  };
  const atBoundary = () => (rewrite ? held.length === 0 : parser.atBoundary);

  let timer: number | null = null;
  let finished = false;
  let output: ReadableStreamDefaultController<Uint8Array>;
  // One timer for the quiet stretches, not one per chunk: a chunk only notes
  // the time, and the timer, when it fires, waits out what is left.
  let lastActivity = Date.now();
  const waitQuiet = (ms: number) => {
    timer = setTimeout(() => {
      if (finished) return;
      const quietFor = Date.now() - lastActivity;
      if (quietFor < options.keepAliveMs) return waitQuiet(options.keepAliveMs - quietFor);
      // Only between events, and never while an event is held back for rewriting.
      if (atBoundary()) output.enqueue(encoder.encode(KEEP_ALIVE));
      lastActivity = Date.now();
      waitQuiet(options.keepAliveMs);
    }, ms);
  };

  // Messages of the gateway's own wait for the next boundary between events, like keep-alives.
  let watchTimer: number | null = null;
  const ownEvents: string[] = [];
  const flushOwn = () => {
    if (finished || ownEvents.length === 0 || !atBoundary()) return;
    output.enqueue(encoder.encode(ownEvents.splice(0).join("")));
    lastActivity = Date.now();
  };
  const watchAfter = (ms: number) => {
    const { watch } = options;
    if (!watch) return;
    watchTimer = setTimeout(async () => {
      if (finished) return;
      const message = await watch.check().catch(() => undefined);
      if (finished) return;
      if (message !== undefined && ownEvents.length < 8) ownEvents.push(serializeEvent({ data: message }));
      flushOwn();
      watchAfter(watch.everyMs);
    }, ms);
  };

  const finish = (broken: boolean) => {
    finished = true;
    clearTimeout(timer);
    clearTimeout(watchTimer);
    // An unterminated last event is passed on as it came; the gateway's own events follow a blank line.
    const closing = options.onEnd?.(broken) ?? "";
    const separator = closing && !atBoundary() ? "\n\n" : "";
    for (const bytes of held.splice(0)) output.enqueue(bytes);
    if (separator + closing) output.enqueue(encoder.encode(separator + closing));
    output.close();
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        output = controller;
        waitQuiet(options.keepAliveMs);
        // The first check at once: it sets where the watch starts.
        watchAfter(0);
      },
      async pull(controller) {
        // Until something can be handed on: a held event may need several chunks.
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (error) {
            console.error("upstream stream broke off", { error: String(error) });
            finish(true);
            return;
          }
          if (chunk.done) {
            if (!rewrite) parser.feed(decoder.decode());
            finish(false);
            return;
          }
          lastActivity = Date.now();
          if (!rewrite) {
            controller.enqueue(chunk.value);
            parser.feed(decoder.decode(chunk.value, { stream: true }));
            flushOwn();
            return;
          }
          const out = holdChunk(rewrite, chunk.value);
          if (out.length > 0) {
            for (const bytes of out) controller.enqueue(bytes);
            flushOwn();
            return;
          }
        }
      },
      cancel(reason) {
        finished = true;
        clearTimeout(timer);
        clearTimeout(watchTimer);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

