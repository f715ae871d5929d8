/**
 * The v2 SDK client pinned to the stateless 2026-07-28 revision, through the
 * gateway and straight at the sandbox. That revision has no session and no
 * server-pushed requests: every request carries the `_meta` envelope and the
 * `Mcp-Method` / `Mcp-Name` / `MCP-Protocol-Version` headers, sampling and
 * elicitation are `input_required` results the client fulfils and retries,
 * and resource updates travel on a `subscriptions/listen` stream.
 */
import { LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY, type Client } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, it } from "vitest";
import { FEATURE_CAPABILITIES, MODERN_REVISION, closeClients, connectV2, directTo, viaGateway, waitFor, type Endpoint } from "./clients.ts";
import { SANDBOX_FEATURES, SANDBOX_MCP, gateway, newTag, openGrant, upstreamLog } from "./gateway.ts";

afterEach(closeClients);

/** The body field `Mcp-Name` mirrors, per method (2026-07-28 transport spec). */
const NAME_FIELD: Record<string, string> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };

type Logged = { method: string; headers: Record<string, string>; message: { id?: unknown; method?: string; params?: Record<string, unknown> } };

async function received(tag: string): Promise<Logged[]> {
  return (await upstreamLog(tag)).filter((entry) => entry.method === "POST").map((entry) => ({ ...entry, message: JSON.parse(entry.body) }));
}

/**
 * Every request the upstream received carries routing headers that agree with
 * its body; returns what each request was, as (method, name) pairs.
 */
function expectHeadersMatchBodies(log: Logged[]): string[] {
  expect(log.length).toBeGreaterThan(0);
  return log.map(({ headers, message }) => {
    expect(message.method, "only requests and notifications are posted on 2026-07-28").toBeDefined();
    const method = message.method ?? "";
    expect(headers["mcp-method"]).toBe(method);
    if (message.id !== undefined) {
      expect(headers["mcp-protocol-version"]).toBe(MODERN_REVISION);
      expect((message.params?._meta as Record<string, unknown> | undefined)?.[PROTOCOL_VERSION_META_KEY]).toBe(MODERN_REVISION);
    }
    const field = NAME_FIELD[method];
    expect(headers["mcp-name"]).toBe(field === undefined ? undefined : message.params?.[field]);
    return field === undefined ? method : `${method} ${String(message.params?.[field])}`;
  });
}

/** Requests the gateway made on its own (it lists tools before judging a call in a fresh isolate). */
const isGatewayOwn = (entry: Logged): boolean => String(entry.message.id ?? "").startsWith("mcp-policy-gateway/");

async function pair(upstream: string): Promise<{ through: Endpoint; direct: Endpoint }> {
  const gw = gateway({ UPSTREAM_URL: upstream });
  const { token } = await openGrant();
  return { through: viaGateway(gw, token), direct: directTo(upstream) };
}

describe("the Iterable-shaped server through the gateway (v2 client, 2026-07-28)", () => {
  it("negotiates 2026-07-28, lists the same 118 tools and answers get_campaigns as the upstream does", async () => {
    const { through, direct } = await pair(SANDBOX_MCP);
    const run = async (to: Endpoint) => {
      const client = await connectV2(to);
      return {
        version: client.getNegotiatedProtocolVersion(),
        era: client.getProtocolEra(),
        server: client.getServerVersion(),
        // Called before any tools/list, so the gateway (a fresh isolate) has to list tools on its own first.
        campaigns: await client.callTool({ name: "get_campaigns", arguments: { page: 1, pageSize: 2 } }),
        tools: await client.listTools(),
      };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw.version).toBe(MODERN_REVISION);
    expect(viaGw.era).toBe("modern");
    expect(viaGw.server).toMatchObject({ name: "iterable-mcp", version: "1.9.0" });
    expect(viaGw.tools.tools).toHaveLength(118);
    expect(JSON.parse((viaGw.campaigns.content[0] as { text: string }).text).campaigns).toHaveLength(2);
    expect(viaGw).toEqual(straight);

    // The upstream saw the same requests, with routing headers that match their bodies.
    const viaGwLog = await received(through.tag);
    const agentRequests = expectHeadersMatchBodies(viaGwLog.filter((entry) => !isGatewayOwn(entry)));
    expect(agentRequests).toEqual(expectHeadersMatchBodies(await received(direct.tag)));
    expect(agentRequests).toContain("tools/call get_campaigns");
    // So do the gateway's own tools/list requests, made in the agent's protocol revision.
    expect(expectHeadersMatchBodies(viaGwLog.filter(isGatewayOwn))).toContain("tools/list");
  });
});

/** A v2 client on the features server that answers sampling and elicitation and records notifications. */
async function featuresClient(to: Endpoint) {
  const client = await connectV2(to, FEATURE_CAPABILITIES);
  const seen = { sampling: [] as unknown[], elicitation: [] as unknown[], logs: [] as unknown[], updates: [] as string[] };
  client.setRequestHandler("sampling/createMessage", async (request) => {
    seen.sampling.push(request.params);
    const [message] = request.params.messages;
    const content = message?.content as { text?: string } | undefined;
    return { model: "test-model", role: "assistant", content: { type: "text", text: `sampled: ${content?.text}` } };
  });
  client.setRequestHandler("elicitation/create", async (request) => {
    seen.elicitation.push(request.params);
    return { action: "accept", content: { name: `answer to ${request.params.message}`, confirm: true } };
  });
  client.setNotificationHandler("notifications/message", (notification) => {
    seen.logs.push(notification.params);
  });
  client.setNotificationHandler("notifications/resources/updated", (notification) => {
    seen.updates.push(notification.params.uri);
  });
  return { client, seen };
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>): string => (result.content[0] as { text?: string } | undefined)?.text ?? "";

