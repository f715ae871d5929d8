import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonRpcScanner, PARSED_SUMMARY_CHARS, summarizeMessages, type MessageSummary } from "../../src/mcp/json-scan.ts";

/** Feeds `text` to a fresh scanner cut at the given points. */
function scan(text: string, cuts: number[] = []) {
  const scanner = new JsonRpcScanner();
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    scanner.feed(text.slice(from, cut));
    from = cut;
  }
  scanner.feed(text.slice(from));
  return scanner.finish();
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** What the scanner should report, derived with JSON.parse. */
function expectedMessages(text: string): MessageSummary[] {
  const value = JSON.parse(text) as unknown;
  const candidates = Array.isArray(value) ? value : [value];
  return candidates
    .filter((message): message is Record<string, unknown> => typeof message === "object" && message !== null && !Array.isArray(message))
    .map((message) => {
      const id = message.id;
      const error = message.error;
      return {
        id: Object.hasOwn(message, "id") && (typeof id === "string" || typeof id === "number" || id === null) ? id : undefined,
        hasMethod: Object.hasOwn(message, "method"),
        hasResult: Object.hasOwn(message, "result"),
        error: !Object.hasOwn(message, "error")
          ? undefined
          : error === null
            ? null
            : typeof error === "object" && !Array.isArray(error)
              ? { code: (error as { code?: unknown }).code, message: (error as { message?: unknown }).message }
              : "unreadable",
      };
    });
}

const JSON_CHARS = [..."{}[]:,\"\\ntrufalse0123456789.eE+- \t\r\nu/b"];

/** Valid JSON with one character inserted, deleted or replaced: the near misses a validator gets wrong. */
const nearMiss = fc
  .tuple(fc.jsonValue(), fc.nat(), fc.constantFrom("insert", "delete", "replace"), fc.constantFrom(...JSON_CHARS))
  .map(([value, at, edit, char]) => {
    const text = JSON.stringify(value);
    const index = at % (text.length + 1);
    if (edit === "insert") return text.slice(0, index) + char + text.slice(index);
    return text.slice(0, index) + (edit === "replace" ? char : "") + text.slice(index + 1);
  });

const cutsOf = (text: string) => fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 8 });

const message = fc.record(
  {
    jsonrpc: fc.constant("2.0"),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
    method: fc.string(),
    result: fc.jsonValue(),
    error: fc.oneof(fc.constant(null), fc.record({ code: fc.integer(), message: fc.string(), data: fc.jsonValue() }, { requiredKeys: ["code"] })),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe("JsonRpcScanner", () => {
  it("accepts exactly what JSON.parse accepts, however the text is cut", () => {
    const texts = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value, null, 1)),
      nearMiss,
      fc.string({ unit: fc.constantFrom(...JSON_CHARS), maxLength: 40 }),
      fc.string({ maxLength: 40 }),
      fc.jsonValue().map((value) => JSON.stringify(value).slice(0, -1)),
    );
    fc.assert(
      fc.property(texts.chain((text) => fc.tuple(fc.constant(text), cutsOf(text))), ([text, cuts]) => {
        expect(scan(text, cuts).valid).toBe(parses(text));
      }),
      { numRuns: 5000, seed: 8 },
    );
  });

  it("reports each message's id, method, result and error as JSON.parse reads them", () => {
    const documents = fc.oneof(message, fc.array(message, { maxLength: 4 })).map((value) => JSON.stringify(value));
    fc.assert(
      fc.property(documents.chain((text) => fc.tuple(fc.constant(text), cutsOf(text))), ([text, cuts]) => {
        const result = scan(text, cuts);
        expect(result.valid).toBe(true);
        expect(result.messages).toEqual(expectedMessages(text));
      }),
      { numRuns: 2000, seed: 8 },
    );
  });

  it("reads escaped member names and the last of duplicate members, as JSON.parse does", () => {
    expect(scan('{"\\u0069d":7,"\\u0065rror":{"code":-32601,"message":"x"}}').messages).toEqual([
      { id: 7, hasMethod: false, hasResult: false, error: { code: -32601, message: "x" } },
    ]);
    expect(scan('{"id":1,"result":{},"id":2}').messages[0]?.id).toBe(2);
  });

  it("keeps memory bounded: a huge result is not accumulated, a huge error is unreadable", () => {
    const big = "x".repeat(1024 * 1024);
    const result = scan(`{"jsonrpc":"2.0","result":{"text":"${big}"},"id":3}`);
    expect(result).toEqual({ valid: true, messages: [{ id: 3, hasMethod: false, hasResult: true, error: undefined }] });
    const error = scan(`{"jsonrpc":"2.0","id":4,"error":{"code":-32603,"message":"${big}"}}`);
    expect(error.messages[0]?.error).toBe("unreadable");
  });

  it("reads the answer in 16 MiB fed in 16 KiB pieces", () => {
    const tools = Array.from({ length: 4096 }, (_, index) => ({ name: `tool_${index}`, description: "d".repeat(4000), inputSchema: { type: "object" } }));
    const text = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools } });
    const scanner = new JsonRpcScanner();
    for (let offset = 0; offset < text.length; offset += 16 * 1024) scanner.feed(text.slice(offset, offset + 16 * 1024));
    expect(scanner.finish().messages).toEqual([{ id: 1, hasMethod: false, hasResult: true, error: undefined }]);
  });
});

describe("summarizeMessages (a complete text)", () => {
  it("gives the scanner's summary, valid or not, messages or batches, short (JSON.parse) or long (scanned)", () => {
    const long = (text: string) => (text.startsWith("{") ? `{"pad":"${"p".repeat(PARSED_SUMMARY_CHARS)}",${text.slice(1)}` : text);
    const texts = fc.oneof(
      fc.oneof(message, fc.array(message, { maxLength: 4 })).map((value) => JSON.stringify(value)),
      nearMiss,
      fc.string({ unit: fc.constantFrom(...JSON_CHARS), maxLength: 40 }),
      fc.constant('{"\\u0069d":7,"\\u0065rror":{"code":-32601,"message":"x"}}'),
      fc.constant('{"id":1,"result":{},"id":2}'),
    );
    fc.assert(
      fc.property(texts, fc.boolean(), (text, padded) => {
        const each = padded ? long(text) : text;
        expect(summarizeMessages(each)).toEqual(scan(each));
      }),
      { numRuns: 3000, seed: 9 },
    );
  });

  it("an id too long to be an answer's is no id, as the scanner reads it", () => {
    const text = JSON.stringify({ jsonrpc: "2.0", id: "i".repeat(2000), result: {} });
    expect(summarizeMessages(text).messages[0]?.id).toBeUndefined();
    expect(scan(text).messages[0]?.id).toBeUndefined();
  });
});
