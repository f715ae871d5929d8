import { describe, expect, it } from "vitest";
import { rewriteEventStream } from "../../src/mcp/sse.ts";

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
