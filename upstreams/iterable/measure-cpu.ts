/**
 * CPU time of the Iterable Worker's requests, two ways:
 *
 * - in workerd: a `wrangler dev` of the Worker in front of the fake Iterable
 *   API, on free ports with its own state folder, and the V8 profiler (over
 *   the inspector) recording each request. A request's time is the profile's
 *   samples that are not idle (JavaScript, compilation, garbage collection,
 *   the runtime's own work on the thread), so waiting on the fake API is not
 *   counted; but the samples are wall-clock, so on a loaded machine they are
 *   an upper bound.
 * - in Node: the same bundle (as `wrangler deploy` builds it) imported into
 *   this process, its handler called directly, `process.cpuUsage()` around
 *   the requests: the CPU the bundle's JavaScript takes, with Node's fetch
 *   instead of workerd's, and minus what the fake API took for the same
 *   requests.
 *
 *   node upstreams/iterable/measure-cpu.ts [--runs 5]
 *
 * In workerd, each run starts a new isolate (wrangler dev restarted) for
 * tools/list (the isolate's first MCP request), tools/list again (warm), a
 * call of get_lists (warm); and another for get_lists first. Prints the
 * median of each in milliseconds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { wranglerBin } from "../../src/cli/wrangler-kv.ts";
import { buildIterableWorker, ITERABLE_BUNDLE, ITERABLE_BUNDLE_DIR } from "../../test/fake-iterable/global-setup.ts";
import { startFakeIterable } from "../../test/fake-iterable/server.ts";

const KEY = "measure-cpu-key";
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);

type Profile = { nodes: Array<{ id: number; callFrame: { functionName: string } }>; samples: number[]; timeDeltas: number[] };

const fake = await startFakeIterable({ apiKey: KEY });
const results: Record<string, number[]> = { "tools/list, first in an isolate": [], "tools/list, warm": [], "get_lists, warm": [], "get_lists, first in an isolate": [] };
try {
  for (let run = 0; run < runs; run += 1) {
    await withWorker(async (measure) => {
      results["tools/list, first in an isolate"]?.push(await measure({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      results["tools/list, warm"]?.push(await measure({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
      results["get_lists, warm"]?.push(await measure({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_lists", arguments: {} } }));
    });
    await withWorker(async (measure) => {
      results["get_lists, first in an isolate"]?.push(await measure({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_lists", arguments: {} } }));
    });
  }
  console.log("In workerd (V8 profiler, busy samples):");
  for (const [label, samples] of Object.entries(results)) {
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(`  ${label}: ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms (median of ${sorted.length}: ${sorted.map((each) => each.toFixed(1)).join(", ")})`);
  }
  await measureInNode();
} finally {
  await fake.close();
}

/** The bundle's CPU per request in this Node process: first (module loading and building the tools included), then warm. */
async function measureInNode(): Promise<void> {
  await buildIterableWorker(ITERABLE_BUNDLE_DIR);
  const { default: worker } = (await import(ITERABLE_BUNDLE)) as { default: { fetch(request: Request, env: object): Promise<Response> } };
  const env = { ITERABLE_API_KEY: KEY, ITERABLE_BASE_URL: fake.url.replace(/\/$/, ""), ITERABLE_USER_PII: "true", ITERABLE_ENABLE_WRITES: "true", ITERABLE_ENABLE_SENDS: "true" };
  const log = console.log;
  const cpuMs = async (message: unknown, times: number) => {
    const start = process.cpuUsage();
    console.log = () => {}; // the Worker's request lines
    try {
      for (let index = 0; index < times; index += 1) {
        const request = new Request("https://iterable-mcp.test/mcp", {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
          body: JSON.stringify(message),
        });
        await (await worker.fetch(request, env)).text();
      }
    } finally {
      console.log = log;
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000 / times;
  };
  const list = { jsonrpc: "2.0", id: 1, method: "tools/list" };
  const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get_lists", arguments: {} } };
  const first = await cpuMs(list, 1);
  const warmList = await cpuMs(list, 200);
  const warmCall = await cpuMs(call, 200);
  const start = process.cpuUsage();
  for (let index = 0; index < 200; index += 1) await (await fetch(new URL("/api/lists", fake.url), { headers: { "api-key": KEY } })).text();
  const apiUsed = process.cpuUsage(start);
  const apiMs = (apiUsed.user + apiUsed.system) / 1000 / 200;
  console.log("In Node (process.cpuUsage, the same bundle):");
  console.log(`  tools/list, first in the process: ${first.toFixed(1)} ms`);
  console.log(`  tools/list, warm: ${warmList.toFixed(1)} ms`);
  console.log(`  get_lists, warm: ${(warmCall - apiMs).toFixed(1)} ms (${warmCall.toFixed(1)} ms less ${apiMs.toFixed(1)} ms for the fake API and Node's fetch of it)`);
}

/** Runs `wrangler dev` of the Worker on free ports, hands `use` a function that measures one request's CPU, then stops it. */
async function withWorker(use: (measure: (message: unknown) => Promise<number>) => Promise<void>): Promise<void> {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const state = mkdtempSync(join(tmpdir(), "iterable-measure-"));
  const dev = spawn(
    process.execPath,
    [
      wranglerBin(),
      "dev",
      "-c",
      "upstreams/iterable/wrangler.toml",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      state,
      "--var",
      `ITERABLE_BASE_URL:${fake.url.replace(/\/$/, "")}`,
      "--var",
      `ITERABLE_API_KEY:${KEY}`,
      "--show-interactive-dev-session=false",
    ],
    { env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    await waitForReady(dev, port);
    const inspector = await connectInspector(inspectorPort);
    try {
      await use(async (message) => {
        await inspector.call("Profiler.start");
        const response = await fetch(`http://127.0.0.1:${port}/mcp`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
          body: JSON.stringify(message),
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
        await response.text();
        const { profile } = (await inspector.call("Profiler.stop")) as { profile: Profile };
        return busyMs(profile);
      });
    } finally {
      inspector.close();
    }
  } finally {
    dev.kill("SIGTERM");
    await new Promise((resolve) => dev.once("exit", resolve));
    rmSync(state, { recursive: true, force: true });
  }
}

/** Sampled time outside "(idle)": what the isolate spent on the CPU. */
function busyMs(profile: Profile): number {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  let busy = 0;
  profile.samples.forEach((sample, index) => {
    if (!idle.has(sample)) busy += profile.timeDeltas[index] ?? 0;
  });
  return busy / 1000;
}

async function connectInspector(port: number): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl: string; title?: string }>;
  const target = targets.find((each) => each.title?.includes("iterable-mcp")) ?? targets[0];
  if (target === undefined) throw new Error("no inspector target");
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 1000 });
  return { call, close: () => socket.close() };
}

async function waitForReady(dev: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dev.exitCode !== null) throw new Error(`wrangler dev exited with ${dev.exitCode}`);
    const up = await fetch(`http://127.0.0.1:${port}/mcp`).then(
      (response) => response.status === 405,
      () => false,
    );
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("wrangler dev did not start within 60 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}
