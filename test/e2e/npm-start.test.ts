import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { isListed } from "../../src/policy/evaluate.ts";
import { validatePolicyText } from "../../src/policy/validate.ts";
import { toolTags } from "../../src/tools/catalog.ts";
import { freePort, ROOT, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";
import { watchRuntime } from "./inspector.ts";

let gateway: RunningGateway;
let inspectorPort: number;

beforeAll(async () => {
  inspectorPort = await freePort();
  // Revocation is checked below, so grants are cached for 500 ms only.
  gateway = await startGateway(["--sandbox", "--var", "CACHE_TTL_MS:500", "--inspector-port", String(inspectorPort)]);
});
afterAll(async () => gateway?.stop());
// Each client holds a standalone GET stream open; close them so no test inherits another's sockets.
const clients: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 6000 chars):\n${gateway.output().slice(-6000)}`)));

async function connect(token: string) {
  const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const iterableTools: Array<{ name: string }> = JSON.parse(readFileSync(`${ROOT}/test/upstream/iterable-tools.json`, "utf8")).tools;

describe("npm start -- --sandbox: the gateway in front of the sandbox, with the recommended policy and a dev grant", () => {
  it("an SDK client lists exactly the tools the recommended policy allows", async () => {
    const validation = validatePolicyText(readFileSync(`${ROOT}/policies/iterable/recommended.json`, "utf8"));
    if (!validation.ok) throw new Error(validation.problems.join("\n"));
    const expected = iterableTools.filter((tool) => isListed(validation.policy, tool.name, toolTags(tool.name))).map((tool) => tool.name);

    const client = await connect(gateway.token);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(90);
    expect(tools.map((tool) => tool.name)).not.toContain("delete_catalog");
    expect(tools.map((tool) => tool.name)).toContain("send_campaign");
  });

  it("on an allow-all policy the gateway lists the same 118 tools as the sandbox itself", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "policy-")), "allow-all.json");
    writeFileSync(file, JSON.stringify({ version: "1", default: "allow" }));
    expect((await gateway.cli("policy", "push", file, "--name", "allow-all-e2e")).status).toBe(0);
    const created = await gateway.cli("grant", "create", "--label", "open", "--policy", "allow-all-e2e", "--json");
    const viaGateway = await connect((JSON.parse(created.stdout) as { token: string }).token);

    const transport = new StreamableHTTPClientTransport(new URL(gateway.upstreamUrl), { requestInit: { headers: { "api-key": "sandbox-dev-key" } } });
    const direct = new Client({ name: "e2e", version: "1.0.0" });
    await direct.connect(transport);
    clients.push(direct);
    const expected = await direct.listTools();
    expect(expected.tools).toHaveLength(118);
    expect(await viaGateway.listTools()).toEqual(expected);
  });

  it("get_campaigns works, delete_catalog is unknown, send_campaign is refused with a readable reason", async () => {
    const client = await connect(gateway.token);
    const campaigns = await client.callTool({ name: "get_campaigns", arguments: {} });
    expect(campaigns.isError).toBeFalsy();
    expect(JSON.stringify(campaigns.content)).toContain("campaigns");

    await expect(client.callTool({ name: "delete_catalog", arguments: { catalogName: "products" } })).rejects.toThrow("Unknown tool: delete_catalog");

    const send = await client.callTool({ name: "send_campaign", arguments: { campaignId: 42 } });
    expect(send.isError).toBe(true);
    expect(send.content).toEqual([{ type: "text", text: expect.stringContaining("send_campaign needs human approval") }]);
    expect(send._meta?.["mcp-policy-gateway/decision"]).toMatchObject({ decision: "approval_required", policy: "recommended" });
  });

  it("the v2 SDK client speaks 2026-07-28 through the gateway and sees the same tools", async () => {
    const transport = new ModernTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } });
    const client = new ModernClient({ name: "e2e-modern", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(transport);
    clients.push(client);
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    const legacy = await connect(gateway.token);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual((await legacy.listTools()).tools.map((tool) => tool.name));
  });

  it("a grant created with the CLI works, and after grant revoke it gets 401", async () => {
    const created = await gateway.cli("grant", "create", "--label", "e2e-agent", "--policy", "recommended", "--json");
    expect(created.status, created.stderr).toBe(0);
    const { token, grant } = JSON.parse(created.stdout) as { token: string; grant: { id: string } };
    const client = await connect(token);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);

    const listed = await gateway.cli("grant", "list", "--json");
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ id: grant.id, label: "e2e-agent", revoked: false }));

    const revoked = await gateway.cli("grant", "revoke", grant.id);
    expect(revoked.status, revoked.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const response = await fetch(gateway.url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining("revoked") } });
  });

  it("the seed policy: the 11th send_campaign inside a minute is refused with a retry time; a second grant has its own 10", async () => {
    const pushed = await gateway.cli("policy", "push", "policies/examples/send-campaign-rate-limit.json", "--name", "seed-e2e");
    expect(pushed.status, pushed.stderr).toBe(0);
    const grants: string[] = [];
    // One after the other, as a user would: local KV is one SQLite file.
    for (const n of [1, 2]) {
      const created = await gateway.cli("grant", "create", "--label", `seed-agent-${n}`, "--policy", "seed-e2e", "--json");
      expect(created.status, created.stderr).toBe(0);
      grants.push((JSON.parse(created.stdout) as { token: string }).token);
    }
    const [first, second] = await Promise.all(grants.map((token) => connect(token)));
    expect((await first!.listTools()).tools.map((tool) => tool.name)).toEqual(["send_campaign"]);

    for (let i = 1; i <= 10; i++) {
      const result = await first!.callTool({ name: "send_campaign", arguments: { campaignId: i } });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
    }
    const eleventh = await first!.callTool({ name: "send_campaign", arguments: { campaignId: 11 } });
    expect(eleventh.isError).toBe(true);
    expect(eleventh.content).toEqual([{ type: "text", text: expect.stringMatching(/send_campaign_rate.*Retry after \d+ s/) }]);
    const decision = eleventh._meta?.["mcp-policy-gateway/decision"] as { decision: string; retryAfter: number };
    expect(decision.decision).toBe("rate_limited");
    expect(decision.retryAfter).toBeGreaterThan(0);
    expect(decision.retryAfter).toBeLessThanOrEqual(60);

    for (let i = 1; i <= 10; i++) {
      expect((await second!.callTool({ name: "send_campaign", arguments: { campaignId: i } })).isError).toBeFalsy();
    }
    expect((await second!.callTool({ name: "send_campaign", arguments: { campaignId: 11 } })).isError).toBe(true);
  });
});

describe("requests in the real runtime share no promise", () => {
  it("600 calls, 16 at a time over 3 grants: every audit record is stored, and workerd cancels nothing", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "policy-")), "allow-all.json");
    writeFileSync(file, JSON.stringify({ version: "1", default: "allow" }));
    expect((await gateway.cli("policy", "push", file, "--name", "concurrent-e2e")).status).toBe(0);
    const grants: Array<{ token: string; grant: { id: string } }> = [];
    for (const n of [1, 2, 3]) {
      const created = await gateway.cli("grant", "create", "--label", `concurrent-${n}`, "--policy", "concurrent-e2e", "--json");
      expect(created.status, created.stderr).toBe(0);
      grants.push(JSON.parse(created.stdout) as { token: string; grant: { id: string } });
    }
    // Raw JSON-RPC, one session per grant: each call is one HTTP request, so its
    // own request context in workerd. A steady stream of them makes requests
    // start and end while other requests' audit records wait to be sent.
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" });
    const sessions = await Promise.all(
      grants.map(async ({ token }) => {
        const response = await fetch(gateway.url, {
          method: "POST",
          headers: headers(token),
          body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }),
        });
        await response.text();
        return { ...headers(token), "mcp-session-id": response.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-11-25" };
      }),
    );
    const call = async (session: Record<string, string>, page: number) => {
      const response = await fetch(gateway.url, { method: "POST", headers: session, body: JSON.stringify({ jsonrpc: "2.0", id: page, method: "tools/call", params: { name: "get_campaigns", arguments: { page } } }) });
      return { status: response.status, body: await response.text() };
    };
    const runtime = await watchRuntime(inspectorPort);
    const outputFrom = gateway.output().length;
    // The watcher must see what the runtime reports: a refusal at the token endpoint is logged with console.warn.
    await provokeReport(runtime, outputFrom, 1);
    const perGrant = 200;
    const answers = await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        const mine = [];
        for (let n = lane; n < perGrant * grants.length; n += 16) mine.push(await call(sessions[n % grants.length]!, Math.floor(n / grants.length) + 1));
        return mine;
      }),
    );
    expect(answers.flat().filter((answer) => answer.status !== 200 || answer.body.includes('"isError":true'))).toEqual([]);

    for (const { grant } of grants) {
      const deadline = Date.now() + 15_000;
      let stored = 0;
      while (Date.now() < deadline) {
        const response = await fetch(`${gateway.origin}/admin/api/grants/${grant.id}/audit?decision=allow&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
        stored = ((await response.json()) as { records: unknown[] }).records.length;
        if (stored >= perGrant) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(stored).toBe(perGrant);
    }
    // And still sees it after the load: the silence below is the runtime's, not a watcher that stopped.
    await provokeReport(runtime, outputFrom, 2);
    runtime.close();
    expect(runtime.seen().filter((report) => !report.includes("CIMD") && !report.includes(PROVOKED))).toEqual([]);
    // workerd also prints a cancellation to the process output (the inspector is not its only channel).
    expect(gateway.output().slice(outputFrom)).not.toMatch(/canceled this request|will never complete|hung and would never generate a response/i);
  });
});

/** What the provoked report carries: the gateway's log line for an OAuth refusal. */
const PROVOKED = '"event":"oauth_error"';

/**
 * Provokes a report the runtime must pass on (a token request with the wrong content type is refused and
 * logged with console.warn) and waits until it is the `count`th seen by the inspector watcher and printed
 * in npm start's output since `outputFrom`: proof that both channels are being read.
 */
async function provokeReport(runtime: Awaited<ReturnType<typeof watchRuntime>>, outputFrom: number, count: number): Promise<void> {
  const refused = await fetch(`${gateway.origin}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  expect(refused.status).toBe(400);
  await refused.text();
  const provoked = () => runtime.seen().filter((report) => report.includes(PROVOKED)).length;
  const printed = () => gateway.output().slice(outputFrom).split(PROVOKED).length - 1;
  const deadline = Date.now() + 10_000;
  while ((provoked() < count || printed() < count) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect({ inspector: provoked(), output: printed() }).toEqual({ inspector: count, output: count });
}
