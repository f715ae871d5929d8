#!/usr/bin/env node
// `npm run bench`: measures the rate limiter on this machine, over loopback only.
// Starts `npm start` (gateway + sandbox in wrangler dev) on free ports, then prints
//   1. limiter decisions per second for one grant: calls refused by an exhausted
//      limit, each a full gateway request plus one Durable Object round trip and
//      no upstream request; beside it, calls refused by the policy alone (no DO);
//   2. the latency a limit adds to a forwarded call: the same send_campaign call
//      with and without a (never exhausted) limit, sequentially, p50 and p95.
// Bounded: a few thousand requests, well under a minute of load.
import { cpus, totalmem } from "node:os";
import { cli, startGateway } from "./local-gateway.ts";

const THROUGHPUT_REQUESTS = 3000;
const CONCURRENCY = 16;
const LATENCY_SAMPLES = 400;

const gateway = await startGateway(["--var", "CACHE_TTL_MS:60000"]);
try {
  const grantOn = async (file: string | Promise<string>, name: string) => {
    const pushed = await cli("policy", "push", await file, "--name", name, "--local");
    if (pushed.status !== 0) throw new Error(pushed.stderr);
    const created = await cli("grant", "create", "--label", `bench-${name}`, "--policy", name, "--local", "--json");
    if (created.status !== 0) throw new Error(created.stderr);
    return (JSON.parse(created.stdout) as { token: string }).token;
  };
  const policyFile = (policy: object) => {
    const path = `${process.env.TMPDIR ?? "/tmp"}/bench-${crypto.randomUUID()}.json`;
    return import("node:fs").then(({ writeFileSync }) => (writeFileSync(path, JSON.stringify(policy)), path));
  };
  const limit = (max: number) => ({ counter: "bench", window: "hour", max, scope: "grant" });
  const tokens = {
    exhausted: await grantOn(await policyFile({ version: "1", default: "deny", tools: { send_campaign: { limits: [limit(1)] } } }), "bench-exhausted"),
    denied: await grantOn(await policyFile({ version: "1", default: "deny", tools: { send_campaign: { action: "deny" } } }), "bench-denied"),
    limited: await grantOn(await policyFile({ version: "1", default: "deny", tools: { send_campaign: { limits: [limit(1_000_000)] } } }), "bench-limited"),
    unlimited: await grantOn(await policyFile({ version: "1", default: "deny", tools: { send_campaign: {} } }), "bench-unlimited"),
  };

  const agents = Object.fromEntries(await Promise.all(Object.entries(tokens).map(async ([name, token]) => [name, await agent(gateway.url, token)] as const)));
  // Warm every path (tool list, policy and grant caches, Durable Object) before measuring.
  for (const a of Object.values(agents)) for (let i = 0; i < 20; i++) await a.call();

  const floor = await throughput({ call: async () => (await fetch(gateway.url.replace("/mcp", "/"))).text() });
  const refused = await throughput(agents.exhausted!);
  const deniedOnly = await throughput(agents.denied!);
  const refusedLatency = await latency(agents.exhausted!);
  const deniedLatency = await latency(agents.denied!);
  const unlimited = await latency(agents.unlimited!);
  const limited = await latency(agents.limited!);

  const cpu = cpus();
  console.log(`
machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, wrangler dev (workerd) on loopback

limiter decisions, one grant (${THROUGHPUT_REQUESTS} calls, ${CONCURRENCY} concurrent):
  refused by an exhausted limit (gateway + 1 Durable Object RPC): ${refused.perSecond.toFixed(0)} calls/s, sequential p50 ${refusedLatency.p50.toFixed(2)} ms
  refused by the policy alone (gateway, no Durable Object):       ${deniedOnly.perSecond.toFixed(0)} calls/s, sequential p50 ${deniedLatency.p50.toFixed(2)} ms
  floor of wrangler dev itself (GET / answered 404):              ${floor.perSecond.toFixed(0)} requests/s

latency of a forwarded send_campaign (${LATENCY_SAMPLES} sequential calls each):
  without a limit: p50 ${unlimited.p50.toFixed(2)} ms, p95 ${unlimited.p95.toFixed(2)} ms
  with a limit:    p50 ${limited.p50.toFixed(2)} ms, p95 ${limited.p95.toFixed(2)} ms
  added by the limit: p50 ${(limited.p50 - unlimited.p50).toFixed(2)} ms, p95 ${(limited.p95 - unlimited.p95).toFixed(2)} ms
`);
} finally {
  await gateway.stop();
}

async function agent(url: string, token: string) {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  const init = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } }),
  });
  const session = init.headers.get("mcp-session-id") ?? "";
  await init.text();
  let id = 1;
  return {
    async call(): Promise<string> {
      const response = await fetch(url, {
        method: "POST",
        headers: { ...headers, "mcp-session-id": session },
        body: JSON.stringify({ jsonrpc: "2.0", id: id++, method: "tools/call", params: { name: "send_campaign", arguments: { campaignId: 1 } } }),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
      return text;
    },
  };
}

async function throughput(a: { call: () => Promise<string> }) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < THROUGHPUT_REQUESTS) await a.call();
    }),
  );
  return { perSecond: THROUGHPUT_REQUESTS / ((performance.now() - started) / 1000) };
}

async function latency(a: { call: () => Promise<string> }) {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now();
    await a.call();
    samples.push(performance.now() - started);
  }
  samples.sort((x, y) => x - y);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95) };
}
