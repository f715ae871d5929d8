#!/usr/bin/env node
// `npm run bench:profile`: where the gateway's JS spends its time on allowed calls.
//
// Starts `npm start --sandbox` (not minified, so functions keep their names) with an inspector
// port, makes a grant allowing get_campaigns (LIMITED=1: with a limit), warms up with 300 calls,
// then samples the gateway's isolate every 100 µs through the DevTools protocol while CALLS
// (default 3000) calls run at concurrency 16, and prints the largest self and inclusive shares of
// its busy time by function (name and line in the bundle). The sampling slows the isolate several
// times over: read shares, not times. Writes the profile to PROFILE (default
// .build/calls.cpuprofile) for DevTools. INTERVAL (µs, default 100) sets the sampling: at 1000 the
// isolate slows less, and the busy time per call it prints compares builds (about ±3 % between runs).
// Loopback only; about a minute.
import { setMaxListeners } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import WebSocket from "ws";
import { callsAtConcurrency, freePort, grantOnPolicy, ROOT, startGateway } from "./local-gateway.ts";

const CALLS = Number(process.env.CALLS ?? 3000);
const LIMITED = process.env.LIMITED === "1";
const PROFILE = process.env.PROFILE ?? join(ROOT, ".build", "calls.cpuprofile");
const CONCURRENCY = 16;
/** Microseconds between samples: a coarser interval slows the isolate less, for comparing busy time per call between builds. */
const INTERVAL = Number(process.env.INTERVAL ?? 100);
setMaxListeners(0);

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

const inspectorPort = await freePort();
const gateway = await startGateway(["--sandbox", "--inspector-port", String(inspectorPort), "--minify=false"]);
try {
  const limit = { counter: "profile", window: "hour", max: 1_000_000, scope: "grant" };
  const policy = { version: "1", default: "deny", tools: { get_campaigns: LIMITED ? { limits: [limit] } : {} } };
  const token = await grantOnPolicy(gateway, "bench-profile", policy, "bench-profile");
  const client = new Client({ name: "bench-profile", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const calls = (count: number) => callsAtConcurrency(client, count, CONCURRENCY);
  await calls(300);

  const inspector = await connectInspector(inspectorPort);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: INTERVAL });
  await inspector.send("Profiler.start");
  await calls(CALLS);
  const { profile } = (await inspector.send("Profiler.stop")) as { profile: Profile };
  inspector.close();
  mkdirSync(dirname(PROFILE), { recursive: true });
  writeFileSync(PROFILE, JSON.stringify(profile));
  report(profile, CALLS);
  console.log(`profile of ${CALLS} ${LIMITED ? "limited" : "allowed"} calls: ${PROFILE}`);
} finally {
  await gateway.stop();
}

/** The gateway's isolate through wrangler dev's inspector proxy (it wants an Origin of its own). */
async function connectInspector(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${port}` } });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const waiting = new Map<number, (result: unknown) => void>();
  socket.on("message", (data: Buffer) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  let lastId = 0;
  return {
    send: (method: string, params: object = {}) =>
      new Promise<unknown>((resolve) => {
        waiting.set(++lastId, resolve);
        socket.send(JSON.stringify({ id: lastId, method, params }));
      }),
    close: () => socket.close(),
  };
}

function report(profile: Profile, calls: number): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const name = ({ callFrame }: ProfileNode) => `${callFrame.functionName || "(anonymous)"}${callFrame.url === "" ? "" : ` ${callFrame.url}:${callFrame.lineNumber + 1}`}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") return;
    const time = profile.timeDeltas[index] ?? 0;
    busy += time;
    self.set(name(node), (self.get(name(node)) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const each = name(byId.get(at)!);
      if (!seen.has(each)) inclusive.set(each, (inclusive.get(each) ?? 0) + time);
      seen.add(each);
    }
  });
  const top = (shares: Map<string, number>, count: number) =>
    [...shares].sort((a, b) => b[1] - a[1]).slice(0, count).map(([each, time]) => `${((100 * time) / busy).toFixed(1).padStart(5)} %  ${each}`).join("\n");
  console.log(`busy ${(busy / 1000 / calls).toFixed(3)} ms per call (sampled every ${INTERVAL} µs, which slows the isolate)\n`);
  console.log(`self time, share of the isolate's busy time\n${top(self, 30)}\n\ninclusive\n${top(inclusive, 50)}`);
}
