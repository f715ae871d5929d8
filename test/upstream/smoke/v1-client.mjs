// Smoke test of the sandbox upstream with the v1 SDK client (2025-era, sessionful).
//
//   npx wrangler dev -c test/upstream/wrangler.toml --port 8788   (in another shell)
//   [SANDBOX_API_KEY=…] node test/upstream/smoke/v1-client.mjs [baseUrl]
//
// Exits non-zero on the first failed check. Prints one line per check as evidence.
import { strict as assert } from "node:assert";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const BASE = process.argv[2] ?? "http://localhost:8788";
const TAG = `smoke-v1-${Date.now()}`;
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

/**
 * A fetch that taps every SSE response the transport reads and records each event
 * as `{ http: "GET" | "POST", id, method }`: the transport hides event ids of the
 * standalone stream and which stream a message came on, both of which we check.
 */
function recordingFetch(seen) {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (!response.ok || response.body === null || !response.headers.get("content-type")?.includes("text/event-stream")) return response;
    const [mine, theirs] = response.body.tee();
    void (async () => {
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of mine) {
        buffered += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const id = /^id: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          const message = data ? JSON.parse(data) : undefined;
          seen.push({ http: init?.method ?? "GET", id, method: message?.method ?? (message ? "(response)" : "(priming)") });
        }
      }
    })().catch(() => {});
    return new Response(theirs, { status: response.status, headers: response.headers });
  };
}

// ---------------------------------------------------------------- /mcp (Iterable-shaped)
{
  const client = new Client({ name: "smoke-v1", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { requestInit });
  await client.connect(transport);
  assert.deepEqual(client.getServerVersion(), { name: "iterable-mcp", version: "1.9.0" });
  assert.deepEqual(client.getServerCapabilities(), { tools: {}, prompts: {} });
  ok("iterable initialize", `session=${transport.sessionId} protocol=${transport.protocolVersion}`);

  const { tools } = await client.listTools();
  assert.equal(tools.length, 118);
  ok("iterable tools/list", `${tools.length} tools, first=${tools[0].name}`);

  const campaigns = await client.callTool({ name: "get_campaigns", arguments: { pageSize: 3 } });
  const parsed = JSON.parse(campaigns.content[0].text);
  assert.equal(parsed.campaigns.length, 3);
  ok("iterable get_campaigns", JSON.stringify(parsed.campaigns[0]).slice(0, 100));

  const sent = await client.callTool({ name: "send_campaign", arguments: { campaignId: 42 } });
  assert.equal(JSON.parse(sent.content[0].text).msg, "Campaign 42 sent");
  ok("iterable send_campaign", sent.content[0].text.replace(/\s+/g, " "));

  await assert.rejects(client.callTool({ name: "send_campaign", arguments: { campaignId: "nope" } }), (error) => {
    assert.equal(error.code, -32602);
    assert.match(error.message, /Validation error: campaignId: /);
    ok("iterable bad args", `${error.code} ${error.message}`);
    return true;
  });

  await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), (error) => {
    assert.equal(error.code, -32601);
    assert.match(error.message, /Unknown tool: no_such_tool/);
    ok("iterable unknown tool", `${error.code} ${error.message}`);
    return true;
  });

  const { prompts } = await client.listPrompts();
  assert.equal(prompts.length, 42);
  const prompt = await client.getPrompt({ name: "get-campaign", arguments: { id: "7" } });
  assert.equal(prompt.messages[0].content.text, 'Please use the get_campaign tool with parameters: { "id": "7" } to complete this request.');
  ok("iterable prompts", `${prompts.length} prompts; get-campaign → ${prompt.messages[0].content.text}`);

  await transport.terminateSession();
  await client.close();
}

// ---------------------------------------------------------------- /features/mcp
const featuresUrl = new URL(`${BASE}/features/mcp`);
const seen = [];
const getEventIds = () => seen.filter((event) => event.http === "GET" && event.id).map((event) => event.id);
const client = new Client(
  { name: "smoke-v1-features", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
const logs = [];
const updates = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => logs.push(notification.params));
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => updates.push(notification.params.uri));
client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
  model: "smoke-model",
  role: "assistant",
  content: { type: "text", text: `sampled: ${request.params.messages[0].content.text}` },
}));
client.setRequestHandler(ElicitRequestSchema, async (request) => ({
  action: "accept",
  content: { name: `answer to ${request.params.message}`, confirm: true },
}));
const transport = new StreamableHTTPClientTransport(featuresUrl, { requestInit, fetch: recordingFetch(seen) });
await client.connect(transport);
const sessionId = transport.sessionId;
ok("features initialize", `session=${sessionId} server=${JSON.stringify(client.getServerVersion())}`);

const progress = [];
const progressResult = await client.callTool({ name: "progress", arguments: { steps: 4 } }, CallToolResultSchema, {
  onprogress: (update) => progress.push(update),
});
assert.equal(progress.length, 4);
ok("features progress", `${progress.length} onprogress callbacks, last=${JSON.stringify(progress.at(-1))}; ${progressResult.content[0].text}`);

