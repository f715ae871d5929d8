import { JsonRpcScanner, PARSED_SUMMARY_CHARS, summarizeMessages, type MessageSummary } from "./json-scan.ts";
import { serializeEvent, SseParser } from "./sse.ts";

export type EventStreamOptions = {
  /** A `: keep-alive` comment is sent between events whenever the stream has been quiet this long. */
  keepAliveMs: number;
  /** Rewrites an event's data (tool lists); an event is then held until it is complete. Undefined leaves it as it came. */
  rewrite?: ((data: string) => string | undefined) | undefined;
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
  // Rewriting holds the current event: its raw text and its data, in pieces.
  let heldRaw: string[] = [];
  let heldData: string[] = [];
  let chunkText = "";
  let chunkFrom = 0;
  const out: string[] = [];

  const summarize = (data: string) => {
    for (const message of summarizeMessages(data).messages) onMessage?.(message);
  };
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
    onEventEnd: (event, end) => {
      if (!rewrite) {
        if (event.hasData) {
          const { messages } = scanner ? scanner.finish() : summarizeMessages(dataPieces.join(""));
          for (const message of messages) onMessage?.(message);
        }
        [scanner, dataPieces, dataChars] = [undefined, [], 0];
        return;
      }
      heldRaw.push(chunkText.slice(chunkFrom, end));
      chunkFrom = end;
      const data = heldData.join("");
      const rewritten = event.hasData ? rewrite(data) : undefined;
      out.push(rewritten === undefined ? heldRaw.join("") : serializeEvent({ id: event.id, event: event.event, data: rewritten }));
      if (event.hasData) summarize(rewritten ?? data);
      heldRaw = [];
      heldData = [];
    },
  });

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
      if (parser.atBoundary && heldRaw.length === 0) output.enqueue(encoder.encode(KEEP_ALIVE));
      lastActivity = Date.now();
      waitQuiet(options.keepAliveMs);
    }, ms);
  };

  // Messages of the gateway's own wait for the next boundary between events, like keep-alives.
  let watchTimer: number | null = null;
  const ownEvents: string[] = [];
  const flushOwn = () => {
    if (finished || ownEvents.length === 0 || !parser.atBoundary || heldRaw.length > 0) return;
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
    const pending = heldRaw.join("");
    const closing = options.onEnd?.(broken) ?? "";
    const separator = closing && !(parser.atBoundary && pending === "") ? "\n\n" : "";
    const tail = pending + separator + closing;
    if (tail) output.enqueue(encoder.encode(tail));
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
            parser.feed(decoder.decode());
            finish(false);
            return;
          }
          lastActivity = Date.now();
          const text = decoder.decode(chunk.value, { stream: true });
          if (!rewrite) {
            controller.enqueue(chunk.value);
            parser.feed(text);
            flushOwn();
            return;
          }
          chunkText = text;
          chunkFrom = 0;
          parser.feed(text);
          if (chunkFrom < text.length) heldRaw.push(text.slice(chunkFrom));
          if (out.length > 0) {
            controller.enqueue(encoder.encode(out.splice(0).join("")));
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
