// A dry run of both Workers' deployment, with what Cloudflare will care about:
//
//   npm run deploy:check
//
// For the Iterable MCP server Worker and the gateway, in deploy order: bundles
// it as `wrangler deploy --dry-run` would upload it, and profiles its global
// scope with `wrangler check startup` (Cloudflare refuses a Worker whose
// startup takes over 1 s of CPU). Prints a line per Worker with its bundle size
// (raw and gzip) and startup time, and exits 1 if a Worker does not build or
// starts too slowly. Needs no Cloudflare account: nothing is uploaded.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT } from "./local-gateway.ts";

/** Cloudflare's limit on a Worker's startup. */
const STARTUP_LIMIT_MS = 1000;
const OUT = join(ROOT, ".build", "deploy-check");
/** Startup moves by several ms from run to run on a shared machine: each figure is the median of this many. */
const STARTUP_RUNS = 3;

const WORKERS = [
  { name: "iterable-mcp", config: "upstreams/iterable/wrangler.toml", targetMs: 200, gzipTargetKiB: undefined },
  // Issue 22's cold-start targets for the gateway.
  { name: "mcp-policy-gateway", config: "wrangler.toml", targetMs: 25, gzipTargetKiB: 250 },
] as const;

const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`);

type Checked = { name: string; rawBytes: number; gzipBytes: number; startupMs: number; targetMs: number; gzipTargetKiB: number | undefined };

function wrangler(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Every file of a bundle directory but source maps: what is uploaded. */
function bundleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((file) => join(dir, file))
    .filter((path) => statSync(path).isFile() && !path.endsWith(".map") && !path.endsWith("README.md"));
}

function check(worker: (typeof WORKERS)[number]): Checked {
  const outdir = join(OUT, worker.name);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const built = wrangler(["deploy", "--dry-run", "--outdir", outdir, "-c", worker.config]);
  if (!built.ok) throw new Error(`${worker.name}: wrangler deploy --dry-run failed:\n${built.output}`);
  const files = bundleFiles(outdir);
  const contents = files.map((file) => readFileSync(file));
  const rawBytes = contents.reduce((sum, bytes) => sum + bytes.byteLength, 0);
  const gzipBytes = contents.reduce((sum, bytes) => sum + gzipSync(bytes, { level: 9 }).byteLength, 0);
  const { startupMs: runs, bundledKiB } = startupRuns(worker.name, worker.config);
  const startupMs = runs[Math.floor(runs.length / 2)]!;
  if (bundledKiB !== undefined && Math.abs(bundledKiB * 1024 - rawBytes) > rawBytes * 0.05) {
    throw new Error(`${worker.name}: wrangler check startup profiled a ${bundledKiB} KiB bundle, not this Worker's ${size(rawBytes)}`);
  }
  return { name: worker.name, rawBytes, gzipBytes, startupMs, targetMs: worker.targetMs, gzipTargetKiB: worker.gzipTargetKiB };
}

/**
 * STARTUP_RUNS `wrangler check startup` runs' "Active" figures, sorted (the CPU the global scope took,
 * garbage collection included, as its CPU profile samples it); the last run's profile is kept.
 */
function startupRuns(name: string, config: string, runs = STARTUP_RUNS): { startupMs: number[]; bundledKiB: number | undefined } {
  const startupMs: number[] = [];
  let bundledKiB: number | undefined;
  for (let run = 0; run < runs; run++) {
    // check startup builds with `wrangler deploy` and its own -c is not passed on: the config goes in --args.
    const profiled = wrangler(["check", "startup", `--args=-c ${config}`, "--outfile", join(OUT, `${name}.cpuprofile`)]);
    const active = /Active:\s*([\d.]+)\s*ms/.exec(profiled.output)?.[1];
    if (!profiled.ok || active === undefined) throw new Error(`${name}: wrangler check startup failed:\n${profiled.output}`);
    startupMs.push(Number(active));
    const bundled = /Bundle:\s*([\d.]+) KiB/.exec(profiled.output)?.[1];
    bundledKiB = bundled === undefined ? undefined : Number(bundled);
  }
  return { startupMs: startupMs.sort((a, b) => a - b), bundledKiB };
}

/**
 * What the runtime alone costs to start on this machine: a Worker whose global scope does nothing,
 * with the gateway's compatibility date and flags, five times. So short a startup gets few profile
 * samples (some runs see none), so its range is printed, not a median.
 */
function emptyWorkerStartup(): number[] {
  const dir = join(OUT, "empty-worker");
  mkdirSync(dir, { recursive: true });
  const gateway = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const settings = gateway.split("\n").filter((line) => /^compatibility_(date|flags)\s*=/.test(line));
  writeFileSync(join(dir, "index.js"), 'export default { fetch() { return new Response("ok"); } };\n');
  writeFileSync(join(dir, "wrangler.toml"), ['name = "empty-worker"', 'main = "index.js"', ...settings, ""].join("\n"));
  return startupRuns("empty-worker", join(dir, "wrangler.toml"), 5).startupMs;
}

let failed = false;
const emptyMs = emptyWorkerStartup();
for (const worker of WORKERS) {
  try {
    const checked = check(worker);
    const verdict = checked.startupMs >= STARTUP_LIMIT_MS ? `OVER Cloudflare's ${STARTUP_LIMIT_MS} ms limit` : checked.startupMs <= checked.targetMs ? `target ${checked.targetMs} ms met` : `target ${checked.targetMs} ms NOT met`;
    const gzipVerdict = checked.gzipTargetKiB === undefined ? "" : `; gzip target ${checked.gzipTargetKiB} KiB ${checked.gzipBytes <= checked.gzipTargetKiB * 1024 ? "met" : "NOT met"}`;
    console.log(`${checked.name}: bundle ${size(checked.rawBytes)} (${size(checked.gzipBytes)} gzip), startup ${checked.startupMs.toFixed(1)} ms (${verdict}${gzipVerdict})`);
    if (checked.startupMs >= STARTUP_LIMIT_MS) failed = true;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    failed = true;
  }
}
console.log(`an empty Worker (the gateway's compatibility settings): startup ${emptyMs[0]!.toFixed(1)} to ${emptyMs.at(-1)!.toFixed(1)} ms in ${emptyMs.length} runs`);
console.log(`startup is the CPU of the Worker's global scope on this machine (wrangler check startup, median of ${STARTUP_RUNS} runs); Cloudflare's CPUs differ`);
if (failed) process.exit(1);
