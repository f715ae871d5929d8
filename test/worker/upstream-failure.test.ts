/**
 * Whatever the upstream does, an agent's request gets a JSON-RPC answer for
 * its id, with HTTP 200, and reaches the upstream at most once. The faults
 * come from the fault proxy (test/setup/fault-proxy.ts) in front of the real
 * sandbox server; counts follow the rollback rule (given back only when the
 * upstream provably did not run the call).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, newTag, openGrant, putPolicy, rawAgent, SANDBOX_MCP, TAG_HEADER, upstreamLog } from "./gateway.ts";

const FAULTY_UPSTREAM = new URL("mcp", env.FAULT_URL).href;
const SEND = { campaignId: 1 };

/** An agent on a session through the gateway, in front of the fault proxy, that has listed tools. */
async function faultyAgent(policy: object = { version: "1", default: "allow" }, vars: Record<string, string> = {}) {
  const { token } = await createGrant(await putPolicy(policy as never));
  const agent = await rawAgent(gateway({ UPSTREAM_URL: FAULTY_UPSTREAM, ...vars }), token);
  await agent.rpc("tools/list", {});
  return agent;
}

const callsReceived = async (tag: string) => (await upstreamLog(tag)).filter((entry) => entry.body.includes('"tools/call"')).length;

const ONE_SEND_A_MINUTE = { version: "1", default: "allow", tools: { send_campaign: { limits: [{ counter: "sends", window: "minute", max: 1 }] } } };

describe("every upstream failure answers the call's id with a JSON-RPC error, HTTP 200", () => {
  it.each([
    ["HTTP 500", "status:500", 500, 1],
    ["HTTP 502", "status:502", 502, 1],
    ["HTTP 503", "status:503", 503, 1],
    ["HTTP 429", "refuse-status:429", 429, 0],
    ["a redirect (HTTP 302)", "status:302", 302, 1],
    ["an HTML page with 200", "html", 200, 1],
    ["an empty JSON body", "empty", 200, 1],
    ["a truncated JSON body", "truncate", 200, 1],
    ["a JSON answer with the wrong content type", "wrong-type", 200, 1],
    ["an answer for another id", "other-id", 200, 1],
  ])("%s", async (_, fault, upstreamStatus, received) => {
    const agent = await faultyAgent();
    const answer = await agent.call("send_campaign", SEND, { "x-fault": fault });
    expect(answer.status).toBe(200);
    expect(answer.id).toBeTypeOf("number");
    expect(answer.error).toMatchObject({ code: -32003, message: expect.stringMatching(/^Upstream error: /), data: { status: upstreamStatus } });
    expect(answer.result).toBeUndefined();
    expect(await callsReceived(agent.tag)).toBe(received);
  });

  it.each([
    ["reset before the answer (nothing forwarded)", "reset-before", 0],
    ["reset after the upstream ran the call", "reset-after", 1],
  ])("a connection %s", async (_, fault, received) => {
    const agent = await faultyAgent();
    const answer = await agent.call("send_campaign", SEND, { "x-fault": fault });
    expect(answer).toMatchObject({ status: 200, id: expect.any(Number), error: { code: -32003, message: expect.stringContaining("Upstream unreachable") } });
    expect(await callsReceived(agent.tag)).toBe(received);
  });

  it.each([
    ["cut in the middle of an event", "cut-sse", "broke off"],
    ["ended without the answer", "end-sse", "ended without an answer"],
  ])("an SSE stream %s ends with a final event answering the call", async (_, fault, problem) => {
    const agent = await faultyAgent();
    const answer = await agent.call("send_campaign", SEND, { "x-fault": fault });
    expect(answer.contentType).toContain("text/event-stream");
    expect(answer).toMatchObject({ status: 200, id: expect.any(Number), error: { code: -32003, message: expect.stringContaining(problem), data: { status: 200 } } });
    expect(await callsReceived(agent.tag)).toBe(1);
  });

  it("no answer within UPSTREAM_TIMEOUT_MS: an error for the id, the call sent once", async () => {
    const agent = await faultyAgent(undefined, { UPSTREAM_TIMEOUT_MS: "300" });
    const started = Date.now();
    const answer = await agent.call("send_campaign", SEND, { "x-fault": "hang" });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answer).toMatchObject({ status: 200, id: expect.any(Number), error: { code: -32003, message: expect.stringContaining("did not answer within 300 ms") } });
  });

  it("a slow tool call on the real sandbox reaches it once and is not retried", async () => {
    const { token } = await openGrant();
    const agent = await rawAgent(gateway({ UPSTREAM_TIMEOUT_MS: "1000" }), token);
    await agent.rpc("tools/list", {});
    const answer = await agent.call("send_campaign", SEND, { "x-sandbox-delay-ms": "2500" });
    expect(answer).toMatchObject({ status: 200, error: { code: -32003, message: expect.stringContaining("did not answer within 1000 ms") } });
    expect(await callsReceived(agent.tag)).toBe(1);
  });

  it("an upstream refusing the gateway's credential: an error naming it, never a 401 the agent would misread", async () => {
    const { token } = await openGrant();
    const tag = newTag();
    const response = await gateway({ UPSTREAM_CREDENTIAL: "wrong-key" }).fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("www-authenticate")).toBeNull();
    expect(await response.json()).toMatchObject({ id: 1, error: { code: -32003, message: expect.stringContaining("refused the gateway's credential") } });
    expect(await upstreamLog(tag)).toHaveLength(1);
  });

  it("an unreachable upstream: an error for the id", async () => {
    const { token } = await openGrant();
    const response = await gateway({ UPSTREAM_URL: "http://127.0.0.1:9/mcp" }).fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: "init", error: { code: -32003, message: expect.stringMatching(/^Upstream unreachable/) } });
  });

  it("a failing internal tools/list answers the call with a JSON-RPC error, not HTTP 500, and forwards nothing", async () => {
    const { token } = await openGrant();
    const agent = await rawAgent(gateway({ UPSTREAM_URL: FAULTY_UPSTREAM }), token);
    // This isolate has not seen the tools: judging the call needs a tools/list, which fails.
    const answer = await agent.call("send_campaign", SEND, { "x-fault": "status:500", "x-fault-method": "tools/list" });
    expect(answer).toMatchObject({ status: 200, id: expect.any(Number), error: { code: -32003, message: expect.stringContaining("could not list the upstream's tools") } });
    expect(await callsReceived(agent.tag)).toBe(0);
  });
});

