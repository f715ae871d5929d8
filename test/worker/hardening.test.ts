/**
 * Regression tests for the defects a security review and real MCP clients
 * found (issue 8), one `describe` per defect, through the gateway Worker with
 * its real bindings and the sandbox upstream. Defects 6, 9 and the upstream
 * failures are in upstream-failure.test.ts, 11 in test/unit/sse.test.ts and
 * json-scan.test.ts, 12 in test/e2e/generated.test.ts, 13 in
 * test/unit/tool-index.test.ts, the pure policy parts of 3-5 in
 * test/unit/evaluate.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeClients, connectV1, connectV2, viaGateway } from "./clients.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, newTag, openGrant, putPolicy, rawAgent, TAG_HEADER, upstreamLog } from "./gateway.ts";

afterEach(closeClients);

const calls = async (tag: string) => (await upstreamLog(tag)).filter((entry) => entry.body.includes('"tools/call"'));

describe("defect 1: the gateway's own tools/call results are valid on 2026-07-28", () => {
  const REFUSING = {
    version: "1",
    default: "deny",
    tools: {
      get_campaigns: { limits: [{ counter: "reads", window: "minute", max: 1 }] },
      send_campaign: { action: "approve" },
      get_lists: {},
    },
  };

  it("the v2 client pinned to 2026-07-28 reads every kind of refusal as text, with resultType complete", async () => {
    const { token } = await createGrant(await putPolicy(REFUSING as never));
    const to = viaGateway(gateway(), token);
    const client = await connectV2(to);
    const texts: string[] = [];
    for (const [name, args] of [
      ["delete_list", { listId: 1 }],
      ["send_campaign", { campaignId: 1 }],
      ["get_lists", { unexpected: true, page: "one" }],
      ["get_campaigns", {}],
      ["get_campaigns", {}],
    ] as const) {
      const result = await client.callTool({ name, arguments: args });
      texts.push((result.content[0] as { text: string }).text);
    }
    expect(texts[0]).toContain("delete_list was denied by the gateway policy");
    expect(texts[1]).toContain("send_campaign needs human approval");
    expect(texts[2]).toContain("get_lists was refused: its arguments are invalid");
    expect(texts[4]).toContain("a rate limit is exhausted");
  });

  it("on the wire, a 2026-07-28 refusal carries resultType: complete and a 2025-11-25 one does not", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny" }));
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const modern = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "send_campaign",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 1 }, _meta: meta } }),
    });
    expect(await modern.json()).toMatchObject({ id: 1, result: { isError: true, resultType: "complete" } });

    const legacy = await rawAgent(gateway(), token);
    const answer = await legacy.call("send_campaign", { campaignId: 1 }, { "mcp-protocol-version": "2025-11-25" });
    expect(answer.result?.isError).toBe(true);
    expect(answer.result).not.toHaveProperty("resultType");
  });

  it("the v1 client on 2025-11-25 reads the same refusal", async () => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "deny" }));
    const { client } = await connectV1(viaGateway(gateway(), token));
    const result = await client.callTool({ name: "send_campaign", arguments: { campaignId: 1 } });
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]?.text).toContain("send_campaign was denied by the gateway policy");
  });
});

describe("defect 2: DNS-rebinding protection does not trust the Host header", () => {
  const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  const post = async (url: string, headers: Record<string, string>, vars: Record<string, string> = {}) => {
    const tag = newTag();
    const response = await gateway(vars).fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag, ...headers },
      body: initialize,
    });
    return { status: response.status, received: (await upstreamLog(tag)).length };
  };

  it("an Origin equal to the request's own Host is refused unless configured", async () => {
    const { token } = await openGrant();
    const auth = { authorization: `Bearer ${token}` };
    expect(await post("http://evil.example.com/mcp", { ...auth, origin: "http://evil.example.com" })).toEqual({ status: 403, received: 0 });
    expect(await post("https://gateway.test/mcp", { ...auth, origin: "https://gateway.test" })).toEqual({ status: 403, received: 0 });
    expect((await post("https://gateway.test/mcp", { ...auth, origin: "https://gateway.test" }, { PUBLIC_URL: "https://gateway.test" })).status).toBe(200);
  });

  it("with a loopback PUBLIC_URL (npm start), a non-loopback Host is refused with 403 before authentication", async () => {
    const local = { PUBLIC_URL: "http://localhost:8787" };
    expect(await post("http://evil.example.com:8787/mcp", { origin: "http://evil.example.com:8787" }, local)).toEqual({ status: 403, received: 0 });
    expect(await post("http://evil.example.com:8787/mcp", {}, local)).toEqual({ status: 403, received: 0 });
    // The gateway's own loopback names on its port pass the guard (and then need a token).
    for (const host of ["localhost:8787", "127.0.0.1:8787", "[::1]:8787"]) {
      expect((await post(`http://${host}/mcp`, { origin: `http://${host}` }, local)).status, host).toBe(401);
    }
    expect((await post("http://localhost:9999/mcp", {}, local)).status).toBe(403);
  });
});

describe("defect 3: tool names that are Object.prototype keys get a JSON-RPC answer", () => {
  it.each(["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty"])("%s", async (name) => {
    const { token } = await createGrant(await putPolicy({ version: "1", default: "allow", tags: { send_campaign: ["sends"] } }));
    const agent = await rawAgent(gateway(), token);
    const answer = await agent.call(name, {});
    expect(answer.status).toBe(200);
    expect(answer).toMatchObject({ id: expect.any(Number), error: { code: -32601, message: `Unknown tool: ${name}` } });
    expect(await calls(agent.tag)).toEqual([]);
  });
});

describe("defect 4: increment_from with a negative value cannot pass max", () => {
  it("-5 counts 1: the third call against max 2 is refused", async () => {
    const { token } = await createGrant(
      await putPolicy({ version: "1", default: "deny", tools: { send_campaign: { limits: [{ counter: "c", window: "minute", max: 2, increment_from: "args.campaignId" }] } } }),
    );
    const agent = await rawAgent(gateway(), token);
    expect((await agent.call("send_campaign", { campaignId: -5 })).result?.isError).toBeFalsy();
    expect((await agent.call("send_campaign", { campaignId: -5 })).result?.isError).toBeFalsy();
    expect(decisionOf(await agent.call("send_campaign", { campaignId: -5 }))).toMatchObject({ decision: "rate_limited" });
    expect(await calls(agent.tag)).toHaveLength(2);
  });
});

describe("defect 7: what is judged is what is forwarded", () => {
  it("a number that parses to Infinity is refused as invalid params for the request's id, never forwarded as null", async () => {
    const { token } = await openGrant();
    const agent = await rawAgent(gateway(), token);
    await agent.rpc("tools/list", {});
    const tag = newTag();
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.sessionId, [TAG_HEADER]: tag },
      body: '{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"send_campaign","arguments":{"campaignId":1e999}}}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: 41, error: { code: -32602, message: expect.stringContaining("too large to be represented") } });
    expect(await upstreamLog(tag)).toEqual([]);
  });

  it("arguments nested deeper than 100 levels are refused the same way", async () => {
    const { token } = await openGrant();
    const tag = newTag();
    const deep = `${"[".repeat(200)}${"]".repeat(200)}`;
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag },
      body: `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"get_campaigns","arguments":{"a":${deep}}}}`,
    });
    expect(await response.json()).toMatchObject({ id: "deep", error: { code: -32602, message: expect.stringContaining("nested more than 100 levels") } });
    expect(await upstreamLog(tag)).toEqual([]);
  });
});

describe("defect 8: a tools/call notification never reaches the upstream", () => {
  it("is refused with 400 and not forwarded", async () => {
    const { token } = await openGrant();
    const agent = await rawAgent(gateway(), token);
    const response = await gateway().fetch(GATEWAY_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": agent.sessionId, [TAG_HEADER]: agent.tag },
      body: JSON.stringify({ jsonrpc: "2.0", method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 1 } } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ id: null, error: { code: -32600, message: expect.stringContaining("must be a request with an id") } });
    expect(await calls(agent.tag)).toEqual([]);
  });
});

describe("defect 10: session-scoped limits on 2026-07-28 count per grant", () => {
  it("requests carrying different valid session ids share one count", async () => {
    const { token } = await createGrant(
      await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: { limits: [{ counter: "per-session", window: "minute", max: 1, scope: "session" }] } } }),
    );
    const gw = gateway();
    // Two session ids the gateway minted for this grant (HMAC-valid), as an attacker could collect.
    const sessions = [(await rawAgent(gw, token)).sessionId, (await rawAgent(gw, token)).sessionId];
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const decisions = [];
    for (const [index, session] of [...sessions, undefined].entries()) {
      const response = await gw.fetch(GATEWAY_URL, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "get_campaigns",
          ...(session ? { "mcp-session-id": session } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: index, method: "tools/call", params: { name: "get_campaigns", arguments: {}, _meta: meta } }),
      });
      decisions.push(decisionOf((await response.json()) as never)?.decision ?? "forwarded");
    }
    expect(decisions).toEqual(["forwarded", "rate_limited", "rate_limited"]);
  });
});

describe("first run: an OAuth-speaking client signs in with OAuth (issue 12)", () => {
  it("the 401 leads to the metadata, mcp-remote's registration succeeds, and its authorize URL opens the sign-in page", async () => {
    const gw = gateway();
    const unauthorized = await gw.fetch(GATEWAY_URL, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("www-authenticate")).toContain('resource_metadata="https://gateway.test/.well-known/oauth-protected-resource/mcp"');
    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const response = await gw.fetch(`https://gateway.test${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.json()).toMatchObject({ resource: "https://gateway.test/mcp", authorization_servers: ["https://gateway.test"] });
    }
    const metadata = (await (await gw.fetch("https://gateway.test/.well-known/oauth-authorization-server")).json()) as { registration_endpoint: string; authorization_endpoint: string };
    expect(metadata.registration_endpoint).toBe("https://gateway.test/register");
    // What mcp-remote registers.
    const registration = await gw.fetch(metadata.registration_endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "MCP CLI Proxy",
        redirect_uris: ["http://localhost:3334/oauth/callback"],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }),
    });
    expect(registration.status).toBe(201);
    const { client_id } = (await registration.json()) as { client_id: string };
    const authorize = new URL(metadata.authorization_endpoint);
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id,
      redirect_uri: "http://localhost:3334/oauth/callback",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      state: "s",
      resource: "https://gateway.test/mcp",
    }).toString();
    const page = await gw.fetch(authorize);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("MCP CLI Proxy");
    expect(html).toContain("Grant token");
    expect(html).toContain("This sends access to an app on your own computer");
  });
});

