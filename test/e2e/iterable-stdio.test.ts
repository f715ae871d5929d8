/**
 * The Iterable Worker (upstreams/iterable, built by wrangler as it deploys)
 * against the official server as Iterable ships it: `@iterable/mcp` over
 * stdio, in Node, with the same key and flags, both calling the same fake
 * Iterable REST API. What each answers, compared as raw JSON-RPC results,
 * must be the same, byte for byte after JSON serialization.
 *
 * Runs on its own free ports and touches no shared state (the Iterable Worker
 * has no storage), so it does not need `npm start`.
 */
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHarness, type TestHarness } from "wrangler";
import { MAX_LOGGED, startFakeIterable, type FakeIterable } from "../fake-iterable/server.ts";

const KEY = "e2e-iterable-key";
const REVISION = "2025-06-18";
const FLAGS = { ITERABLE_USER_PII: "true", ITERABLE_ENABLE_WRITES: "true", ITERABLE_ENABLE_SENDS: "true" };

/** A JSON-RPC peer over any SDK transport, seeing results exactly as they arrive (no client-side schema parsing). */
class RawPeer {
  #nextId = 1;
  readonly #pending = new Map<number, (message: JSONRPCMessage) => void>();

  readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
    transport.onmessage = (message) => {
      const id = "id" in message && typeof message.id === "number" ? message.id : undefined;
      if (id !== undefined) this.#pending.get(id)?.(message);
    };
  }

  static async open(transport: Transport, clientName: string): Promise<RawPeer> {
    const peer = new RawPeer(transport);
    await transport.start();
    const init = await peer.request("initialize", { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: clientName, version: "1.0.0" } });
    if (transport instanceof StreamableHTTPClientTransport) transport.setProtocolVersion(REVISION);
    await transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    peer.initializeAnswer = init;
    return peer;
  }

  /** The answer to `initialize`, without its id. */
  initializeAnswer: unknown;

  /** The whole answer (result or error), without its id. */
  async request(method: string, params?: Record<string, unknown>): Promise<unknown> {
    const id = this.#nextId++;
    const answer = new Promise<JSONRPCMessage>((resolve) => this.#pending.set(id, resolve));
    await this.transport.send({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });
    const { id: _id, ...rest } = (await answer) as JSONRPCMessage & { id: number };
    this.#pending.delete(id);
    return rest;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

function stdioServer(key: string, baseUrl: string): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ["node_modules/@iterable/mcp/dist/index.js"],
    // NODE_ENV=test: the package skips its key manager (keychain) and takes the key from the environment.
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", ITERABLE_API_KEY: key, ITERABLE_BASE_URL: baseUrl, ...FLAGS },
    stderr: "pipe",
  });
}

