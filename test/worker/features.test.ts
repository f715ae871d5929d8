/**
 * The gateway in front of the sandbox's features server, driven by the v1 SDK
 * client (2025-era, sessionful). Every exchange is made twice, through the
 * gateway and straight at the sandbox, and what the client observed must be
 * the same: the gateway only touches tools/call and tools/list, so
 * notifications, server-to-client requests, resources, prompts, the
 * standalone GET stream, resumption and DELETE must all survive it.
 */
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CreateMessageRequest,
  type ElicitRequest,
  type LoggingMessageNotification,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import { createParser } from "eventsource-parser";
import { afterEach, describe, expect, it } from "vitest";
import {
  FEATURE_CAPABILITIES,
  closeClients,
  connectV1,
  directTo,
  rawPost,
  viaGateway,
  waitFor,
  type Endpoint,
} from "./clients.ts";
import { SANDBOX_FEATURES, createGrant, gateway, newTag, openGrant, putPolicy, upstreamLog, type Gateway } from "./gateway.ts";

afterEach(closeClients);

/** The same fresh pair for every test: a gateway in front of /features/mcp on an allow-all grant, and the sandbox itself. */
async function endpoints(vars: Record<string, string> = {}): Promise<{ gw: Gateway; token: string; through: Endpoint; direct: Endpoint }> {
  const gw = gateway({ UPSTREAM_URL: SANDBOX_FEATURES, ...vars });
  const { token } = await openGrant();
  return { gw, token, through: viaGateway(gw, token), direct: directTo(SANDBOX_FEATURES) };
}

/** A resource URI no other test touches (revisions are shared by every session of the sandbox). */
const freshNoteUri = (): string => `sandbox://notes/${newTag()}`;

/** What the upstream received under a tag, with parsed JSON-RPC bodies. */
async function received(tag: string) {
  return (await upstreamLog(tag)).map((entry) => ({
    ...entry,
    message: entry.body ? (JSON.parse(entry.body) as { id?: unknown; method?: string; result?: unknown; params?: Record<string, unknown> }) : undefined,
  }));
}

function textOf(result: unknown): string {
  const [first] = ((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>;
  return first?.text ?? "";
}

describe("server notifications through the gateway", () => {
  it("delivers every progress notification to onprogress, in order, as the upstream sends them", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      const progress: Progress[] = [];
      const result = await client.callTool({ name: "progress", arguments: { steps: 4 } }, CallToolResultSchema, {
        onprogress: (update) => progress.push(update),
      });
      return { progress, result };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.progress).toEqual([1, 2, 3, 4].map((step) => ({ progress: step, total: 4, message: `step ${step} of 4` })));
    expect(viaGw.result).toEqual({ content: [{ type: "text", text: "completed 4 steps" }] });
    expect(viaGw).toEqual(straight);
  });

  it("delivers logging notifications (notifications/message) before the result", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      const logs: LoggingMessageNotification["params"][] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        logs.push(notification.params);
      });
      const result = await client.callTool({ name: "log", arguments: { count: 3, level: "warning" } });
      return { logsAtResult: [...logs], result };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.logsAtResult).toEqual([1, 2, 3].map((index) => ({ level: "warning", logger: "sandbox", data: { message: `log ${index} of 3` } })));
    expect(viaGw.result).toEqual({ content: [{ type: "text", text: "logged 3 messages" }] });
    expect(viaGw).toEqual(straight);
  });
});

