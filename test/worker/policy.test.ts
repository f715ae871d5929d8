import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { policyVersion } from "../../src/policy/version.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, newTag, putPolicy, rawAgent, SANDBOX_FEATURES, SANDBOX_MCP, TAG_HEADER, upstreamLog } from "./gateway.ts";

const HIDE_DELETES = { version: "1", default: "allow", hide: ["delete_*", "@destructive"] } as const;

const calls = async (tag: string) => (await upstreamLog(tag)).filter((entry) => entry.body.includes('"tools/call"'));

/** A 2026-07-28 (stateless) request: its answers come back as JSON, not SSE. */
async function modernRequest(gw: ReturnType<typeof gateway>, token: string, tag: string, method: string, params: Record<string, unknown>, name?: string) {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1" },
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  const response = await gw.fetch(GATEWAY_URL, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name ? { "mcp-name": name } : {}),
      [TAG_HEADER]: tag,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: meta } }),
  });
  return response;
}

describe("hidden tools", () => {
  it("are absent from tools/list answers sent as SSE (2025 sessions)", async () => {
    const { token } = await createGrant(await putPolicy(HIDE_DELETES));
    const agent = await rawAgent(gateway(), token);
    const names = (await agent.rpc("tools/list", {})).result!.tools!.map((tool) => tool.name);
    expect(names).toHaveLength(118 - 10);
    expect(names.filter((name) => name.startsWith("delete_"))).toEqual([]);
    expect(names).toContain("get_campaigns");
    expect(names).not.toContain("archive_campaigns"); // @destructive in the catalog
  });

  it("are absent from tools/list answers sent as JSON (2026-07-28)", async () => {
    const { token } = await createGrant(await putPolicy(HIDE_DELETES));
    const response = await modernRequest(gateway(), token, newTag(), "tools/list", {});
    expect(response.headers.get("content-type")).toContain("application/json");
    const body = (await response.json()) as { result: { tools: Array<{ name: string }> } };
    expect(body.result.tools).toHaveLength(108);
    expect(body.result.tools.map((tool) => tool.name)).not.toContain("delete_list");
  });

  it("are refused at call time exactly as the upstream refuses a tool it does not have, and never forwarded", async () => {
    const { token } = await createGrant(await putPolicy(HIDE_DELETES));
    const agent = await rawAgent(gateway(), token);
    const hidden = await agent.call("delete_list", { listId: 1 });
    expect(hidden.error).toEqual({ code: -32601, message: "Unknown tool: delete_list" });
    expect(await calls(agent.tag)).toEqual([]);

    // The sandbox, asked directly for a tool it lacks, answers the same way.
    const direct = await rawAgent(gateway({ UPSTREAM_URL: SANDBOX_MCP }), (await createGrant(await putPolicy({ version: "1", default: "allow", mode: "monitor" }))).token);
    const missing = await direct.call("delete_everything", {});
    expect(missing.error).toEqual({ code: -32601, message: "Unknown tool: delete_everything" });
  });
});

describe("tags from the upstream's annotations", () => {
  it("tag tools outside the catalog: readOnlyHint is @read, destructiveHint is @destructive", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny", hide: ["@destructive"], tools: { "@read": {} } }));
    const agent = await rawAgent(gateway({ UPSTREAM_URL: SANDBOX_FEATURES }), token);
    expect((await agent.rpc("tools/list", {})).result?.tools?.map((tool) => tool.name)).toEqual(["echo"]);
    expect((await agent.call("echo", { text: "hi" })).result?.isError).toBeFalsy();
    expect((await agent.call("wipe", { target: "everything" })).error?.message).toBe("Unknown tool: wipe");
    expect(decisionOf(await agent.call("progress", { steps: 1 }))).toMatchObject({ decision: "deny", rule: "/default" });
  });
});

