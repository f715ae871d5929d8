/**
 * Several servers behind one gateway: `/mcp/<server>` for one, and `/mcp`
 * merged for a grant that reaches several (src/servers/merged.ts), through
 * the real SDK client against the sandbox's two servers.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { closeClients, connectV2, viaGateway, waitFor } from "./clients.ts";
import { hashToken, tokenKey, type GrantRecord } from "../../src/grants/grant.ts";
import { mergedName, splitMergedName } from "../../src/servers/names.ts";
import iterableTools from "../upstream/iterable-tools.json" with { type: "json" };
import { ALLOW_ALL, clientViaGateway, createGrant, gateway, newTag, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP, upstreamLog, type Gateway } from "./gateway.ts";

const credential = { credentialHeader: "api-key", credentialSecret: "UPSTREAM_CREDENTIAL" };
/** A port nothing listens on: that server is down. */
const DOWN = "http://127.0.0.1:9/mcp";

function serversGateway(extra: object[] = []): Gateway {
  return gateway({
    SERVERS: JSON.stringify([
      { name: "iterable", url: SANDBOX_MCP, catalog: "iterable", ...credential },
      { name: "features", url: SANDBOX_FEATURES, ...credential },
      ...extra,
    ]),
  });
}

/** A grant that names the servers it reaches (written as the admin API writes one). */
async function grantFor(servers: string[] | undefined, policy = ALLOW_ALL) {
  const issued = await createGrant(await putPolicy(policy));
  if (servers === undefined) return issued;
  const record: GrantRecord = { ...issued.record, servers };
  await env.GRANTS.put(tokenKey(await hashToken(issued.token)), JSON.stringify(record));
  return { ...issued, record };
}

const url = (path: string) => `https://gateway.test${path}`;

