/**
 * Issue 8's checks from outside, as a user meets the gateway: `npm start` in
 * front of the sandbox, with the fault proxy between them so a test can make
 * the upstream misbehave, driven by the MCP SDK clients (v2 on 2026-07-28,
 * v1 on 2025-11-25), raw HTTP and the CLI.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { request } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { createTestHarness } from "wrangler";
import { cli, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";
import { startFaultProxy } from "../setup/fault-proxy.ts";
import { SANDBOX_CONTROL_HEADERS } from "../upstream/control-headers.ts";

const CREDENTIAL = "e2e-sandbox-key";
let gateway: RunningGateway;
let stopUpstream: () => Promise<void>;

beforeAll(async () => {
  const sandbox = createTestHarness({ workers: [{ configPath: "./test/upstream/wrangler.toml", secrets: { SANDBOX_API_KEY: CREDENTIAL } }] });
  const { url } = await sandbox.listen();
  const faults = await startFaultProxy(url.href);
  stopUpstream = async () => {
    await faults.close();
    await sandbox.close();
  };
  gateway = await startGateway(["--var", `UPSTREAM_URL:${faults.url}mcp`, "--var", `UPSTREAM_CREDENTIAL:${CREDENTIAL}`, "--var", `FORWARD_HEADERS:${SANDBOX_CONTROL_HEADERS.join(",")}`]);
});
afterAll(async () => {
  await gateway?.stop();
  await stopUpstream?.();
});
const clients: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 6000 chars):\n${gateway.output().slice(-6000)}`)));

async function grantOn(policy: object): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), "policy-")), "policy.json");
  writeFileSync(file, JSON.stringify(policy));
  const name = `e2e-${crypto.randomUUID()}`;
  const pushed = await gateway.cli("policy", "push", file, "--name", name);
  expect(pushed.status, pushed.stderr).toBe(0);
  const created = await gateway.cli("grant", "create", "--label", name, "--policy", name, "--json");
  expect(created.status, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

async function v1(token: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: "e2e-v1", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } } }));
  clients.push(client);
  return client;
}

/** A raw POST with any Host and headers (node:http, since fetch will not send another Host). */
function post(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: "127.0.0.1", port: url.port, path, method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });

describe("issue 8 through npm start", () => {
  it("the v2 client on 2026-07-28 reads a refusal's text; the v1 client on 2025-11-25 too", async () => {
    const modern = new ModernClient({ name: "e2e-v2", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await modern.connect(new ModernTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
    clients.push(modern);
    const refused = await modern.callTool({ name: "send_campaign", arguments: { campaignId: 42 } });
    expect(refused.isError).toBe(true);
    expect((refused.content[0] as { text: string }).text).toContain("send_campaign needs human approval");

    const legacy = await v1(gateway.token);
    const again = await legacy.callTool({ name: "send_campaign", arguments: { campaignId: 42 } });
    expect((again.content as Array<{ text: string }>)[0]?.text).toContain("send_campaign needs human approval");
  });

  it("a Host or Origin of another site gets 403, the gateway's own loopback names pass", async () => {
    const auth = { authorization: `Bearer ${gateway.token}` };
    expect((await post("/mcp", { ...auth, host: "evil.example.com", origin: "http://evil.example.com" }, INITIALIZE)).status).toBe(403);
    expect((await post("/mcp", { host: "evil.example.com" }, INITIALIZE)).status).toBe(403);
    const port = new URL(gateway.url).port;
    expect((await post("/mcp", { ...auth, host: `localhost:${port}`, origin: "http://evil.example.com" }, INITIALIZE)).status).toBe(403);
    expect((await post("/mcp", { ...auth, host: `localhost:${port}`, origin: `http://localhost:${port}` }, INITIALIZE)).status).toBe(200);
    expect((await post("/mcp", { ...auth, host: `127.0.0.1:${port}` }, INITIALIZE)).status).toBe(200);
  });

  it("tool names that are Object.prototype keys get a JSON-RPC answer, not HTTP 500", async () => {
    const client = await v1(gateway.token);
    for (const name of ["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty"]) {
      await expect(client.callTool({ name, arguments: {} })).rejects.toThrow(`Unknown tool: ${name}`);
    }
  });

  it("increment_from with -5 cannot pass max", async () => {
    const token = await grantOn({ version: "1", default: "deny", tools: { send_campaign: { limits: [{ counter: "c", window: "hour", max: 2, increment_from: "args.campaignId" }] } } });
    const client = await v1(token);
    expect((await client.callTool({ name: "send_campaign", arguments: { campaignId: -5 } })).isError).toBeFalsy();
    expect((await client.callTool({ name: "send_campaign", arguments: { campaignId: -5 } })).isError).toBeFalsy();
    const third = await client.callTool({ name: "send_campaign", arguments: { campaignId: -5 } });
    expect(third._meta?.["mcp-policy-gateway/decision"]).toMatchObject({ decision: "rate_limited" });
  });

  it("PolicyLayer's starter policy (a rule with conditions: []) validates and denies", async () => {
    const validated = await cli("policy", "validate", "policies/examples/policylayer-starter.json");
    expect(validated.status, validated.stderr).toBe(0);
    const simulated = await cli("policy", "simulate", "policies/examples/policylayer-starter.json", "--tool", "send_campaign", "--args", '{"campaignId":1}');
    expect(simulated.stdout).toContain("DENY send_campaign by /tools/send_campaign/deny_if/0: Requires human approval.");
  });

});

describe("every upstream fault through npm start answers the call", () => {
  let openToken: string;
  beforeAll(async () => {
    openToken = await grantOn({ version: "1", default: "allow" });
  });

  it.each([
    ["HTTP 502", "status:502"],
    ["HTTP 429", "refuse-status:429"],
    ["a redirect", "status:302"],
    ["an HTML page", "html"],
    ["an empty body", "empty"],
    ["a truncated body", "truncate"],
    ["the wrong content type", "wrong-type"],
    ["an answer for another id", "other-id"],
    ["a connection reset before the answer", "reset-before"],
    ["a connection reset after running", "reset-after"],
    ["an SSE stream cut inside an event", "cut-sse"],
    ["an SSE stream ended without the answer", "end-sse"],
  ])("%s: the call gets a JSON-RPC error for its id", async (_, fault) => {
    const faulty = await v1(openToken, { "x-fault": fault });
    await expect(faulty.callTool({ name: "send_campaign", arguments: { campaignId: 1 } })).rejects.toThrow(/MCP error -32003: Upstream (error|unreachable)/);
  });
});
