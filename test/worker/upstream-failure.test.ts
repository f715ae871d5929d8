import { describe, expect, it } from "vitest";
import { gateway, GATEWAY_URL, newTag, openGrant, SANDBOX_MCP, upstreamLog } from "./gateway.ts";

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

async function initializeThrough(vars: Record<string, string>) {
  const { token } = await openGrant();
  const tag = newTag();
  const started = Date.now();
  const response = await gateway(vars).fetch(GATEWAY_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag },
    body: INITIALIZE,
  });
  const elapsed = Date.now() - started;
  return { response, elapsed, json: (await response.json()) as { error: { code: number; message: string } }, tag };
}

describe("when the upstream fails, the agent gets a JSON-RPC error naming it, never a hang or a retry", () => {
  it("a slow upstream gets a 504 after the timeout, and received the request exactly once", async () => {
    const { response, elapsed, json, tag } = await initializeThrough({
      UPSTREAM_URL: `${SANDBOX_MCP}?delayMs=4000`,
      UPSTREAM_TIMEOUT_MS: "300",
    });
    expect(response.status).toBe(504);
    expect(json.error.message).toContain("did not answer within 300 ms");
    expect(elapsed).toBeLessThan(3000);
    expect(await upstreamLog(tag)).toHaveLength(1);
  });

  it("an unreachable upstream gets a 502", async () => {
    const { response, json } = await initializeThrough({ UPSTREAM_URL: "http://127.0.0.1:9/mcp" });
    expect(response.status).toBe(502);
    expect(json.error.message).toMatch(/^Upstream unreachable/);
  });

  it("an upstream refusing the gateway's credential gets a 502 naming it, not a 401 the agent would misread", async () => {
    const { response, json, tag } = await initializeThrough({ UPSTREAM_CREDENTIAL: "wrong-key" });
    expect(response.status).toBe(502);
    expect(response.headers.get("www-authenticate")).toBeNull();
    expect(json.error.message).toContain("refused the gateway's credential");
    expect(await upstreamLog(tag)).toHaveLength(1);
  });

  it("a tool call to a slow upstream reaches it once and is not retried", async () => {
    const { token } = await openGrant();
    const tag = newTag();
    const gw = gateway({ UPSTREAM_TIMEOUT_MS: "1000" });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag };
    const post = (body: string, extra: Record<string, string> = {}) => gw.fetch(GATEWAY_URL, { method: "POST", headers: { ...headers, ...extra }, body });
    const initialize = await post(INITIALIZE);
    const session = initialize.headers.get("mcp-session-id")!;
    await initialize.body?.cancel();
    // The gateway learns the tool list at full speed; only the call itself is slow.
    const list = await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), { "mcp-session-id": session });
    await list.text();
    const call = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 1 } } });
    const response = await post(call, { "mcp-session-id": session, "x-sandbox-delay-ms": "2500" });
    expect(response.status).toBe(504);
    const calls = (await upstreamLog(tag)).filter((entry) => entry.body.includes('"tools/call"'));
    expect(calls).toHaveLength(1);
  });
});
