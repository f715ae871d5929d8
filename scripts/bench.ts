#!/usr/bin/env node
// `npm run bench`: the gateway measured against the runtime's floor, in one run, on loopback.
//
// Starts `npm start` (sandbox upstream + gateway under `wrangler dev`) and the floor
// (bench/passthrough: a bare relaying Worker with one SQLite Durable Object, its own
// `wrangler dev`), all on free ports, then prints one table per section:
//   1. end to end: three targets, each through its own MCP SDK v1 client (protocol
//      2025-11-25, sessionful): A the sandbox directly, B the floor, C the gateway.
//      Per case, sequential latency (targets interleaved A B C A B C …, p50/p99), then
//      throughput at concurrency 16 (fixed-count rounds, targets alternating), and the
//      gateway's cost over the floor against the targets of issue 11;
//      then a 16 MiB tools/list answer (one SSE event in 16 KiB chunks) through each.
//      Then /mcp/<server> next to /mcp: the same allowed call through both, and the floor, interleaved;
//      what the named path adds to the gateway's cost over the floor (issue 19: at most 0.1 ms).
//   2. micro-benchmarks in this process (decide(), the tool-list filter, canonical
//      hashing) and the grant Durable Object's limit decisions per second;
//   3. load: 1,000 concurrent calls across 10 grants with `max: 50` each: exact counts
//      from the sandbox's request log, HTTP statuses, the gateway workerd's memory.
// Beside each target's throughput: the CPU its own `wrangler dev` (workerd + wrangler's Node) spent
// per request. A rebuild of a Worker during the run (a source file changed) is flagged.
// Progress goes to stderr, the tables to stdout. Bounded: about 20k requests, 4 to 5 minutes on 2 cores.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { z } from "zod";
import { CONFIG_DEFAULTS } from "../src/config.ts";
import { cpuMs, establishedTo, rssMiB, startFloor, wranglerTree, type RunningFloor, type WranglerTree } from "./bench-floor.ts";
import { runMicroBenchmarks, type MicroResult } from "./bench-micro.ts";
import { median, ms, percentile, perOp, signed, table, verdict } from "./bench-report.ts";
import { attempt, failures as targetFailures, interleaved, type ErrorCount, type Op } from "./bench/samples.ts";
import { ROOT, startGateway, type RunningGateway } from "./local-gateway.ts";

const PROTOCOL_VERSION = "2025-11-25";
const SANDBOX_CREDENTIAL = "sandbox-dev-key";
const CONCURRENCY = 16;
const WARMUP = 30;
const THROUGHPUT_ROUNDS = 4;
const MiB = 1024 * 1024;
const LARGE_LIST_BYTES = 16 * MiB;
const LARGE_LIST_ROUNDS = 5;
/** Issue 22: a 16 MiB list within 1.5 × the floor's time. */
const LARGE_LIST_GOAL = 1.5;
const LOAD_GRANTS = 10;
const LOAD_CALLS = 1000;
const LOAD_MAX = 50;
const LIMITER_CALLS = 1000;
const LIMITER_SAMPLES = 100;
const DRIFT_SAMPLES = 100;
/** The benchmark gateway's one server (UPSTREAM_NAME's default), reached at /mcp/<server>. */
const SERVER_NAME = "iterable";
const SERVER_PATH_SAMPLES = 400;
/** /mcp/<server> may cost at most this much more over the floor than /mcp (issue 19). */
const SERVER_PATH_GOAL_MS = 0.1;
const REQUEST_TIMEOUT_MS = 120_000;
const RUN = Date.now().toString(36);
/** Only what the benchmark checks of a tools/list result (the SDK's full Tool schema would time the client). */
const ToolListSchema = z.looseObject({ tools: z.array(z.unknown()) });
/** What `wrangler dev` prints when a source file changed and it rebuilds the Worker. */
const RELOAD = /Reloading local server/g;

type TargetKey = "A" | "B" | "C";
const TARGETS: Record<TargetKey, string> = { A: "upstream", B: "floor", C: "gateway" };
const KEYS: TargetKey[] = ["A", "B", "C"];
/** Bytes of answer bodies a target's client has read (POST answers only: a GET stream stays open). */
type Received = { bytes: number };
type Case = {
  label: string;
  samples: number;
  /** Requests per target per throughput round. */
  perRound: number;
  ops: Record<TargetKey, Op>;
  /** What each target's client has read, so the table can show that the outputs compared are alike. */
  received: Record<TargetKey, Received>;
  /** Untimed clean-up after each sample (A B C) and each throughput round. */
  after?: () => Promise<void>;
  /** The gateway's targets over the floor, if the issue sets any. */
  /** Issue 22's targets: C − B at p50 and p99 (ms), C/B throughput, and C − B CPU per request of the Worker's workerd (ms). */
  goals?: { p50?: number; p99?: number; throughput?: number; cpu?: number };
};
type CaseResult = Record<TargetKey, { latencies: number[]; perSecond: number; cpu?: { worker: number; wrangler: number }; errors: ErrorCount; bytesPerAnswer: number }> & {
  /** wrangler dev rebuilds (a source file changed) while the case ran. */
  rebuilds: number;
};

