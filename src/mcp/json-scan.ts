import type { RequestId } from "@modelcontextprotocol/sdk/types.js";

/** What a scan learned about one JSON-RPC message: enough to tell which request it answers, and how. */
export type MessageSummary = {
  /** Undefined when the message has no usable `id` (absent, or not a string, number or null). */
  id: RequestId | null | undefined;
  hasMethod: boolean;
  hasResult: boolean;
  /** The `error` member: absent, null, or its code and message; "unreadable" when too large or not an object. */
  error: { code: unknown; message: unknown } | null | "unreadable" | undefined;
};

export type ScanResult = { valid: boolean; messages: MessageSummary[] };

/**
 * Rewrites a message's text (tool lists) before the agent sees it: undefined
 * leaves it alone; otherwise `text` replaces it (undefined: it goes on as it
 * came) and `summary`, when the rewrite has parsed it already, is what
 * summarizeMessages would say of what goes on, so a large list is not read twice.
 */
export type Rewrite = (data: string) => { text: string | undefined; summary?: ScanResult | undefined } | undefined;

/** Largest `id` / `error` value kept to be parsed; anything larger is not an answer the gateway reads. */
const MAX_ID_CHARS = 1024;
const MAX_ERROR_CHARS = 64 * 1024;
/** Member names longer than this (as written, escapes included) are none of the ones read (`id`, `error`, `result`, `method`). */
const MAX_KEY_CHARS = 48;

const Frame = { ObjectKeyOrEnd: 0, ObjectKey: 1, ObjectColon: 2, ObjectValue: 3, ObjectCommaOrEnd: 4, ArrayValueOrEnd: 5, ArrayValue: 6, ArrayCommaOrEnd: 7 } as const;
type Frame = (typeof Frame)[keyof typeof Frame];

/** Where a number token is in `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`. */
const Num = { Minus: 0, Zero: 1, Int: 2, Dot: 3, Frac: 4, E: 5, ESign: 6, Exp: 7 } as const;
type Num = (typeof Num)[keyof typeof Num];

const Token = { None: 0, String: 1, Number: 2, Literal: 3 } as const;
type Token = (typeof Token)[keyof typeof Token];

type Capture = { member: "id" | "error"; text: string; limit: number; overflow: boolean; depth: number };

/** A complete text up to this long is summarised with JSON.parse (native, and quicker than scanning); longer ones are scanned. */
export const PARSED_SUMMARY_CHARS = 64 * 1024;

/**
 * The summary JsonRpcScanner gives of a complete text. Up to
 * PARSED_SUMMARY_CHARS it is read with JSON.parse, which accepts the same
 * texts and reads members the same way (escaped names, the last of
 * duplicates); longer texts are scanned, so no large value is built.
 */
export function summarizeMessages(text: string): ScanResult {
  if (text.length > PARSED_SUMMARY_CHARS) {
    const scanner = new JsonRpcScanner();
    scanner.feed(text);
    return scanner.finish();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { valid: false, messages: [] };
  }
  const candidates: unknown[] = Array.isArray(value) ? value : [value];
  return { valid: true, messages: candidates.filter(isMessageObject).map(summarizeMessage) };
}

function isMessageObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What the gateway reads of one parsed message. */
export function summarizeMessage(message: Record<string, unknown>): MessageSummary {
  const { id, error } = message;
  const usableId = typeof id === "number" || id === null || (typeof id === "string" && id.length + 2 <= MAX_ID_CHARS);
  return {
    id: Object.hasOwn(message, "id") && usableId ? (id as RequestId | null) : undefined,
    hasMethod: Object.hasOwn(message, "method"),
    hasResult: Object.hasOwn(message, "result"),
    error: !Object.hasOwn(message, "error") ? undefined : error === null ? null : isMessageObject(error) ? { code: error.code, message: error.message } : "unreadable",
  };
}

