#!/usr/bin/env node
// `npm start`: the gateway on http://localhost:8787 in front of two MCP servers
// (docs/servers.md "npm start"), declared through SERVERS:
// - `iterable` (/mcp/iterable): the official Iterable MCP server (@iterable/mcp,
//   upstreams/iterable/) in its own Worker, reached through the UPSTREAM service binding,
//   both in the real workerd runtime via one `wrangler dev`; the Iterable server calls a
//   local fake Iterable REST API (the sandbox's data, test/fake-iterable/) on :8788, which
//   prints every request;
// - `features` (/mcp/features): the sandbox's features server (test/upstream/features-server.ts:
//   progress, logging, sampling, elicitation, resources, prompts), its own `wrangler dev` on
//   :8789, reached by URL with a credential the gateway injects.
// Once the gateway answers, it pushes the recommended Iterable policy (unless an operator
// changed the stored one) and reuses or creates a dev grant reaching `iterable` alone (so
// /mcp is Iterable's tools, unprefixed), through the admin API (audited as "npm start"),
// and prints the grant's token. The admin token is kept across restarts.
//
//   npm start                                              gateway :8787 → /mcp/iterable: Iterable Worker → fake Iterable API :8788
//                                                                        → /mcp/features: the sandbox's features server :8789
//   npm start -- --server everything=http://127.0.0.1:3001/mcp   one more server, by URL (repeatable; not with --sandbox)
//   npm start -- --sandbox                                 gateway :8787 → the Iterable-shaped sandbox MCP server :8788
//                                                          (test/upstream: steered by headers in tests and benchmarks)
//   npm start -- --var UPSTREAM_URL:https://mcp.example.com/mcp   front another MCP server
//   npm start -- --port 9000 --upstream-port 9001 --features-port 9002
//   npm start -- --inspector-port 9229                     attach DevTools to the gateway
//   npm start -- --new-admin-token                         replace the kept admin token
//
// Other arguments go to the gateway's `wrangler dev`.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AdminTarget } from "../src/cli/admin-target.ts";
import { forgetInstance, instanceFile, NPM_START_DIR, recordInstance } from "../src/cli/local-instances.ts";
import { wranglerBin } from "../src/cli/wrangler-kv.ts";
import { unstable_readConfig } from "wrangler";
import { devGrant, seedShippedPolicy } from "./start-seed.ts";
import { adminToken as keptAdminToken } from "./start-state.ts";
import { startFakeIterable, type FakeIterable } from "../test/fake-iterable/server.ts";
import { SANDBOX_CONTROL_HEADERS } from "../test/upstream/control-headers.ts";
import { API_KEY_HEADER } from "../test/upstream/credential.ts";
import { ServerDeclarationsSchema, type ServerDeclaration } from "../src/servers/registry.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = wranglerBin();
// A credential only the local sandbox knows: proves the gateway injects it.
const SANDBOX_CREDENTIAL = "sandbox-dev-key";
/** The Worker var that holds the features server's credential (its declaration names it, never the value). */
const FEATURES_CREDENTIAL_VAR = "FEATURES_CREDENTIAL";
// The fake Iterable API's key, given to the Iterable Worker alone (the gateway never holds it).
const ITERABLE_DEV_KEY = "iterable-dev-key";
const ITERABLE_CONFIG = join(root, "upstreams/iterable/wrangler.toml");
const SHIPPED_POLICY = { name: "recommended", file: "policies/iterable/recommended.json" };
const DEV_GRANT_FILE = join(root, ".wrangler", "dev-grant.json");
/**
 * What wrangler dev prints that a person running npm start need not act on: its check of the
 * types file (npm start's own --var values differ from `npm run types`' on purpose), the OAuth
 * library's note that CIMD is off (it is, by design: README "OAuth sign-in"), and empty lines.
 */
