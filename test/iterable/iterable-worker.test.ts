import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NON_PII_TOOLS, SEND_TOOLS } from "@iterable/mcp/dist/tool-filter.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { definitionHash, definitionOf, type ToolDefinition } from "../../src/pins/definition.ts";
import { eventData } from "../../src/mcp/sse.ts";
import catalogPins from "../../policies/iterable/pins.json";
import { argumentsFor } from "./arguments.ts";
import { clientName, closeClients, connect, fakeRequests, iterableWorker, rawPost, resultJson, REVISION, WORKER_URL } from "./iterable.ts";

afterEach(closeClients);

describe("the official server over Streamable HTTP", () => {
  it("initialize answers as @iterable/mcp does: iterable-mcp 1.9.0 with tools and prompts, and a session id", async () => {
    const worker = await iterableWorker();
    const response = await rawPost(worker, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: "Init-Test", version: "1" } },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]+$/);
    expect(await response.json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { protocolVersion: REVISION, capabilities: { tools: {}, prompts: {} }, serverInfo: { name: "iterable-mcp", version: "1.9.0" } },
    });
  });

  it("lists the package's 118 tools and 42 prompts with every capability on", async () => {
    const { client } = await connect(await iterableWorker());
    expect((await client.listTools()).tools).toHaveLength(118);
    expect((await client.listPrompts()).prompts).toHaveLength(42);
  });

  it("lists every tool exactly as the gateway pins it from the catalog (policies/iterable/pins.json)", async () => {
    const worker = await iterableWorker();
    const init = await rawPost(worker, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: "pins-check", version: "1" } } });
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    const listed = await rawPost(worker, { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} }, { "mcp-session-id": session });
    const text = await listed.text();
    const message = JSON.parse((listed.headers.get("content-type") ?? "").includes("event-stream") ? eventData(text)[0]! : text) as { result: { tools: Array<{ name: string }> } };
    const served = new Map(message.result.tools.map((tool) => [tool.name, definitionHash(definitionOf(tool))]));
    const pinned = new Map(catalogPins.tools.map((tool) => [tool.name, definitionHash(tool as ToolDefinition)]));
    expect(served.size).toBe(118);
    expect(served).toEqual(pinned);
  });

  it("get_lists (a read) answers the fake API's lists, fetched with the key", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker(), name);
    const result = await client.callTool({ name: "get_lists", arguments: {} });
    expect(result.isError).toBeUndefined();
    expect(resultJson(result)).toMatchObject({ lists: [{ id: 7001, name: "Sandbox list 7001", listType: "Standard" }, { id: 7002 }, { id: 7003 }] });
    expect(await fakeRequests(name)).toMatchObject([{ method: "GET", path: "/api/lists", keyValid: true, tool: "get_lists" }]);
  });

  it("create_list (a write) posts its arguments to the API", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker(), name);
    const result = await client.callTool({ name: "create_list", arguments: { name: "Spring launch" } });
    expect(resultJson(result)).toEqual({ listId: expect.any(Number) });
    expect(await fakeRequests(name)).toMatchObject([{ method: "POST", path: "/api/lists", keyValid: true, tool: "create_list", body: { name: "Spring launch" } }]);
  });

  it("send_campaign reaches the fake API exactly once, with the key", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker(), name);
    const result = await client.callTool({ name: "send_campaign", arguments: { campaignId: 4242 } });
    expect(resultJson(result)).toEqual({ msg: "Campaign 4242 sent", code: "Success", params: null });
    const requests = await fakeRequests(name);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: "/api/campaigns/4242/send", keyValid: true, tool: "send_campaign" });
  });
});

