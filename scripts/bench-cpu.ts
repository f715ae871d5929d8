#!/usr/bin/env node
// `npm run bench:cpu`: only the workerd CPU per call, gateway against the floor, in about a minute.
//
// A quick probe for work on the gateway's per-call cost (issue 22), not the benchmark: `npm run bench`
// is the one that judges the targets. Starts npm start (sandbox) and the floor on free ports, makes a
// grant allowing get_campaigns (unlimited, and with a limit), then, in alternating rounds of 400 calls
// at concurrency 16, reads the CPU each target's workerd spent per call; before that, SEQUENTIAL (400) calls
// one at a time, interleaved, for p50 and p99 over the floor. Prints each round and the medians.
import { setMaxListeners } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CONFIG_DEFAULTS } from "../src/config.ts";
import { cpuMs, startFloor, wranglerTree } from "./bench-floor.ts";
import { median, percentile } from "./bench-report.ts";
import { callsAtConcurrency, grantOnPolicy, startGateway } from "./local-gateway.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = 400;
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 400);
const CONCURRENCY = 16;
const RUN = Date.now().toString(36);
// The SDK client adds an abort listener per request to a signal it keeps: thousands of calls are expected here.
setMaxListeners(0);

const gateway = await startGateway(["--sandbox", "--var", `CACHE_TTL_MS:${CONFIG_DEFAULTS.CACHE_TTL_MS}`]);
const floor = await startFloor(gateway.upstreamUrl).catch(async (error: unknown) => {
  await gateway.stop();
  throw error;
});
try {
  const limit = { counter: "probe", window: "hour", max: 1_000_000, scope: "grant" };
  const token = (name: string, policy: object) => grantOnPolicy(gateway, name, policy, `probe-${RUN}-${name}`);
  const unlimited = await token("probe-unlimited", { version: "1", default: "deny", tools: { get_campaigns: {} } });
  const limited = await token("probe-limited", { version: "1", default: "deny", tools: { get_campaigns: { limits: [limit] } } });
  const client = async (url: string, headers: Record<string, string>) => {
    const each = new Client({ name: "probe", version: "1" });
    await each.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    return each;
  };
  const upstream = { "api-key": "sandbox-dev-key" };
  const cases = [
    { label: "allowed", B: await client(floor.url, upstream), C: await client(gateway.url, { authorization: `Bearer ${unlimited}` }) },
    { label: "limited", B: await client(floor.url, { ...upstream, "x-floor-limited": `probe-${RUN}` }), C: await client(gateway.url, { authorization: `Bearer ${limited}` }) },
  ];
  const ports = { B: floor.port, C: Number(new URL(gateway.url).port) };
  const round = async (each: Client, port: number) => {
    const pid = wranglerTree(port).runtime!;
    const before = cpuMs(pid)!;
    await callsAtConcurrency(each, PER_ROUND, CONCURRENCY);
    return (cpuMs(pid)! - before) / PER_ROUND;
  };
  const call = async (each: Client) => {
    const started = performance.now();
    await each.callTool({ name: "get_campaigns", arguments: {} });
    return performance.now() - started;
  };
  for (const each of cases) {
    // Sequential, interleaved: the latency over the floor, p50 and p99.
    const latencies = { B: [] as number[], C: [] as number[] };
    for (let i = 0; i < SEQUENTIAL; i++) {
      latencies.B.push(await call(each.B));
      latencies.C.push(await call(each.C));
    }
    const at = (q: number) => (percentile(latencies.C, q) - percentile(latencies.B, q)).toFixed(2);
    console.log(`${each.label}: sequential C−B p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (floor p50 ${percentile(latencies.B, 0.5).toFixed(2)} ms)`);
    await round(each.B, ports.B);
    await round(each.C, ports.C);
    const over: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const b = await round(each.B, ports.B);
      const c = await round(each.C, ports.C);
      over.push(c - b);
      console.log(`${each.label} round ${i + 1}: floor ${b.toFixed(2)} ms, gateway ${c.toFixed(2)} ms, C−B ${(c - b).toFixed(2)} ms`);
    }
    console.log(`${each.label}: median C−B CPU per call ${median(over).toFixed(2)} ms`);
  }
  await Promise.all(cases.flatMap((each) => [each.B.close(), each.C.close()]));
} finally {
  await Promise.allSettled([floor.stop(), gateway.stop()]);
}