const startedAt = performance.now();
const progress = (line: string) => console.error(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${line}`);

progress("micro-benchmarks (in process, before any server starts)");
const micro = await runMicroBenchmarks();

progress("starting npm start (sandbox + gateway) on free ports");
// The deployed default policy/grant cache TTL (npm start shortens it to 2 s for editing policies).
const gateway = await startGateway(["--sandbox", "--var", `CACHE_TTL_MS:${CONFIG_DEFAULTS.CACHE_TTL_MS}`]);
let floor: RunningFloor | undefined;
const clients: Client[] = [];
process.once("SIGINT", () => {
  void Promise.allSettled([floor?.stop(), gateway.stop()]).finally(() => process.exit(130));
});
try {
  progress("starting the floor; pushing policies and creating grants with the CLI");
  const [startedFloor, grants] = await Promise.all([startFloor(gateway.upstreamUrl), setUpGrants()]);
  floor = startedFloor;
  // Each target's own `wrangler dev`, found again at every reading (a rebuild may restart its runtime):
  // its CPU time per request is read around the throughput rounds, the runtime's RSS around the load.
  const ports: Record<TargetKey, number> = { A: Number(new URL(gateway.upstreamUrl).port), B: floor.port, C: Number(new URL(gateway.url).port) };
  const tree = (key: TargetKey) => wranglerTree(ports[key]);
  const runtimeRss = (key: TargetKey) => {
    const { runtime } = tree(key);
    return { pid: runtime, mib: runtime === undefined ? undefined : rssMiB(runtime) };
  };
  const rssAtStart = { gateway: runtimeRss("C"), floor: runtimeRss("B") };
  let seenOutput = gateway.output().length;
  let rebuildsSeen = 0;
  /** Rebuilds of any Worker (sandbox, gateway, floor) since the benchmark's servers were up. */
  const rebuilds = () => {
    const output = gateway.output();
    rebuildsSeen += output.slice(seenOutput).match(RELOAD)?.length ?? 0;
    seenOutput = output.length;
    return rebuildsSeen + (floor?.reloads() ?? 0);
  };
  const urls: Record<TargetKey, string> = { A: gateway.upstreamUrl, B: floor.url, C: gateway.url };
  const upstreamHeaders = { "api-key": SANDBOX_CREDENTIAL };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const connect = async (key: TargetKey, headers: Record<string, string>, received?: Received) => {
    const client = await mcpClient(urls[key], headers, received);
    clients.push(client);
    return client;
  };
  const receivedCounters = (): Record<TargetKey, Received> => ({ A: { bytes: 0 }, B: { bytes: 0 }, C: { bytes: 0 } });
  const callCase = async (label: string, samples: number, headers: Record<TargetKey, Record<string, string>>, gatewayRefuses: boolean): Promise<Case> => {
    const received = receivedCounters();
    return {
      label,
      samples,
      perRound: 200,
      received,
      ops: {
        A: callOp(await connect("A", headers.A, received.A), false),
        B: callOp(await connect("B", headers.B, received.B), false),
        C: callOp(await connect("C", headers.C, received.C), gatewayRefuses),
      },
    };
  };

  const lists = { A: 0, B: 0, C: 0 };
  const listOp = (client: Client, key: TargetKey): Op => async () => {
    const result = await client.request({ method: "tools/list", params: {} }, ToolListSchema);
    if (result.tools.length === 0) throw new Error("empty tool list");
    lists[key] = result.tools.length;
  };
  const opened: { key: TargetKey; headers: Record<string, string>; session: string }[] = [];
  const initializeOp = (key: TargetKey, headers: Record<string, string>, received: Received): Op => async () => {
    const session = await initialize(urls[key], headers, false, received);
    opened.push({ key, headers, session });
  };
  const endSessions = async () => {
    const ending = opened.splice(0);
    await pool(ending.length, CONCURRENCY, async (i) => {
      const { key, headers, session } = ending[i]!;
      await (await fetch(urls[key], { method: "DELETE", headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION } })).arrayBuffer();
    });
  };

  const listReceived = receivedCounters();
  const initializeReceived = receivedCounters();
  const cases: Case[] = [
    {
      ...(await callCase("allowed call (no limit)", 400, { A: upstreamHeaders, B: upstreamHeaders, C: bearer(grants.unlimited) }, false)),
      goals: { p50: 0.5, p99: 2, throughput: 0.95, cpu: 0.3 },
    },
    {
      ...(await callCase("rate-limited call", 400, { A: upstreamHeaders, B: { ...upstreamHeaders, "x-floor-limited": `bench-${RUN}` }, C: bearer(grants.limited) }, false)),
      goals: { p50: 0.7, p99: 2, throughput: 0.9, cpu: 0.5 },
    },
    await callCase("denied call [1]", 300, { A: upstreamHeaders, B: upstreamHeaders, C: bearer(grants.denied) }, true),
    {
      label: "tools/list, 118 tools [2]",
      samples: 120,
      perRound: 96,
      received: listReceived,
      ops: {
        A: listOp(await connect("A", upstreamHeaders, listReceived.A), "A"),
        B: listOp(await connect("B", upstreamHeaders, listReceived.B), "B"),
        C: listOp(await connect("C", bearer(gateway.token), listReceived.C), "C"),
      },
      goals: { p50: 0.5, throughput: 0.95 },
    },
    {
      label: "initialize [3]",
      samples: 100,
      perRound: 64,
      received: initializeReceived,
      ops: {
        A: initializeOp("A", upstreamHeaders, initializeReceived.A),
        B: initializeOp("B", upstreamHeaders, initializeReceived.B),
        C: initializeOp("C", bearer(gateway.token), initializeReceived.C),
      },
      after: endSessions,
    },
  ];

  // The same refused call before and after everything else: does the gateway slow down as it serves?
  const deniedAtGateway = cases[2]!.ops.C;
  const driftAtStart = await sequentialP50(deniedAtGateway, DRIFT_SAMPLES);

  const results: CaseResult[] = [];
  for (const each of cases) {
    progress(`${each.label}: warm-up, ${each.samples} sequential samples per target, then ${THROUGHPUT_ROUNDS} x ${each.perRound} at concurrency ${CONCURRENCY}`);
    const before = rebuilds();
    const result = await runCase(each, tree);
    result.rebuilds = rebuilds() - before;
    results.push(result);
  }

  progress(`/mcp/<server> next to /mcp: ${SERVER_PATH_SAMPLES} allowed calls through each, and the floor, interleaved`);
  const serverPath = await serverPathCase(
    callOp(await connect("B", upstreamHeaders), false),
    callOp(await connect("C", bearer(grants.unlimited)), false),
    callOp(await mcpClient(gateway.serverUrl(SERVER_NAME), bearer(grants.unlimited)).then((client) => (clients.push(client), client)), false),
  );

  progress(`16 MiB tools/list: ${LARGE_LIST_ROUNDS} rounds per target`);
  const large = await largeList({
    A: { url: urls.A, headers: upstreamHeaders },
    B: { url: urls.B, headers: upstreamHeaders },
    C: { url: urls.C, headers: bearer(grants.allowAll) },
  });

  progress(`load: ${LOAD_CALLS} concurrent calls across ${LOAD_GRANTS} grants (max ${LOAD_MAX} each)`);
  const load = await loadTest(gateway, grants.load, () => runtimeRss("C"));

  progress(`limit decisions of one grant's Durable Object: ${LIMITER_CALLS} refused calls at concurrency ${CONCURRENCY}`);
  const limiter = await limiterDecisions(await connect("C", bearer(grants.load[0]!)));

  progress("the service-binding upstream: a second npm start, the gateway in front of the Iterable Worker");
  // A failure here (say a rebuild that dropped the upstream's sessions) is reported in its table, not thrown past the others.
  const binding = await serviceBindingCase().catch((error: unknown) => ({ error: String(error).slice(0, 300) }));

  const driftAtEnd = await sequentialP50(deniedAtGateway, DRIFT_SAMPLES);
  const rssAtEnd = { gateway: runtimeRss("C"), floor: runtimeRss("B") };
  const gatewayPids = [...new Set([rssAtStart.gateway.pid, load.rss.pid, rssAtEnd.gateway.pid])].filter((pid) => pid !== undefined);
  const rebuiltInAll = rebuilds();

  // ---- report ----
  const cpu = cpus();
  const wranglerVersion = (JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")) as { version: string }).version;
  const out: string[] = [];
  out.push(
    `machine: ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, wrangler ${wranglerVersion} (workerd under wrangler dev), loopback`,
  );
  out.push(
    "",
    `end to end: A ${TARGETS.A} (sandbox), B ${TARGETS.B} (bench/passthrough), C ${TARGETS.C}; MCP SDK v1 clients, protocol ${PROTOCOL_VERSION}`,
    `latency: sequential, targets interleaved; req/s: concurrency ${CONCURRENCY}, ${THROUGHPUT_ROUNDS} rounds per target, alternating;`,
    "CPU ms/req: CPU time per request over the throughput rounds of the target's own wrangler dev: the workerd running the Worker",
    "+ wrangler's proxy workerd and Node processes (request and console logging, the dev proxy hop)",
    "",
    table(endToEndRows(cases, results)),
    "[1] A and B run get_campaigns (the upstream has no \"denied\"; the floor relays it); C refuses it without forwarding:",
    "    C − B is the gateway's cost of refusing, against the floor's cost of relaying the call.",
    `[2] A and B list all ${lists.A} tools; C lists ${lists.C} (recommended policy: @destructive hidden), filtering each answer.`,
    "[3] raw fetch POST initialize (no SDK), timed until the body is read; each session is deleted afterwards, untimed.",
    "",
    table(serverPathRows(serverPath)),
    `/mcp/${SERVER_NAME} is the same gateway and upstream (one server, named ${SERVER_NAME}) reached by name; interleaved B C C′ and B C′ C, sequential.`,
    `What /mcp/${SERVER_NAME} adds to /mcp (median of the paired differences, each call against the /mcp call of its round): ` +
      `${signed(serverPath.extra)} ms ${verdict(serverPath.extra <= SERVER_PATH_GOAL_MS, `≤ +${SERVER_PATH_GOAL_MS} ms`)}`,
    "",
    table(largeListRows(large)),
    "C's grant allows every tool (default allow), so all three answer with the same list (bytes above): like with like. C parses the",
    "whole event and filters it (nothing is dropped); `npm run bench:large-list` also times a filtering grant, whose answer is smaller.",
    "",
    table(microRows(micro, limiter)),
    "",
    table(bindingRows(binding)),
    "D: `npm start` as users run it: the gateway → UPSTREAM service binding → the official Iterable MCP server Worker (@iterable/mcp)",
    "→ the fake Iterable REST API (Node, loopback). The sandbox (A) answers from memory; D's Iterable server makes a REST call per tool call,",
    "so D − C is the Iterable server and its API hop, not the binding. CPU: the one workerd running both Workers.",
    "",
    table(loadRows(load)),
    `${LOAD_CALLS} calls sent at once (undici opens a socket per request; at most ${load.connections} open at the gateway), ${(load.wallMs / 1000).toFixed(2)} s, ${(LOAD_CALLS / (load.wallMs / 1000)).toFixed(0)} calls/s; ` +
      `HTTP 5xx: ${load.total.status5xx}, failed requests: ${load.total.failed}; forwarded per grant exactly ${LOAD_MAX}: ${load.exact ? "yes" : "NO"}`,
    `RSS of the workerd running the gateway (MiB): ${ms(rssAtStart.gateway.mib, 0)} after start-up, ${ms(load.rss.before, 0)} before the load, ` +
      `${ms(load.rss.peak, 0)} peak, ${ms(load.rss.after, 0)} after it, ${ms(rssAtEnd.gateway.mib, 0)} at the end (` +
      `pid ${gatewayPids.join(" then ") || "not found"}); the floor's: ${ms(rssAtStart.floor.mib, 0)} after start-up, ${ms(rssAtEnd.floor.mib, 0)} at the end`,
    `drift: the gateway's denied call alone, sequential p50 ${ms(driftAtStart)} ms before the cases, ${ms(driftAtEnd)} ms at the end (${signed(driftAtEnd - driftAtStart)} ms)`,
    "",
    `total run time: ${((performance.now() - startedAt) / 1000).toFixed(0)} s`,
    ...(rebuiltInAll > 0
      ? [`WARNING: wrangler dev rebuilt a Worker ${rebuiltInAll} times during the run (a source file changed; cases marked "rebuilt" mix builds and include the rebuilds' CPU).`]
      : []),
  );
  console.log(out.join("\n"));
  // Any error fails the run, in the warm-up as much as in the samples: a target that did not answer as expected was not measured.
  const failures = [
    ...targetFailures(results.flatMap((result, index) => KEYS.map((key) => ({ label: `${cases[index]!.label} ${TARGETS[key]}`, errors: result[key].errors })))),
    ...KEYS.flatMap((key) => {
      const errors = large.samples[key].flatMap((sample) => ("error" in sample ? [sample.error] : []));
      return errors.length === 0 ? [] : [`16 MiB tools/list ${TARGETS[key]}: ${errors.length} errors; first: ${errors[0]}`];
    }),
  ];
  if (failures.length > 0) console.error(`\nerrors (${failures.length} targets; the run fails):\n${failures.join("\n")}`);
  // The targets are reported, not enforced; wrong answers, wrong counts and 5xx fail the run.
  if (failures.length > 0 || "error" in binding || !load.exact || load.total.status5xx > 0 || load.total.failed > 0) process.exitCode = 1;
} finally {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.allSettled([floor?.stop(), gateway.stop()]);
}

// ---------------------------------------------------------------------------
// set-up

/** Dedicated policies (pushed under fixed names, overwritten each run) and fresh grants on them. */
async function setUpGrants() {
  const limit = (max: number) => ({ counter: "bench", window: "hour", max, scope: "grant" });
  const policies = {
    "bench-unlimited": { version: "1", default: "deny", tools: { get_campaigns: {} } },
    "bench-limited": { version: "1", default: "deny", tools: { get_campaigns: { limits: [limit(1_000_000)] } } },
    "bench-denied": { version: "1", default: "deny", tools: { get_campaigns: { action: "deny", reason: "denied by the benchmark's policy" } } },
    "bench-load": { version: "1", default: "deny", tools: { get_campaigns: { limits: [limit(LOAD_MAX)] } } },
    // Lists every tool, so a large list reaches the client whole, as through the floor: its padding
    // tools are no tool the upstream's pins know, which "pinning": "enforce" would hide.
    "bench-allow-all": { version: "1", default: "allow", pinning: "off" },
  };
  for (const [name, policy] of Object.entries(policies)) {
    const file = join(tmpdir(), `bench-${name}-${RUN}.json`);
    writeFileSync(file, JSON.stringify(policy));
    try {
      await run("policy", "push", file, "--name", name);
    } finally {
      rmSync(file, { force: true });
    }
  }
  const grant = async (policy: string, label: string) =>
    (JSON.parse(await run("grant", "create", "--label", `bench-${RUN}-${label}`, "--policy", policy, "--json")) as { token: string }).token;
  const unlimited = await grant("bench-unlimited", "unlimited");
  const limited = await grant("bench-limited", "limited");
  const denied = await grant("bench-denied", "denied");
  const allowAll = await grant("bench-allow-all", "allow-all");
  const load: string[] = [];
  for (let i = 0; i < LOAD_GRANTS; i++) load.push(await grant("bench-load", `load-${i}`));
  return { unlimited, limited, denied, allowAll, load };
}

/** `mcp-gateway …` against the benchmark's npm start, through its admin API. */
async function run(...args: string[]): Promise<string> {
  const result = await gateway.cli(...args);
  if (result.status !== 0) throw new Error(`mcp-gateway ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

/**
 * The upstream as `npm start` and a deployment run it: a service binding to the Iterable Worker.
 * A second npm start (its own ports), an allow-all grant made through its admin API, then get_lists
 * and tools/list, sequential and at concurrency 16.
 */
async function serviceBindingCase() {
  const running = await startGateway(["--var", `CACHE_TTL_MS:${CONFIG_DEFAULTS.CACHE_TTL_MS}`]);
  const client = new Client({ name: "bench-binding", version: "1" });
  try {
    const admin = (path: string, body: unknown) =>
      fetch(`${running.origin}/admin/api${path}`, { method: path.startsWith("/policies") ? "PUT" : "POST", headers: { authorization: `Bearer ${running.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!(await admin("/policies/bench_binding", { policy: { version: "1", default: "allow" } })).ok) throw new Error("could not push the binding case's policy");
    const created = await admin("/grants", { label: `bench-${RUN}-binding`, policy: "bench_binding" });
    const { token } = (await created.json()) as { token: string };
    await client.connect(new StreamableHTTPClientTransport(new URL(running.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const port = Number(new URL(running.url).port);
    const measure = async (label: string, op: Op, samples: number) => {
      for (let i = 0; i < WARMUP; i++) await op();
      const latencies: number[] = [];
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        await op();
        latencies.push(performance.now() - started);
      }
      const requests = 4 * 100;
      const before = cpuByPid(wranglerTree(port));
      const started = performance.now();
      await pool(requests, CONCURRENCY, op);
      const took = performance.now() - started;
      const after = cpuByPid(wranglerTree(port));
      return { label, latencies, perSecond: requests / (took / 1000), cpuMs: cpuSpent(before.worker, after.worker) / requests };
    };
    const call: Op = async () => {
      const result = await client.callTool({ name: "get_lists", arguments: {} });
      if (result.isError) throw new Error(`get_lists: ${JSON.stringify(result).slice(0, 200)}`);
    };
    const list: Op = async () => {
      const result = await client.request({ method: "tools/list", params: {} }, ToolListSchema);
      if (result.tools.length !== 118) throw new Error(`tools/list: ${result.tools.length} tools`);
    };
    return [await measure("get_lists (allowed call)", call, 200), await measure("tools/list, 118 tools", list, 100)];
  } finally {
    await client.close().catch(() => undefined);
    await running.stop();
  }
}

function bindingRows(rows: Awaited<ReturnType<typeof serviceBindingCase>> | { error: string }): string[][] {
  const header = ["D: service-binding upstream", "p50 ms", "p99 ms", "req/s (c=16)", "CPU ms/req"];
  if ("error" in rows) return [header, [`failed: ${rows.error}`]];
  return [
    header,
    ...rows.map((row) => [row.label, ms(median(row.latencies)), ms(percentile(row.latencies, 0.99)), row.perSecond.toFixed(0), ms(row.cpuMs)]),
  ];
}

// ---------------------------------------------------------------------------
// clients and operations

async function mcpClient(url: string, headers: Record<string, string>, received?: Received): Promise<Client> {
  const client = new Client({ name: "bench", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, ...(received ? { fetch: countingFetch(received) } : {}) });
  await client.connect(transport);
  if (transport.protocolVersion !== PROTOCOL_VERSION) throw new Error(`${url}: negotiated ${transport.protocolVersion}, expected ${PROTOCOL_VERSION}`);
  return client;
}

/** fetch, adding the bytes of each POST's answer body to `received` as the client reads them. */
function countingFetch(received: Received): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (init?.method !== "POST" || response.body === null) return response;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received.bytes += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** get_campaigns {}: answered by the upstream (isError false), or refused by the gateway (isError true). */
function callOp(client: Client, refused: boolean): Op {
  return async () => {
    const result = await client.callTool({ name: "get_campaigns", arguments: {} });
    if (Boolean(result.isError) !== refused) throw new Error(`unexpected answer: ${JSON.stringify(result).slice(0, 300)}`);
  };
}

function post(url: string, headers: Record<string, string>, body: unknown, session?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      ...headers,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(session ? { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION } : {}),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** A raw initialize (and, when `complete`, notifications/initialized); returns the session id. */
async function initialize(url: string, headers: Record<string, string>, complete = true, received?: Received): Promise<string> {
  const response = await post(url, headers, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  });
  const text = await response.text();
  if (received) received.bytes += Buffer.byteLength(text);
  const session = response.headers.get("mcp-session-id");
  if (response.status !== 200 || !session || !text.includes(PROTOCOL_VERSION)) throw new Error(`initialize: HTTP ${response.status}, session ${session}: ${text.slice(0, 300)}`);
  if (complete) {
    const initialized = await post(url, headers, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
    await initialized.arrayBuffer();
    if (initialized.status !== 202) throw new Error(`notifications/initialized: HTTP ${initialized.status}`);
  }
  return session;
}

/** The JSON-RPC messages of a JSON or SSE body. */
function messagesOf(text: string): { id?: unknown; result?: { isError?: boolean; _meta?: Record<string, { decision?: string }> }; error?: unknown }[] {
  if (text.trimStart().startsWith("{")) return [JSON.parse(text)];
  return text
    .split(/\r?\n\r?\n/)
    .map((event) => event.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, "")).join("\n"))
    .filter(Boolean)
    .map((data) => JSON.parse(data));
}

/** Runs `count` tasks with at most `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

// ---------------------------------------------------------------------------
// measurements

async function runCase(each: Case, tree: (key: TargetKey) => WranglerTree): Promise<CaseResult> {
  const before = Object.fromEntries(KEYS.map((key) => [key, each.received[key].bytes])) as Record<TargetKey, number>;
  const sequential = await interleaved(each.ops, { warmUp: WARMUP, samples: each.samples }, each.after);
  const result = {
    ...Object.fromEntries(
      KEYS.map((key) => [key, { ...sequential[key], perSecond: 0, bytesPerAnswer: (each.received[key].bytes - before[key]) / (WARMUP + each.samples) }]),
    ),
    rebuilds: 0,
  } as CaseResult;

  // One untimed burst per target opens the pool's connections.
  for (const key of KEYS) await pool(CONCURRENCY * 2, CONCURRENCY, async () => void (await attempt(each.ops[key], result[key].errors, "throughput")));
  await each.after?.();
  type Total = { requests: number; ms: number; worker: number; wrangler: number };
  const totals = Object.fromEntries(KEYS.map((key) => [key, { requests: 0, ms: 0, worker: 0, wrangler: 0 }])) as Record<TargetKey, Total>;
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    for (const key of KEYS) {
      const [started, cpuBefore] = [performance.now(), cpuByPid(tree(key))];
      await pool(each.perRound, CONCURRENCY, async () => void (await attempt(each.ops[key], result[key].errors, "throughput")));
      const [ended, cpuAfter] = [performance.now(), cpuByPid(tree(key))];
      totals[key].ms += ended - started;
      totals[key].worker += cpuSpent(cpuBefore.worker, cpuAfter.worker);
      totals[key].wrangler += cpuSpent(cpuBefore.wrangler, cpuAfter.wrangler);
      totals[key].requests += each.perRound;
      await each.after?.();
    }
  }
  for (const key of KEYS) {
    const total = totals[key];
    result[key].perSecond = total.requests / (total.ms / 1000);
    result[key].cpu = { worker: total.worker / total.requests, wrangler: total.wrangler / total.requests };
  }
  return result;
}

/**
 * The same allowed call through the floor, /mcp and /mcp/<server>, interleaved so that all three see the same
 * machine; each path's p50 and p99, its p50 over the floor's, and what /mcp/<server> adds to /mcp's.
 */
async function serverPathCase(floorOp: Op, mcpOp: Op, serverOp: Op) {
  const paths = [
    { label: "B floor", op: floorOp, latencies: [] as number[] },
    { label: "C gateway /mcp", op: mcpOp, latencies: [] as number[] },
    { label: `C gateway /mcp/${SERVER_NAME}`, op: serverOp, latencies: [] as number[] },
  ];
  for (const path of paths) for (let i = 0; i < WARMUP; i++) await path.op();
  for (let i = 0; i < SERVER_PATH_SAMPLES; i++) {
    // The two gateway paths swap places every other round: neither always follows the other's call.
    for (const path of i % 2 === 0 ? paths : [paths[0]!, paths[2]!, paths[1]!]) {
      const started = performance.now();
      await path.op();
      path.latencies.push(performance.now() - started);
    }
  }
  const floorP50 = median(paths[0]!.latencies);
  const rows = paths.map((path) => ({ label: path.label, n: path.latencies.length, p50: median(path.latencies), p99: percentile(path.latencies, 0.99) }));
  // Paired: each /mcp/<server> call against the /mcp call of its round, so a burst of load on the shared cores
  // falls on both sides of a difference rather than on one path's median.
  const [mcp, named] = [paths[1]!.latencies, paths[2]!.latencies];
  return { rows, floorP50, extra: median(named.map((took, index) => took - mcp[index]!)) };
}

function serverPathRows(result: Awaited<ReturnType<typeof serverPathCase>>): string[][] {
  return [
    ["/mcp/<server> next to /mcp: allowed call (no limit)", "n", "p50 ms", "p99 ms", "over the floor, p50 ms"],
    ...result.rows.map((row, index) => [row.label, String(row.n), ms(row.p50), ms(row.p99), index === 0 ? "" : signed(row.p50 - result.floorP50)]),
  ];
}

/** p50 of `samples` sequential runs of `op`, after a few untimed ones. */
async function sequentialP50(op: Op, samples: number): Promise<number> {
  for (let i = 0; i < 10; i++) await op();
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await op();
    latencies.push(performance.now() - started);
  }
  return median(latencies);
}

/** CPU time so far by pid: the workerd running the Worker, and the rest of its wrangler dev. */
function cpuByPid(tree: WranglerTree): { worker: Map<number, number>; wrangler: Map<number, number> } {
  const read = (pids: (number | undefined)[]) => new Map(pids.flatMap((pid) => (pid === undefined ? [] : [[pid, cpuMs(pid) ?? 0] as [number, number]])));
  return { worker: read([tree.runtime]), wrangler: read([tree.proxy, ...tree.node]) };
}

/** CPU spent between two readings; a process that appeared meanwhile counts from its start. */
function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0;
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0);
  return spent;
}

