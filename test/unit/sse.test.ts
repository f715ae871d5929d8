import { createParser } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventData, rewriteEventStream, SseParser } from "../../src/mcp/sse.ts";

async function run(chunks: string[], rewrite: (data: string) => string | undefined): Promise<string> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  return new Response(rewriteEventStream(body, rewrite)).text();
}

describe("rewriteEventStream", () => {
  const stream = 'id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nid: 2\ndata: {"tools":[]}\n\nretry: 500\n\n';

  it("leaves every event it does not rewrite byte for byte, whatever the chunking", async () => {
    const whole = await run([stream], () => undefined);
    expect(whole).toBe(stream);
    const byteByByte = await run([...stream], () => undefined);
    expect(byteByByte).toBe(stream);
  });

  it("re-serialises only the rewritten event, keeping its id and event type", async () => {
    const rewritten = await run(stream.match(/.{1,7}/gs) ?? [], (data) => (data.includes("tools") ? '{"tools":["x"]}' : undefined));
    expect(rewritten).toBe('id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nid: 2\ndata: {"tools":["x"]}\n\nretry: 500\n\n');
  });

  it("does not split an event at a CRLF that arrives in two chunks", async () => {
    const seen: string[] = [];
    await run(["data: a\r", "\ndata: b\r\n", "\r\n"], (data) => {
      seen.push(data);
      return undefined;
    });
    expect(seen).toEqual(["a\nb"]);
  });
});

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

describe("eventData", () => {
  it("lists the data of every event of a complete body", () => {
    expect(eventData('event: message\ndata: {"a":1}\n\n: keep-alive\n\ndata: x\ndata: y')).toEqual(['{"a":1}', "x\ny"]);
  });
});

describe("rewriteEventStream at scale", () => {
  it("rewrites one 16 MiB event arriving in 16 KiB chunks", async () => {
    const data = JSON.stringify({ tools: Array.from({ length: 4096 }, (_, index) => ({ name: `t${index}`, description: "d".repeat(4000) })) });
    const stream = `event: message\ndata: ${data}\n\n`;
    const chunks = Array.from({ length: Math.ceil(stream.length / 16384) }, (_, index) => stream.slice(index * 16384, (index + 1) * 16384));
    const output = await run(chunks, (text) => JSON.stringify({ count: (JSON.parse(text) as { tools: unknown[] }).tools.length }));
    expect(output).toBe('event: message\ndata: {"count":4096}\n\n');
  });
});
