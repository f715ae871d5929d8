/**
 * `npm start` as a user runs it, with its two servers (issue 19): `iterable`
 * (the Iterable Worker through the UPSTREAM binding) and `features` (the
 * sandbox's features server, by URL). Grants that reach one or both, driven
 * from outside with the MCP SDK client at /mcp/<server> and at /mcp.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

let gateway: RunningGateway;
const clients: Client[] = [];
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway?.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`)));

async function admin(path: string, init: RequestInit = {}) {
  return fetch(`${gateway.origin}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${gateway.adminToken}`, "content-type": "application/json", ...(init.headers ?? {}) } });
}

/** A grant on an allow-all policy reaching `servers`, made through the admin API; its record must name exactly those. */
async function grantFor(servers: string[]): Promise<string> {
  const name = `e2e_servers_${crypto.randomUUID().slice(0, 8)}`;
  expect((await admin(`/policies/${name}`, { method: "PUT", body: JSON.stringify({ policy: { version: "1", default: "allow" } }) })).status).toBe(200);
  const created = await admin("/grants", { method: "POST", body: JSON.stringify({ label: name, policy: name, servers }) });
  const body = (await created.json()) as { token: string; grant: { servers?: string[] } };
  expect(created.status, JSON.stringify(body)).toBe(201);
  expect(body.grant.servers).toEqual(servers);
  return body.token;
}

async function connect(url: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: "e2e-servers", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const names = (tools: Array<{ name: string }>) => tools.map((tool) => tool.name);

function initialize(url: string, token: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "1" } } }),
  });
}

/** The features server's own list, asked directly with the credential the gateway holds for it. */
async function featuresDirectly(): Promise<Array<{ name: string }>> {
  const direct = await connect(gateway.featuresUpstreamUrl, { "api-key": "sandbox-dev-key" });
  return (await direct.listTools()).tools;
}

describe("npm start: iterable and features behind one gateway", () => {
  it("the banner names both servers and their URLs; the dev grant reaches iterable alone (/mcp and /mcp/iterable), and is refused at /mcp/features", async () => {
    const output = gateway.output();
    expect(output).toContain(`iterable  ${gateway.serverUrl("iterable")}`);
    expect(output).toContain(`features  ${gateway.serverUrl("features")}`);
    expect(output).toContain(gateway.featuresUpstreamUrl);

    expect((await connect(gateway.url, bearer(gateway.token))).getServerVersion()).toMatchObject({ name: "iterable-mcp" });
    expect((await connect(gateway.serverUrl("iterable"), bearer(gateway.token))).getServerVersion()).toMatchObject({ name: "iterable-mcp" });
    const refused = await initialize(gateway.serverUrl("features"), gateway.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('does not reach the server "features"');
  });

  it("a grant for iterable alone gets 4xx at /mcp/features, before the features server sees anything", async () => {
    const token = await grantFor(["iterable"]);
    const tag = `e2e-servers-${crypto.randomUUID().slice(0, 8)}`;
    const refused = await fetch(gateway.serverUrl("features"), {
      method: "POST",
      headers: { ...bearer(token), "x-sandbox-tag": tag, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "1" } } }),
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    const log = await fetch(new URL(`/__log?tag=${tag}`, gateway.featuresUpstreamUrl));
    expect(await log.json()).toEqual([]);
    expect((await (await connect(gateway.serverUrl("iterable"), bearer(token))).listTools()).tools).toHaveLength(118);
  });

  it("a grant for both: /mcp/iterable lists the 118 Iterable tools unprefixed, /mcp/features the features server's own tools, and each answers a call", async () => {
    const token = await grantFor(["iterable", "features"]);
    const iterable = await connect(gateway.serverUrl("iterable"), bearer(token));
    const iterableTools = names((await iterable.listTools()).tools);
    expect(iterableTools).toHaveLength(118);
    expect(iterableTools).toContain("get_lists");
    expect(iterableTools.every((name) => !name.includes("__"))).toBe(true);

    const features = await connect(gateway.serverUrl("features"), bearer(token));
    expect(features.getServerVersion()).toMatchObject({ name: "sandbox-features" });
    expect(names((await features.listTools()).tools)).toEqual(names(await featuresDirectly()));

    const lists = (await iterable.callTool({ name: "get_lists", arguments: {} })) as { isError?: boolean; content: Array<{ text: string }> };
    expect(lists.isError).toBeFalsy();
    expect(lists.content[0]!.text).toContain('"lists"');
    const echo = (await features.callTool({ name: "echo", arguments: { text: "through /mcp/features" } })) as { isError?: boolean; content: Array<{ text: string }> };
    expect(echo.isError).toBeFalsy();
    expect(JSON.stringify(echo.content)).toContain("through /mcp/features");
  });

  it("a grant for both at /mcp: the merged view, every name prefixed with its server and at most 64 characters, both lists in full; iterable__get_lists answers", async () => {
    const token = await grantFor(["iterable", "features"]);
    const iterableTools = names((await (await connect(gateway.serverUrl("iterable"), bearer(token))).listTools()).tools);
    const featuresTools = names((await (await connect(gateway.serverUrl("features"), bearer(token))).listTools()).tools);

    const merged = await connect(gateway.url, bearer(token));
    const mergedTools = names((await merged.listTools()).tools);
    expect(mergedTools.filter((name) => name.length > 64)).toEqual([]);
    expect(mergedTools).toHaveLength(iterableTools.length + featuresTools.length);
    // A name that fits is the server's name, "__", the tool's; one that would not is cut and ends with 8 hex digits of its hash.
    const wanted = [...iterableTools.map((name) => ["iterable", name] as const), ...featuresTools.map((name) => ["features", name] as const)];
    const found = wanted.map(([server, name]) => {
      const plain = `${server}__${name}`;
      if (plain.length <= 64) return mergedTools.find((merged) => merged === plain);
      return mergedTools.find((merged) => merged.startsWith(`${server}__${name.slice(0, 20)}`) && /_[0-9a-f]{8}$/.test(merged));
    });
    expect(wanted.filter((_, index) => found[index] === undefined)).toEqual([]);
    expect(new Set(found).size).toBe(mergedTools.length);

    const lists = (await merged.callTool({ name: "iterable__get_lists", arguments: {} })) as { isError?: boolean; content: Array<{ text: string }> };
    expect(lists.isError, JSON.stringify(lists)).toBeFalsy();
    expect(lists.content[0]!.text).toContain('"lists"');
  });
});
