import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { hashToken, tokenKey } from "../../src/grants/grant.ts";
import { revocationEntries } from "../../src/grants/records.ts";
import { ALLOW_ALL, createGrant, gateway, GATEWAY_URL, newTag, putPolicy, upstreamLog } from "./gateway.ts";

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});

async function post(authorization: string | undefined, gw = gateway()) {
  const tag = newTag();
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await gw.fetch(GATEWAY_URL, { method: "POST", headers, body: INITIALIZE });
  const text = await response.text();
  const body = response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined;
  return { response, body: body as { id: unknown; error?: { code: number; message: string } }, received: await upstreamLog(tag) };
}

describe("every request must carry a valid grant", () => {
  it.each([
    ["no Authorization header", undefined, "a grant token is required"],
    ["another scheme", "Basic dXNlcjpwYXNz", "a grant token is required"],
    ["a token that is not a gateway token", "Bearer sk-live-1234", "not a gateway grant token"],
    ["an unknown token", `Bearer mcpgw_${"A".repeat(43)}`, "unknown grant token"],
  ])("%s → 401 with WWW-Authenticate, nothing forwarded", async (_, authorization, message) => {
    const { response, body, received } = await post(authorization);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="mcp-policy-gateway", error="invalid_(token|request)"/);
    expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000, message: expect.stringContaining(message) } });
    expect(received).toEqual([]);
  });

  it("an expired grant → 401", async () => {
    const { token } = await createGrant(await putPolicy(ALLOW_ALL), { expiresAt: new Date(Date.now() - 1000) });
    const { response, body, received } = await post(`Bearer ${token}`);
    expect(response.status).toBe(401);
    expect(body.error?.message).toContain("expired");
    expect(received).toEqual([]);
  });

  it("a revoked grant → 401, once the cache has let go of it", async () => {
    const { token, record } = await createGrant(await putPolicy(ALLOW_ALL));
    const gw = gateway({ CACHE_TTL_MS: "300" });
    expect((await post(`Bearer ${token}`, gw)).response.status).toBe(200);
    for (const entry of revocationEntries(record, await hashToken(token))) await env.GRANTS.put(entry.key, entry.value);
    // Within the cache TTL the isolate still knows the grant as valid, without reading KV.
    expect((await post(`Bearer ${token}`, gw)).response.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const { response, body, received } = await post(`Bearer ${token}`, gw);
    expect(response.status).toBe(401);
    expect(body.error?.message).toContain("revoked");
    expect(received).toEqual([]);
  });

  it("a valid grant passes, and its token never reaches the upstream or the logs", async () => {
    const { token } = await createGrant(await putPolicy(ALLOW_ALL));
    const logged: string[] = [];
    const capture = (...args: unknown[]) => logged.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    const spies = [vi.spyOn(console, "log").mockImplementation(capture), vi.spyOn(console, "error").mockImplementation(capture)];
    try {
      const tag = newTag();
      const gw = gateway();
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag };
      const call = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get_campaigns", arguments: {} } });
      const initialized = await gw.fetch(GATEWAY_URL, { method: "POST", headers, body: INITIALIZE });
      const session = initialized.headers.get("mcp-session-id")!;
      await initialized.text();
      const answer = await gw.fetch(GATEWAY_URL, { method: "POST", headers: { ...headers, "mcp-session-id": session }, body: call });
      expect(answer.status).toBe(200);
      await answer.text();
      expect(JSON.stringify(await upstreamLog(tag))).not.toContain(token);
      // The audit line is written with its batch, up to 100 ms after the agent has its answer.
      for (let waited = 0; waited < 2000 && !logged.some((line) => line.includes('"event":"audit"') && line.includes('"decision":"allow"')); waited += 25) await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(logged.some((line) => line.includes('"event":"audit"') && line.includes('"decision":"allow"'))).toBe(true);
    expect(logged.join("\n")).not.toContain(token);
  });

  it("a grant record is found by the token's SHA-256 only", async () => {
    const { token } = await createGrant(await putPolicy(ALLOW_ALL));
    expect(await env.GRANTS.get(tokenKey(await hashToken(token)))).not.toBeNull();
    const { keys } = await env.GRANTS.list();
    expect(keys.map((key) => key.name).join(" ")).not.toContain(token);
  });
});
