#!/usr/bin/env node
// `npm start`: the gateway on http://localhost:8787/mcp in front of the sandbox
// upstream (an Iterable-shaped MCP server), both in the real workerd runtime via
// `wrangler dev`, from one command. Seeds the local KV with the recommended
// Iterable policy and a dev grant, and prints the grant's token.
//
//   npm start                                              gateway :8787 → sandbox :8788
//   npm start -- --var UPSTREAM_URL:https://mcp.example.com/mcp   front another MCP server
//   npm start -- --port 9000 --upstream-port 9001
//
// Other arguments go to the gateway's `wrangler dev`.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCommand } from "../src/cli/grant-commands.ts";
import { pushCommand } from "../src/cli/policy-commands.ts";
import { kvGet, wranglerBin, type KvTarget } from "../src/cli/wrangler-kv.ts";
import { grantKey } from "../src/grants/grant.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = wranglerBin();
// A credential only the local sandbox knows: proves the gateway injects it.
const SANDBOX_CREDENTIAL = "sandbox-dev-key";
const DEV_POLICY = "recommended";
const DEV_GRANT_FILE = join(root, ".wrangler", "dev-grant.json");

const { port, upstreamPort, passThrough } = parseArgs(process.argv.slice(2));
const externalUpstream = passThrough.some((arg) => arg.startsWith("UPSTREAM_URL:"));
const children: ChildProcess[] = [];
process.on("SIGINT", () => shutdown(130));
process.on("SIGTERM", () => shutdown(143));

const token = await seedLocalState();

if (!externalUpstream) {
  start("sandbox", [
    "dev", "-c", join(root, "test/upstream/wrangler.toml"),
    "--port", String(upstreamPort), "--ip", "127.0.0.1", "--inspector-port", "0",
    "--var", `SANDBOX_API_KEY:${SANDBOX_CREDENTIAL}`,
  ]);
  await waitForHttp(`http://127.0.0.1:${upstreamPort}/__log`, "sandbox");
}
start("gateway", [
  "dev", "-c", join(root, "wrangler.toml"),
  "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", "0",
  // Sessions from an earlier run are void: a fresh HMAC key each start.
  "--var", `SESSION_SECRET:${randomBytes(32).toString("hex")}`,
  // Policy uploads show up within 2 s while developing.
  "--var", "CACHE_TTL_MS:2000",
  ...(externalUpstream
    ? []
    : ["--var", `UPSTREAM_URL:http://127.0.0.1:${upstreamPort}/mcp`, "--var", `UPSTREAM_CREDENTIAL:${SANDBOX_CREDENTIAL}`]),
  ...passThrough,
]);
await waitForHttp(`http://127.0.0.1:${port}/`, "gateway");

console.log(`
mcp-policy-gateway is ready: http://localhost:${port}/mcp
upstream: ${externalUpstream ? "as given with --var UPSTREAM_URL" : `sandbox Iterable MCP server at http://127.0.0.1:${upstreamPort}/mcp`}
policy:   "${DEV_POLICY}" (policies/iterable/recommended.json)
dev token (Authorization: Bearer …):
  ${token}
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

function parseArgs(args: string[]) {
  let port = 8787;
  let upstreamPort = 8788;
  const passThrough: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = Number(args[++i]);
    else if (args[i] === "--upstream-port") upstreamPort = Number(args[++i]);
    else passThrough.push(args[i] ?? "");
  }
  return { port, upstreamPort, passThrough };
}

function start(name: string, args: string[]): void {
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
}

async function waitForHttp(url: string, name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  console.error(`${name} did not start within 120 s`);
  shutdown(1);
}

function shutdown(code: number): never {
  for (const child of children) child.kill("SIGTERM");
  process.exit(code);
}
