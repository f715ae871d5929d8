const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");
const LF = 0x0a;
const CR = 0x0d;

/**
 * Relays an SSE body byte for byte and, whenever it has been quiet for
 * `intervalMs`, inserts a comment line so that idle connections are not cut
 * by the edge or by client idle timeouts. A comment is only inserted between
 * events, never inside one.
 */
export function withKeepAlive(body: ReadableStream<Uint8Array>, intervalMs: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const boundary = new EventBoundaryTracker();
  let timer: number | null = null;
  let finished = false;

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (finished) return;
          if (boundary.atBoundary) controller.enqueue(KEEP_ALIVE);
          arm();
        }, intervalMs);
      };
      const pump = async () => {
        arm();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            controller.enqueue(value);
            boundary.observe(value);
            arm();
          }
          finished = true;
          controller.close();
        } catch (error) {
          finished = true;
          controller.error(error);
        } finally {
          clearTimeout(timer);
        }
      };
      void pump();
    },
    cancel(reason) {
      finished = true;
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  });
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