const NOT_FOR_THE_USER = [
  /Your types might be out of date/,
  /CIMD \(Client ID Metadata Document\) is disabled/,
  // The Iterable Worker runs in this same wrangler dev: the binding is connected, whatever the table said before it started.
  /^Service bindings, Durable Object bindings, and Tail consumers connect to other Wrangler/,
  /^\s*$/,
];
/** Lines of wrangler's that say something wrong about this setup, put right. */
const PUT_RIGHT: Array<[RegExp, string]> = [[/^(env\.UPSTREAM \(iterable-mcp\).*local) \[not connected\]/, "$1 [in this wrangler dev]"]];

const DEFAULT_PORT = 8787;
const DEFAULT_UPSTREAM_PORT = 8788;
const DEFAULT_FEATURES_PORT = 8789;

const { port, upstreamPort, featuresPort, inspectorPort, sandbox, newAdminToken, extraServers, passThrough } = parseArgs(process.argv.slice(2));
const externalUpstream = passThrough.some((arg) => arg.startsWith("UPSTREAM_URL:"));
/** What the gateway fronts: the Iterable Worker and the features server (default), the sandbox, or a URL given with --var. */
const upstreamKind: "iterable" | "sandbox" | "external" = externalUpstream ? "external" : sandbox ? "sandbox" : "iterable";
if (upstreamKind !== "iterable" && extraServers.length > 0) {
  console.error(`--server declares a server beside iterable and features; with ${upstreamKind === "sandbox" ? "--sandbox" : "--var UPSTREAM_URL"} the gateway fronts that one server alone.`);
  process.exit(1);
}
/** The servers this start declares (SERVERS), in order: the first is the default, the one grants made before servers existed reach. */
const servers = upstreamKind === "iterable" ? declaredServers() : undefined;
let fakeIterable: FakeIterable | undefined;
let iterableConfigFile: string | undefined;
let recorded = false;
const children: ChildProcess[] = [];
process.on("SIGINT", () => shutdown(130));
process.on("SIGTERM", () => shutdown(143));

const gatewayPort: PortUse = { port, flag: "--port", role: "gateway" };
const sandboxPort: PortUse = { port: upstreamPort, flag: "--upstream-port", role: upstreamKind === "sandbox" ? "sandbox upstream" : "fake Iterable API" };
const featuresSandboxPort: PortUse = { port: featuresPort, flag: "--features-port", role: "sandbox features server" };
/** The ports this start listens on: the gateway's, and its upstreams' unless the upstream is elsewhere. */
const ports = upstreamKind === "external" ? [gatewayPort] : upstreamKind === "sandbox" ? [gatewayPort, sandboxPort] : [gatewayPort, sandboxPort, featuresSandboxPort];
checkPortsDistinct();
await checkPortsFree(ports);
// No start listens on this port, so what a start left under its directory is a killed one's.
rmSync(dirname(instanceFile(port)), { recursive: true, force: true });
// Kept across restarts (browsers stay signed in, saved tokens keep working), unless --new-admin-token.
const { token: adminToken, fresh: freshAdminToken } = keptAdminToken(newAdminToken);