const STRING_STOP = /["\\\u0000-\u001f]/g;
const HEX_DIGIT = /^[0-9a-fA-F]$/;

/**
 * Validates a JSON text fed in pieces and summarises the JSON-RPC message(s)
 * in it (a top-level object, or the objects of a top-level array), in time
 * linear in the text and memory bounded by its nesting depth: values are not
 * accumulated, except an `id` or `error` member small enough to parse. So a
 * 16 MiB tools/call result can be watched as it streams past. It accepts
 * exactly what JSON.parse accepts.
 */
export class JsonRpcScanner {
  #stack: Frame[] = [];
  #started = false;
  #done = false;
  #invalid = false;
  /** Where messages are: 1 for a top-level object, 2 for the objects of a top-level array. */
  #messageDepth = 0;

  #token: Token = Token.None;
  #escape = 0; // 0: none, 1: after a backslash, 2..5: hex digits of \u still to come
  #number: Num = Num.Minus;
  #literal = "";
  #literalAt = 0;

  #message: MessageSummary | undefined;
  #key: string | undefined;
  #capture: Capture | undefined;
  #captureComplete = false;
  #messages: MessageSummary[] = [];

  feed(text: string): void {
    let i = 0;
    while (i < text.length && !this.#invalid) {
      const from = i;
      i = this.#step(text, i);
      if (this.#capture) this.#append(text.slice(from, i));
      if (this.#captureComplete) this.#finishCapture();
    }
  }

  finish(): ScanResult {
    if (this.#token === Token.Number && !this.#invalid) {
      this.#endNumber();
      if (this.#captureComplete) this.#finishCapture();
    }
    const valid = !this.#invalid && this.#done;
    return { valid, messages: valid ? this.#messages : [] };
  }

  /** Consumes one token or structural character (or a run of string content) and returns where it stopped. */
  #step(text: string, i: number): number {
    switch (this.#token) {
      case Token.String:
        return this.#stringContent(text, i);
      case Token.Number:
        return this.#numberContent(text, i);
      case Token.Literal:
        if (text[i] !== this.#literal[this.#literalAt]) return this.#fail(text);
        if (++this.#literalAt === this.#literal.length) {
          this.#token = Token.None;
          this.#valueEnded();
        }
        return i + 1;
      case Token.None:
        break;
    }
    const char = text.charCodeAt(i);
    if (char === 0x20 || char === 0x0a || char === 0x0d || char === 0x09) return i + 1;
    if (this.#done) return this.#fail(text);
    const top = this.#stack.length - 1;
    const frame = this.#stack[top];
    switch (frame) {
      case Frame.ObjectColon:
        if (char !== 0x3a /* : */) return this.#fail(text);
        this.#stack[top] = Frame.ObjectValue;
        return i + 1;
      case Frame.ObjectKeyOrEnd:
      case Frame.ObjectKey:
        if (char === 0x7d /* } */ && frame === Frame.ObjectKeyOrEnd) return this.#close(i);
        if (char !== 0x22 /* " */) return this.#fail(text);
        this.#token = Token.String;
        this.#escape = 0;
        this.#key = this.#stack.length === this.#messageDepth ? "" : undefined;
        return i + 1;
      case Frame.ObjectCommaOrEnd:
      case Frame.ArrayCommaOrEnd: {
        const isObject = frame === Frame.ObjectCommaOrEnd;
        if (char === 0x2c /* , */) {
          this.#stack[top] = isObject ? Frame.ObjectKey : Frame.ArrayValue;
          return i + 1;
        }
        if (char === (isObject ? 0x7d : 0x5d)) return this.#close(i);
        return this.#fail(text);
      }
      case Frame.ArrayValueOrEnd:
        if (char === 0x5d /* ] */) return this.#close(i);
        break;
      default:
        break;
    }
    return this.#value(text, i, char);
  }

  /** The first character of a value, where one is expected. */
  #value(text: string, i: number, char: number): number {
    this.#started = true;
    this.#valueStarts();
    if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      const isObject = char === 0x7b;
      this.#stack.push(isObject ? Frame.ObjectKeyOrEnd : Frame.ArrayValueOrEnd);
      if (this.#stack.length === 1) this.#messageDepth = isObject ? 1 : 2;
      if (isObject && this.#stack.length === this.#messageDepth) {
        this.#message = { id: undefined, hasMethod: false, hasResult: false, error: undefined };
      }
      return i + 1;
    }
    if (char === 0x22) {
      this.#token = Token.String;
      this.#escape = 0;
      return i + 1;
    }
    if (char === 0x74 /* t */ || char === 0x66 /* f */ || char === 0x6e /* n */) {
      this.#token = Token.Literal;
      this.#literal = char === 0x74 ? "true" : char === 0x66 ? "false" : "null";
      this.#literalAt = 1;
      return i + 1;
    }
    if (char === 0x2d /* - */ || (char >= 0x30 && char <= 0x39)) {
      this.#token = Token.Number;
      this.#number = char === 0x2d ? Num.Minus : char === 0x30 ? Num.Zero : Num.Int;
      return i + 1;
    }
    return this.#fail(text);
  }

  /** A value starts inside a message: note which member it is, and capture `id` and `error`. */
  #valueStarts(): void {
    if (this.#stack.length !== this.#messageDepth || this.#stack.at(-1) !== Frame.ObjectValue || !this.#message) return;
    const member = this.#key;
    if (member === "id" || member === "error") {
      this.#capture = { member, text: "", limit: member === "id" ? MAX_ID_CHARS : MAX_ERROR_CHARS, overflow: false, depth: this.#stack.length };
    } else if (member === "method") this.#message.hasMethod = true;
    else if (member === "result") this.#message.hasResult = true;
  }

  /** String content up to the closing quote; plain runs are skipped by the regex engine. */
  #stringContent(text: string, i: number): number {
    if (this.#escape === 1) {
      const escaped = text[i] ?? "";
      if (escaped === "u") this.#escape = 2;
      else if ('"\\/bfnrt'.includes(escaped)) this.#escape = 0;
      else return this.#fail(text);
      this.#keyText(text, i, i + 1);
      return i + 1;
    }
    if (this.#escape >= 2) {
      if (!HEX_DIGIT.test(text[i] ?? "")) return this.#fail(text);
      this.#escape = this.#escape === 5 ? 0 : this.#escape + 1;
      this.#keyText(text, i, i + 1);
      return i + 1;
    }
    STRING_STOP.lastIndex = i;
    const stop = STRING_STOP.exec(text);
    const end = stop ? stop.index : text.length;
    this.#keyText(text, i, end);
    if (!stop) return end;
    const char = text.charCodeAt(end);
    if (char === 0x5c /* \ */) {
      this.#escape = 1;
      this.#keyText(text, end, end + 1);
      return end + 1;
    }
    if (char !== 0x22) return this.#fail(text); // a raw control character
    this.#token = Token.None;
    const top = this.#stack.length - 1;
    if (this.#stack[top] === Frame.ObjectKeyOrEnd || this.#stack[top] === Frame.ObjectKey) {
      this.#stack[top] = Frame.ObjectColon;
      this.#key = decodeKey(this.#key);
    } else this.#valueEnded();
    return end + 1;
  }

  /** Keeps a message-level member name while it is short enough to be one that matters. */
  #keyText(text: string, from: number, to: number): void {
    if (this.#key === undefined || this.#key.length > MAX_KEY_CHARS) return;
    const frame = this.#stack.at(-1);
    if (frame !== Frame.ObjectKeyOrEnd && frame !== Frame.ObjectKey) return;
    this.#key += text.slice(from, Math.min(to, from + MAX_KEY_CHARS + 1));
  }

  #numberContent(text: string, i: number): number {
    const char = text.charCodeAt(i);
    const digit = char >= 0x30 && char <= 0x39;
    const next = nextNumberState(this.#number, char, digit);
    if (next !== undefined) {
      this.#number = next;
      return i + 1;
    }
    this.#endNumber();
    return i; // the delimiter is read again as structure
  }

  #endNumber(): void {
    this.#token = Token.None;
    const complete = this.#number === Num.Zero || this.#number === Num.Int || this.#number === Num.Frac || this.#number === Num.Exp;
    if (!complete) this.#invalid = true;
    else this.#valueEnded();
  }

  #close(i: number): number {
    if (this.#stack.length === this.#messageDepth && this.#message) {
      this.#messages.push(this.#message);
      this.#message = undefined;
    }
    this.#stack.pop();
    this.#valueEnded();
    return i + 1;
  }

  /** A value ended: the frame around it moves on, and a capture that covered it is complete. */
  #valueEnded(): void {
    if (this.#capture && this.#stack.length === this.#capture.depth) this.#captureComplete = true;
    const top = this.#stack.length - 1;
    if (top < 0) {
      this.#done = true;
      return;
    }
    const frame = this.#stack[top];
    if (frame === Frame.ObjectValue) this.#stack[top] = Frame.ObjectCommaOrEnd;
    else if (frame === Frame.ArrayValueOrEnd || frame === Frame.ArrayValue) this.#stack[top] = Frame.ArrayCommaOrEnd;
  }

  #append(piece: string): void {
    const capture = this.#capture;
    if (!capture || capture.overflow) return;
    if (capture.text.length + piece.length > capture.limit) capture.overflow = true;
    else capture.text += piece;
  }

  #finishCapture(): void {
    const capture = this.#capture;
    this.#capture = undefined;
    this.#captureComplete = false;
    const message = this.#message;
    if (!capture || !message) return;
    const value = capture.overflow ? undefined : (JSON.parse(capture.text) as unknown);
    if (capture.member === "id") {
      message.id = typeof value === "string" || typeof value === "number" || value === null ? value : undefined;
    } else if (value === null) {
      message.error = null;
    } else if (typeof value === "object" && !Array.isArray(value)) {
      const error = value as { code?: unknown; message?: unknown };
      message.error = { code: error.code, message: error.message };
    } else {
      message.error = "unreadable";
    }
  }

  #fail(text: string): number {
    this.#invalid = true;
    return text.length;
  }
}

/** A member name as written (without quotes) to its value; names too long to matter stay undefined. */
function decodeKey(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > MAX_KEY_CHARS) return undefined;
  return raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
}

function nextNumberState(state: Num, char: number, digit: boolean): Num | undefined {
  switch (state) {
    case Num.Minus:
      return char === 0x30 ? Num.Zero : digit ? Num.Int : undefined;
    case Num.Zero:
    case Num.Int:
      if (digit) return state === Num.Int ? Num.Int : undefined;
      return char === 0x2e /* . */ ? Num.Dot : char === 0x65 || char === 0x45 ? Num.E : undefined;
    case Num.Dot:
      return digit ? Num.Frac : undefined;
    case Num.Frac:
      if (digit) return Num.Frac;
      return char === 0x65 || char === 0x45 ? Num.E : undefined;
    case Num.E:
      return digit ? Num.Exp : char === 0x2b || char === 0x2d ? Num.ESign : undefined;
    case Num.ESign:
    case Num.Exp:
      return digit ? Num.Exp : undefined;
  }
}
