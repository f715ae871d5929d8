const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");
const LF = 0x0a;
const CR = 0x0d;

/**
 * Relays an SSE body byte for byte and, whenever it has been quiet for
 * `intervalMs`, inserts a comment line so that idle connections are not cut
 * by the edge or by client idle timeouts. A comment is only inserted between
 * events, never inside one. Chunks are read only as the agent reads them, so
 * a slow agent slows the upstream down instead of filling memory.
 */
export function withKeepAlive(body: ReadableStream<Uint8Array>, intervalMs: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const boundary = new EventBoundaryTracker();
  let timer: number | null = null;
  let finished = false;
  let output: ReadableStreamDefaultController<Uint8Array>;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (finished) return;
      if (boundary.atBoundary) output.enqueue(KEEP_ALIVE);
      arm();
    }, intervalMs);
  };
  const stop = () => {
    finished = true;
    clearTimeout(timer);
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        output = controller;
        arm();
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            stop();
            controller.close();
            return;
          }
          controller.enqueue(value);
          boundary.observe(value);
          arm();
        } catch (error) {
          stop();
          controller.error(error);
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Follows SSE line structure (lines end in CRLF, LF or CR) to know whether the
 * bytes so far end exactly after a blank line, that is, between two events.
 */
export class EventBoundaryTracker {
  #lineLength = 0;
  #previousWasCR = false;
  #lastLineWasBlank = true;

  get atBoundary(): boolean {
    return this.#lineLength === 0 && this.#lastLineWasBlank;
  }

  observe(chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (byte === LF && this.#previousWasCR) {
        this.#previousWasCR = false;
        continue;
      }
      this.#previousWasCR = byte === CR;
      if (byte === LF || byte === CR) {
        this.#lastLineWasBlank = this.#lineLength === 0;
        this.#lineLength = 0;
      } else {
        this.#lineLength++;
      }
    }
  }
}
