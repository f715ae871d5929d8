#!/usr/bin/env node
// `npm start`: the gateway on http://localhost:8787/mcp in front of the official
// Iterable MCP server (@iterable/mcp, upstreams/iterable/) in its own Worker, reached
// through the UPSTREAM service binding, both in the real workerd runtime via one
// `wrangler dev`; the Iterable server calls a local fake Iterable REST API (the
// sandbox's data, test/fake-iterable/) on :8788, which prints every request. Seeds
// the local KV with the recommended Iterable policy and a dev grant, and prints the
// grant's token.
//
//   npm start                                              gateway :8787 → Iterable Worker → fake Iterable API :8788
//   npm start -- --sandbox                                 gateway :8787 → the Iterable-shaped sandbox MCP server :8788
//                                                          (test/upstream: steered by headers in tests and benchmarks)
//   npm start -- --var UPSTREAM_URL:https://mcp.example.com/mcp   front another MCP server
//   npm start -- --port 9000 --upstream-port 9001
//   npm start -- --inspector-port 9229                     attach DevTools to the gateway
//
// Other arguments go to the gateway's `wrangler dev`.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_ADMIN_FILE, type DevAdmin } from "../src/cli/dev-state.ts";
import { createCommand } from "../src/cli/grant-commands.ts";
import { pushCommand } from "../src/cli/policy-commands.ts";
import { kvGet, wranglerBin, type KvTarget } from "../src/cli/wrangler-kv.ts";
import { grantKey } from "../src/grants/grant.ts";
import { unstable_readConfig } from "wrangler";
import { startFakeIterable, type FakeIterable } from "../test/fake-iterable/server.ts";
import { SANDBOX_CONTROL_HEADERS } from "../test/upstream/control-headers.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = wranglerBin();
// A credential only the local sandbox knows: proves the gateway injects it.
const SANDBOX_CREDENTIAL = "sandbox-dev-key";
// The fake Iterable API's key, given to the Iterable Worker alone (the gateway never holds it).
const ITERABLE_DEV_KEY = "iterable-dev-key";
const ITERABLE_CONFIG = join(root, "upstreams/iterable/wrangler.toml");
const DEV_POLICY = "recommended";
const DEV_GRANT_FILE = join(root, ".wrangler", "dev-grant.json");
const DEFAULT_PORT = 8787;
const DEFAULT_UPSTREAM_PORT = 8788;

const { port, upstreamPort, inspectorPort, sandbox, passThrough } = parseArgs(process.argv.slice(2));
const externalUpstream = passThrough.some((arg) => arg.startsWith("UPSTREAM_URL:"));
/** What the gateway fronts: the Iterable Worker (default), the sandbox, or a URL given with --var. */
const upstreamKind: "iterable" | "sandbox" | "external" = externalUpstream ? "external" : sandbox ? "sandbox" : "iterable";
let fakeIterable: FakeIterable | undefined;
let iterableConfigDir: string | undefined;
const children: ChildProcess[] = [];
// A fresh admin token each start, like the session key; the CLI reads it from DEV_ADMIN_FILE.
const adminToken = randomBytes(24).toString("base64url");
process.on("SIGINT", () => shutdown(130));
process.on("SIGTERM", () => shutdown(143));

const gatewayPort: PortUse = { port, flag: "--port", role: "gateway" };
const sandboxPort: PortUse = { port: upstreamPort, flag: "--upstream-port", role: upstreamKind === "sandbox" ? "sandbox upstream" : "fake Iterable API" };
checkPortsDistinct();
await checkPortsFree(externalUpstream ? [gatewayPort] : [gatewayPort, sandboxPort]);
const token = await seedLocalState();

