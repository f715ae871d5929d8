/**
 * The benchmark's floor and the processes around it: starts bench/passthrough
 * (a bare relaying Worker with one SQLite Durable Object, see bench/README.md)
 * on its own `wrangler dev`, and reads the resident memory of a `wrangler dev`'s
 * workerd from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wranglerBin } from "../src/cli/wrangler-kv.ts";
import { freePort, ROOT } from "./local-gateway.ts";

export type RunningFloor = {
  url: string;
  port: number;
  output: () => string;
  /** How often `wrangler dev` rebuilt the Worker because a source file changed. */
  reloads: () => number;
  stop: () => Promise<void>;
};

/**
 * Starts the floor Worker in front of `upstreamUrl` on a free loopback port,
 * with its Durable Object state in a fresh temporary directory (removed on stop),
 * and waits until it answers.
 */
export async function startFloor(upstreamUrl: string): Promise<RunningFloor> {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "bench-floor-"));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      wranglerBin(), "dev", "-c", "bench/passthrough/wrangler.toml",
      "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", "0",
      "--persist-to", persist,
      "--var", `UPSTREAM_URL:${upstreamUrl}`,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, detached: true },
  );
  // Drained, so full pipes never stall the Worker's logging; the tail is kept for errors.
  let output = "";
  let reloads = 0;
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    reloads += text.split("Reloading local server").length - 1;
    output = (output + text).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const stop = async () => {
    await stopGroup(child);
    rmSync(persist, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/mcp`, port, output: () => output, reloads: () => reloads, stop };
}

async function waitForHttp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the floor's wrangler dev exited with ${child.exitCode}:\n${output()}`);
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${url} did not answer within 120 s:\n${output()}`);
}

/** SIGTERM to the child's whole process group (wrangler and its workerd), then waits for the child. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    return;
  }
  await exited;
}

type Proc = { pid: number; ppid: number; comm: string; args: string[] };

function processes(): Proc[] {
  const list: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ")".
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      list.push({ pid: Number(entry), ppid, comm, args });
    } catch {
      // The process ended while being read.
    }
  }
  return list;
}

/**
 * The processes of the `wrangler dev` serving `port`. wrangler 4 runs two workerd
 * processes: a proxy listening on the public port (`--socket-addr=entry=…:<port>`),
 * which forwards each request to the runtime that runs the Worker itself (and its
 * Durable Objects, KV, and so on); and Node processes (wrangler, esbuild).
 */
export type WranglerTree = { runtime: number | undefined; proxy: number | undefined; node: number[] };

/**
 * Finds the `wrangler dev` serving `port` by its `--port` argument and walks its
 * process tree; empty when there is none. Read it again after a rebuild: the
 * runtime may have been restarted.
 */
export function wranglerTree(port: number): WranglerTree {
  const all = processes();
  const wrangler = all.find((p) => p.args.includes("dev") && p.args.some((arg, i) => arg === "--port" && p.args[i + 1] === String(port)));
  const tree: WranglerTree = { runtime: undefined, proxy: undefined, node: [] };
  if (!wrangler) return tree;
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const queue = [wrangler];
  while (queue.length > 0) {
    const p = queue.shift()!;
    queue.push(...(children.get(p.pid) ?? []));
    if (p.comm !== "workerd" && !p.args[0]?.endsWith("/workerd")) tree.node.push(p.pid);
    else if (p.args.some((arg) => arg.startsWith("--socket-addr=") && arg.endsWith(`:${port}`))) tree.proxy = p.pid;
    else tree.runtime ??= p.pid;
  }
  return tree;
}

/** Resident set size of a process in MiB (VmRSS), or undefined once it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;

/** CPU time (user + system, all threads) a process has used so far, in ms; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** Established TCP connections whose local port is `port` (the server's side of each), IPv4 and IPv6. */
export function establishedTo(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let count = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === "01" && local?.endsWith(hex)) count++;
    }
  }
  return count;
}
