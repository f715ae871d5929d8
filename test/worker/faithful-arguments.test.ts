/**
 * What the gateway judges is exactly what it forwards and what it records:
 * numbers and strings that would change on the way are refused before the
 * policy sees them, every call leaves a record, records keep argument values
 * only when the policy says so, and tool names are bounded.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import recommended from "../../policies/iterable/recommended.json";
import { CallAudit } from "../../src/audit/call-audit.ts";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { AuditWriter } from "../../src/audit/writer.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, newTag, openGrant, putPolicy, rawAgent, TAG_HEADER, upstreamLog, type Gateway } from "./gateway.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The grant's call records once there are at least `atLeast` (they are written off the agent's path, batched). */
async function callRecords(gw: Gateway, grantId: string, atLeast = 1): Promise<CallRecord[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await gw.fetch(`https://gateway.test/admin/api/grants/${grantId}/audit`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const { records } = (await response.json()) as { records: AuditRecord[] };
    const calls = records.filter((record): record is CallRecord => record.kind === "call");
    if (calls.length >= atLeast || Date.now() > deadline) return calls;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Posts a raw body (numbers and escapes exactly as written) as an agent with a session, and reads the answer. */
async function postRaw(gw: Gateway, token: string, body: string) {
  const agent = await rawAgent(gw, token);
  await agent.rpc("tools/list", {});
  const tag = newTag();
  const response = await gw.fetch(GATEWAY_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.sessionId, [TAG_HEADER]: tag },
    body,
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as { id: unknown; error?: { code: number; message: string } }) : undefined;
  return { status: response.status, json, text, received: await upstreamLog(tag) };
}

const callBody = (id: number, name: string, argumentsText: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${argumentsText}}}`;

/** The JSON log lines the gateway wrote while `run` ran (the audit line among them). */
async function logLines(run: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
    log(...args);
  });
  await run();
  return lines.join("\n");
}

describe("defect 9: redacted values leak into the trail", () => {
  it("a schema violation is recorded by path and rule, without the value, under a keys-only policy; the agent is told the value", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(recommended));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    let answer: Awaited<ReturnType<typeof agent.call>> | undefined;
    const logged = await logLines(async () => {
      answer = await agent.call("track_event", { eventName: "signup", campaignId: -987654321 });
      await callRecords(gw, grant.id);
    });
    expect(decisionOf(answer!)).toMatchObject({ decision: "invalid_arguments" });
    expect(answer!.result?.content?.[0]?.text).toContain("-987654321");

    const [record] = await callRecords(gw, grant.id);
    expect(record).toMatchObject({ tool: "track_event", decision: "invalid_arguments" });
    expect(record!.reason).toContain("#/campaignId");
    expect(record!.reason).toContain("exclusiveMinimum");
    expect(record!.reason).not.toContain("987654321");
    expect(logged).toContain(record!.id);
    expect(logged).not.toContain("987654321");
  });

  it('under "audit": {"arguments": "full"} the record keeps the value, in its arguments and its reason', async () => {
    const { token, record: grant } = await createGrant(await putPolicy({ ...recommended, audit: { arguments: "full" } }));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    await agent.call("track_event", { eventName: "signup", campaignId: -987654321 });
    const [record] = await callRecords(gw, grant.id);
    expect(record).toMatchObject({ decision: "invalid_arguments", arguments: { campaignId: -987654321 } });
    expect(record!.reason).toContain("-987654321");
  });

  it("the value-free reason is bounded however many arguments are wrong and however long their keys", async () => {
    const { token, record: grant } = await createGrant(await putPolicy(recommended));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`${"k".repeat(4000)}${i}`, i]));
    await agent.call("track_event", { eventName: "signup", ...many });
    const [record] = await callRecords(gw, grant.id);
    expect(record).toMatchObject({ decision: "invalid_arguments" });
    expect(record!.reason!.length).toBeLessThan(2000);
  });

  it("a limit's refusal does not record the amount an argument counts", async () => {
    const policy = { version: "1", default: "deny", tools: { get_campaigns: { limits: [{ counter: "rows", window: "hour", max: 10, increment_from: "args.pageSize" }] } } };
    const { token, record: grant } = await createGrant(await putPolicy(policy));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    expect(decisionOf(await agent.call("get_campaigns", { pageSize: 777 }))).toMatchObject({ decision: "rate_limited" });
    const [record] = await callRecords(gw, grant.id);
    expect(record).toMatchObject({ decision: "rate_limited", rule: "/tools/get_campaigns/limits/0" });
    expect(record!.reason).not.toContain("777");
  });

  it("a policy condition's reason quotes the policy, never the argument", async () => {
    const policy = {
      version: "1",
      default: "deny",
      tools: { get_user_by_email: { deny_if: [{ conditions: [{ path: "args.email", op: "regex", value: "@competitor\\.example$" }] }] } },
    };
    const { token, record: grant } = await createGrant(await putPolicy(policy));
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    await agent.rpc("tools/list", {});
    expect(decisionOf(await agent.call("get_user_by_email", { email: "ceo@competitor.example" }))).toMatchObject({ decision: "deny" });
    const [record] = await callRecords(gw, grant.id);
    expect(record!.reason).toContain("args.email regex");
    expect(record!.reason).not.toContain("ceo@");
  });
});

describe("defect 12: an allowed call can leave no trace", () => {
  it.each([
    ["a string value", '{"eventName":"e","dataFields":{"field":"\\ud800x"}}', "params.arguments.dataFields.field"],
    ["a key", '{"eventName":"e","dataFields":{"\\udc00":"id"}}', 'params.arguments.dataFields["\\udc00"]'],
    ["a high surrogate at the very end", '{"eventName":"e\\udbff"}', "params.arguments.eventName"],
    ["an array item", '{"eventName":"e","dataFields":{"list":["ok","\\udfff"]}}', "params.arguments.dataFields.list[1]"],
  ])("a lone surrogate in %s is refused as invalid params naming where, and nothing runs", async (_, argumentsText, where) => {
    const { token } = await openGrant();
    const { status, json, received } = await postRaw(gateway(), token, callBody(5, "track_event", argumentsText));
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: 5, error: { code: -32602 } });
    expect(json!.error!.message).toContain(where);
    expect(json!.error!.message).toContain("not well-formed Unicode");
    expect(received).toEqual([]);
  });

  it("a surrogate pair is well-formed and goes through", async () => {
    const { token } = await openGrant();
    const { json, text, received } = await postRaw(gateway(), token, callBody(6, "track_event", '{"eventName":"e","dataFields":{"\\ud83d\\ude00":"\\ud83d\\ude00"}}'));
    expect(json?.error?.code).not.toBe(-32602);
    expect(text).not.toContain("well-formed");
    expect(received).toHaveLength(1);
  });

  it("a call needing approval gets invalid params, not an internal error", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny", tools: { track_event: { action: "approve" } } }));
    const { json, received } = await postRaw(gateway(), token, callBody(7, "track_event", '{"eventName":"e","dataFields":{"note":"\\ud800"}}'));
    expect(json).toMatchObject({ id: 7, error: { code: -32602 } });
    expect(received).toEqual([]);
  });

  it("a record whose arguments cannot be hashed is still written, saying why", async () => {
    const { record: grant } = await openGrant();
    const ctx = createExecutionContext();
    const audit = new CallAudit({
      writer: new AuditWriter(env.GRANT_OBJECT),
      waitUntil: (promise) => ctx.waitUntil(promise),
      requestId: 1,
      grant,
      auth: { method: "grant_token" },
      session: null,
      server: "iterable",
      tool: "get_campaigns",
      args: { note: "\ud800" },
    });
    audit.decided({ decision: "allow", rule: "/default" });
    audit.settle({ status: 200, failure: undefined });
    await waitOnExecutionContext(ctx);
    const [record] = await callRecords(gateway(), grant.id);
    expect(record).toMatchObject({ tool: "get_campaigns", decision: "allow", argumentKeys: ["note"], argumentsHash: expect.stringMatching(/^unavailable: .+/) });
  });
});

describe("defect 13: numbers change on the way", () => {
  it.each([
    ["9007199254740993", "9007199254740992"],
    ["1e-400", "0"],
    ["1.00000000000000001", "1"],
    ["12345678901234567890", "12345678901234567000"],
    ["-1e-330", "0"],
    ["1.23456789e-320", "1.2347e-320"],
  ])("%s is refused as invalid params naming its path, and nothing runs", async (literal, parsed) => {
    const { token } = await openGrant();
    const { status, json, received } = await postRaw(gateway(), token, callBody(8, "track_event", `{"eventName":"e","dataFields":{"amounts":[1,2,${literal}]}}`));
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: 8, error: { code: -32602 } });
    expect(json!.error!.message).toContain("params.arguments.dataFields.amounts[2]");
    expect(json!.error!.message).toContain(`as ${parsed}`);
    expect(received).toEqual([]);
  });

  it("1e999 is still refused, now naming where", async () => {
    const { token } = await openGrant();
    const { json, received } = await postRaw(gateway(), token, callBody(9, "track_event", '{"eventName":"e","dataFields":{"big":1e999}}'));
    expect(json).toMatchObject({ id: 9, error: { code: -32602, message: expect.stringContaining("too large to be represented") } });
    expect(json!.error!.message).toContain("params.arguments.dataFields.big");
    expect(received).toEqual([]);
  });

  it("numbers that survive parsing are forwarded as the same numbers, and digits in strings are not numbers", async () => {
    const { token } = await openGrant();
    const literals = ["1.0", "1e2", "0.10", "-0", "5e-324", "1.5e-323", "9007199254740992", "1.7976931348623157e308", "2.2250738585072014e-308", "123456789012345", "0.000001", "1E+2", "100000000000000000000000"];
    const argumentsText = `{"eventName":"9007199254740993","dataFields":{"n":[${literals.join(",")}],"s":"1e-400 and 1.00000000000000001"}}`;
    const { json, received } = await postRaw(gateway(), token, callBody(10, "track_event", argumentsText));
    expect(json?.error).toBeUndefined();
    expect(received).toHaveLength(1);
    const forwarded = JSON.parse(received[0]!.body) as { params: { arguments: { eventName: string; dataFields: { n: number[]; s: string } } } };
    expect(forwarded.params.arguments.dataFields.n).toEqual(literals.map((literal) => Number(literal) + 0)); // -0 is written as 0
    expect(forwarded.params.arguments.eventName).toBe("9007199254740993");
  });

  it("a request id that parsing would change is refused, answered with id null", async () => {
    const { token } = await openGrant();
    const { json, received } = await postRaw(gateway(), token, '{"jsonrpc":"2.0","id":1.00000000000000001,"method":"tools/call","params":{"name":"get_campaigns","arguments":{}}}');
    expect(json).toMatchObject({ id: null, error: { code: -32602, message: expect.stringContaining("the number at id") } });
    expect(received).toEqual([]);
  });

  it("in a batch, the element holding the number is named", async () => {
    const { token } = await openGrant();
    const body = '[{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":2,"progress":0.30000000000000000001}}]';
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-03-26" },
      body,
    });
    const json = (await response.json()) as { error: { code: number; message: string } };
    expect(json.error.code).toBe(-32602);
    expect(json.error.message).toContain("params.progress");
    expect(json.error.message).toContain("batch element 1");
  });
});

describe("defect 3: tool names are unbounded", () => {
  it("a name longer than 128 characters that the upstream does not have is refused as invalid params and recorded clipped", async () => {
    const { token, record: grant } = await openGrant();
    const gw = gateway();
    const name = "n".repeat(1_000_000);
    const { status, json, received } = await postRaw(gw, token, callBody(11, name, "{}"));
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: 11, error: { code: -32602 } });
    expect(json!.error!.message).toContain("128 characters");
    expect(json!.error!.message.length).toBeLessThan(500);
    expect(received).toEqual([]);
    const [record] = await callRecords(gw, grant.id);
    expect(record).toMatchObject({ decision: "invalid_arguments", policyDecision: "invalid_arguments", upstream: null });
    expect(record!.reason).toContain("128 characters");
    expect(record!.tool.startsWith("n".repeat(128))).toBe(true);
    expect(record!.tool.length).toBeLessThan(200);
  });

  it("is refused in monitor mode too: it is not a policy decision", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "allow", mode: "monitor" }));
    const { json, received } = await postRaw(gateway(), token, callBody(12, "x".repeat(129), "{}"));
    expect(json).toMatchObject({ id: 12, error: { code: -32602 } });
    expect(received).toEqual([]);
  });

  it("a 128-character name is an ordinary unknown tool", async () => {
    const { token } = await openGrant();
    const { json } = await postRaw(gateway(), token, callBody(13, "x".repeat(128), "{}"));
    expect(json).toMatchObject({ id: 13, error: { message: `Unknown tool: ${"x".repeat(128)}` } });
  });
});