describe("server-to-client requests through the gateway", () => {
  it("carries a sampling round-trip: request on the POST's stream, the client's answer back as a POST, the answer in the result", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to, { capabilities: FEATURE_CAPABILITIES });
      const asked: CreateMessageRequest["params"][] = [];
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        asked.push(request.params);
        const [message] = request.params.messages;
        const content = message?.content as { type: string; text?: string };
        return { model: "test-model", role: "assistant" as const, content: { type: "text" as const, text: `sampled: ${content.text}` } };
      });
      const result = await client.callTool({ name: "sample", arguments: { prompt: "hello through the gateway" } });
      const carriedOn = to.events.filter((event) => event.message?.method === "sampling/createMessage").map((event) => event.stream);
      return { asked, result, carriedOn };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.result).toEqual({ content: [{ type: "text", text: "sampled: hello through the gateway" }] });
    expect(viaGw.asked).toEqual([
      { messages: [{ role: "user", content: { type: "text", text: "hello through the gateway" } }], maxTokens: 100 },
    ]);
    expect(viaGw.carriedOn).toEqual(["POST"]);
    expect(viaGw).toEqual(straight);

    // The answer reached the upstream as its own POST, in the same upstream session as the call.
    const log = await received(through.tag);
    const call = log.find((entry) => entry.message?.method === "tools/call");
    const answer = log.find((entry) => entry.method === "POST" && (entry.message?.result as { model?: string } | undefined)?.model === "test-model");
    expect(answer).toBeDefined();
    expect(answer?.headers["mcp-session-id"]).toBe(call?.headers["mcp-session-id"]);
  });

  it("carries an elicitation round-trip and returns what the user answered", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to, { capabilities: FEATURE_CAPABILITIES });
      const asked: ElicitRequest["params"][] = [];
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        asked.push(request.params);
        return { action: "accept" as const, content: { name: `answer to ${request.params.message}`, confirm: true } };
      });
      const result = await client.callTool({ name: "elicit", arguments: { message: "Who approves this?" } });
      const carriedOn = to.events.filter((event) => event.message?.method === "elicitation/create").map((event) => event.stream);
      return { asked, answer: JSON.parse(textOf(result)) as unknown, carriedOn };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.answer).toEqual({ action: "accept", content: { name: "answer to Who approves this?", confirm: true } });
    expect(viaGw.asked).toHaveLength(1);
    expect(viaGw.asked[0]).toMatchObject({ mode: "form", message: "Who approves this?", requestedSchema: { required: ["name"] } });
    expect(viaGw.carriedOn).toEqual(["POST"]);
    expect(viaGw).toEqual(straight);
  });
});

describe("resources and prompts through the gateway", () => {
  it("lists, reads and lists templates of resources exactly as the upstream does", async () => {
    const { through, direct } = await endpoints();
    const uri = freshNoteUri();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      return {
        resources: await client.listResources(),
        templates: await client.listResourceTemplates(),
        note: await client.readResource({ uri }),
      };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.resources.resources.map((resource) => resource.uri)).toEqual([
      "sandbox://status",
      "sandbox://notes/1",
      "sandbox://notes/2",
      "sandbox://notes/3",
    ]);
    expect(viaGw.templates.resourceTemplates.map((template) => template.uriTemplate)).toEqual(["sandbox://notes/{id}"]);
    expect(viaGw.note.contents).toEqual([{ uri, mimeType: "text/plain", text: `note ${uri.slice("sandbox://notes/".length)} (revision 0)` }]);
    expect(viaGw).toEqual(straight);
  });

  it("delivers resources/updated on the standalone GET stream after subscribe and after touch_resource", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const uri = freshNoteUri();
      const { client } = await connectV1(to);
      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
        updates.push(notification.params.uri === uri ? "<uri>" : notification.params.uri);
      });
      // The client opens its GET stream on its own after `initialized`; updates sent before it exists are lost.
      await waitFor(() => to.openedGetStreams === 1, "the standalone GET stream");
      await client.subscribeResource({ uri });
      await waitFor(() => updates.length === 1, "resources/updated after subscribe");
      const touched = textOf(await client.callTool({ name: "touch_resource", arguments: { uri } })).replace(uri, "<uri>");
      await waitFor(() => updates.length === 2, "resources/updated after touch_resource");
      const streams = to.events.filter((event) => event.message?.method === "notifications/resources/updated").map((event) => event.stream);
      return { updates, touched, streams };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw).toEqual({ updates: ["<uri>", "<uri>"], touched: "<uri> is at revision 1", streams: ["GET", "GET"] });
    expect(viaGw).toEqual(straight);
  });

  it("lists prompts and fills in a prompt's arguments exactly as the upstream does", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      return {
        prompts: await client.listPrompts(),
        prompt: await client.getPrompt({ name: "summarize", arguments: { topic: "MCP gateways", style: "detailed" } }),
      };
    };
    const [viaGw, straight] = [await run(through), await run(direct)];

    expect(viaGw.prompts.prompts.map((prompt) => prompt.name)).toEqual(["summarize"]);
    expect(viaGw.prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "Summarize MCP gateways in a detailed style." } }]);
    expect(viaGw).toEqual(straight);
  });
});