if (upstreamKind === "sandbox") {
  // Again just before each spawn: the sandbox's start takes seconds,
  // time enough for another `npm start` to take a port that was free above.
  await checkPortsFree([sandboxPort]);
  const sandbox = start("sandbox", [
    "dev", "-c", join(root, "test/upstream/wrangler.toml"),
    "--port", String(upstreamPort), "--ip", "127.0.0.1", "--inspector-port", "0",
    "--var", `SANDBOX_API_KEY:${SANDBOX_CREDENTIAL}`,
  ]);
  await waitForHttp(`http://127.0.0.1:${upstreamPort}/__log`, "sandbox", sandbox);
}
/** The sandbox serving the features server (default mode): started here, waited for beside the gateway. */
let featuresSandbox: Promise<void> | undefined;
if (upstreamKind === "iterable") {
  await checkPortsFree([featuresSandboxPort]);
  const sandbox = start("sandbox", [
    "dev", "-c", join(root, "test/upstream/wrangler.toml"),
    "--port", String(featuresPort), "--ip", "127.0.0.1", "--inspector-port", "0",
    // Its /mcp (the Iterable-shaped server) answers nobody without the key; the gateway holds it for /features/mcp.
    "--var", `SANDBOX_API_KEY:${SANDBOX_CREDENTIAL}`,
  ]);
  featuresSandbox = waitForHttp(`http://127.0.0.1:${featuresPort}/__log`, "sandbox", sandbox);
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
  ...(servers ? ["--var", `SERVERS:${JSON.stringify(servers)}`, "--var", `${FEATURES_CREDENTIAL_VAR}:${SANDBOX_CREDENTIAL}`] : []),
  ...passThrough,
]);
// Both wrangler devs build and start at once; the seeding below needs the gateway only, the banner both.
await Promise.all([waitForHttp(`http://127.0.0.1:${port}/`, "gateway", gateway), featuresSandbox]);
// From here the CLI finds this start (and its admin token) by itself; stopping removes only this record.
const origin = `http://localhost:${port}`;
recordInstance({ url: origin, port, pid: process.pid, token: adminToken, startedAt: new Date().toISOString() });
recorded = true;
const { policyLine, dev } = await seed({ origin, token: adminToken, from: "npm start", tokenFromEnv: false });

console.log(`
mcp-policy-gateway is ready: http://localhost:${port}/mcp
${upstreamLines().join("\n")}
${policyLine}
dev token (Authorization: Bearer …), reaching ${servers ? `"iterable" alone: at /mcp (its tools unprefixed) and /mcp/iterable` : "the one server, at /mcp"}:
  ${dev.token}
admin:    ${origin}/admin
admin token: ${adminToken}${freshAdminToken && newAdminToken ? "\n          a new one, as --new-admin-token asked: browsers signed in with the old one sign in again" : ""}
`);

/** What the banner says the gateway fronts, one line per server (with its URL at this gateway). */
function upstreamLines(): string[] {
  if (upstreamKind === "external") return ["upstream: as given with --var UPSTREAM_URL"];
  if (upstreamKind === "sandbox") return [`upstream: sandbox Iterable-shaped MCP server at http://127.0.0.1:${upstreamPort}/mcp`];
  return [
    "servers:",
    `  iterable  http://localhost:${port}/mcp/iterable   the Iterable MCP server (@iterable/mcp) in its own Worker, through the UPSTREAM binding;`,
    `            Iterable API: a local fake at ${fakeIterable?.url} (each request is printed as [iterable-api])`,
    `  features  http://localhost:${port}/mcp/features   the sandbox's features server at http://127.0.0.1:${featuresPort}/features/mcp`,
    ...extraServers.map((server) => `  ${server.name.padEnd(8)}  http://localhost:${port}/mcp/${server.name}   ${server.url} (--server)`),
  ];
}

/**
 * The SERVERS declaration of the default mode: Iterable through its binding (the default server, tagged from the
 * shipped catalog), the sandbox's features server by URL with a credential from a var, then each --server.
 */
function declaredServers(): ServerDeclaration[] {
  const declared: ServerDeclaration[] = [
    { name: "iterable", binding: "UPSTREAM", catalog: "iterable" },
    { name: "features", url: `http://127.0.0.1:${featuresPort}/features/mcp`, credentialHeader: API_KEY_HEADER, credentialSecret: FEATURES_CREDENTIAL_VAR },
    ...extraServers,
  ];
  const checked = ServerDeclarationsSchema.safeParse(declared);
  if (!checked.success) {
    console.error(`--server: ${checked.error.issues.map((issue) => issue.message).join("; ")}`);
    process.exit(1);
  }
  return declared;
}

