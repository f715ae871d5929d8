/**
 * Property-based tests of the whole gateway Worker (fast-check, seeded): for
 * arbitrary bodies, headers, tool names and arguments, the gateway never
 * answers HTTP 500, always answers with JSON-RPC (or 202 for an accepted
 * notification or response), answers a request with its own id, and never
 * lets a hidden or denied tool reach the upstream: every tools/call the
 * upstream received in the run, counted per tool, equals what the gateway
 * allowed per tool in its audit trail. `npm test` runs 1,000 cases per
 * property; `npm run fuzz` runs 100,000 (FUZZ_RUNS, FUZZ_SEED).
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { eventData } from "../../src/mcp/sse.ts";
import type { TagCallCounts } from "../upstream/call-counts.ts";
import { createGrant, gateway, GATEWAY_URL, newTag, putPolicy, rawAgent, TAG_HEADER, testAddress, type Gateway } from "./gateway.ts";

const RUNS = Number(env.FUZZ_RUNS ?? 1000);
const SEED = Number(env.FUZZ_SEED ?? 20261125);
// Generous: at 100,000 cases a property runs for many minutes.
const TIMEOUT = Math.max(60_000, RUNS * 40);

/** Only get_campaigns may reach the upstream; deletes are hidden, everything else denied. */
const POLICY = { version: "1", default: "deny", hide: ["delete_*"], tools: { get_campaigns: {} } };
const ALLOWED = new Set(["get_campaigns"]);

const PROTOTYPE_KEYS = ["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__"];
const TOOL_NAMES = ["get_campaigns", "send_campaign", "delete_list", "delete_user_by_email", "send_email", "GET_CAMPAIGNS", "get_campaigns ", "get_campaіgns"];
const METHODS = ["initialize", "ping", "tools/call", "tools/list", "prompts/get", "resources/read", "notifications/initialized", "nonsense", "tools/call/", ""];

/**
 * One property's agent: its own grant (so its audit trail holds this property's calls alone), its own
 * upstream tag, and the gateway's work after each answer (its audit records) kept track of until done.
 */
type Run = { gw: Gateway; token: string; grantId: string; tag: string; address: string; afterAnswers: Set<Promise<unknown>> };

async function newRun(): Promise<Run> {
  const { token, record } = await createGrant(await putPolicy(POLICY));
  return { gw: gateway(), token, grantId: record.id, tag: newTag(), address: testAddress(), afterAnswers: new Set() };
}

/** A fresh session on the gateway, after tools were listed in it. */
async function openSession(run: Run): Promise<string> {
  const agent = await rawAgent(run.gw, run.token);
  await agent.rpc("tools/list", {});
  return agent.sessionId;
}

type Sent = { body: BodyInit; headers: Record<string, string>; method?: string };

