// Smoke test of the sandbox upstream with the v2 SDK client pinned to 2026-07-28
// (stateless, per-request `_meta` envelope, input_required instead of pushed requests).
//
//   npx wrangler dev -c test/upstream/wrangler.toml --port 8788   (in another shell)
//   [SANDBOX_API_KEY=…] node test/upstream/smoke/v2-client.mjs [baseUrl]
//
// Exits non-zero on the first failed check. Prints one line per check as evidence,
// including the HTTP headers the v2 client sent, read back from the sandbox's request log.
import { strict as assert } from "node:assert";

import { Client, LOG_LEVEL_META_KEY, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const BASE = process.argv[2] ?? "http://localhost:8788";
const TAG = `smoke-v2-${Date.now()}`;
// SANDBOX_API_KEY: the key the sandbox was started with (`--var SANDBOX_API_KEY:…`), if any.
const requestInit = {
  headers: { "x-sandbox-tag": TAG, ...(process.env.SANDBOX_API_KEY ? { "Api-Key": process.env.SANDBOX_API_KEY } : {}) },
};

const ok = (label, detail = "") => console.log(`ok  ${label}${detail ? `  ${detail}` : ""}`);
const waitFor = async (predicate, label, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** Records status and content type of every response, to show what the modern leg answers. */
const responses = [];
const recordingFetch = async (url, init) => {
  const response = await fetch(url, init);
  const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
  responses.push({ method: body?.method ?? init?.method, status: response.status, type: response.headers.get("content-type") });
  return response;
};

/** `mode: { pin: '2026-07-28' }` never falls back to `initialize`; `mode: 'auto'` would. */
async function connectModern(path, capabilities = {}) {
  const client = new Client({ name: "smoke-v2", version: "1.0.0" }, { capabilities, versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${BASE}${path}`), { requestInit, fetch: recordingFetch }));
  assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
  assert.equal(client.getProtocolEra(), "modern");
  return client;
}

// ---------------------------------------------------------------- /mcp (Iterable-shaped)
{
  const client = await connectModern("/mcp");
  ok("iterable connect", `negotiated=${client.getNegotiatedProtocolVersion()} era=${client.getProtocolEra()} server=${JSON.stringify(client.getServerVersion())}`);

  const { tools } = await client.listTools();
  assert.equal(tools.length, 118);
  ok("iterable tools/list", `${tools.length} tools`);

  const result = await client.callTool({ name: "get_campaign", arguments: { id: 7 } });
  assert.equal(JSON.parse(result.content[0].text).id, 7);
  ok("iterable get_campaign", result.content[0].text.replace(/\s+/g, " ").slice(0, 120));

  await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), (error) => {
    assert.equal(error.code, -32601);
    ok("iterable unknown tool", `${error.constructor.name} ${error.code} ${error.message}`);
    return true;
  });
  await assert.rejects(client.callTool({ name: "get_campaign", arguments: {} }), (error) => {
    assert.equal(error.code, -32602);
    ok("iterable bad args", `${error.code} ${error.message}`);
    return true;
  });

  const prompt = await client.getPrompt({ name: "get-lists", arguments: { listType: "Standard" } });
  ok("iterable prompts/get", prompt.messages[0].content.text);
  await client.close();
}

// ---------------------------------------------------------------- /features/mcp
const client = await connectModern("/features/mcp", { sampling: {}, elicitation: { form: {} } });
const samplingRequests = [];
client.setRequestHandler("sampling/createMessage", async (request) => {
  samplingRequests.push(request.params);
  return { model: "smoke-model", role: "assistant", content: { type: "text", text: `sampled: ${request.params.messages[0].content.text}` } };
});
client.setRequestHandler("elicitation/create", async (request) => ({
  action: "accept",
  content: { name: `answer to ${request.params.message}`, confirm: true },
}));
const logs = [];
client.setNotificationHandler("notifications/message", (notification) => logs.push(notification.params));
const updates = [];
client.setNotificationHandler("notifications/resources/updated", (notification) => updates.push(notification.params.uri));

const echoed = await client.callTool({ name: "echo", arguments: { text: "hi" } });
assert.equal(echoed.content[0].text, "hi");
ok("features echo", echoed.content[0].text);

const progress = [];
await client.callTool({ name: "progress", arguments: { steps: 3 } }, { onprogress: (update) => progress.push(update) });
assert.equal(progress.length, 3);
ok("features progress", JSON.stringify(progress));

// On 2026-07-28 the log level travels per request in the `_meta` envelope; without it the server sends no logs.
await client.callTool({ name: "log", arguments: { count: 2 }, _meta: { [LOG_LEVEL_META_KEY]: "debug" } });
assert.equal(logs.length, 2);
ok("features log", JSON.stringify(logs));

const sampled = await client.callTool({ name: "sample", arguments: { prompt: "hello" } });
assert.equal(sampled.content[0].text, "sampled: hello");
ok("features sample (input_required round)", `${sampled.content[0].text}; handler saw ${samplingRequests.length} request(s)`);

const elicited = await client.callTool({ name: "elicit", arguments: { message: "Name?" } });
assert.deepEqual(JSON.parse(elicited.content[0].text), { action: "accept", content: { name: "answer to Name?", confirm: true } });
ok("features elicit (input_required round)", elicited.content[0].text);

const status = await client.readResource({ uri: "sandbox://status" });
ok("features resources/read", status.contents[0].text);

const subscription = await client.listen({ resourceSubscriptions: ["sandbox://status"] });
await client.callTool({ name: "touch_resource", arguments: { uri: "sandbox://status" } });
await waitFor(() => updates.length === 1, "resources/updated on the listen stream");
ok("features subscriptions/listen", `honored=${JSON.stringify(subscription.honoredFilter)} updates=${JSON.stringify(updates)}`);
await subscription.close();
await client.close();

ok("responses", responses.map((r) => `${r.method}→${r.status} ${r.type ?? "-"}`).join(" | "));

// What the modern client put on the wire, as the upstream received it.
const log = await (await fetch(`${BASE}/__log?tag=${TAG}`)).json();
const interesting = ["mcp-protocol-version", "mcp-method", "mcp-name", "mcp-session-id", "accept", "content-type"];
for (const entry of log.filter((e) => e.path === "/features/mcp").slice(0, 4)) {
  const headers = Object.fromEntries(interesting.filter((name) => name in entry.headers).map((name) => [name, entry.headers[name]]));
  ok("wire", `${entry.method} ${entry.path} ${JSON.stringify(headers)} body=${entry.body.slice(0, 260)}`);
}
const samplingRound = log.filter((e) => e.body.includes('"sample"'));
ok("wire sample rounds", samplingRound.map((e) => e.body.slice(0, 400)).join("\n      "));
await fetch(`${BASE}/__log?tag=${TAG}`, { method: "DELETE" });
