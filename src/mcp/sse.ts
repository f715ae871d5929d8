export function isEventStream(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

/** One SSE event's fields, as the gateway writes or rewrites it. */
export type SseEvent = { id?: string | undefined; event?: string | undefined; data: string };

/** One SSE event back on the wire, as the SSE spec reads it. */
export function serializeEvent(event: SseEvent): string {
  let out = "";
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** What the parser reports when a blank line ends an event. */
export type SseEventEnd = { id: string | undefined; event: string | undefined; hasData: boolean };

export type SseHandlers = {
  /** A piece of the current event's data; data lines are joined with "\n", as the SSE spec joins them. */
  onData?: (piece: string) => void;
  /** A blank line ended an event; `end` is the offset just after it in the text being fed. */
  onEventEnd?: (event: SseEventEnd, end: number) => void;
};

const LINE_END = /\r\n|\r|\n/g;
/** Field names the gateway reads are short; a longer one is ignored with the rest of its line. */
const MAX_FIELD_NAME = 16;
/** `id` and `event` values beyond this are cut: they label events, they do not carry them. */
const MAX_LABEL = 1024;

/**
 * An incremental parser of `text/event-stream` (the WHATWG SSE grammar: CR,
 * LF or CRLF line ends, `field: value` lines, comments, blank lines ending
 * events). Linear in the input, however it is cut into pieces, and it keeps
 * nothing of an event's data: pieces go to `onData` as they arrive.
 */
export class SseParser {
  #handlers: SseHandlers;
  #name = "";
  /** "name": reading the field name; "space": just after the colon; "value": in the value. */
  #part: "name" | "space" | "value" = "name";
  #lineHasContent = false;
  #lastLineBlank = true;
  #pendingCR = false;
  #label = "";
  #id: string | undefined;
  #event: string | undefined;
  #dataLines = 0;

  constructor(handlers: SseHandlers) {
    this.#handlers = handlers;
  }

  /** Whether everything fed so far ends between two events, where other events may be inserted. */
  get atBoundary(): boolean {
    return !this.#lineHasContent && this.#lastLineBlank;
  }

  feed(text: string): void {
    let i = 0;
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.startsWith("\n")) i = 1; // the second half of a CRLF cut in two
    }
    while (i < text.length) {
      LINE_END.lastIndex = i;
      const match = LINE_END.exec(text);
      const end = match ? match.index : text.length;
      if (end > i) this.#content(text, i, end);
      if (!match) return;
      const next = end + match[0].length;
      if (match[0] === "\r" && next === text.length) this.#pendingCR = true;
      this.#lineEnd(next);
      i = next;
    }
  }

  #content(text: string, from: number, to: number): void {
    this.#lineHasContent = true;
    if (this.#part === "name") {
      const limit = Math.min(to, from + MAX_FIELD_NAME + 1 - this.#name.length);
      let colon = -1;
      for (let at = from; at < limit; at++) {
        if (text.charCodeAt(at) === 0x3a) {
          colon = at;
          break;
        }
      }
      if (colon === -1) {
        this.#name += text.slice(from, limit);
        if (this.#name.length > MAX_FIELD_NAME) {
          // No field the gateway reads has so long a name: the rest of the line is ignored.
          this.#name = "";
          this.#part = "value";
        }
        return;
      }
      this.#name += text.slice(from, colon);
      this.#part = "space";
      from = colon + 1;
      if (this.#name === "data") this.#startDataLine();
    }
    if (from >= to) return;
    if (this.#part === "space") {
      this.#part = "value";
      if (text.charCodeAt(from) === 0x20) from++;
      if (from >= to) return;
    }
    this.#value(text.slice(from, to));
  }

  #startDataLine(): void {
    if (this.#dataLines++ > 0) this.#handlers.onData?.("\n");
  }

  #value(piece: string): void {
    if (this.#name === "data") this.#handlers.onData?.(piece);
    else if ((this.#name === "id" || this.#name === "event") && this.#label.length < MAX_LABEL) this.#label += piece.slice(0, MAX_LABEL);
  }

  #lineEnd(end: number): void {
    const blank = !this.#lineHasContent;
    if (blank) {
      this.#handlers.onEventEnd?.({ id: this.#id, event: this.#event, hasData: this.#dataLines > 0 }, end);
      this.#id = undefined;
      this.#event = undefined;
      this.#dataLines = 0;
    } else if (this.#part === "name") {
      // A line without a colon is a field with an empty value.
      if (this.#name === "data") this.#startDataLine();
      this.#setLabel("");
    } else {
      this.#setLabel(this.#label);
    }
    this.#name = "";
    this.#label = "";
    this.#part = "name";
    this.#lineHasContent = false;
    this.#lastLineBlank = blank;
  }

  #setLabel(value: string): void {
    if (this.#name === "id" && !value.includes("\0")) this.#id = value;
    else if (this.#name === "event") this.#event = value === "" ? undefined : value; // an empty type is the default one
  }
}

/**
 * Finds where events end in an SSE byte stream without decoding it: line ends
 * (CR, LF, CRLF) are ASCII bytes, which UTF-8 never uses inside a character, so
 * an event cut out this way decodes on its own. Reads each chunk with the
 * runtime's `indexOf`, not byte by byte, and keeps two flags between chunks.
 */
export class EventEnds {
  #lineHasContent = false;
  /** The last chunk ended with CR: an LF first in the next one completes that line end. */
  #pendingCR = false;

  /** The offsets in `bytes` just after each blank line (each event's end), in order. */
  find(bytes: Uint8Array): number[] {
    const ends: number[] = [];
    if (bytes.length === 0) return ends;
    let i = 0;
    if (this.#pendingCR && bytes[0] === LF) i = 1;
    this.#pendingCR = false;
    let nextLF = bytes.indexOf(LF, i);
    let nextCR = bytes.indexOf(CR, i);
    for (;;) {
      if (nextLF !== -1 && nextLF < i) nextLF = bytes.indexOf(LF, i);
      if (nextCR !== -1 && nextCR < i) nextCR = bytes.indexOf(CR, i);
      const at = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (at === -1) {
        if (i < bytes.length) this.#lineHasContent = true;
        return ends;
      }
      if (at > i) this.#lineHasContent = true;
      let next = at + 1;
      if (bytes[at] === CR) {
        if (next === bytes.length) this.#pendingCR = true;
        else if (bytes[next] === LF) next++;
      }
      if (!this.#lineHasContent) ends.push(next);
      this.#lineHasContent = false;
      i = next;
    }
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** The data of every event in a complete SSE body (for the gateway's own requests). */
export function eventData(text: string): string[] {
  const events: string[] = [];
  let data: string[] = [];
  const parser = new SseParser({
    onData: (piece) => data.push(piece),
    onEventEnd: (event) => {
      if (event.hasData) events.push(data.join(""));
      data = [];
    },
  });
  parser.feed(text);
  parser.feed("\n\n");
  return events;
}
