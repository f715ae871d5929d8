import { describe, expect, it } from "vitest";
import { gateway, GATEWAY_URL, newTag, openGrant, upstreamLog } from "./gateway.ts";

const ACCEPT_BOTH = "application/json, text/event-stream";
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

/** Posts to the gateway as an agent with a valid grant, tagged so the sandbox log can be read. */
async function post(body: BodyInit, headers: Record<string, string> = {}, vars: Record<string, string> = {}) {
  const { token } = await openGrant();
  const tag = newTag();
  const response = await gateway(vars).fetch(GATEWAY_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: ACCEPT_BOTH, "x-sandbox-tag": tag, ...headers },
    body,
  });
  // Refusals are JSON; what the upstream answers may be an SSE stream.
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined;
  return { response, json: json as { id: unknown; error: { code: number; message: string } }, received: await upstreamLog(tag) };
}

describe("bad input gets a clear JSON-RPC error and reaches nothing upstream", () => {
  it("malformed JSON → 400 / -32700", async () => {
    const { response, json, received } = await post('{"jsonrpc":"2.0",');
    expect(response.status).toBe(400);
    expect(json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect(received).toEqual([]);
  });

  it("invalid UTF-8 → 400 / -32700", async () => {
    const { response, json, received } = await post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect(response.status).toBe(400);
    expect(json.error.code).toBe(-32700);
    expect(received).toEqual([]);
  });

  it.each([
    ["a bare string", '"hello"'],
    ["an object that is not JSON-RPC", '{"hello":"world"}'],
    ["a wrong jsonrpc version", '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
    ["an empty batch", "[]"],
    ["a batch with one bad element", '[{"jsonrpc":"2.0","method":"notifications/initialized"},{"nope":1}]'],
  ])("%s → 400 / -32600", async (_, body) => {
    const { response, json, received } = await post(body);
    expect(response.status).toBe(400);
    expect(json.error.code).toBe(-32600);
    expect(received).toEqual([]);
  });

  it("a body over the limit → 413, checked while streaming even without Content-Length", async () => {
    const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, padding: "x".repeat(2048) } });
    const { response, json, received } = await post(big, {}, { MAX_BODY_BYTES: "1024" });
    expect(response.status).toBe(413);
    expect(json.error.message).toContain("1024 bytes");
    expect(received).toEqual([]);

    const stream = new Blob([big]).stream();
    const { response: streamed, received: streamedReceived } = await post(stream, {}, { MAX_BODY_BYTES: "1024" });
    expect(streamed.status).toBe(413);
    expect(streamedReceived).toEqual([]);
  });

  it("the default limit is 1 MiB", async () => {
    const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, padding: "x".repeat(1024 * 1024) } });
    const { response, received } = await post(big);
    expect(response.status).toBe(413);
    expect(received).toEqual([]);
  });

  it("a wrong Content-Type → 415", async () => {
    const { response, json, received } = await post(JSON.stringify(INITIALIZE), { "content-type": "text/plain" });
    expect(response.status).toBe(415);
    expect(json.error.message).toContain("application/json");
    expect(received).toEqual([]);
  });

  it("Content-Type with a charset parameter is fine", async () => {
    const { response } = await post(JSON.stringify(INITIALIZE), { "content-type": "application/json; charset=utf-8" });
    expect(response.status).toBe(200);
  });

  it("an Accept header that does not list both JSON and SSE → 406", async () => {
    const { response, json, received } = await post(JSON.stringify(INITIALIZE), { accept: "application/json" });
    expect(response.status).toBe(406);
    expect(json.error.code).toBe(-32000);
    expect(received).toEqual([]);
  });

  it("GET without Accept: text/event-stream → 406", async () => {
    const { token } = await openGrant();
    const response = await gateway().fetch(GATEWAY_URL, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    expect(response.status).toBe(406);
  });

  it("other HTTP methods → 405 with Allow", async () => {
    const { token } = await openGrant();
    const response = await gateway().fetch(GATEWAY_URL, { method: "PUT", headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, DELETE");
  });

  it("an Origin that is not allowed → 403, one on the allow-list passes", async () => {
    const { response, received } = await post(JSON.stringify(INITIALIZE), { origin: "https://evil.example" });
    expect(response.status).toBe(403);
    expect(received).toEqual([]);
    const allowed = await post(JSON.stringify(INITIALIZE), { origin: "https://app.example" }, { ALLOWED_ORIGINS: "https://app.example, https://other.example" });
    expect(allowed.response.status).toBe(200);
  });

  it("a browser on an allowed origin gets its CORS preflight answered and can read the session id", async () => {
    const gw = gateway({ ALLOWED_ORIGINS: "https://app.example" });
    const preflight = await gw.fetch(GATEWAY_URL, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, mcp-session-id" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    const { response } = await post(JSON.stringify(INITIALIZE), { origin: "https://app.example" }, { ALLOWED_ORIGINS: "https://app.example" });
    expect(response.headers.get("access-control-expose-headers")).toContain("Mcp-Session-Id");

    const foreign = await gw.fetch(GATEWAY_URL, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("an unknown path → 404", async () => {
    const response = await gateway().fetch("https://gateway.test/elsewhere");
    expect(response.status).toBe(404);
  });
});

describe("2026-07-28 request headers must agree with the body (HTTP 400, -32020)", () => {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  const call = { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "get_campaigns", arguments: {}, _meta: meta } };
  const modern = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "get_campaigns" };

  it.each([
    ["Mcp-Method disagrees", { ...modern, "mcp-method": "tools/list" }, "Mcp-Method"],
    ["Mcp-Name disagrees", { ...modern, "mcp-name": "send_campaign" }, "Mcp-Name"],
    ["base64 Mcp-Name disagrees", { ...modern, "mcp-name": `=?base64?${btoa("send_campaign")}?=` }, "Mcp-Name"],
    ["MCP-Protocol-Version disagrees with _meta", { ...modern, "mcp-protocol-version": "2025-11-25" }, "MCP-Protocol-Version"],
    ["Mcp-Method is missing", { "mcp-protocol-version": "2026-07-28", "mcp-name": "get_campaigns" }, "Mcp-Method header is required"],
    ["Mcp-Name is missing", { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call" }, "Mcp-Name header is required"],
    ["Mcp-Name has control characters", { ...modern, "mcp-name": "get_campaigns\u0001" }, "invalid characters"],
  ])("%s", async (_, headers, message) => {
    const { response, json, received } = await post(JSON.stringify(call), headers);
    expect(response.status).toBe(400);
    expect(json).toMatchObject({ id: 9, error: { code: -32020 } });
    expect(json.error.message).toContain(message);
    expect(received).toEqual([]);
  });

  it("a legacy request whose Mcp-Method header disagrees is refused too", async () => {
    const { response, json, received } = await post(JSON.stringify(INITIALIZE), { "mcp-method": "tools/call" });
    expect(response.status).toBe(400);
    expect(json.error.code).toBe(-32020);
    expect(received).toEqual([]);
  });

  it("matching headers, with the base64 sentinel decoded, pass", async () => {
    const headers = { ...modern, "mcp-name": `=?base64?${btoa("get_campaigns")}?=` };
    const { response } = await post(JSON.stringify(call), headers);
    expect(response.status).toBe(200);
  });
});