describe("one server at its own URL", () => {
  it("/mcp/<server> lists that server's tools unprefixed, and a grant is refused at a server it does not name before anything is forwarded", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable"]);
    const { client } = await clientViaGateway(gw, { token, url: url("/mcp/iterable") });
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(118);
    expect(tools.map((tool) => tool.name)).toContain("get_lists");
    // The grant's one server is also its /mcp.
    const { client: plain } = await clientViaGateway(gw, { token });
    expect((await plain.listTools()).tools).toHaveLength(118);

    const tag = newTag();
    const refused = await gw.fetch(url("/mcp/features"), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('does not reach the server "features"');
    expect(await upstreamLog(tag)).toEqual([]);
    const unknown = await gw.fetch(url("/mcp/nowhere"), { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(unknown.status).toBe(404);
  });

  it("a grant made before there were several servers reaches the default one alone", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(undefined);
    const { client } = await clientViaGateway(gw, { token });
    expect((await client.listTools()).tools).toHaveLength(118);
    const refused = await gw.fetch(url("/mcp/features"), { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(refused.status).toBe(403);
  });
});

describe("the merged endpoint", () => {
  it("lists every server's tools prefixed, each name within 64 characters, and routes calls by prefix", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { client: iterable } = await clientViaGateway(gw, { token, url: url("/mcp/iterable") });
    const { client: features } = await clientViaGateway(gw, { token, url: url("/mcp/features") });
    const own = { iterable: (await iterable.listTools()).tools, features: (await features.listTools()).tools };

    const { client } = await clientViaGateway(gw, { token });
    expect(client.getServerVersion()?.name).toBe("mcp-policy-gateway");
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(own.iterable.length + own.features.length);
    for (const tool of tools) {
      expect(tool.name.length, tool.name).toBeLessThanOrEqual(64);
      expect(tool.name).toMatch(/^[A-Za-z0-9_.-]+$/);
    }
    expect(tools.map((tool) => tool.name)).toContain("iterable__get_lists");
    expect(tools.map((tool) => tool.name)).toContain("features__echo");

    const lists = await client.callTool({ name: "iterable__get_lists", arguments: {} });
    expect(lists.isError).toBeFalsy();
    const echoed = await client.callTool({ name: "features__echo", arguments: { text: "through the merged endpoint" } });
    expect(echoed.content).toEqual([{ type: "text", text: "through the merged endpoint" }]);
  });

  it("a name past 64 characters is cut with a stable hash, and a call by that name reaches the tool", async () => {
    const long = "describe_the_current_state_of_every_sandbox_feature_in_one_answer";
    const cut = await mergedName("features", long);
    expect(cut.length).toBe(64);
    expect(cut).toBe(await mergedName("features", long));
    expect(splitMergedName(cut)?.server).toBe("features");

    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { client } = await clientViaGateway(gw, { token });
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain(cut);
    const answer = await client.callTool({ name: cut, arguments: {} });
    expect(answer.content).toEqual([{ type: "text", text: "progress, log, long_stream, sample, elicit, echo, wipe, touch_resource" }]);
    // In a fresh isolate (nothing listed yet) the call finds its tool too.
    const { client: fresh } = await clientViaGateway(serversGateway(), { token });
    expect((await fresh.callTool({ name: cut, arguments: {} })).isError).toBeFalsy();
  });

  it("tools the grant's policy hides are left out of the merged list and refused by their prefixed name", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"], { version: "1", default: "allow", hide: ["wipe", "delete_*"] });
    const { client } = await clientViaGateway(gw, { token });
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).not.toContain("features__wipe");
    expect(names.filter((name) => name.startsWith("iterable__delete_"))).toEqual([]);
    const wiped = await client.callTool({ name: "features__wipe", arguments: {} }).catch((error: Error) => error);
    expect(String(wiped instanceof Error ? wiped.message : JSON.stringify(wiped))).toMatch(/Unknown tool/);
  });

  it("each server's part of the merged list follows the policy's section for that server", async () => {
    const gw = serversGateway();
    const policy = { version: "1", default: "allow", hide: ["delete_*"], servers: { features: { default: "deny", tools: { echo: {} } } } };
    const { token } = await grantFor(["iterable", "features"], policy as typeof ALLOW_ALL);
    const { client } = await clientViaGateway(gw, { token });
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names.filter((name) => name.startsWith("features__"))).toEqual(["features__echo"]);
    expect(names).toContain("iterable__get_lists");
    expect(names.filter((name) => name.startsWith("iterable__delete_"))).toEqual([]);
    const refused = await client.callTool({ name: "features__wipe", arguments: {} });
    expect(JSON.stringify(refused.content)).toContain("/servers/features/default");
  });

  it("one server down: the others' tools are listed and called; a call to it gets an error for its id", async () => {
    const gw = serversGateway([{ name: "down", url: DOWN, timeoutMs: 2000 }]);
    const { token } = await grantFor(["iterable", "down"]);
    const { client } = await clientViaGateway(gw, { token });
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(118);
    expect((await client.callTool({ name: "iterable__get_lists", arguments: {} })).isError).toBeFalsy();
    const refused = await client.callTool({ name: "down__anything", arguments: {} }).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/down|did not answer|Upstream/);
  });

  it("pages are carried per server: the merged cursor asks again only the servers that had more", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"], { version: "1", default: "allow", hide: ["update_*"] });
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const transport = new StreamableHTTPClientTransport(new URL(url("/mcp")), {
      fetch: (input, init) => gw.fetch(input, init),
      requestInit: { headers: { authorization: `Bearer ${token}`, "x-sandbox-page-size": "50" } },
    });
    const client = new Client({ name: "pager", version: "1" });
    await client.connect(transport);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      pages.push(page.tools.map((tool) => tool.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined && pages.length < 10);
    expect(pages).toHaveLength(3);
    // The features server does not page: all its tools come on the first page, and only Iterable is asked after.
    expect(pages[0]!.filter((name) => name.startsWith("features__")).length).toBeGreaterThan(0);
    expect(pages.slice(1).flat().filter((name) => !name.startsWith("iterable__"))).toEqual([]);
    const iterable = pages.flat().filter((name) => name.startsWith("iterable__"));
    // Every Iterable tool but the hidden ones, each once, across the pages.
    const expected = iterableTools.tools.map((tool) => tool.name).filter((name) => !name.startsWith("update_"));
    expect(iterable.sort()).toEqual(expected.map((name) => `iterable__${name}`).sort());
    await client.close();
  });

  it("a cursor the gateway did not write is refused, not passed to a server; prompts are gathered too", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { client } = await clientViaGateway(gw, { token });
    const first = await client.listPrompts();
    expect(first.prompts.map((prompt) => prompt.name)).toContain("features__summarize");
    // A cursor this gateway did not write is refused, not passed to a server.
    const forged = await client.listTools({ cursor: "bm90LWEtY3Vyc29y" }).catch((error: Error) => error);
    expect(forged).toBeInstanceOf(Error);
    expect((forged as Error).message).toContain("cursor");
  });

  it("a prompt is fetched from the server its prefix names", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { client } = await clientViaGateway(gw, { token });
    const prompt = await client.getPrompt({ name: "features__summarize", arguments: { topic: "MCP gateways", style: "detailed" } });
    expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "Summarize MCP gateways in a detailed style." } }]);
  });

  it("the merged session is bound to the grant: another grant's token cannot use it", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { token: other } = await grantFor(["iterable", "features"]);
    const { transport } = await clientViaGateway(gw, { token });
    const response = await gw.fetch(url("/mcp"), {
      method: "POST",
      headers: { authorization: `Bearer ${other}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list", params: {} }),
    });
    expect(response.status).toBe(404);
  });
});

describe("the merged endpoint, by protocol revision", () => {
  afterEach(closeClients);

  it("2026-07-28 stateless requests: the merged list, a call by prefix, no session anywhere", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const to = viaGateway(gw, token);
    const client = await connectV2(to);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["iterable__get_lists", "features__echo"]));
    const echoed = await client.callTool({ name: "features__echo", arguments: { text: "stateless" } });
    expect(echoed.content).toEqual([{ type: "text", text: "stateless" }]);
    for (const entry of await upstreamLog(to.tag)) expect(entry.headers["mcp-session-id"]).toBeUndefined();
  });

  it("a server's notifications reach the merged session's stream (resources/updated after subscribe and touch_resource)", async () => {
    const gw = serversGateway();
    const { token } = await grantFor(["iterable", "features"]);
    const { client } = await clientViaGateway(gw, { token });
    const updates: string[] = [];
    const { ResourceUpdatedNotificationSchema } = await import("@modelcontextprotocol/sdk/types.js");
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
    await client.subscribeResource({ uri: "sandbox://status" });
    await waitFor(() => updates.length >= 1, "resources/updated after subscribe");
    await client.callTool({ name: "features__touch_resource", arguments: { uri: "sandbox://status" } });
    await waitFor(() => updates.length >= 2, "resources/updated after touch_resource");
    expect(updates.slice(0, 2)).toEqual(["sandbox://status", "sandbox://status"]);
  });
});
