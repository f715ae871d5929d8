import { describe, expect, it } from "vitest";
import { EventBoundaryTracker, withKeepAlive } from "../../src/mcp/sse-keepalive.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("EventBoundaryTracker", () => {
  it.each([
    ["", true],
    ["data: x\n", false],
    ["data: x\n\n", true],
    ["data: x\r\n\r\n", true],
    ["data: x\r\r", true],
    ["data: x\n\ndata: y", false],
    ["id: 1\ndata: x\r\n", false],
    [": comment\n\n", true],
  ])("after %j the stream is between events: %s", (text, expected) => {
    const tracker = new EventBoundaryTracker();
    tracker.observe(encode(text));
    expect(tracker.atBoundary).toBe(expected);
  });

  it("treats a CRLF split across chunks as one line ending", () => {
    const tracker = new EventBoundaryTracker();
    tracker.observe(encode("data: x\r"));
    tracker.observe(encode("\n"));
    expect(tracker.atBoundary).toBe(false);
    tracker.observe(encode("\r\n"));
    expect(tracker.atBoundary).toBe(true);
  });
});

describe("withKeepAlive", () => {
  it("relays bytes unchanged and adds comments only between events while the stream is quiet", async () => {
    const source = new TransformStream<Uint8Array, Uint8Array>();
    const writer = source.writable.getWriter();
    const relayed = withKeepAlive(source.readable, 40);
    const collected = (async () => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of relayed) text += decoder.decode(chunk, { stream: true });
      return text;
    })();

    await writer.write(encode("id: 1\ndata: first\n\n"));
    await sleep(150); // quiet between events: keep-alives expected
    await writer.write(encode("id: 2\ndata: sec"));
    await sleep(150); // quiet inside an event: none allowed
    await writer.write(encode("ond\n\n"));
    await writer.close();

    const text = await collected;
    const withoutKeepAlives = text.replaceAll(": keep-alive\n\n", "");
    expect(withoutKeepAlives).toBe("id: 1\ndata: first\n\nid: 2\ndata: second\n\n");
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
    await withKeepAlive(upstream, 1000).cancel("client went away");
    expect(cancelled).toBe("client went away");
  });
});