describe("the package's behaviour", () => {
  it("every one of the 118 tools runs against the fake Iterable API, without a validation or API error", async () => {
    const { client } = await connect(await iterableWorker());
    const { tools } = await client.listTools();
    const failures: string[] = [];
    for (const tool of tools) {
      const args = argumentsFor(tool.inputSchema);
      try {
        const result = await client.callTool({ name: tool.name, arguments: args });
        const answer = resultJson(result);
        if (isIterableError(answer)) failures.push(`${tool.name}: ${JSON.stringify(answer).slice(0, 300)}`);
      } catch (error) {
        failures.push(`${tool.name} ${JSON.stringify(args)}: ${String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("a wrong API key gives Iterable's BadApiKey error as the tool's result, as the stdio server answers", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker({ ITERABLE_API_KEY: "not-the-key" }), name);
    const result = await client.callTool({ name: "get_lists", arguments: {} });
    expect(result.isError).toBeUndefined();
    expect(resultJson(result)).toEqual({
      statusCode: 401,
      endpoint: "/api/lists",
      name: "IterableApiError",
      apiResponse: { msg: "Invalid API key", code: "BadApiKey", params: null },
      code: "BadApiKey",
      params: null,
    });
    expect(await fakeRequests(name)).toMatchObject([{ path: "/api/lists", keyValid: false }]);
  });

  it("invalid arguments are -32602 Validation error: the package's McpError is the server's (one MCP SDK in the bundle)", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker(), name);
    const error = await client.callTool({ name: "send_campaign", arguments: { campaignId: "not a number" } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpError);
    // The message on the wire is the package's McpError's own, "MCP error -32602: …"; the client prefixes it again.
    expect(error).toMatchObject({ code: -32602, message: expect.stringMatching(/^MCP error -32602: MCP error -32602: Validation error: campaignId: /) });
    expect(await fakeRequests(name)).toEqual([]);
  });

  it("an unknown tool is -32601 Unknown tool, an unknown prompt -32600 Unknown prompt; a prompt asks for its tool", async () => {
    const worker = await iterableWorker();
    const call = await rawPost(worker, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "drop_everything", arguments: {} } });
    expect(await call.json()).toEqual({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "MCP error -32601: Unknown tool: drop_everything" } });
    const prompt = await rawPost(worker, { jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name: "drop-everything" } });
    expect(await prompt.json()).toEqual({ jsonrpc: "2.0", id: 2, error: { code: -32600, message: "MCP error -32600: Unknown prompt: drop-everything" } });
    const { client } = await connect(worker);
    const asked = await client.getPrompt({ name: "get-campaign", arguments: { id: "12" } });
    expect(asked.messages).toEqual([{ role: "user", content: { type: "text", text: 'Please use the get_campaign tool with parameters: { "id": "12" } to complete this request.' } }]);
  });

  it("sends disabled (ITERABLE_ENABLE_SENDS=false): no send tool is listed, and calling one is an unknown tool", async () => {
    const name = clientName();
    const { client } = await connect(await iterableWorker({ ITERABLE_ENABLE_SENDS: "false" }), name);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((each) => SEND_TOOLS.has(each))).toEqual([]);
    expect(names).toContain("create_list");
    await expect(client.callTool({ name: "send_campaign", arguments: { campaignId: 1 } })).rejects.toMatchObject({ code: -32601 });
    expect(await fakeRequests(name)).toEqual([]);
  });

  it("PII off (ITERABLE_USER_PII=false): only the package's non-PII tools are listed", async () => {
    const { client } = await connect(await iterableWorker({ ITERABLE_USER_PII: "false" }));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain("get_campaigns");
    expect(names).not.toContain("get_user_by_email");
    expect(names.filter((each) => !NON_PII_TOOLS.has(each))).toEqual([]);
  });
});

describe("the client's name reaches Iterable", () => {
  it("every call after initialize sends the client's name (Iterable-MCP-Client, User-Agent) and its session's id, as the package does", async () => {
    const suffix = crypto.randomUUID();
    const { client } = await connect(await iterableWorker(), `Claude-Code ${suffix}`);
    await client.callTool({ name: "get_lists", arguments: {} });
    await client.callTool({ name: "get_campaign", arguments: { id: 77 } });
    const name = `claude-code ${suffix}`;
    const requests = await fakeRequests(name);
    expect(requests.map((each) => [each.path, each.tool])).toEqual([
      ["/api/lists", "get_lists"],
      ["/api/campaigns/77", "get_campaign"],
    ]);
    const [first, second] = requests;
    expect(first?.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(second?.sessionId).toBe(first?.sessionId);
    expect(first?.userAgent).toMatch(new RegExp(`^iterable-mcp/1\\.9\\.0 iterable-api/0\\.13\\.0 \\(node=[^;]+; os=[^;]+; client=${name}\\)$`));
  });

  it("each session has its own id; a request without one is a client the package would call unknown", async () => {
    const worker = await iterableWorker();
    const name = clientName();
    const one = await connect(worker, name);
    const two = await connect(worker, name);
    await one.client.callTool({ name: "get_lists", arguments: {} });
    await two.client.callTool({ name: "get_lists", arguments: {} });
    const [first, second] = await fakeRequests(name);
    expect(first?.sessionId).not.toBe(second?.sessionId);

    const bare = await rawPost(worker, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "get_campaign", arguments: { id: 424_242 } } });
    expect(bare.status).toBe(200);
    const unknown = (await fakeRequests("unknown")).filter((each) => each.path === "/api/campaigns/424242");
    expect(unknown).toHaveLength(1);
  });

  it("a client name is cut to 64 printable characters, and a forged session id cannot put anything else in a header", async () => {
    const worker = await iterableWorker();
    const long = `${"Ünïcode\r\nInjected: yes ".repeat(20)}${crypto.randomUUID()}`;
    const init = await rawPost(worker, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: long, version: "1" } } });
    const session = init.headers.get("mcp-session-id") ?? "";
    expect(session.length).toBeLessThanOrEqual(36 + 1 + 88);
    const cleaned = long.toLowerCase().replace(/[^\x20-\x7e]/g, "_").slice(0, 64);
    await rawPost(worker, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get_campaign", arguments: { id: 515_151 } } }, { "mcp-session-id": session });
    expect(await fakeRequests(cleaned)).toMatchObject([{ path: "/api/campaigns/515151" }]);

    const forged = `${crypto.randomUUID()}.${btoa("evil\r\nApi-Key: x").replace(/=+$/, "")}`;
    await rawPost(worker, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_campaign", arguments: { id: 626_262 } } }, { "mcp-session-id": forged });
    expect(await fakeRequests("evil__api-key: x")).toMatchObject([{ path: "/api/campaigns/626262", keyValid: true }]);
  });
});

/** How the package returns an Iterable failure as a result: the error object, serialised. */
function isIterableError(answer: unknown): boolean {
  return typeof answer === "object" && answer !== null && typeof (answer as { name?: unknown }).name === "string" && /Error$/.test((answer as { name: string }).name);
}

describe("one isolate, many requests", () => {
  it("eleven requests and more add no process listeners (IterableMcpServer adds four per instance)", async () => {
    const worker = await iterableWorker();
    const events = ["SIGINT", "SIGTERM", "uncaughtException", "unhandledRejection"];
    const counts = () => events.map((event) => nodeProcess().listenerCount(event));
    const before = counts();
    const { client } = await connect(worker);
    for (let request = 0; request < 12; request += 1) await client.listTools();
    await client.callTool({ name: "get_lists", arguments: {} });
    expect(counts()).toEqual(before);
  });

  it("tools are built once per isolate: the fourteenth tools/list is the first's, which a second build would change", async () => {
    const { client } = await connect(await iterableWorker());
    const first = (await client.listTools()).tools;
    for (let request = 0; request < 12; request += 1) await client.listTools();
    const later = (await (await connect(await iterableWorker())).client.listTools()).tools;
    expect(later).toEqual(first);
    // A second createAllTools in the process gives the documents' values a nested description; the first (stdio's) has none.
    const documents = first.find((tool) => tool.name === "partial_update_catalog_items")?.inputSchema.properties?.documents;
    expect(documents).toEqual({ type: "object", additionalProperties: { type: "object", additionalProperties: {} }, description: "Map of catalog item ID to field values" });
  });
});

describe("the HTTP surface", () => {
  it("GET /mcp is 405 (a server per request has nothing to stream), and an SDK client that tries it works on, without an error", async () => {
    const worker = await iterableWorker();
    const get = await worker.fetch(WORKER_URL, { headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, DELETE");
    expect(await get.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });

    const methods: string[] = [];
    const counting = { ...worker, fetch: (input: string | URL | Request, init?: RequestInit) => (methods.push(init?.method ?? "GET"), worker.fetch(input, init)) };
    const { client, errors } = await connect(counting);
    await client.callTool({ name: "get_lists", arguments: {} });
    await client.close();
    expect(methods).toContain("GET");
    expect(errors).toEqual([]);
  });

  it("other methods and paths: PUT is 405, /other 404, DELETE of a session 200", async () => {
    const worker = await iterableWorker();
    expect((await worker.fetch(WORKER_URL, { method: "PUT" })).status).toBe(405);
    expect((await worker.fetch("https://iterable-mcp.test/other", { method: "POST" })).status).toBe(404);
    expect((await worker.fetch(WORKER_URL, { method: "DELETE", headers: { "mcp-protocol-version": REVISION } })).status).toBe(200);
  });

  it("a body over 8 MiB is refused with 413 unread", async () => {
    const worker = await iterableWorker();
    const huge = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_lists", arguments: { pad: "x".repeat(8 * 1024 * 1024) } } });
    const response = await rawPostText(worker, huge);
    expect(response.status).toBe(413);
  });

  it("one JSON log line per request, without the key or the arguments", async () => {
    const worker = await iterableWorker();
    const { client } = await connect(worker);
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      await client.callTool({ name: "get_campaign", arguments: { id: 987_654_321 } });
    } finally {
      log.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ worker: "iterable-mcp", method: "POST", rpc: "tools/call", tool: "get_campaign", status: 200 });
    expect(lines[0]).not.toContain("987654321");
    expect(lines[0]).not.toContain(env.ITERABLE_API_KEY);
  });
});

describe("configuration", () => {
  it("the key comes from the ITERABLE_API_KEY secret only: without it every request is refused, naming the secret", async () => {
    const worker = await iterableWorker({ ITERABLE_API_KEY: undefined });
    const response = await rawPost(worker, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32603, message: "Iterable MCP Worker misconfigured: ITERABLE_API_KEY is not set (wrangler secret put ITERABLE_API_KEY)" },
    });
  });

  it("a base URL the key would travel to in clear, or a flag that is not true or false, is refused by name, never by value", async () => {
    const clear = await rawPost(await iterableWorker({ ITERABLE_BASE_URL: "http://api.iterable.example" }), { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(await clear.json()).toMatchObject({ error: { message: "Iterable MCP Worker misconfigured: ITERABLE_BASE_URL must be https:// (or http://localhost)" } });
    const typo = await rawPost(await iterableWorker({ ITERABLE_ENABLE_SENDS: "ture" }), { jsonrpc: "2.0", id: 1, method: "tools/list" });
    const { error } = (await typo.json()) as { error: { message: string } };
    expect(error.message).toMatch(/^Iterable MCP Worker misconfigured: ITERABLE_ENABLE_SENDS /);
    expect(error.message).not.toContain("ture");
  });

  it("requests go to ITERABLE_BASE_URL's origin, written with or without a trailing slash (the US, EU or any data centre)", async () => {
    const name = clientName();
    // The project's binding has the slash; this one has none. Only the fake is reachable here, so it stands for any data centre.
    const { client } = await connect(await iterableWorker({ ITERABLE_BASE_URL: env.FAKE_ITERABLE_URL.replace(/\/$/, "") }), name);
    await client.callTool({ name: "get_channels", arguments: {} });
    expect(await fakeRequests(name)).toMatchObject([{ method: "GET", path: "/api/channels", keyValid: true }]);
  });
});

/** The isolate's `process` (nodejs_compat), which the Worker's modules share with the tests. */
function nodeProcess(): { listenerCount(event: string): number } {
  return (globalThis as unknown as { process: { listenerCount(event: string): number } }).process;
}

function rawPostText(worker: { fetch: (input: string, init?: RequestInit) => Promise<Response> }, body: string): Promise<Response> {
  return worker.fetch(WORKER_URL, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": REVISION },
    body,
  });
}