describe("decisions", () => {
  it("a denied call is answered with a readable reason and the structured decision, and never reaches the upstream", async () => {
    const policy = {
      version: "1",
      default: "allow",
      tools: { send_campaign: { deny_if: [{ conditions: [{ path: "args.campaignId", op: "gte", value: 1000 }], on_deny: "campaigns from 1000 up are production campaigns" }] } },
    } as const;
    const name = await putPolicy(policy as never);
    const { token } = await createGrant(name);
    const agent = await rawAgent(gateway(), token);
    const denied = await agent.call("send_campaign", { campaignId: 4242 });
    expect(denied.result?.isError).toBe(true);
    expect(denied.result?.content?.[0]?.text).toBe(
      `Tool call send_campaign was denied by the gateway policy (rule /tools/send_campaign/deny_if/0 of policy "${name}"): campaigns from 1000 up are production campaigns.`,
    );
    expect(decisionOf(denied)).toEqual({
      decision: "deny",
      tool: "send_campaign",
      rule: "/tools/send_campaign/deny_if/0",
      reason: "campaigns from 1000 up are production campaigns",
      policy: name,
      policyVersion: await policyVersion(policy),
    });
    expect(await calls(agent.tag)).toEqual([]);
    expect((await agent.call("send_campaign", { campaignId: 7 })).result?.isError).toBeFalsy();
    expect(await calls(agent.tag)).toHaveLength(1);
  });

  it("arguments that do not fit the tool's advertised inputSchema are refused at the edge", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "allow" }));
    const agent = await rawAgent(gateway(), token);
    const refused = await agent.call("send_campaign", { campaignId: "all-customers" });
    expect(decisionOf(refused)).toMatchObject({ decision: "invalid_arguments", rule: "/default" });
    expect(refused.result?.content?.[0]?.text).toContain("campaignId");
    expect(await calls(agent.tag)).toEqual([]);
  });

  it("with no policy stored under the grant's policy name, every call is refused with a reason", async () => {
    const { token } = await createGrant(`missing-${crypto.randomUUID()}`);
    const agent = await rawAgent(gateway(), token);
    const refused = await agent.call("get_campaigns", {});
    expect(decisionOf(refused)).toMatchObject({ decision: "deny", rule: "", reason: expect.stringContaining("no policy named") });
    expect((await agent.rpc("tools/list", {})).result?.tools).toEqual([]);
    expect(await calls(agent.tag)).toEqual([]);
  });

  it("a policy that was never valid refuses everything and says why", async () => {
    const name = await putPolicy('{"version":"1","default":"allow","tools":{"x":{"limits":[{"counter":"c","window":"fortnight","max":1}]}}}');
    const agent = await rawAgent(gateway(), (await createGrant(name)).token);
    const refused = await agent.call("get_campaigns", {});
    expect(decisionOf(refused)?.reason).toContain("tools.x.limits[0].window");
    expect(await calls(agent.tag)).toEqual([]);
  });

  it("a policy update takes effect within the cache TTL; a broken update keeps the last valid copy", async () => {
    const name = await putPolicy({ version: "1", default: "allow" });
    const { token } = await createGrant(name);
    const agent = await rawAgent(gateway({ CACHE_TTL_MS: "200" }), token);
    expect((await agent.call("get_campaigns", {})).result?.isError).toBeFalsy();

    await env.POLICIES.put(name, JSON.stringify({ version: "1", default: "deny" }));
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(decisionOf(await agent.call("get_campaigns", {}))).toMatchObject({ decision: "deny", rule: "/default" });

    await env.POLICIES.put(name, '{"version":"1","default":"allow",'); // truncated upload
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(decisionOf(await agent.call("get_campaigns", {}))).toMatchObject({ decision: "deny", rule: "/default" });
  });

  it("monitor mode forwards what it would refuse", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny", mode: "monitor" }));
    const agent = await rawAgent(gateway(), token);
    expect((await agent.call("send_campaign", { campaignId: 1 })).result?.isError).toBeFalsy();
    expect(await calls(agent.tag)).toHaveLength(1);
  });

  it("a 2025-03-26 batch holding a tools/call is refused, not forwarded unjudged", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny" }));
    const tag = newTag();
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag },
      body: JSON.stringify([
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 1 } } },
      ]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32600, message: expect.stringContaining("tools/call as a single message") } });
    expect(await upstreamLog(tag)).toEqual([]);
  });
});