if (upstreamKind === "sandbox") {
  // Again just before each spawn: seeding and the sandbox's start take seconds,
  // time enough for another `npm start` to take a port that was free above.
  await checkPortsFree([sandboxPort]);
  const sandbox = start("sandbox", [
    "dev", "-c", join(root, "test/upstream/wrangler.toml"),
    "--port", String(upstreamPort), "--ip", "127.0.0.1", "--inspector-port", "0",
    "--var", `SANDBOX_API_KEY:${SANDBOX_CREDENTIAL}`,
  ]);
  await waitForHttp(`http://127.0.0.1:${upstreamPort}/__log`, "sandbox", sandbox);
}
if (upstreamKind === "iterable") {
  await checkPortsFree([sandboxPort]);
  fakeIterable = await startFakeIterable({
    apiKey: ITERABLE_DEV_KEY,
    port: upstreamPort,
    onRequest: (logged) => console.log(`[iterable-api] ${logged.method} ${logged.path} ${logged.status} key ${logged.keyValid ? "right" : "WRONG"}${logged.tool ? ` tool=${logged.tool}` : ""}${logged.client ? ` client=${logged.client}` : ""}`),
  });
}
await checkPortsFree([gatewayPort]);
const gateway = start("gateway", [
  "dev", "-c", join(root, "wrangler.toml"),
  // The Iterable Worker runs in the same wrangler dev, as a second Worker: the gateway reaches it through its
  // UPSTREAM binding, and it has no port of its own (only the first Worker is served), as deployed.
  ...(upstreamKind === "iterable" ? ["-c", iterableDevConfig(fakeIterable!.url)] : []),
  "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspectorPort),
  // Sessions from an earlier run are void: a fresh HMAC key each start.
  "--var", `SESSION_SECRET:${randomBytes(32).toString("hex")}`,
  // Policy uploads show up within 2 s while developing.
  "--var", "CACHE_TTL_MS:2000",
  // Only loopback Hosts and Origins of this port pass: DNS-rebinding protection for a local server.
  "--var", `PUBLIC_URL:http://localhost:${port}`,
  "--var", `ADMIN_TOKEN:${adminToken}`,
  ...(upstreamKind === "sandbox"
    ? // Tests and benchmarks steer the sandbox with headers of its own (its request log's tag, a slow call…).
      ["--var", `UPSTREAM_URL:http://127.0.0.1:${upstreamPort}/mcp`, "--var", `UPSTREAM_CREDENTIAL:${SANDBOX_CREDENTIAL}`, "--var", `FORWARD_HEADERS:${SANDBOX_CONTROL_HEADERS.join(",")}`]
    : []),
  ...passThrough,
]);
await waitForHttp(`http://127.0.0.1:${port}/`, "gateway", gateway);
const devAdmin: DevAdmin = { url: `http://localhost:${port}`, token: adminToken };
writeFileSync(DEV_ADMIN_FILE, JSON.stringify(devAdmin), { mode: 0o600 });

console.log(`
mcp-policy-gateway is ready: http://localhost:${port}/mcp
upstream: ${
  upstreamKind === "external"
    ? "as given with --var UPSTREAM_URL"
    : upstreamKind === "sandbox"
      ? `sandbox Iterable-shaped MCP server at http://127.0.0.1:${upstreamPort}/mcp`
      : `the Iterable MCP server (@iterable/mcp) in its own Worker, through the UPSTREAM binding\n          Iterable API: a local fake at ${fakeIterable?.url} (each request is printed as [iterable-api])`
}
policy:   "${DEV_POLICY}" (policies/iterable/recommended.json)
dev token (Authorization: Bearer …):
  ${token}
