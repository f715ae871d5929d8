#!/usr/bin/env node
// Times one large `tools/list` answer (a single SSE event written in 16 KiB chunks by
// the sandbox's `x-sandbox-tools-list-bytes` control) four ways, on loopback only:
//   direct              the sandbox upstream itself
//   pass-through        bench/passthrough, a bare relaying Worker on the same runtime (wrangler dev)
//   gateway allow-all   `npm start`'s gateway, a grant whose policy allows every tool: the whole
//                       list reaches the client, as through the pass-through (like with like)
//   gateway filtering   the dev grant, recommended policy: the padding tools are hidden, so its
//                       answer is a fraction of the others' (a different output, timed for information)
// Targets are interleaved round by round; each time is the wall time until the whole
// body has been read. Prints median and min per target, the bytes that reached the client,
// and gateway / pass-through; the goal (≤ 2) is judged for the allow-all gateway only, and
// only when its answer is the pass-through's size. Any failed request fails the run.
// Bounded: 2 MiB x 5 rounds and 16 MiB x 3 rounds per target, each request given up after 120 s.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { wranglerBin } from "../src/cli/wrangler-kv.ts";
import { freePort, ROOT, startGateway } from "./local-gateway.ts";

const MiB = 1024 * 1024;
const SIZES = [
  { bytes: 2 * MiB, rounds: 5 },
  { bytes: 16 * MiB, rounds: 3 },
];
const REQUEST_TIMEOUT_MS = 120_000;
const PROTOCOL_VERSION = "2025-06-18";
const SANDBOX_CREDENTIAL = "sandbox-dev-key";
const GOAL_RATIO = 2;
/** How far the allow-all gateway's answer may differ in size from the pass-through's and still count as the same output. */
const SAME_OUTPUT_TOLERANCE = 0.01;
const ALLOW_ALL_POLICY = "bench-large-list-allow-all";
let nextId = 1;
let stopping = false;

type Target = { name: string; url: string; headers: Record<string, string>; session?: string; compared?: "same output" | "filtered" };
type Sample = { ms: number; bytes: number; tools: number } | { error: string };

