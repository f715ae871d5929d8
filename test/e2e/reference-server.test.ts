/**
 * The MCP reference server (@modelcontextprotocol/server-everything, "exercises
 * all the features of the MCP protocol") as a third server behind `npm start`
 * (`--server everything=…`, issue 19): the same session of requests, made by
 * the same MCP SDK client once directly and once through /mcp/everything,
 * must give the same answers, and the server's requests to the client
 * (sampling, elicitation) and its progress notifications must reach the client
 * the same way. The one intended difference: a call with arguments its tool's
 * input schema rejects is refused by the gateway itself.
 *
 * The conformance suite (@modelcontextprotocol/conformance) cannot do this
 * comparison: its server scenarios call tools only its own example server has
 * (test_simple_text, …), which is not published, and it cannot send a header,
 * so it cannot present a grant's token to the gateway.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { freePort, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

let gateway: RunningGateway;
let reference: ChildProcess | undefined;
let referenceUrl: string;
let referenceOutput = "";
const clients: Client[] = [];

beforeAll(async () => {
  const port = await freePort();
  referenceUrl = `http://127.0.0.1:${port}/mcp`;
  const packageDir = dirname(createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json"));
  reference = spawn(process.execPath, [join(packageDir, "dist/index.js"), "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  reference.stdout?.on("data", (chunk) => (referenceOutput += chunk));
  reference.stderr?.on("data", (chunk) => (referenceOutput += chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the reference server did not start:\n${referenceOutput}`)), 20_000);
    const ready = () => {
      if (!referenceOutput.includes(`listening on port ${port}`)) return;
      clearTimeout(timer);
      resolve();
    };
    reference!.stderr?.on("data", ready);
    reference!.once("exit", (code) => reject(new Error(`the reference server exited with ${code}:\n${referenceOutput}`)));
  });
  gateway = await startGateway(["--server", `everything=${referenceUrl}`]);
});
afterAll(async () => {
  await gateway?.stop();
  reference?.kill("SIGTERM");
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 4000 chars):\n${gateway.output().slice(-4000)}\nreference server (last 2000):\n${referenceOutput.slice(-2000)}`)));

async function admin(path: string, init: RequestInit = {}) {
  return fetch(`${gateway.origin}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${gateway.adminToken}`, "content-type": "application/json", ...(init.headers ?? {}) } });
}

/** An allow-all grant reaching the reference server alone. */
async function grantForEverything(): Promise<string> {
  const name = `e2e_reference_${crypto.randomUUID().slice(0, 8)}`;
  expect((await admin(`/policies/${name}`, { method: "PUT", body: JSON.stringify({ policy: { version: "1", default: "allow" } }) })).status).toBe(200);
  const created = await admin("/grants", { method: "POST", body: JSON.stringify({ label: name, policy: name, servers: ["everything"] }) });
  expect(created.status).toBe(201);
  return ((await created.json()) as { token: string }).token;
}

/** What the server asked of this client (sampling, elicitation), in order. */
type Asked = Array<{ method: string; params: unknown }>;

/** A client that can be sampled and elicited from, answering both with fixed content, and recording what it was asked. */
async function connect(url: string, headers: Record<string, string>): Promise<{ client: Client; asked: Asked }> {
  const client = new Client({ name: "e2e-reference", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: { form: {} } } });
  const asked: Asked = [];
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    asked.push({ method: request.method, params: request.params });
    return { role: "assistant", model: "e2e-fixed", content: { type: "text", text: "a fixed sampled answer" } };
  });
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push({ method: request.method, params: request.params });
    return { action: "accept", content: { name: "Ada Lovelace", check: true, email: "ada@example.com" } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  clients.push(client);
  return { client, asked };
}

/** The reference server's dynamic resources say when they were made: the one part of an answer that may differ between two runs. */
function withoutTimes(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value).replace(/created at [0-9:]+( [AP]M)?/g, "created at <time>"));
}

/**
 * One session of requests covering initialize, tools (plain, image, structured,
 * an invalid argument), prompts, resources and templates, completion, progress,
 * sampling and elicitation; each answer (or error) kept in order.
 */