admin:    http://localhost:${port}/admin
admin token: ${adminToken}
`);

/** Pushes the recommended policy and reuses (or creates) the local dev grant. */
async function seedLocalState(): Promise<string> {
  const grants: KvTarget = { binding: "GRANTS", remote: false, config: join(root, "wrangler.toml") };
  const policies: KvTarget = { binding: "POLICIES", remote: false, config: join(root, "wrangler.toml") };
  console.log(await pushCommand(join(root, "policies/iterable/recommended.json"), DEV_POLICY, policies));
  if (existsSync(DEV_GRANT_FILE)) {
    const saved = JSON.parse(readFileSync(DEV_GRANT_FILE, "utf8")) as { id: string; token: string };
    const stored = kvGet(grants, grantKey(saved.id));
    if (stored !== undefined) return saved.token;
  }
  const { token, record } = await createCommand({ label: "dev", policy: DEV_POLICY }, grants);
  mkdirSync(dirname(DEV_GRANT_FILE), { recursive: true });
  writeFileSync(DEV_GRANT_FILE, JSON.stringify({ id: record.id, token }), { mode: 0o600 });
  console.log(`created dev grant ${record.id}`);
  return token;
}

/**
 * The Iterable Worker's config for this run: upstreams/iterable/wrangler.toml as
 * wrangler reads it, with its paths made absolute and the vars that point it at
 * the fake API. `wrangler dev` gives --var to the first Worker only, so the
 * second gets its vars from this file, one per run (kept under the gateway's port).
 */
function iterableDevConfig(fakeApiUrl: string): string {
  const config = unstable_readConfig({ config: ITERABLE_CONFIG }, { hideWarnings: true });
  const base = dirname(ITERABLE_CONFIG);
  iterableConfigDir = join(root, ".wrangler", "npm-start", String(port));
  mkdirSync(iterableConfigDir, { recursive: true });
  const file = join(iterableConfigDir, "iterable.wrangler.json");
  const json = {
    name: config.name,
    main: config.main,
    compatibility_date: config.compatibility_date,
    compatibility_flags: config.compatibility_flags,
    workers_dev: false,
    define: config.define,
    alias: Object.fromEntries((Object.entries(config.alias ?? {}) as Array<[string, string]>).map(([from, to]) => [from, to.startsWith(".") ? join(base, to) : to])),
    vars: { ...config.vars, ITERABLE_BASE_URL: fakeApiUrl.replace(/\/$/, ""), ITERABLE_API_KEY: ITERABLE_DEV_KEY, ITERABLE_USER_PII: "true", ITERABLE_ENABLE_WRITES: "true", ITERABLE_ENABLE_SENDS: "true" },
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}

function parseArgs(args: string[]) {
  let port = DEFAULT_PORT;
  let upstreamPort = DEFAULT_UPSTREAM_PORT;
  // 0: any free port, so two starts never clash over wrangler's default 9229.
  let inspectorPort = 0;
  let sandbox = false;
  const passThrough: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = portArg("--port", args[++i]);
    else if (args[i] === "--upstream-port") upstreamPort = portArg("--upstream-port", args[++i]);
    else if (args[i] === "--inspector-port") inspectorPort = portArg("--inspector-port", args[++i]);
    else if (args[i] === "--sandbox") sandbox = true;
    else passThrough.push(args[i] ?? "");
  }
  return { port, upstreamPort, inspectorPort, sandbox, passThrough };
}

function portArg(flag: string, value: string | undefined): number {
  const port = Number(value);
  if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  console.error(`${flag} needs a port number from 1 to 65535, got ${value === undefined ? "nothing" : `"${value}"`}`);
  process.exit(1);
}

/** A port this script hands to `wrangler dev`, and the option that moves it. */
type PortUse = { port: number; flag: string; role: string };

function checkPortsDistinct(): void {
  if (externalUpstream || port !== upstreamPort) return;
  console.error(`--port and --upstream-port are both ${port}: the gateway and the ${sandboxPort.role} need a port each.`);
  process.exit(1);
}

/**
 * Refuses to go on when a port this script will hand to `wrangler dev` is taken.
 * Checked before seeding or spawning anything: otherwise the readiness probe
 * reaches whatever holds the port (typically an earlier `npm start`), this run
 * prints "ready" and a token, and only then its own `wrangler dev` dies with
 * "Address already in use".
 */
async function checkPortsFree(uses: PortUse[]): Promise<void> {
  const taken: (PortUse & { problem: string })[] = [];
  for (const use of uses) {
    const problem = await portProblem(use.port);
    if (problem) taken.push({ ...use, problem });
  }
  if (taken.length === 0) return;
  for (const use of taken) console.error(`Port ${use.port} (${use.role}) on 127.0.0.1 ${use.problem}.`);
  // Suggest ports that are free right now, so the command can be pasted as is.
  const avoid = [port, upstreamPort];
  const moves: string[] = [];
  for (const use of taken) {
    const free = await nextFreePort(use.port, avoid);
    if (free !== undefined) avoid.push(free);
    moves.push(`${use.flag} ${free ?? "N"}`);
  }
  console.error(
    `If another \`npm start\` (or \`wrangler dev\`) holds ${taken.length > 1 ? "them" : "it"}, stop that one (Ctrl-C in its terminal),\n` +
      `or start this one on other ports:  npm start -- ${moves.join(" ")}`,
  );
  shutdown(1);
}

/** Why `wrangler dev` could not listen on 127.0.0.1:`port`, found by listening there briefly; undefined when it could. */
function portProblem(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      resolve(error.code === "EADDRINUSE" ? "is already in use" : `cannot be listened on (${error.code ?? error.message})`),
    );
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

async function nextFreePort(after: number, avoid: number[]): Promise<number | undefined> {
  for (let candidate = after + 1; candidate <= Math.min(after + 100, 65535); candidate++) {
    if (!avoid.includes(candidate) && (await portProblem(candidate)) === undefined) return candidate;
  }
  return undefined;
}

function start(name: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [wrangler, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const prefixLines = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let pending = "";
    stream.on("data", (chunk) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefixLines(child.stdout!, process.stdout);
  prefixLines(child.stderr!, process.stderr);
  child.on("exit", (code) => {
    console.error(`[${name}] exited with ${code}`);
    shutdown(code || 1);
  });
  children.push(child);
  return child;
}

/**
 * Waits until `child` answers HTTP at `url`. The port was free before `child`
 * was spawned (checkPortsFree), so an answer comes from `child`; and once
 * `child` has exited, an answer could only come from someone else, so the wait
 * fails instead of reporting ready.
 */
async function waitForHttp(url: string, name: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && isRunning(child)) {
    try {
      await fetch(url);
      if (isRunning(child)) return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  console.error(isRunning(child) ? `${name} did not start within 120 s` : `${name} exited before it was ready`);
  shutdown(1);
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function shutdown(code: number): never {
  for (const child of children) child.kill("SIGTERM");
  void fakeIterable?.close();
  if (iterableConfigDir) rmSync(iterableConfigDir, { recursive: true, force: true });
  forgetDevAdmin();
  process.exit(code);
}

/** The CLI must not aim at a gateway that is gone: the admin file goes, unless another start has written its own since. */
function forgetDevAdmin(): void {
  try {
    const saved = JSON.parse(readFileSync(DEV_ADMIN_FILE, "utf8")) as Partial<DevAdmin>;
    if (saved.token === adminToken) rmSync(DEV_ADMIN_FILE);
  } catch {
    // not written yet, or already gone
  }
}
