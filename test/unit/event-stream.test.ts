import { describe, expect, it } from "vitest";
import { relayEventStream, type EventStreamOptions } from "../../src/mcp/event-stream.ts";
import type { MessageSummary } from "../../src/mcp/json-scan.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Relays `chunks` (strings, or an error to break off with) and returns the text the agent receives. */
async function relay(chunks: Array<string | Error>, options: Partial<EventStreamOptions> = {}): Promise<string> {
  const pending = [...chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = pending.shift();
      if (chunk === undefined) controller.close();
      else if (chunk instanceof Error) controller.error(chunk);
      else controller.enqueue(encode(chunk));
    },
  });
  return new Response(relayEventStream(body, { keepAliveMs: 60_000, ...options })).text();
}

/** Relays byte chunks as they are and returns the bytes the agent receives. */
async function relayBytes(chunks: Uint8Array[], options: Partial<EventStreamOptions> = {}): Promise<Uint8Array> {
  const pending = [...chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = pending.shift();
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
  return new Uint8Array(await new Response(relayEventStream(body, { keepAliveMs: 60_000, ...options })).arrayBuffer());
}

const STREAM = 'id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nid: 2\ndata: {"tools":[]}\n\nretry: 500\n\n';

describe("relayEventStream", () => {
  it("relays every event byte for byte, whatever the chunking, and reads each message on the side", async () => {
    const seen: MessageSummary[] = [];
    expect(await relay([STREAM], { onMessage: (message) => seen.push(message) })).toBe(STREAM);
    expect(await relay([...STREAM])).toBe(STREAM);
    expect(seen).toEqual([
      { id: undefined, hasMethod: false, hasResult: false, error: undefined },
      { id: undefined, hasMethod: false, hasResult: false, error: undefined },
    ]);
  });

  it("rewrites only the events it is asked to, keeping their id and event type, the rest byte for byte", async () => {
    const rewrite = (data: string) => (data.includes("tools") ? { text: '{"tools":["x"]}' } : undefined);
    const expected = 'id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nid: 2\ndata: {"tools":["x"]}\n\nretry: 500\n\n';
    expect(await relay(STREAM.match(/.{1,7}/gs) ?? [], { rewrite })).toBe(expected);
    expect(await relay([...STREAM], { rewrite })).toBe(expected);
  });

  it("does not split an event at a CRLF that arrives in two chunks", async () => {
    const seen: string[] = [];
    await relay(["data: a\r", "\ndata: b\r\n", "\r\n"], { rewrite: (data) => void seen.push(data) });
    await relay(["data: c\r", "\n\r", "\ndata: d\r\r"], { rewrite: (data) => void seen.push(data) });
    expect(seen).toEqual(["a\nb", "c", "d"]);
  });

  it("tells who answered: ids, results and errors of the messages the agent receives", async () => {
    const seen: MessageSummary[] = [];
    await relay(['data: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n', 'data: {"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}\n\n'], {
      onMessage: (message) => seen.push(message),
    });
    expect(seen).toEqual([
      { id: undefined, hasMethod: true, hasResult: false, error: undefined },
      { id: 7, hasMethod: false, hasResult: false, error: { code: -32602, message: "bad" } },
    ]);
  });

  it("reads the answer in an event too long to be held (scanned as it streams), and in a short one after it", async () => {
    const seen: MessageSummary[] = [];
    const long = `data: {"jsonrpc":"2.0","result":{"text":"${"x".repeat(200_000)}"},"id":"long"}\n\n`;
    const short = 'data: {"jsonrpc":"2.0","result":{},"id":8}\n\n';
    const text = long + short;
    expect(await relay(text.match(/.{1,16384}/gs) ?? [], { onMessage: (message) => seen.push(message) })).toBe(text);
    expect(seen).toEqual([
      { id: "long", hasMethod: false, hasResult: true, error: undefined },
      { id: 8, hasMethod: false, hasResult: true, error: undefined },
    ]);
  });

  it("adds the gateway's closing events after a blank line, also when the stream broke off inside an event", async () => {
    const onEnd = (broken: boolean) => `data: ${broken ? "broken" : "ended"}\n\n`;
    expect(await relay(["data: complete\n\n"], { onEnd })).toBe("data: complete\n\ndata: ended\n\n");
    expect(await relay(["data: complete\n\n", "data: {\"resu", new Error("reset")], { onEnd })).toBe('data: complete\n\ndata: {"resu\n\ndata: broken\n\n');
    expect(await relay(["data: complete\n\n", "data: held", new Error("reset")], { onEnd, rewrite: () => undefined })).toBe("data: complete\n\ndata: held\n\ndata: broken\n\n");
  });

  it("adds keep-alive comments only between events while the stream is quiet", async () => {
    const source = new TransformStream<Uint8Array, Uint8Array>();
    const writer = source.writable.getWriter();
    const relayed = new Response(relayEventStream(source.readable, { keepAliveMs: 40 })).text();
    await writer.write(encode("id: 1\ndata: first\n\n"));
    await sleep(150); // quiet between events: keep-alives expected
    await writer.write(encode("id: 2\ndata: sec"));
    await sleep(150); // quiet inside an event: none allowed
    await writer.write(encode("ond\n\n"));
    await writer.close();

    const text = await relayed;
    expect(text.replaceAll(": keep-alive\n\n", "")).toBe("id: 1\ndata: first\n\nid: 2\ndata: second\n\n");
    const [beforeSecond, afterSecondStarted] = text.split("id: 2");
    expect(beforeSecond?.match(/: keep-alive/g)?.length).toBeGreaterThanOrEqual(2);
    expect(afterSecondStarted).not.toContain("keep-alive");
  });

  it("cancelling the relay cancels the upstream body", async () => {
    let cancelled: unknown;
    const upstream = new ReadableStream<Uint8Array>({
      cancel(reason) {
        cancelled = reason ?? "cancelled";
      },
    });
    await relayEventStream(upstream, { keepAliveMs: 1000 }).cancel("client went away");
    expect(cancelled).toBe("client went away");
  });

  it("rewrites one 16 MiB event arriving in 16 KiB chunks", async () => {
    const data = JSON.stringify({ tools: Array.from({ length: 4096 }, (_, index) => ({ name: `t${index}`, description: "d".repeat(4000) })) });
    const stream = `event: message\ndata: ${data}\n\n`;
    const chunks = Array.from({ length: Math.ceil(stream.length / 16384) }, (_, index) => stream.slice(index * 16384, (index + 1) * 16384));
    const output = await relay(chunks, { rewrite: (text) => ({ text: JSON.stringify({ count: (JSON.parse(text) as { tools: unknown[] }).tools.length }) }) });
    expect(output).toBe('event: message\ndata: {"count":4096}\n\n');
  });

  it("passes an event it reads but does not change on as the bytes it came in, whatever the line ends and however characters are cut", async () => {
    // Multi-byte characters cut between chunks, CR, LF and CRLF line ends (one cut between its CR and LF), a comment, two data lines.
    const stream = 'id: é1\r\ndata: {"tools":["näme","😀"]}\rdata: 2\r\n\r\n: note\n\ndata: ünchanged\r\rdata: {"tools":[]}\n\n';
    const bytes = encode(stream);
    const seen: string[] = [];
    const summaries: MessageSummary[] = [];
    const summary = { valid: true, messages: [{ id: 1, hasMethod: false, hasResult: true, error: undefined }] };
    for (const size of [1, 2, 3, 5, 7, 64]) {
      seen.length = 0;
      summaries.length = 0;
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, index) => bytes.slice(index * size, (index + 1) * size));
      const output = await relayBytes(chunks, { rewrite: (data) => (seen.push(data), { text: undefined, summary }), onMessage: (message) => summaries.push(message) });
      expect(output).toEqual(bytes);
      expect(seen).toEqual(['{"tools":["näme","😀"]}\n2', "ünchanged", '{"tools":[]}']);
      // The rewrite's own reading of what it passed on is the summary: the data is not read again.
      expect(summaries).toHaveLength(3);
      expect(summaries[0]).toEqual(summary.messages[0]);
    }
  });
});