type LargeSample = { ms: number; bytes: number } | { error: string };

async function largeList(targets: Record<TargetKey, { url: string; headers: Record<string, string> }>) {
  const sessions = Object.fromEntries(await Promise.all(KEYS.map(async (key) => [key, await initialize(targets[key].url, targets[key].headers)] as const))) as Record<TargetKey, string>;
  const samples = Object.fromEntries(KEYS.map((key) => [key, [] as LargeSample[]])) as Record<TargetKey, LargeSample[]>;
  const tools: Partial<Record<TargetKey, number>> = {};
  let id = 1;
  const once = async (key: TargetKey, keep: boolean) => {
    const started = performance.now();
    const requestId = id++;
    try {
      const response = await post(targets[key].url, { ...targets[key].headers, "x-sandbox-tools-list-bytes": String(LARGE_LIST_BYTES) }, { jsonrpc: "2.0", id: requestId, method: "tools/list", params: {} }, sessions[key]);
      const body = Buffer.from(await response.arrayBuffer());
      const took = performance.now() - started;
      if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${body.toString("utf8", 0, 200)}`);
      if (tools[key] === undefined) {
        const answer = messagesOf(body.toString("utf8")).find((message) => message.id === requestId) as { result?: { tools?: unknown[] } } | undefined;
        tools[key] = answer?.result?.tools?.length ?? 0;
      }
      if (keep) samples[key].push({ ms: took, bytes: body.length });
    } catch (error) {
      samples[key].push({ error: String(error).slice(0, 200) });
    }
  };
  for (const key of KEYS) await once(key, false);
  for (let round = 0; round < LARGE_LIST_ROUNDS; round++) for (const key of KEYS) await once(key, true);
  return { samples, tools };
}

async function loadTest(running: RunningGateway, tokens: string[], runtimeRss: () => { pid: number | undefined; mib: number | undefined }) {
  const grants = await Promise.all(
    tokens.map(async (token, index) => {
      const headers = { authorization: `Bearer ${token}`, "x-sandbox-tag": `bench-load-${RUN}-${index}` };
      return { headers, tag: headers["x-sandbox-tag"], session: await initialize(running.url, headers) };
    }),
  );
  const { pid, mib: before } = runtimeRss();
  const port = Number(new URL(running.url).port);
  let peak = before ?? 0;
  let connections = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, (pid === undefined ? undefined : rssMiB(pid)) ?? 0);
    connections = Math.max(connections, establishedTo(port));
  }, 20);
  type Outcome = { grant: number; status: number | undefined; kind: string };
  const started = performance.now();
  const outcomes: Outcome[] = await Promise.all(
    Array.from({ length: LOAD_CALLS }, async (_, index): Promise<Outcome> => {
      const grant = index % tokens.length;
      const { headers, session } = grants[grant]!;
      try {
        const response = await post(running.url, headers, { jsonrpc: "2.0", id: index + 1, method: "tools/call", params: { name: "get_campaigns", arguments: {} } }, session);
        const text = await response.text();
        if (response.status !== 200) return { grant, status: response.status, kind: `HTTP ${response.status}` };
        const answer = messagesOf(text).find((message) => message.id === index + 1);
        const decision = answer?.result?._meta?.["mcp-policy-gateway/decision"]?.decision;
        const kind = answer?.error ? "JSON-RPC error" : answer?.result?.isError ? (decision ?? "isError") : answer?.result ? "answered" : "no answer";
        return { grant, status: response.status, kind };
      } catch (error) {
        return { grant, status: undefined, kind: `failed: ${String(error).slice(0, 80)}` };
      }
    }),
  );
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  const after = runtimeRss().mib;
  const upstreamOrigin = new URL(running.upstreamUrl).origin;
  const perGrant = await Promise.all(
    grants.map(async ({ tag }, index) => {
      const log = (await (await fetch(`${upstreamOrigin}/__log?tag=${encodeURIComponent(tag)}`)).json()) as { method: string; body: string }[];
      const forwarded = log.filter((entry) => entry.method === "POST" && /"method"\s*:\s*"tools\/call"/.test(entry.body)).length;
      const mine = outcomes.filter((outcome) => outcome.grant === index);
      const count = (kind: string) => mine.filter((outcome) => outcome.kind === kind).length;
      const other = mine.filter((outcome) => outcome.kind !== "answered" && outcome.kind !== "rate_limited");
      return {
        forwarded,
        answered: count("answered"),
        limited: count("rate_limited"),
        status5xx: mine.filter((outcome) => (outcome.status ?? 0) >= 500).length,
        failed: mine.filter((outcome) => outcome.status === undefined).length,
        other: other.length === 0 ? "" : `${other.length}: ${[...new Set(other.map((outcome) => outcome.kind))].join("; ")}`,
      };
    }),
  );
  const total = { status5xx: perGrant.reduce((sum, g) => sum + g.status5xx, 0), failed: perGrant.reduce((sum, g) => sum + g.failed, 0) };
  const exact = perGrant.every((g) => g.forwarded === LOAD_MAX && g.answered === LOAD_MAX);
  return { perGrant, total, exact, wallMs, connections, rss: { pid, before, peak: peak || undefined, after } };
}

/** Calls refused by an exhausted limit: each is one gateway request plus one Durable Object RPC, nothing upstream. */
async function limiterDecisions(client: Client) {
  const refused: Op = async () => {
    const result = await client.callTool({ name: "get_campaigns", arguments: {} });
    const decision = (result._meta?.["mcp-policy-gateway/decision"] as { decision?: string } | undefined)?.decision;
    if (decision !== "rate_limited") throw new Error(`expected rate_limited, got ${JSON.stringify(result).slice(0, 200)}`);
  };
  const p50 = await sequentialP50(refused, LIMITER_SAMPLES);
  const started = performance.now();
  await pool(LIMITER_CALLS, CONCURRENCY, refused);
  return { perSecond: LIMITER_CALLS / ((performance.now() - started) / 1000), p50 };
}

// ---------------------------------------------------------------------------
// tables

function endToEndRows(cases: Case[], results: CaseResult[]): string[][] {
  const rows = [["case", "target", "n", "bytes/answer", "p50 ms", "p99 ms", "req/s", "CPU ms/req", "C−B p50 ms", "C−B p99 ms", "C/B req/s", "C−B CPU ms/req"]];
  for (const [index, each] of cases.entries()) {
    const result = results[index]!;
    const p50 = (key: TargetKey) => percentile(result[key].latencies, 0.5);
    const p99 = (key: TargetKey) => percentile(result[key].latencies, 0.99);
    for (const key of KEYS) {
      const row = [
        key === "A" ? each.label : key === "B" && result.rebuilds > 0 ? `(rebuilt ${result.rebuilds}x meanwhile)` : "",
        `${key} ${TARGETS[key]}`,
        String(result[key].latencies.length),
        result[key].bytesPerAnswer.toFixed(0),
        ms(p50(key)),
        ms(p99(key)),
        ms(result[key].perSecond, 0),
        result[key].cpu ? `${ms(result[key].cpu.worker)} + ${ms(result[key].cpu.wrangler)}` : "-",
      ];
      if (key === "C") {
        const d50 = p50("C") - p50("B");
        const d99 = p99("C") - p99("B");
        const ratio = result.C.perSecond / result.B.perSecond;
        const goals = each.goals ?? {};
        row.push(
          goals.p50 === undefined ? signed(d50) : `${signed(d50)} ${verdict(d50 <= goals.p50, `≤ +${goals.p50}`)}`,
          goals.p99 === undefined ? signed(d99) : `${signed(d99)} ${verdict(d99 <= goals.p99, `≤ +${goals.p99}`)}`,
          goals.throughput === undefined ? `${(ratio * 100).toFixed(0)} %` : `${(ratio * 100).toFixed(0)} % ${verdict(ratio >= goals.throughput, `≥ ${goals.throughput * 100} %`)}`,
          cpuOver(result.C.cpu?.worker, result.B.cpu?.worker, goals.cpu),
        );
      }
      rows.push(row);
    }
  }
  return rows;
}

/** The gateway's workerd CPU per request over the floor's, judged against its goal when it has one. */
function cpuOver(gateway: number | undefined, floor: number | undefined, goal: number | undefined): string {
  if (gateway === undefined || floor === undefined) return "-";
  const over = gateway - floor;
  return goal === undefined ? signed(over) : `${signed(over)} ${verdict(over <= goal, `≤ +${goal}`)}`;
}

function largeListRows(large: Awaited<ReturnType<typeof largeList>>): string[][] {
  const rows = [["16 MiB tools/list (1 SSE event, 16 KiB chunks), C allow-all", "runs", "median ms", "min ms", "bytes", "tools", "C/B"]];
  const ok = (key: TargetKey) => large.samples[key].flatMap((sample) => ("ms" in sample ? [sample] : []));
  const medianOf = (key: TargetKey) => median(ok(key).map((sample) => sample.ms));
  for (const key of KEYS) {
    const good = ok(key);
    const errors = large.samples[key].flatMap((sample) => ("error" in sample ? [sample.error] : []));
    const ratio = medianOf("C") / medianOf("B");
    rows.push([
      `${key} ${TARGETS[key]}`,
      `${good.length}/${large.samples[key].length}`,
      ms(medianOf(key), 0),
      ms(Math.min(...good.map((sample) => sample.ms)), 0),
      good[0] ? String(good[0].bytes) : "-",
      String(large.tools[key] ?? "-"),
      key === "C" ? `${ratio.toFixed(2)} ${verdict(ratio <= LARGE_LIST_GOAL, `≤ ${LARGE_LIST_GOAL}`)}` : errors[0] ? `error: ${errors[0]}` : "",
    ]);
  }
  return rows;
}

function microRows(results: MicroResult[], limiter: { perSecond: number; p50: number }): string[][] {
  const rows = [["micro-benchmark (Node, in process)", "detail", "per op", "ops", "target"]];
  for (const result of results) {
    rows.push([
      result.name,
      result.detail,
      perOp(result.nsPerOp),
      String(result.ops),
      result.targetNs === undefined ? "" : verdict(result.nsPerOp <= result.targetNs, `≤ ${perOp(result.targetNs)}`),
    ]);
  }
  rows.push([
    "limit decisions, one grant (gateway + DO)",
    `refused by an exhausted limit; sequential p50 ${ms(limiter.p50)} ms`,
    `${limiter.perSecond.toFixed(0)} /s`,
    String(LIMITER_CALLS),
    `concurrency ${CONCURRENCY}`,
  ]);
  return rows;
}

function loadRows(load: Awaited<ReturnType<typeof loadTest>>): string[][] {
  const rows = [["load grant", "forwarded (sandbox log)", "answered", "rate_limited", "HTTP 5xx", "failed", "other"]];
  for (const [index, grant] of load.perGrant.entries()) {
    rows.push([`grant ${index + 1} (max ${LOAD_MAX})`, String(grant.forwarded), String(grant.answered), String(grant.limited), String(grant.status5xx), String(grant.failed), grant.other]);
  }
  return rows;
}
