/**
 * `npm start` as a user runs it (issue 17): the gateway in front of the
 * official Iterable MCP server in its own Worker, reached through the UPSTREAM
 * service binding, which calls the local fake Iterable API. Driven from
 * outside with the MCP SDK client; what reached "Iterable" is read from the
 * fake API's request log.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

type Logged = { method: string; path: string; keyValid: boolean; tool?: string; client?: string };

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

/** A grant on `policy` (through the admin API) and an SDK client with a name of its own, whose traffic the fake API files under it. */
async function agentOn(policy: object): Promise<{ client: Client; name: string }> {
  const name = `e2e-iterable-${crypto.randomUUID().slice(0, 8)}`;
  const policyName = name.replaceAll("-", "_");
  expect((await admin(`/policies/${policyName}`, { method: "PUT", body: JSON.stringify({ policy }) })).status).toBe(200);
  const created = await admin("/grants", { method: "POST", body: JSON.stringify({ label: name, policy: policyName }) });
  const { token } = (await created.json()) as { token: string };
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return { client, name };
}

/** What the fake Iterable API received from the MCP client named `name` (the Iterable server names it in Iterable-MCP-Client). */
async function reachedIterable(name: string): Promise<Logged[]> {
  const response = await fetch(new URL(`__fake/requests?client=${encodeURIComponent(name)}`, gateway.iterableApiUrl));
  expect(response.status).toBe(200);
  return (await response.json()) as Logged[];
}

describe("npm start: the gateway in front of the official Iterable MCP server, through a service binding", () => {
  it("initialize shows the official server; an allow-all grant lists its 118 tools; get_lists answers from the Iterable API, with the key and the client's name", async () => {
    const { client, name } = await agentOn({ version: "1", default: "allow" });
    expect(client.getServerVersion()).toMatchObject({ name: "iterable-mcp", version: "1.9.0" });
    expect((await client.listTools()).tools).toHaveLength(118);
    const lists = (await client.callTool({ name: "get_lists", arguments: {} })) as { isError?: boolean; content: Array<{ text: string }> };
    expect(lists.isError).toBeFalsy();
    expect(lists.content[0]!.text).toContain('"lists"');
    const seen = await reachedIterable(name);
    expect(seen).toEqual([expect.objectContaining({ method: "GET", path: "/api/lists", keyValid: true, tool: "get_lists", client: name })]);
  });

  it("starts quietly: nothing printed that the user need not act on, GET / names the gateway, /favicon.ico is served", async () => {
    const output = gateway.output();
    for (const noise of ["ENOTFOUND", "Request.cf", "types might be out of date", "CIMD", "not connected", "GET / 404"]) expect(output, noise).not.toContain(noise);
    const home = await fetch(gateway.origin);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("mcp-policy-gateway");
    expect((await fetch(`${gateway.origin}/favicon.ico`)).headers.get("content-type")).toBe("image/x-icon");
  });

  it("30 concurrent send_campaign under a 10-a-minute limit: exactly 10 reach the Iterable API", async () => {
    const { client, name } = await agentOn({ version: "1", default: "deny", tools: { send_campaign: { limits: [{ counter: "sends", window: "minute", max: 10 }] } } });
    const answers = (await Promise.all(Array.from({ length: 30 }, (_, i) => client.callTool({ name: "send_campaign", arguments: { campaignId: 500 + i } })))) as Array<{ isError?: boolean }>;
    expect(answers.filter((answer) => !answer.isError)).toHaveLength(10);
    const sends = (await reachedIterable(name)).filter((request) => request.tool === "send_campaign");
    expect(sends).toHaveLength(10);
    expect(sends.every((request) => request.keyValid && request.method === "POST")).toBe(true);
  });

  it("the Iterable Worker answers on no port of its own: every port the npm start tree listens on reaches the gateway (or a debugger), never the Iterable server", async () => {
    const ports = listeningPorts(gateway.pid);
    expect(ports).toContain(Number(new URL(gateway.url).port));
    for (const port of ports) {
      const answer = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18", host: "iterable-mcp" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "probe", version: "1" } } }),
      }).then(
        async (response) => ({ status: response.status, text: await response.text() }),
        () => ({ status: 0, text: "" }),
      );
      expect(answer.text, `port ${port}`).not.toContain("iterable-mcp");
      if (port === Number(new URL(gateway.url).port)) expect(answer.status).toBe(401);
    }
  });
});

/** The TCP ports the process group `pid` leads listens on (from /proc: each process's socket inodes, matched against the listening sockets). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgid !== pid) continue;
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode) inodes.add(inode);
      }
    } catch {
      // a process that ended while being read
    }
  }
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) ports.add(Number.parseInt(fields[1]!.split(":")[1]!, 16));
    }
  }
  return [...ports];
}