describe("the count is given back only when the upstream provably did not run the call", () => {
  const RULE = "/tools/send_campaign/limits/0";

  /** An agent in front of the fault proxy on a one-send-a-minute grant, and that grant's id. */
  async function limitedAgent(upstreamUrl = FAULTY_UPSTREAM) {
    const { token, record } = await createGrant(await putPolicy(ONE_SEND_A_MINUTE as never));
    const agent = await rawAgent(gateway({ UPSTREAM_URL: upstreamUrl }), token);
    await agent.rpc("tools/list", {});
    return { agent, grantId: record.id };
  }

  /** What the grant's Durable Object counts for "sends" now, read through the admin API. */
  async function sendsUsed(grantId: string): Promise<number | null | undefined> {
    const response = await gateway().fetch(`https://gateway.test/admin/api/grants/${grantId}/counters`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const { counters } = (await response.json()) as { counters: Array<{ counter: string; used: number | null }> };
    return counters.find((row) => row.counter === "sends")?.used;
  }

  /**
   * The grant's call records, newest first, once there are `count`. A call's record is written after its
   * answer is known, in a batch that leaves the isolate after any give-back the answer caused, so once
   * it is in the grant's object, so is the count as the call left it.
   */
  async function auditedCalls(grantId: string, count: number): Promise<CallRecord[]> {
    const gw = gateway();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await gw.fetch(`https://gateway.test/admin/api/grants/${grantId}/audit`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
      const records = ((await response.json()) as { records: AuditRecord[] }).records.filter((record): record is CallRecord => record.kind === "call");
      if (records.length >= count) {
        expect(records).toHaveLength(count);
        return records;
      }
      if (Date.now() > deadline) throw new Error(`${count} call records expected in the audit trail, found ${records.length}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it.each([
    ["-32700 parse error", "error:-32700"],
    ["-32600 invalid request", "error:-32600"],
    ["-32601 method or tool not found", "error:-32601"],
    ["-32602 invalid params", "error:-32602"],
    ["an HTTP 400 from the transport", "refuse-status:400"],
    ["an HTTP 429 from the transport", "refuse-status:429"],
  ])("given back: %s", async (_, fault) => {
    const { agent, grantId } = await limitedAgent();
    const failed = await agent.call("send_campaign", SEND, { "x-fault": fault });
    expect(failed.error).toBeDefined();
    const [first] = await auditedCalls(grantId, 1);
    expect(first).toMatchObject({ tool: "send_campaign", policyDecision: "allow" });
    expect(await sendsUsed(grantId)).toBe(0);

    const second = await agent.call("send_campaign", SEND);
    expect(second.error).toBeUndefined();
    expect(decisionOf(second)).toBeUndefined();
    expect(second.result?.isError).toBeFalsy();
    const [latest] = await auditedCalls(grantId, 2);
    expect(latest).toMatchObject({ tool: "send_campaign", decision: "allow", policyDecision: "allow" });
    expect(await sendsUsed(grantId)).toBe(1);
  });

  it.each([
    ["-32603 (Iterable network error: sent, outcome unknown)", "error-after:-32603"],
    ["-32000 from the tool", "error-after:-32000"],
    ["HTTP 502 after running", "status:502"],
    ["a reset connection", "reset-after"],
    ['"error": null beside a result, which is a result', "error-null"],
    ["a stream cut before the answer", "cut-sse"],
  ])("kept: %s", async (_, fault) => {
    const { agent, grantId } = await limitedAgent();
    await agent.call("send_campaign", SEND, { "x-fault": fault });
    const [first] = await auditedCalls(grantId, 1);
    expect(first).toMatchObject({ tool: "send_campaign", policyDecision: "allow" });
    expect(await sendsUsed(grantId)).toBe(1);

    const second = await agent.call("send_campaign", SEND);
    expect(decisionOf(second)).toMatchObject({ decision: "rate_limited", rule: RULE });
    const [latest] = await auditedCalls(grantId, 2);
    expect(latest).toMatchObject({ tool: "send_campaign", decision: "rate_limited", rule: RULE, upstream: null });
    expect(await sendsUsed(grantId)).toBe(1);
  });

  it("the sandbox's own -32603 Iterable network error keeps the count", async () => {
    const { agent, grantId } = await limitedAgent(SANDBOX_MCP);
    const failed = await agent.call("send_campaign", SEND, { "x-sandbox-fail-call": "Iterable timed out" });
    expect(failed.error).toMatchObject({ code: -32603, message: "Iterable network error: Iterable timed out" });
    await auditedCalls(grantId, 1);
    expect(await sendsUsed(grantId)).toBe(1);
    expect(decisionOf(await agent.call("send_campaign", SEND))).toMatchObject({ decision: "rate_limited", rule: RULE });
  });
});

describe("tools/list fails closed", () => {
  // Pinning off: the fault proxy's flagged_tool is new to the server's pins, which would hide it for that reason alone.
  const HIDE_DELETES = { version: "1", default: "allow", hide: ["delete_*"], pinning: "off" };

  it("a tool whose valid JSON Schema the SDK rejects does not unhide the hidden tools", async () => {
    const agent = await faultyAgent(HIDE_DELETES);
    const listed = await agent.rpc("tools/list", {}, { "x-fault": "tools-bad-schema", "x-fault-method": "tools/list" });
    const names = listed.result?.tools?.map((tool) => tool.name) ?? [];
    expect(names).toContain("flagged_tool");
    expect(names).toContain("get_campaigns");
    expect(names.filter((name) => name.startsWith("delete_"))).toEqual([]);
  });

  it("an answer whose tools cannot be read becomes an error for the agent, never the list", async () => {
    const agent = await faultyAgent(HIDE_DELETES);
    const listed = await agent.rpc("tools/list", {}, { "x-fault": "tools-unreadable", "x-fault-method": "tools/list" });
    expect(listed.result).toBeUndefined();
    expect(listed).toMatchObject({ status: 200, id: expect.any(Number), error: { code: -32003, message: expect.stringContaining("no readable list of tools") } });
  });
});