/** The shipped policy and the dev grant, through this gateway's admin API: audited, as any operator's change. */
async function seed(self: AdminTarget) {
  try {
    const policyLine = await seedShippedPolicy(self, SHIPPED_POLICY, root);
    // The dev grant reaches Iterable alone: /mcp stays the Iterable server's tools, unprefixed, as before there were several.
    const dev = await devGrant(self, SHIPPED_POLICY.name, DEV_GRANT_FILE, servers ? ["iterable"] : undefined);
    if (dev.created) console.log(`created dev grant ${dev.id}`);
    return { policyLine, dev };
  } catch (error) {
    console.error(`could not seed the local state through the admin API: ${error instanceof Error ? error.message : String(error)}`);
    shutdown(1);
  }
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
  const file = join(dirname(instanceFile(port)), "iterable.wrangler.json");
  mkdirSync(dirname(file), { recursive: true });
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
  iterableConfigFile = file;
  return file;
}

function parseArgs(args: string[]) {
  let port = DEFAULT_PORT;
  let upstreamPort = DEFAULT_UPSTREAM_PORT;
  let featuresPort = DEFAULT_FEATURES_PORT;
  const extraServers: ServerDeclaration[] = [];
  // 0: any free port, so two starts never clash over wrangler's default 9229.
  let inspectorPort = 0;
  let sandbox = false;
  let newAdminToken = false;
  const passThrough: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = portArg("--port", args[++i]);
    else if (args[i] === "--upstream-port") upstreamPort = portArg("--upstream-port", args[++i]);
    else if (args[i] === "--features-port") featuresPort = portArg("--features-port", args[++i]);
    else if (args[i] === "--server") extraServers.push(serverArg(args[++i]));
    else if (args[i] === "--inspector-port") inspectorPort = portArg("--inspector-port", args[++i]);
    else if (args[i] === "--sandbox") sandbox = true;
    else if (args[i] === "--new-admin-token") newAdminToken = true;
    else passThrough.push(args[i] ?? "");
  }
  return { port, upstreamPort, featuresPort, inspectorPort, sandbox, newAdminToken, extraServers, passThrough };
}

/** `--server NAME=URL`: a Streamable HTTP server without a credential, as a declaration (checked with the others). */
function serverArg(value: string | undefined): ServerDeclaration {
  const match = /^([^=]+)=(.+)$/.exec(value ?? "");
  if (match) return { name: match[1]!, url: match[2]! };
  console.error(`--server needs NAME=URL, e.g. --server everything=http://127.0.0.1:3001/mcp, got ${value === undefined ? "nothing" : `"${value}"`}`);
  process.exit(1);
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
  for (const [index, use] of ports.entries()) {
    const other = ports.slice(0, index).find((earlier) => earlier.port === use.port);
    if (!other) continue;
    console.error(`${other.flag} and ${use.flag} are both ${use.port}: the ${other.role} and the ${use.role} need a port each.`);
    process.exit(1);
  }
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
  const avoid = ports.map((use) => use.port);
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
    // No Request.cf fetch from workers.cloudflare.com: offline it fails four times, loudly, and nothing here reads request.cf.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const prefixLines = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let pending = "";
    stream.on("data", (chunk) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (NOT_FOR_THE_USER.some((noise) => noise.test(line))) continue;
        const shown = PUT_RIGHT.reduce((text, [wrong, right]) => text.replace(wrong, right), line);
        out.write(`[${name}] ${shown}\n`);
      }
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
  forgetOwnState();
  process.exit(code);
}

/**
 * Removes what this start wrote for itself, and nothing of another start's:
 * its instance record (only while it is this process's) and its Iterable
 * Worker config. A start that stops before its ports were found free wrote
 * neither (another start may be running on that port).
 */
function forgetOwnState(): void {
  if (recorded) forgetInstance(port, process.pid);
  if (iterableConfigFile) {
    rmSync(iterableConfigFile, { force: true });
    // wrangler dev keeps its build of a Worker in .wrangler/ beside that Worker's config.
    rmSync(join(dirname(iterableConfigFile), ".wrangler"), { recursive: true, force: true });
  }
  try {
    rmdirSync(join(NPM_START_DIR, String(port)));
  } catch {
    // not empty (another start's files), or not there
  }
}