describe("@iterable/mcp over stdio and the Iterable Worker answer alike", () => {
  let fake: FakeIterable;
  let harness: TestHarness;
  let workerUrl: URL;
  let baseUrl: string;
  const peers: RawPeer[] = [];

  const workerOptions = (key: string) => ({
    workers: [{ configPath: "./upstreams/iterable/wrangler.toml", vars: { ITERABLE_BASE_URL: baseUrl, ...FLAGS }, secrets: { ITERABLE_API_KEY: key } }],
  });

  async function pair(name: string): Promise<{ stdio: RawPeer; worker: RawPeer }> {
    const stdio = await RawPeer.open(stdioServer(KEY, baseUrl), name);
    const worker = await RawPeer.open(new StreamableHTTPClientTransport(new URL("/mcp", workerUrl)), name);
    peers.push(stdio, worker);
    return { stdio, worker };
  }

  beforeAll(async () => {
    fake = await startFakeIterable({ apiKey: KEY });
    // Both servers are given the origin without its slash, as a user would write it (the package appends "/api/…").
    baseUrl = fake.url.replace(/\/$/, "");
    harness = createTestHarness(workerOptions(KEY));
    workerUrl = (await harness.listen()).url;
  });

  afterAll(async () => {
    await Promise.allSettled(peers.map((peer) => peer.close()));
    await harness?.close();
    await fake?.close();
  });

  it("initialize, tools/list and prompts/list are byte for byte the same", async () => {
    const { stdio, worker } = await pair("e2e-lists");
    expect(JSON.stringify(worker.initializeAnswer)).toBe(JSON.stringify(stdio.initializeAnswer));

    const tools = [await stdio.request("tools/list"), await worker.request("tools/list")].map((answer) => JSON.stringify(answer));
    expect(JSON.parse(tools[0] ?? "{}").result.tools).toHaveLength(118);
    expect(tools[1]).toBe(tools[0]);

    const prompts = [await stdio.request("prompts/list"), await worker.request("prompts/list")].map((answer) => JSON.stringify(answer));
    expect(JSON.parse(prompts[0] ?? "{}").result.prompts).toHaveLength(42);
    expect(prompts[1]).toBe(prompts[0]);
  });

  it("calls, their errors and prompts answer the same, and reach Iterable with the same headers", async () => {
    const { stdio, worker } = await pair("E2E-Calls");
    const cases: Array<[string, Record<string, unknown>]> = [
      ["tools/call", { name: "get_lists", arguments: {} }],
      ["tools/call", { name: "get_campaign", arguments: { id: 31 } }],
      ["tools/call", { name: "create_list", arguments: { name: "e2e list" } }],
      ["tools/call", { name: "send_campaign", arguments: { campaignId: 77 } }],
      ["tools/call", { name: "send_campaign", arguments: { campaignId: "seventy-seven" } }],
      ["tools/call", { name: "get_user_by_email", arguments: { email: "not an email" } }],
      ["tools/call", { name: "no_such_tool", arguments: {} }],
      ["prompts/get", { name: "get-campaign", arguments: { id: "31" } }],
      ["prompts/get", { name: "no-such-prompt" }],
    ];
    for (const [method, params] of cases) {
      const fromStdio = JSON.stringify(await stdio.request(method, params));
      const fromWorker = JSON.stringify(await worker.request(method, params));
      expect({ method, params, answer: fromWorker }).toEqual({ method, params, answer: fromStdio });
    }

    const sent = fake.requests({ client: "e2e-calls" });
    const byServer = (userAgent: RegExp) => sent.filter((each) => userAgent.test(each.userAgent ?? ""));
    const fromStdio = byServer(new RegExp(`node=${process.versions.node};`));
    const fromWorker = sent.filter((each) => !fromStdio.includes(each));
    expect(fromStdio.length).toBe(4);
    // Same requests with the same Iterable-MCP-* headers; the User-Agent differs only in the runtime's node= version.
    const shape = (each: (typeof sent)[number]) => ({
      method: each.method,
      path: each.path,
      keyValid: each.keyValid,
      client: each.client,
      tool: each.tool,
      userAgent: each.userAgent?.replace(/node=[^;]+;/, "node=…;"),
      body: each.body,
    });
    expect(fromWorker.map(shape)).toEqual(fromStdio.map(shape));
    expect(fromStdio.map((each) => each.client)).toEqual(["e2e-calls", "e2e-calls", "e2e-calls", "e2e-calls"]);
  });

  it("a wrong API key answers the same: Iterable's BadApiKey error as the tool's result", async () => {
    await harness.update(workerOptions("not-the-key"));
    workerUrl = (await harness.listen()).url;
    const stdio = await RawPeer.open(stdioServer("not-the-key", baseUrl), "e2e-wrong-key");
    const worker = await RawPeer.open(new StreamableHTTPClientTransport(new URL("/mcp", workerUrl)), "e2e-wrong-key");
    peers.push(stdio, worker);
    const fromStdio = await stdio.request("tools/call", { name: "get_lists", arguments: {} });
    expect(JSON.stringify(await worker.request("tools/call", { name: "get_lists", arguments: {} }))).toBe(JSON.stringify(fromStdio));
    expect(JSON.stringify(fromStdio)).toContain("BadApiKey");
    expect(fake.requests({ client: "e2e-wrong-key" }).map((each) => each.keyValid)).toEqual([false, false]);
  });
});

describe("the fake Iterable API", () => {
  let fake: FakeIterable;
  beforeAll(async () => {
    fake = await startFakeIterable({ apiKey: KEY });
  });
  afterAll(() => fake?.close());

  const get = (path: string, headers: Record<string, string>) => fetch(new URL(path, fake.url), { headers });

  it("answers a wrong or missing key as Iterable does (401 BadApiKey) and logs whether the key was right, never the key", async () => {
    const wrong = await get("/api/lists", { "api-key": "a-wrong-key-123", "iterable-mcp-client": "fake-key-test" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ msg: "Invalid API key", code: "BadApiKey", params: null });
    expect((await get("/api/lists", { "iterable-mcp-client": "fake-key-test" })).status).toBe(401);
    expect((await get("/api/lists", { "api-key": KEY, "iterable-mcp-client": "fake-key-test" })).status).toBe(200);
    const logged = fake.requests({ client: "fake-key-test" });
    expect(logged.map((each) => each.keyValid)).toEqual([false, false, true]);
    expect(JSON.stringify(logged)).not.toContain("a-wrong-key-123");
    expect(JSON.stringify(logged)).not.toContain(KEY);
  });

  it("answers an endpoint Iterable does not have with 404 NotFound", async () => {
    const response = await get("/api/no/such/thing", { "api-key": KEY });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "NotFound" });
  });

  it("keeps the last MAX_LOGGED requests, readable and clearable over HTTP by client or whole", async () => {
    fake.clear();
    for (let index = 0; index < MAX_LOGGED + 5; index += 1) await get(`/api/campaigns/${index}`, { "api-key": KEY, "iterable-mcp-client": index % 2 === 0 ? "even" : "odd" });
    const all = fake.requests();
    expect(all).toHaveLength(MAX_LOGGED);
    expect(all[0]?.path).toBe("/api/campaigns/5");
    const odd = (await (await fetch(new URL("__fake/requests?client=odd", fake.url))).json()) as unknown[];
    expect(odd).toHaveLength(MAX_LOGGED / 2);
    expect((await fetch(new URL("__fake/requests?client=odd", fake.url), { method: "DELETE" })).status).toBe(204);
    expect(fake.requests({ client: "odd" })).toEqual([]);
    expect(fake.requests({ client: "even" })).toHaveLength(MAX_LOGGED / 2);
    await fetch(new URL("__fake/requests", fake.url), { method: "DELETE" });
    expect(fake.requests()).toEqual([]);
  });
});