await client.callTool({ name: "log", arguments: { count: 2, level: "warning" } });
assert.equal(logs.length, 2);
ok("features log", JSON.stringify(logs));

const sampled = await client.callTool({ name: "sample", arguments: { prompt: "hello" } });
assert.equal(sampled.content[0].text, "sampled: hello");
const samplingOn = seen.find((event) => event.method === "sampling/createMessage");
assert.equal(samplingOn?.http, "POST");
ok("features sample", `${sampled.content[0].text}; request arrived on the ${samplingOn.http} stream as event ${samplingOn.id}`);

const elicited = await client.callTool({ name: "elicit", arguments: { message: "Name?" } });
assert.deepEqual(JSON.parse(elicited.content[0].text), { action: "accept", content: { name: "answer to Name?", confirm: true } });
const elicitOn = seen.find((event) => event.method === "elicitation/create");
assert.equal(elicitOn?.http, "POST");
ok("features elicit", `${elicited.content[0].text}; request arrived on the ${elicitOn.http} stream`);

const tools = (await client.listTools()).tools;
const annotations = Object.fromEntries(tools.filter((tool) => tool.annotations).map((tool) => [tool.name, tool.annotations]));
assert.equal(annotations.echo.readOnlyHint, true);
assert.equal(annotations.wipe.destructiveHint, true);
ok("features annotations", JSON.stringify(annotations));

const resources = await client.listResources();
const templates = await client.listResourceTemplates();
const status = await client.readResource({ uri: "sandbox://status" });
ok(
  "features resources",
  `list=${resources.resources.map((r) => r.uri).join(",")} templates=${templates.resourceTemplates.map((t) => t.uriTemplate)} read=${status.contents[0].text}`,
);

const prompt = await client.getPrompt({ name: "summarize", arguments: { topic: "MCP", style: "detailed" } });
ok("features prompt", prompt.messages[0].content.text);

// The client opens the standalone GET stream by itself after `initialized`; the
// subscribe answer's update notification travels there, not on the POST.
await client.subscribeResource({ uri: "sandbox://status" });
await waitFor(() => updates.length === 1, "resources/updated after subscribe");
await client.callTool({ name: "touch_resource", arguments: { uri: "sandbox://status" } });
await waitFor(() => updates.length === 2, "resources/updated after touch_resource");
ok("features subscribe", `updates=${JSON.stringify(updates)} GET-stream events=${JSON.stringify(seen.filter((event) => event.http === "GET"))}`);

// POST-stream resumption: a GET with Last-Event-ID replays what followed that event.
const tokens = [];
await client.request(
  { method: "tools/call", params: { name: "long_stream", arguments: { count: 4, intervalMs: 50 } } },
  CallToolResultSchema,
  { onresumptiontoken: (token) => tokens.push(token) },
);
ok("features long_stream", `${tokens.length} resumption tokens`);

// Drop the first connection (the session stays), miss an update, then resume.
const lastSeen = getEventIds().at(-1);
await transport.close();
const resumed = new Client({ name: "smoke-v1-resume", version: "1.0.0" });
const resumedUpdates = [];
resumed.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resumedUpdates.push(n.params.uri));
const resumedTransport = new StreamableHTTPClientTransport(featuresUrl, { requestInit, sessionId });
await resumed.connect(resumedTransport); // a set sessionId skips `initialize`
await resumed.callTool({ name: "touch_resource", arguments: { uri: "sandbox://status" } });
const replayTokens = [];
await resumedTransport.resumeStream(lastSeen, { onresumptiontoken: (token) => replayTokens.push(token) });
await waitFor(() => resumedUpdates.length === 1, "replayed resources/updated");
ok("features GET resume", `Last-Event-ID=${lastSeen} replayed=${JSON.stringify(resumedUpdates)} new ids=${JSON.stringify(replayTokens)}`);

// Replay a finished POST stream from its third event: the rest of the ticks and the result arrive again.
const replayed = await resumed.request(
  { method: "tools/call", params: { name: "long_stream", arguments: { count: 4, intervalMs: 50 } } },
  CallToolResultSchema,
  { resumptionToken: tokens[2] },
);
ok("features POST-stream replay", `from ${tokens[2]} → ${replayed.content[0].text}`);

await resumedTransport.terminateSession();
// The transport forgets the id after DELETE; ask with the old id to see the session is gone.
const afterDelete = await fetch(featuresUrl, {
  method: "POST",
  headers: { ...requestInit.headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
});
assert.equal(afterDelete.status, 404);
ok("features DELETE", `then POST with the old session id → ${afterDelete.status} ${await afterDelete.text()}`);
await resumed.close();

// What the upstream received, as the gateway tests will read it.
const log = await (await fetch(`${BASE}/__log?tag=${TAG}`)).json();
const summary = log.map((entry) => `${entry.method} ${entry.path} ${entry.body ? JSON.parse(entry.body).method ?? "(response)" : ""}`.trim());
ok("request log", `${log.length} entries: ${summary.join(" | ")}`);
await fetch(`${BASE}/__log?tag=${TAG}`, { method: "DELETE" });
assert.equal((await (await fetch(`${BASE}/__log?tag=${TAG}`)).json()).length, 0);
ok("request log cleared");