describe("the features server through the gateway (v2 client, 2026-07-28)", () => {
  it("delivers progress and (when asked for in _meta) log notifications on the call's stream", async () => {
    const { through, direct } = await pair(SANDBOX_FEATURES);
    const run = async (to: Endpoint) => {
      const { client, seen } = await featuresClient(to);
      const progress: unknown[] = [];
      const result = await client.callTool({ name: "progress", arguments: { steps: 3 } }, { onprogress: (update) => progress.push(update) });
      const quiet = await client.callTool({ name: "log", arguments: { count: 2 } });
      const logsWithoutLevel = seen.logs.length;
      const logged = await client.callTool({ name: "log", arguments: { count: 2, level: "warning" }, _meta: { [LOG_LEVEL_META_KEY]: "debug" } });
      return { progress, result, quiet, logsWithoutLevel, logged, logs: seen.logs };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw.progress).toEqual([1, 2, 3].map((step) => ({ progress: step, total: 3, message: `step ${step} of 3` })));
    expect(textOf(viaGw.result)).toBe("completed 3 steps");
    expect(viaGw.logsWithoutLevel).toBe(0);
    expect(viaGw.logs).toEqual([1, 2].map((index) => ({ level: "warning", logger: "sandbox", data: { message: `log ${index} of 2` } })));
    expect(viaGw).toEqual(straight);
    expectHeadersMatchBodies(await received(through.tag));
  });

  it("completes sampling through an input_required round: the client answers, the retried call carries the answer", async () => {
    const { through, direct } = await pair(SANDBOX_FEATURES);
    const run = async (to: Endpoint) => {
      const { client, seen } = await featuresClient(to);
      const result = await client.callTool({ name: "sample", arguments: { prompt: "hello, modern gateway" } });
      return { result, sampling: seen.sampling };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(textOf(viaGw.result)).toBe("sampled: hello, modern gateway");
    expect(viaGw.sampling).toEqual([{ messages: [{ role: "user", content: { type: "text", text: "hello, modern gateway" } }], maxTokens: 100 }]);
    expect(viaGw).toEqual(straight);

    // Two rounds reached the upstream: the call, then the same call with the client's answer.
    const calls = (await received(through.tag)).filter((entry) => entry.message.method === "tools/call");
    expect(calls.map((entry) => entry.message.params?.name)).toEqual(["sample", "sample"]);
    expect(calls[0]?.message.params?.inputResponses).toBeUndefined();
    expect(calls[1]?.message.params?.inputResponses).toMatchObject({
      completion: { model: "test-model", role: "assistant", content: { type: "text", text: "sampled: hello, modern gateway" } },
    });
    expectHeadersMatchBodies(calls);
  });

  it("completes elicitation through an input_required round and returns what the user answered", async () => {
    const { through, direct } = await pair(SANDBOX_FEATURES);
    const run = async (to: Endpoint) => {
      const { client, seen } = await featuresClient(to);
      const result = await client.callTool({ name: "elicit", arguments: { message: "Who signs off?" } });
      return { answer: JSON.parse(textOf(result)) as unknown, elicitation: seen.elicitation };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw.answer).toEqual({ action: "accept", content: { name: "answer to Who signs off?", confirm: true } });
    expect(viaGw.elicitation).toHaveLength(1);
    expect(viaGw.elicitation[0]).toMatchObject({ message: "Who signs off?", requestedSchema: { required: ["name"] } });
    expect(viaGw).toEqual(straight);

    const calls = (await received(through.tag)).filter((entry) => entry.message.method === "tools/call");
    expect(calls.map((entry) => entry.message.params?.inputResponses === undefined)).toEqual([true, false]);
    expect(calls[1]?.message.params?.inputResponses).toMatchObject({
      form: { action: "accept", content: { name: "answer to Who signs off?", confirm: true } },
    });
  });

  it("delivers resources/updated on a listen() stream after touch_resource", async () => {
    const { through, direct } = await pair(SANDBOX_FEATURES);
    const run = async (to: Endpoint) => {
      const uri = `sandbox://notes/${newTag()}`;
      const { client, seen } = await featuresClient(to);
      const subscription = await client.listen({ resourceSubscriptions: [uri] });
      const touched = textOf(await client.callTool({ name: "touch_resource", arguments: { uri } }));
      await waitFor(() => seen.updates.length === 1, "resources/updated on the listen stream");
      const updates = seen.updates.map((updated) => (updated === uri ? "<uri>" : updated));
      const honored = JSON.stringify(subscription.honoredFilter).replace(uri, "<uri>");
      await subscription.close();
      return { honored, touched: touched.replace(uri, "<uri>"), updates };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw).toEqual({ honored: JSON.stringify({ resourceSubscriptions: ["<uri>"] }), touched: "<uri> is at revision 1", updates: ["<uri>"] });
    expect(viaGw).toEqual(straight);
    const log = await received(through.tag);
    expect(log.map((entry) => entry.message.method)).toContain("subscriptions/listen");
    expectHeadersMatchBodies(log.filter((entry) => entry.message.id !== undefined));
  });
});