describe("long and resumed streams through the gateway", () => {
  it("relays long_stream notifications as they happen, not all at the end", async () => {
    const { through, direct } = await endpoints();
    const count = 5;
    const intervalMs = 250;
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        logs.push(notification.params);
      });
      const progress: Progress[] = [];
      const arrivals: number[] = [];
      const started = Date.now();
      const result = await client.callTool({ name: "long_stream", arguments: { count, intervalMs } }, CallToolResultSchema, {
        onprogress: (update) => {
          arrivals.push(Date.now() - started);
          progress.push(update);
        },
      });
      return { progress, logs, result, arrivals, finished: Date.now() - started };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw.progress.map((update) => update.progress)).toEqual([1, 2, 3, 4, 5]);
    expect(viaGw.logs).toHaveLength(count);
    expect(viaGw.result).toEqual({ content: [{ type: "text", text: `streamed ${count} notifications` }] });
    expect({ progress: viaGw.progress, logs: viaGw.logs, result: viaGw.result }).toEqual({
      progress: straight.progress,
      logs: straight.logs,
      result: straight.result,
    });
    // Incremental: each tick arrives about intervalMs after the previous one, the first well before the result.
    const gaps = viaGw.arrivals.slice(1).map((at, index) => at - (viaGw.arrivals[index] ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(intervalMs * 0.6);
    expect(viaGw.finished - (viaGw.arrivals[0] ?? Infinity)).toBeGreaterThanOrEqual((count - 1) * intervalMs * 0.8);
  });

  it("resumes the GET stream with Last-Event-ID: an update missed while disconnected is replayed", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const uri = freshNoteUri();
      const first = await connectV1(to, { name: "first-connection" });
      const sessionId = first.transport.sessionId;
      if (sessionId === undefined) throw new Error("no session id");
      const seen: string[] = [];
      first.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
        seen.push(notification.params.uri);
      });
      await waitFor(() => to.openedGetStreams === 1, "the standalone GET stream");
      await first.client.subscribeResource({ uri });
      await waitFor(() => seen.length === 1, "resources/updated after subscribe");
      const lastSeen = to.events.filter((event) => event.stream === "GET" && event.id).at(-1)?.id;
      if (lastSeen === undefined) throw new Error("no event id on the GET stream");
      await first.transport.close();

      // Same session, new connection, no GET stream yet: this update happens while nobody listens.
      const second = await connectV1(to, { sessionId, name: "second-connection" });
      const replayed: string[] = [];
      second.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
        replayed.push(notification.params.uri === uri ? "<uri>" : notification.params.uri);
      });
      await second.client.callTool({ name: "touch_resource", arguments: { uri } });
      const missed = replayed.length;
      const tokens: string[] = [];
      await second.transport.resumeStream(lastSeen, { onresumptiontoken: (token) => tokens.push(token) });
      await waitFor(() => replayed.length === 1, "the replayed resources/updated");
      return { missed, replayed, replayedIds: tokens.length, lastSeen };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect({ ...viaGw, lastSeen: undefined }).toEqual({ missed: 0, replayed: ["<uri>"], replayedIds: 1, lastSeen: undefined });
    expect({ ...viaGw, lastSeen: undefined }).toEqual({ ...straight, lastSeen: undefined });
    // The upstream got the resuming GET with the event id the agent saw, in the same upstream session.
    const log = await received(through.tag);
    const resume = log.find((entry) => entry.method === "GET" && entry.headers["last-event-id"] !== undefined);
    expect(resume?.headers["last-event-id"]).toBe(viaGw.lastSeen);
    expect(resume?.headers["mcp-session-id"]).toBe(log.find((entry) => entry.message?.method === "resources/subscribe")?.headers["mcp-session-id"]);
  });
});

/** A ping on `sessionId` outside any SDK client. */
function pingOn(to: Endpoint, sessionId: string, protocolVersion = "2025-11-25"): Promise<Response> {
  return rawPost(to, { jsonrpc: "2.0", id: 99, method: "ping" }, { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion });
}

describe("replayed POST streams through the gateway", () => {
  it("replays the rest of a finished POST stream from a resumption token, ending in the call's result", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client } = await connectV1(to);
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        logs.push(notification.params);
      });
      const request = { method: "tools/call" as const, params: { name: "long_stream", arguments: { count: 4, intervalMs: 20 } } };
      const tokens: string[] = [];
      const original = await client.request(request, CallToolResultSchema, { onresumptiontoken: (token) => tokens.push(token) });
      const logsFirstTime = logs.splice(0);
      // tokens: [priming, tick 1, tick 2, tick 3, tick 4, result]; resuming after tick 2 replays ticks 3 and 4 and the result.
      const replayed = await client.request(request, CallToolResultSchema, { resumptionToken: tokens[2] });
      return { tokens: tokens.length, original, logsFirstTime, replayed, logsReplayed: logs };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw.tokens).toBe(6);
    expect(viaGw.replayed).toEqual(viaGw.original);
    expect(viaGw.logsReplayed).toEqual(viaGw.logsFirstTime.slice(2));
    expect(viaGw).toEqual(straight);
    const resumes = (await upstreamLog(through.tag)).filter((entry) => entry.method === "GET" && entry.headers["last-event-id"] !== undefined);
    expect(resumes).toHaveLength(1);
  });

  // The v1 SDK replays a tools/list stream by itself when it drops before its answer: the replay
  // must not show what the policy hides.
  it("filters a tools/list answer replayed with Last-Event-ID exactly as it filtered the original", async () => {
    const gw = gateway({ UPSTREAM_URL: SANDBOX_FEATURES });
    const { token } = await createGrant(await putPolicy({ version: "1", default: "allow", hide: ["wipe"] }));
    const { client } = await connectV1(viaGateway(gw, token));
    const tokens: string[] = [];
    const listed = await client.request({ method: "tools/list" }, ListToolsResultSchema, { onresumptiontoken: (token) => tokens.push(token) });
    const names = listed.tools.map((tool) => tool.name);
    expect(names).toContain("echo");
    expect(names).not.toContain("wipe");
    expect(tokens).toHaveLength(2); // the priming event and the answer

    const replayed = await client.request({ method: "tools/list" }, ListToolsResultSchema, { resumptionToken: tokens[0] });
    expect(replayed.tools.map((tool) => tool.name)).toEqual(names);
  });
});

