import { createParser } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventData, EventEnds, SseParser } from "../../src/mcp/sse.ts";

describe("SseParser", () => {
  type Parsed = { id: string | undefined; event: string | undefined; data: string };

  function parseWithOurs(text: string, cuts: number[]): Parsed[] {
    const events: Parsed[] = [];
    let data: string[] = [];
    const parser = new SseParser({
      onData: (piece) => data.push(piece),
      onEventEnd: (event) => {
        if (event.hasData) events.push({ id: event.id, event: event.event, data: data.join("") });
        data = [];
      },
    });
    let from = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      parser.feed(text.slice(from, cut));
      from = cut;
    }
    parser.feed(text.slice(from));
    return events;
  }

  /** The reference: eventsource-parser, fed the whole text. */
  function parseWithReference(text: string): Parsed[] {
    const events: Parsed[] = [];
    const parser = createParser({ onEvent: (event) => events.push({ id: event.id, event: event.event, data: event.data }) });
    parser.feed(text);
    return events;
  }

  const line = fc.oneof(
    fc.constantFrom("data", "data:", "data: ", "id: ", "id:", "event: ", ":", "retry: 5", "dat", "data:x:y", "x".repeat(20) + ": v"),
    fc.string({ unit: fc.constantFrom("a", "b", " ", ":", "{", "}"), maxLength: 6 }),
  );
  const stream = fc
    .array(fc.tuple(line, fc.string({ unit: fc.constantFrom("a", " ", ":", "1"), maxLength: 4 }), fc.constantFrom("\n", "\r\n", "\r", "\n\n", "\r\n\r\n")), { maxLength: 12 })
    .map((lines) => lines.map(([start, rest, end]) => start + rest + end).join(""));

  it("reads events exactly as eventsource-parser does, however the stream is cut", () => {
    fc.assert(
      fc.property(stream.chain((text) => fc.tuple(fc.constant(text), fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 6 }))), ([text, cuts]) => {
        // Only events ended by a blank line count; the reference sees the same once its input ends with one.
        const terminated = `${text}\n\n`;
        expect(parseWithOurs(terminated, cuts)).toEqual(parseWithReference(terminated));
      }),
      { numRuns: 3000, seed: 11 },
    );
  });

  it("tells whether the stream is between events", () => {
    for (const [text, expected] of [
      ["", true],
      ["data: x\n", false],
      ["data: x\n\n", true],
      ["data: x\r\r", true],
      ["data: x\n\ndata: y", false],
      [": comment\n\n", true],
    ] as const) {
      const parser = new SseParser({});
      parser.feed(text);
      expect(parser.atBoundary, JSON.stringify(text)).toBe(expected);
    }
  });
});

describe("EventEnds", () => {
  const encode = (text: string) => new TextEncoder().encode(text);

  it("finds in bytes, however they are cut, the event ends SseParser finds in their text", () => {
    const piece = fc.constantFrom("data: ", "id: ", ":", "a", "é", "😀", "\n", "\r", "\r\n", "\n\n", "\r\r");
    const stream = fc.array(piece, { maxLength: 24 }).map((pieces) => pieces.join(""));
    fc.assert(
      fc.property(stream.chain((text) => fc.tuple(fc.constant(text), fc.array(fc.integer({ min: 0, max: encode(text).length }), { maxLength: 6 }))), ([text, cuts]) => {
        const expected: number[] = [];
        new SseParser({ onEventEnd: (_event, end) => expected.push(encode(text.slice(0, end)).length) }).feed(text);
        const bytes = encode(text);
        // A CRLF cut in two ends its event at the CR: the LF, first in the next chunk, is skipped there (as SseParser skips it).
        const cutInCRLF = (end: number) => bytes[end - 1] === 0x0a && bytes[end - 2] === 0x0d && cuts.includes(end - 1);
        expected.splice(0, expected.length, ...expected.map((end) => (cutInCRLF(end) ? end - 1 : end)));
        const ends = new EventEnds();
        const found: number[] = [];
        let from = 0;
        for (const cut of [...cuts, bytes.length].sort((a, b) => a - b)) {
          for (const end of ends.find(bytes.subarray(from, cut))) found.push(from + end);
          from = cut;
        }
        expect(found).toEqual(expected);
      }),
      { numRuns: 3000, seed: 7 },
    );
  });
});

describe("eventData", () => {
  it("lists the data of every event of a complete body", () => {
    expect(eventData('event: message\ndata: {"a":1}\n\n: keep-alive\n\ndata: x\ndata: y')).toEqual(['{"a":1}', "x\ny"]);
  });
});
