import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { NON_PII_TOOLS, SEND_TOOLS } from "@iterable/mcp/dist/tool-filter.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
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