const gateway = await startGateway(["--sandbox"]);
let passthrough: ChildProcess | undefined;
// Both servers run in their own process groups: stop them on Ctrl-C too.
process.once("SIGINT", () => {
  void Promise.all([passthrough && stopGroup(passthrough), gateway.stop()]).finally(() => process.exit(130));
});
try {
  const passthroughPort = await freePort();
  passthrough = startPassthrough(passthroughPort, gateway.upstreamUrl);
  await waitForHttp(`http://127.0.0.1:${passthroughPort}/`, passthrough);

  const allowAllToken = await allowAllGrant();
  const targets: Target[] = [
    { name: "direct", url: gateway.upstreamUrl, headers: { "api-key": SANDBOX_CREDENTIAL } },
    { name: "pass-through", url: `http://127.0.0.1:${passthroughPort}/mcp`, headers: { "api-key": SANDBOX_CREDENTIAL } },
    { name: "gateway allow-all", url: gateway.url, headers: { authorization: `Bearer ${allowAllToken}` }, compared: "same output" },
    { name: "gateway filtering", url: gateway.url, headers: { authorization: `Bearer ${gateway.token}` }, compared: "filtered" },
  ];
  for (const target of targets) {
    try {
      target.session = await initialize(target);
    } catch (error) {
      console.error(`${target.name}: initialize failed: ${String(error)}`);
    }
  }

  // One untimed request per target warms each Worker's code paths and connections.
  for (const target of targets) await timeToolList(target, SIZES[0]!.bytes);

  const samples = new Map<string, Sample[]>();
  for (const { bytes, rounds } of SIZES) {
    for (let round = 0; round < rounds; round++) {
      for (const target of targets) {
        const sample = await timeToolList(target, bytes);
        const key = `${bytes}/${target.name}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        console.error(`${formatSize(bytes)} round ${round + 1}/${rounds} ${target.name}: ${"ms" in sample ? `${sample.ms.toFixed(0)} ms` : sample.error}`);
      }
    }
  }

  const cpu = cpus();
  console.log(`\nmachine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, wrangler dev (workerd) on loopback`);
  console.log("tools/list answered with one SSE event written in 16 KiB chunks; wall time until the whole body is read");
  console.log("body bytes: what reached the client. gateway allow-all: every tool allowed, the same output as the pass-through (the goal");
  console.log(`gateway / pass-through ≤ ${GOAL_RATIO} is judged here only); gateway filtering: recommended policy, padding tools hidden, a smaller output (no goal)\n`);
  const rows = [["size", "target", "runs", "median ms", "min ms", "body bytes", "tools", "gateway / pass-through"]];
  for (const { bytes } of SIZES) {
    const stats = new Map(targets.map((target) => [target.name, summarise(samples.get(`${bytes}/${target.name}`) ?? [])]));
    for (const target of targets) {
      const s = stats.get(target.name)!;
      const floor = stats.get("pass-through")!;
      const ratio = target.compared && s.median !== undefined && floor.median !== undefined ? compare(target.compared, s.median / floor.median, s.bytes, floor.bytes) : "";
      rows.push([
        formatSize(bytes),
        target.name,
        `${s.ok}/${s.ok + s.errors.length}`,
        s.median?.toFixed(0) ?? "-",
        s.min?.toFixed(0) ?? "-",
        s.bytes?.toString() ?? "-",
        s.tools?.toString() ?? "-",
        ratio || (s.errors[0] ? `error: ${s.errors[0].slice(0, 160)}` : ""),
      ]);
    }
  }
  printTable(rows);
  const failed = [...samples].filter(([, list]) => list.some((sample) => "error" in sample)).map(([key]) => key);
  if (failed.length > 0) {
    console.error(`\nrequests failed (${failed.join(", ")}), so the run fails; the last lines of npm start's output:\n${gateway.output().split("\n").slice(-30).join("\n")}`);
    process.exitCode = 1;
  }
} finally {
  if (passthrough) await stopGroup(passthrough);
  await gateway.stop();
}

/** The gateway's ratio to the pass-through, judged against the goal only when both sent the client the same output. */
function compare(compared: "same output" | "filtered", ratio: number, bytes: number | undefined, floorBytes: number | undefined): string {
  if (compared === "filtered") return `${ratio.toFixed(2)} (smaller output: not judged)`;
  if (bytes === undefined || floorBytes === undefined || Math.abs(bytes - floorBytes) > floorBytes * SAME_OUTPUT_TOLERANCE) {
    return `${ratio.toFixed(2)} (outputs differ in size: not judged)`;
  }
  return `${ratio.toFixed(2)} (same output; goal <= ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? "met" : "NOT met"})`;
}

/** A grant on a policy that allows every tool, pushed and created through npm start's admin API with the CLI. */
async function allowAllGrant(): Promise<string> {
  const file = join(tmpdir(), `${ALLOW_ALL_POLICY}-${process.pid}.json`);
  // Pinning off: the padding tools are no tool the upstream's pins know, and would be hidden.
  writeFileSync(file, JSON.stringify({ version: "1", default: "allow", pinning: "off" }));
  try {
    const pushed = await gateway.cli("policy", "push", file, "--name", ALLOW_ALL_POLICY);
    if (pushed.status !== 0) throw new Error(`policy push failed:\n${pushed.stderr}`);
  } finally {
    rmSync(file, { force: true });
  }
  const created = await gateway.cli("grant", "create", "--label", `bench-large-list-${Date.now().toString(36)}`, "--policy", ALLOW_ALL_POLICY, "--json");
  if (created.status !== 0) throw new Error(`grant create failed:\n${created.stderr}`);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

function startPassthrough(port: number, upstreamUrl: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      wranglerBin(), "dev", "-c", "bench/passthrough/wrangler.toml",
      "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", "0",
      "--var", `UPSTREAM_URL:${upstreamUrl}`,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, detached: true },
  );
  // Drained (so the pipes never fill and stall the Worker's logging), kept for errors.
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("exit", (code) => {
    if (!stopping && code !== 0 && code !== null) console.error(`pass-through wrangler dev exited with ${code}:\n${output}`);
  });
  return child;
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error("pass-through wrangler dev exited before it was ready");
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${url} did not answer within 120 s`);
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  stopping = true;
  process.kill(-child.pid!, "SIGTERM");
  await exited;
}

function post(target: Target, body: object, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(target.url, {
    method: "POST",
    headers: {
      ...target.headers,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(target.session ? { "mcp-session-id": target.session, "mcp-protocol-version": PROTOCOL_VERSION } : {}),
      ...extra,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** initialize, then notifications/initialized; returns the session id. */
async function initialize(target: Target): Promise<string> {
  const init = await post(target, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "bench-large-list", version: "1" } },
  });
  const text = await init.text();
  const session = init.headers.get("mcp-session-id");
  if (init.status !== 200 || !session) throw new Error(`HTTP ${init.status}, session ${session}: ${text.slice(0, 300)}`);
  const initialized = await post({ ...target, session }, { jsonrpc: "2.0", method: "notifications/initialized" });
  await initialized.arrayBuffer();
  if (initialized.status !== 202) throw new Error(`notifications/initialized: HTTP ${initialized.status}`);
  return session;
}

/** Wall time of one tools/list until its body is fully read; the body is checked after the clock stops. */
async function timeToolList(target: Target, bytes: number): Promise<Sample> {
  if (target.session === undefined) return { error: "no session" };
  const id = nextId++;
  const started = performance.now();
  try {
    const response = await post(target, { jsonrpc: "2.0", id, method: "tools/list", params: {} }, { "x-sandbox-tools-list-bytes": String(bytes) });
    const chunks: Uint8Array[] = [];
    const reader = response.body?.getReader();
    for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) chunks.push(read.value);
    const ms = performance.now() - started;
    const body = Buffer.concat(chunks);
    if (response.status !== 200) return { error: `HTTP ${response.status}: ${body.toString("utf8", 0, 200)}` };
    return { ms, bytes: body.length, tools: countTools(body.toString("utf8"), id) };
  } catch (error) {
    return { error: `${(error as Error).name === "TimeoutError" ? `timeout after ${REQUEST_TIMEOUT_MS} ms` : String(error)} (${(performance.now() - started).toFixed(0)} ms)` };
  }
}

/** Tools in the answer to `id`, from an SSE or JSON body; throws when there is none. */
function countTools(text: string, id: number): number {
  const payloads = text.trimStart().startsWith("{")
    ? [text]
    : text
        .split(/\r?\n\r?\n/)
        .map((event) => event.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, "")).join("\n"))
        .filter(Boolean);
  for (const payload of payloads) {
    const message = JSON.parse(payload) as { id?: unknown; result?: { tools?: unknown[] }; error?: { message?: string } };
    if (message.id !== id) continue;
    if (!Array.isArray(message.result?.tools)) throw new Error(`no tool list: ${message.error?.message ?? payload.slice(0, 200)}`);
    return message.result.tools.length;
  }
  throw new Error(`no answer to request ${id} in ${text.length} bytes`);
}

function summarise(samples: Sample[]) {
  const ok = samples.filter((sample): sample is Extract<Sample, { ms: number }> => "ms" in sample);
  const times = ok.map((sample) => sample.ms).sort((a, b) => a - b);
  const middle = times.length / 2;
  return {
    ok: ok.length,
    errors: samples.flatMap((sample) => ("error" in sample ? [sample.error] : [])),
    median: times.length === 0 ? undefined : times.length % 2 ? times[Math.floor(middle)]! : (times[middle - 1]! + times[middle]!) / 2,
    min: times[0],
    bytes: ok[0]?.bytes,
    tools: ok[0]?.tools,
  };
}

function formatSize(bytes: number): string {
  return `${bytes / MiB} MiB`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
}