describe("sessions through the gateway", () => {
  it("ends the session on DELETE; a later request with the old session id gets 404 -32001", async () => {
    const { through, direct } = await endpoints();
    const run = async (to: Endpoint) => {
      const { client, transport } = await connectV1(to);
      await client.listTools();
      const sessionId = transport.sessionId;
      if (sessionId === undefined) throw new Error("no session id");
      const before = (await pingOn(to, sessionId)).status;
      await transport.terminateSession();
      const after = await rawPost(to, { jsonrpc: "2.0", id: 9, method: "tools/list" }, { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" });
      return { before, forgotten: transport.sessionId === undefined, status: after.status, body: (await after.json()) as Record<string, unknown> };
    };
    const viaGw = await run(through);
    const straight = await run(direct);

    expect(viaGw).toMatchObject({ before: 200, forgotten: true, status: 404, body: { jsonrpc: "2.0", error: { code: -32001 } } });
    // The upstream cannot say which request it refuses (id null); the gateway answers request 9 by its id.
    expect(straight.body).toMatchObject({ id: null });
    expect(viaGw).toEqual({ ...straight, body: { ...straight.body, id: 9 } });
    const deletes = (await upstreamLog(through.tag)).filter((entry) => entry.method === "DELETE");
    expect(deletes).toHaveLength(1);
  });

  // In an isolate that has not seen tools/list, a call first makes the gateway list tools on the
  // agent's session; the upstream's 404 for an ended session must reach the agent as it is (the
  // spec's signal to start a new session), not become a 500.
  it("answers 404 -32001 to a tools/call on an ended session, also in an isolate that has not seen tools/list yet", async () => {
    const { token, through, direct } = await endpoints();
    const run = async (to: Endpoint, later: Endpoint) => {
      const { transport } = await connectV1(to);
      const sessionId = transport.sessionId;
      if (sessionId === undefined) throw new Error("no session id");
      await transport.terminateSession();
      const call = { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "echo", arguments: { text: "still there?" } } };
      const response = await rawPost(later, call, { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" });
      return { status: response.status, body: await response.json() };
    };
    // A second gateway instance has its own (empty) tool index, as a fresh isolate would.
    const laterGateway = viaGateway(gateway({ UPSTREAM_URL: SANDBOX_FEATURES }), token);
    const straight = await run(direct, direct);
    const viaGw = await run(through, laterGateway);

    expect(straight).toMatchObject({ status: 404, body: { error: { code: -32001 } } });
    expect(viaGw).toMatchObject({ status: 404, body: { error: { code: -32001 } } });
  });

  it("refuses a session id opened under another grant with 404 -32001, and nothing reaches the upstream", async () => {
    const { gw, through } = await endpoints();
    const { client, transport } = await connectV1(through);
    const sessionId = transport.sessionId;
    if (sessionId === undefined) throw new Error("no session id");
    const other = viaGateway(gw, (await openGrant()).token);

    const post = await pingOn(other, sessionId);
    const call = await rawPost(
      other,
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "wipe", arguments: { target: "their data" } } },
      { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
    );
    const get = await other.fetch(other.url, { method: "GET", headers: { ...other.headers, accept: "text/event-stream", "mcp-session-id": sessionId } });
    const del = await other.fetch(other.url, { method: "DELETE", headers: { ...other.headers, "mcp-session-id": sessionId } });

    for (const response of [post, call, get, del]) {
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32001 } });
    }
    expect(await upstreamLog(other.tag)).toEqual([]);
    // The owner's session was not touched by any of it.
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(["summarize"]);
  });

  it("shows the agent a session id that is not the upstream's, and refuses the upstream's raw id", async () => {
    const { through } = await endpoints();
    const { client, transport } = await connectV1(through);
    await client.listPrompts();
    const agentId = transport.sessionId ?? "";

    const log = await upstreamLog(through.tag);
    const upstreamIds = new Set(log.map((entry) => entry.headers["mcp-session-id"]).filter((id) => id !== undefined));
    expect(upstreamIds.size).toBe(1);
    const [upstreamId = ""] = upstreamIds;
    expect(upstreamId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(agentId).not.toBe("");
    expect(agentId).not.toContain(upstreamId);

    // Presenting the upstream's id itself does not get the agent into that session.
    const forged = await pingOn(through, upstreamId);
    expect(forged.status).toBe(404);
    expect(await forged.json()).toMatchObject({ error: { code: -32001 } });
    expect(await upstreamLog(through.tag)).toHaveLength(log.length);
  });
});