async function session(url: string, headers: Record<string, string>) {
  const { client, asked } = await connect(url, headers);
  const answers: Array<[string, unknown]> = [];
  const record = async (label: string, run: () => Promise<unknown>) => {
    try {
      answers.push([label, withoutTimes(await run())]);
    } catch (error) {
      answers.push([label, { error: error instanceof Error ? error.message : String(error) }]);
    }
  };
  await record("serverVersion", async () => client.getServerVersion());
  await record("capabilities", async () => client.getServerCapabilities());
  await record("instructions", async () => client.getInstructions());
  await record("tools/list", () => client.listTools());
  await record("echo", () => client.callTool({ name: "echo", arguments: { message: "through the gateway?" } }));
  await record("get-sum", () => client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }));
  await record("get-sum, invalid", () => client.callTool({ name: "get-sum", arguments: { a: "two", b: 40 } }));
  await record("get-tiny-image", () => client.callTool({ name: "get-tiny-image", arguments: {} }));
  await record("get-structured-content", () => client.callTool({ name: "get-structured-content", arguments: { location: "New York" } }));
  await record("get-annotated-message", () => client.callTool({ name: "get-annotated-message", arguments: { messageType: "error", includeImage: true } }));
  await record("get-resource-links", () => client.callTool({ name: "get-resource-links", arguments: { count: 3 } }));
  await record("prompts/list", () => client.listPrompts());
  await record("simple-prompt", () => client.getPrompt({ name: "simple-prompt" }));
  await record("args-prompt", () => client.getPrompt({ name: "args-prompt", arguments: { city: "Lisbon", state: "Lisboa" } }));
  await record("completable-prompt", () => client.getPrompt({ name: "completable-prompt", arguments: { department: "Engineering", name: "Alice" } }));
  await record("resources/list", () => client.listResources());
  await record("resources/templates/list", () => client.listResourceTemplates());
  await record("resources/read, listed", async () => client.readResource({ uri: (await client.listResources()).resources[0]!.uri }));
  await record("resources/read, template", () => client.readResource({ uri: "demo://resource/dynamic/text/2" }));
  await record("completion/complete, department", () => client.complete({ ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "department", value: "S" } }));
  await record("completion/complete, name in context", () =>
    client.complete({ ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "name", value: "" }, context: { arguments: { department: "Marketing" } } }),
  );
  const progress: Progress[] = [];
  await record("progress", () => client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } }, undefined, { onprogress: (update) => progress.push(update) }));
  answers.push(["progress notifications", progress]);
  await record("sampling", () => client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "say something", maxTokens: 20 } }));
  await record("elicitation", () => client.callTool({ name: "trigger-elicitation-request", arguments: {} }));
  await record("ping", () => client.ping());
  return { answers, asked };
}

describe("the MCP reference server behind npm start, as a third server", () => {
  it("the banner declares it; a grant for it alone is refused at /mcp/iterable", async () => {
    expect(gateway.output()).toContain(`everything  ${gateway.serverUrl("everything")}`);
    const token = await grantForEverything();
    const refused = await fetch(gateway.serverUrl("iterable"), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(refused.status).toBe(403);
  });

  it("tools, prompts, resources, completion, progress, sampling and elicitation answer the same through /mcp/everything as directly", async () => {
    const token = await grantForEverything();
    const direct = await session(referenceUrl, {});
    const through = await session(gateway.serverUrl("everything"), { authorization: `Bearer ${token}` });

    // The session did what it set out to: nothing above failed directly, each feature answered.
    const answered = Object.fromEntries(direct.answers) as Record<string, unknown>;
    expect(direct.answers.filter(([, answer]) => typeof answer === "object" && answer !== null && "error" in answer)).toEqual([]);
    expect((answered["tools/list"] as { tools: unknown[] }).tools.length).toBeGreaterThan(10);
    expect(answered["progress notifications"]).toHaveLength(4);
    expect(JSON.stringify(answered.sampling)).toContain("a fixed sampled answer");
    expect(JSON.stringify(answered.elicitation)).toContain("Ada Lovelace");
    expect(JSON.stringify(answered["completion/complete, department"])).toContain("Sales");
    expect(direct.asked.map((request) => request.method)).toEqual(["sampling/createMessage", "elicitation/create"]);

    // The one answer that differs by design: the gateway checks arguments against the tool's input schema and
    // refuses invalid ones itself (the upstream never sees them), with its decision in _meta.
    const invalid = "get-sum, invalid";
    expect(answered[invalid]).toMatchObject({ isError: true });
    expect(Object.fromEntries(through.answers)[invalid]).toMatchObject({ isError: true, _meta: { "mcp-policy-gateway/decision": { decision: "invalid_arguments", tool: "get-sum" } } });

    expect(through.answers.map(([label]) => label)).toEqual(direct.answers.map(([label]) => label));
    for (const [index, [label, answer]] of through.answers.entries()) if (label !== invalid) expect.soft(answer, label).toEqual(direct.answers[index]![1]);
    expect(through.asked).toEqual(direct.asked);
  });
});
