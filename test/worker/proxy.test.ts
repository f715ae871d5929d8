import { describe, expect, it } from "vitest";
import { clientDirect, clientViaGateway, gateway, newTag, openGrant, SANDBOX_MCP, upstreamLog } from "./gateway.ts";

describe("the gateway relays MCP faithfully (v1 SDK client, legacy revisions)", () => {
  it("lists the same 118 tools as the sandbox itself", async () => {
    const { token } = await openGrant();
    const viaGateway = await clientViaGateway(gateway(), { token });
    const direct = await clientDirect(SANDBOX_MCP);

    const [listed, expected] = await Promise.all([viaGateway.client.listTools(), direct.client.listTools()]);
    expect(listed.tools).toHaveLength(118);
    expect(listed).toEqual(expected);
    expect(viaGateway.client.getServerVersion()).toEqual({ name: "iterable-mcp", version: "1.9.0" });
    expect(viaGateway.client.getServerCapabilities()).toEqual(direct.client.getServerCapabilities());
  });

  it("answers tool calls and prompts exactly as the upstream does", async () => {
    const { token } = await openGrant();
    const viaGateway = await clientViaGateway(gateway(), { token });
    const direct = await clientDirect(SANDBOX_MCP);

    const call = { name: "get_campaigns", arguments: { page: 1, pageSize: 2 } };
    expect(await viaGateway.client.callTool(call)).toEqual(await direct.client.callTool(call));
    expect(await viaGateway.client.listPrompts()).toEqual(await direct.client.listPrompts());
    const prompt = { name: "get-campaign", arguments: { id: "42" } };
    expect(await viaGateway.client.getPrompt(prompt)).toEqual(await direct.client.getPrompt(prompt));
  });

  it("injects the upstream credential and never forwards the agent's token, cookies or hop-by-hop headers", async () => {
    const { token } = await openGrant();
    const tag = newTag();
    const response = await gateway().fetch("https://gateway.test/mcp", {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        cookie: "session=agent-cookie",
        connection: "x-hop-secret",
        "x-hop-secret": "only for the next hop",
        "proxy-authorization": "Basic c2VjcmV0",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "x-sandbox-tag": tag,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    expect(response.status).toBe(200);
    const [received] = await upstreamLog(tag);
    expect(received?.headers["api-key"]).toBe("sandbox-test-key");
    expect(received?.headers.authorization).toBeUndefined();
    expect(received?.headers.cookie).toBeUndefined();
    expect(received?.headers["x-hop-secret"]).toBeUndefined();
    expect(received?.headers["proxy-authorization"]).toBeUndefined();
    expect(JSON.stringify(received)).not.toContain(token);
  });

  it("forwards the re-serialised message, not the bytes it received", async () => {
    const { token } = await openGrant();
    const tag = newTag();
    // Duplicate keys: JSON.parse keeps the last; the upstream must see exactly that.
    const raw = '{"jsonrpc":"2.0","id":7,"method":"ping","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"dup","version":"1"}}}';
    const response = await gateway().fetch("https://gateway.test/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag },
      body: raw,
    });
    expect(response.status).toBe(200);
    const [received] = await upstreamLog(tag);
    expect(received?.body).toBe(JSON.stringify(JSON.parse(raw)));
    expect(received?.body).not.toContain('"ping"');
  });
});