/** The blocks of a raw SSE body: each event or comment, as the lines between blank lines. */
function sseBlocks(raw: string): string[][] {
  return raw
    .split(/\r\n|\r|\n/)
    .reduce<string[][]>(
      (blocks, line) => {
        if (line === "") blocks.push([]);
        else blocks.at(-1)?.push(line);
        return blocks;
      },
      [[]],
    )
    .filter((block) => block.length > 0);
}

function sseMessages(raw: string): unknown[] {
  const messages: unknown[] = [];
  const parser = createParser({ onEvent: (event) => event.data && messages.push(JSON.parse(event.data)) });
  parser.feed(raw);
  return messages;
}

describe("keep-alives on quiet streams", () => {
  it("puts ': keep-alive' comments between events of a quiet stream, never inside one, and clients still parse every event", async () => {
    const { through, direct } = await endpoints({ SSE_KEEPALIVE_MS: "100" });
    const count = 3;
    const intervalMs = 350;
    const rawCall = async (to: Endpoint) => {
      const { transport } = await connectV1(to);
      const call = {
        jsonrpc: "2.0",
        id: 42,
        method: "tools/call",
        params: { name: "long_stream", arguments: { count, intervalMs }, _meta: { progressToken: "keep-alive-test" } },
      };
      const response = await rawPost(to, call, { "mcp-session-id": transport.sessionId ?? "", "mcp-protocol-version": "2025-11-25" });
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      return response.text();
    };
    const [viaGw, straight] = await Promise.all([rawCall(through), rawCall(direct)]);

    const blocks = sseBlocks(viaGw);
    const isKeepAlive = (block: string[]) => block.length === 1 && block[0] === ": keep-alive";
    // No comment ever sits inside an event or splits one: apart from the comments, the
    // blocks are the upstream's events, field for field.
    const fieldsOf = (block: string[]) => block.map((line) => line.slice(0, line.indexOf(":")));
    expect(blocks.filter((block) => !isKeepAlive(block)).map(fieldsOf)).toEqual(sseBlocks(straight).map(fieldsOf));
    for (const block of blocks.filter((candidate) => !isKeepAlive(candidate))) expect(fieldsOf(block)).toContain("data");
    // Every quiet gap between two ticks (350 ms, keep-alive every 100 ms) carries at least one comment.
    const ticks = blocks.flatMap((block, index) => (block.some((line) => line.includes('"notifications/progress"')) ? [index] : []));
    expect(ticks).toHaveLength(count);
    for (const [index, tick] of ticks.slice(1).entries()) {
      expect(blocks.slice(ticks[index] ?? 0, tick).filter(isKeepAlive).length).toBeGreaterThanOrEqual(1);
    }
    expect(blocks.filter(isKeepAlive).length).toBeGreaterThanOrEqual(2 * (count - 1));
    expect(straight).not.toContain(": keep-alive");
    // Apart from the comments, the same events in the same order.
    expect(sseMessages(viaGw)).toEqual(sseMessages(straight));
    expect(sseMessages(viaGw)).toHaveLength(2 * count + 1);

    // And an SDK client reading the same kind of stream through the gateway sees every event.
    const { client } = await connectV1(through);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params);
    });
    const progress: Progress[] = [];
    const result = await client.callTool({ name: "long_stream", arguments: { count, intervalMs } }, CallToolResultSchema, {
      onprogress: (update) => progress.push(update),
    });
    expect(progress.map((update) => update.progress)).toEqual([1, 2, 3]);
    expect(logs).toHaveLength(count);
    expect(result).toEqual({ content: [{ type: "text", text: `streamed ${count} notifications` }] });
  });
});