/** Posts, then checks the answer is a well-formed JSON-RPC answer (or an accepted 202); returns what came back. */
async function sendAndCheck({ body, headers, method = "POST" }: Sent, run: Run): Promise<{ status: number; messages: unknown[] }> {
  const request = new Request(GATEWAY_URL, {
    method,
    headers: { authorization: `Bearer ${run.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: run.tag, "cf-connecting-ip": run.address, ...headers },
    ...(method === "POST" ? { body } : {}),
  });
  // The request's own context, as gateway() makes, but kept: its waitUntil work (the call's audit record) is awaited at the end.
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, run.gw.env, ctx);
  const text = await response.text();
  const done = waitOnExecutionContext(ctx).finally(() => run.afterAnswers.delete(done));
  run.afterAnswers.add(done);
  expect(response.status, text).not.toBeGreaterThanOrEqual(500);
  if (response.status === 202 || (method === "DELETE" && response.status === 200)) {
    // Accepted notification or response; or a session ended, whose answer has no body.
    expect(text).toBe("");
    return { status: response.status, messages: [] };
  }
  const type = response.headers.get("content-type") ?? "";
  const messages = type.includes("event-stream") ? eventData(text).map((data) => JSON.parse(data) as unknown) : [JSON.parse(text) as unknown];
  const flat = messages.flatMap((message) => (Array.isArray(message) ? message : [message]));
  expect(flat.length, text).toBeGreaterThan(0);
  for (const message of flat) expect(message, text).toMatchObject({ jsonrpc: "2.0" });
  return { status: response.status, messages: flat };
}

/** Every tools/call the upstream received in the run, per tool (the sandbox counts them all, however many). */
async function upstreamCalls(tag: string): Promise<TagCallCounts> {
  const response = await fetch(new URL(`__calls?tag=${tag}`, env.SANDBOX_URL));
  expect(response.status).toBe(200);
  return response.json();
}

/** The calls the gateway allowed in the run, per tool, from the grant's audit trail in its Durable Object. */
async function allowedByGateway(run: Run): Promise<Array<{ name: unknown; count: number }>> {
  // The records are written after the answers (batched, off the agent's path): wait for every request's work.
  await Promise.all(run.afterAnswers);
  const stub = env.GRANT_OBJECT.getByName(run.grantId);
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ tool: string; count: number }>("SELECT tool, COUNT(*) AS count FROM audit WHERE kind = 'call' AND json_extract(record, '$.policyDecision') = 'allow' GROUP BY tool")
      .toArray()
      .map(({ tool, count }) => ({ name: tool, count })),
  );
}

/**
 * Every tools/call that reached the upstream in the run, counted per tool, is one the gateway allowed,
 * and every call it allowed reached the upstream once: nothing denied or hidden got through, and no body
 * reached the upstream that it could not read.
 */
async function expectUpstreamCallsEqualAllowed(run: Run): Promise<number> {
  const received = await upstreamCalls(run.tag);
  const allowed = await allowedByGateway(run);
  const byName = (counts: Array<{ name: unknown; count: number }>) => [...counts].sort((a, b) => JSON.stringify(a.name).localeCompare(JSON.stringify(b.name)));
  expect({ unparseable: received.unparseable, others: received.others }).toEqual({ unparseable: 0, others: 0 });
  expect(byName(received.tools)).toEqual(byName(allowed));
  expect(received.tools.filter(({ name }) => !ALLOWED.has(name as string))).toEqual([]);
  return received.tools.reduce((sum, { count }) => sum + count, 0);
}

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 });

const headerSets = fc.record(
  {
    "content-type": fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "", "APPLICATION/JSON"),
    accept: fc.constantFrom("application/json, text/event-stream", "application/json", "*/*", "text/event-stream"),
    "mcp-method": fc.oneof(fc.constantFrom(...METHODS), printable),
    "mcp-name": fc.oneof(fc.constantFrom(...TOOL_NAMES.filter((name) => /^[\x20-\x7e]*$/.test(name))), printable, fc.string().map((name) => `=?base64?${btoa(unescape(encodeURIComponent(name)))}?=`)),
    "mcp-protocol-version": fc.constantFrom("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28", "1999-01-01", "garbage"),
    "mcp-session-id": fc.oneof(fc.constant("SESSION"), printable, fc.constant("a.b"), fc.constant("..")),
    origin: fc.constantFrom("https://evil.example", "null", "https://gateway.test"),
    "last-event-id": printable,
  },
  { requiredKeys: [] },
);

/** JSON-RPC-shaped messages with any field replaced by something odd. */
const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant("2.0"), fc.constant("1.0"), fc.jsonValue()),
    id: fc.oneof(fc.integer(), printable, fc.constant(null), fc.jsonValue()),
    method: fc.oneof(fc.constantFrom(...METHODS), fc.string()),
    params: fc.oneof(
      fc.record({ name: fc.oneof(fc.constantFrom(...TOOL_NAMES, ...PROTOTYPE_KEYS), fc.string()), arguments: fc.oneof(fc.object(), fc.jsonValue()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    result: fc.jsonValue(),
    error: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

const bodies: fc.Arbitrary<BodyInit> = fc.oneof(
  message.map((value) => JSON.stringify(value)),
  fc.array(message, { maxLength: 4 }).map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.uint8Array({ maxLength: 64 }), // invalid UTF-8 among it
  message.map((value) => JSON.stringify(value).replace(/\d+/, "1e999")),
  message.map((value) => JSON.stringify(value).slice(0, -3)),
);

describe("fuzzing the gateway", () => {
  it(
    "arbitrary bodies and headers: never HTTP 500, always JSON-RPC, a request answered with its own id",
    async () => {
      const run = await newRun();
      const sessionId = await openSession(run);
      await fc.assert(
        fc.asyncProperty(bodies, headerSets, fc.constantFrom("POST", "POST", "POST", "GET", "DELETE"), async (body, headers, method) => {
          // The live session only on POSTs: a GET would hold its stream open, a DELETE would end it.
          const live = headers["mcp-session-id"] === "SESSION" && method === "POST";
          const withSession = live ? { ...headers, "mcp-session-id": sessionId } : headers;
          const { status, messages } = await sendAndCheck({ body, headers: withSession, method }, run);
          const parsed = typeof body === "string" ? safeParse(body) : undefined;
          const isRequest = method === "POST" && status === 200 && isSingleRequest(parsed);
          if (isRequest) expect(messages.map((each) => (each as { id?: unknown }).id)).toContain((parsed as { id: unknown }).id);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      await expectUpstreamCallsEqualAllowed(run);
    },
    TIMEOUT,
  );

  it(
    "arbitrary tools/call names and arguments: answered for their id, and only allowed tools reach the upstream",
    async () => {
      const run = await newRun();
      const nested = fc.letrec((tie) => ({ value: fc.oneof({ depthSize: "small" }, fc.jsonValue(), fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.constantFrom(...PROTOTYPE_KEYS, "a", "campaignId"), tie("value"), { maxKeys: 3 })) })).value;
      const args = fc.oneof(
        fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, "campaignId", "listIds", "page"), fc.string()), nested, { maxKeys: 5 }),
        fc.record({ campaignId: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 20_000 })), listIds: fc.array(fc.integer(), { maxLength: 2000 }) }, { requiredKeys: [] }),
        fc.integer({ min: 95, max: 130 }).map((depth) => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown),
      );
      const sessionId = await openSession(run);
      const names = fc.oneof(fc.constantFrom(...TOOL_NAMES, ...PROTOTYPE_KEYS), fc.string({ maxLength: 30 }), fc.string({ unit: "grapheme", maxLength: 10 }));
      let id = 0;
      await fc.assert(
        fc.asyncProperty(names, args, fc.boolean(), async (name, argumentsValue, infinite) => {
          const callId = ++id;
          let body = JSON.stringify({ jsonrpc: "2.0", id: callId, method: "tools/call", params: { name, arguments: argumentsValue } });
          // JSON.stringify cannot write a number that parses to Infinity; the raw text can.
          if (infinite) body = body.replace(/"arguments":\{(\}?)/, (_, empty: string) => (empty ? '"arguments":{"big":1e999}' : '"arguments":{"big":1e999,'));
          const { status, messages } = await sendAndCheck({ body, headers: { "mcp-session-id": sessionId } }, run);
          expect(status).toBe(200);
          expect(messages.map((each) => (each as { id?: unknown }).id)).toContain(callId);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      // Many calls name get_campaigns: the comparison covers calls that did reach the upstream.
      expect(await expectUpstreamCallsEqualAllowed(run)).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isSingleRequest(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const message = value as { jsonrpc?: unknown; id?: unknown; method?: unknown };
  return message.jsonrpc === "2.0" && typeof message.method === "string" && (typeof message.id === "string" || (typeof message.id === "number" && Number.isInteger(message.id)));
}
