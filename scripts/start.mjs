#!/usr/bin/env node
// `npm start`: the gateway on http://localhost:8787/mcp in front of the sandbox
// upstream (an Iterable-shaped MCP server), both in the real workerd runtime via
// `wrangler dev`, from one command. Arguments after `--` go to the gateway's
// `wrangler dev`; `--var UPSTREAM_URL:<url>` fronts another MCP server instead,
// and then the sandbox is not started.
//
//   npm start                                  gateway :8787 → sandbox :8788
//   npm start -- --var UPSTREAM_URL:https://mcp.example.com/mcp
//   npm start -- --port 9000 --upstream-port 9001
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
// A credential only the local sandbox knows: proves the gateway injects it.
const SANDBOX_CREDENTIAL = "sandbox-dev-key";

const { port, upstreamPort, passThrough } = parseArgs(process.argv.slice(2));
const externalUpstream = passThrough.some((arg) => arg.startsWith("UPSTREAM_URL:"));
const children = [];

process.on("SIGINT", () => shutdown(130));
process.on("SIGTERM", () => shutdown(143));

if (!externalUpstream) {
  start("sandbox", [
    "dev", "-c", join(root, "test/upstream/wrangler.toml"),
    "--port", String(upstreamPort), "--ip", "127.0.0.1",
    "--inspector-port", "0",
    "--var", `SANDBOX_API_KEY:${SANDBOX_CREDENTIAL}`,
  ]);
  await waitForHttp(`http://127.0.0.1:${upstreamPort}/__log`, "sandbox");
}

start("gateway", [
  "dev", "-c", join(root, "wrangler.toml"),
  "--port", String(port), "--ip", "127.0.0.1",
  "--inspector-port", "0",
  ...(externalUpstream
    ? []
    : ["--var", `UPSTREAM_URL:http://127.0.0.1:${upstreamPort}/mcp`, "--var", `UPSTREAM_CREDENTIAL:${SANDBOX_CREDENTIAL}`]),
  ...passThrough,
]);
await waitForHttp(`http://127.0.0.1:${port}/`, "gateway");

console.log(`\nmcp-policy-gateway is ready: http://localhost:${port}/mcp`);
console.log(externalUpstream ? "upstream: as given with --var UPSTREAM_URL" : `upstream: sandbox Iterable MCP server at http://127.0.0.1:${upstreamPort}/mcp`);

function parseArgs(args) {
  let port = 8787;
  let upstreamPort = 8788;
  const passThrough = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = Number(args[++i]);
    else if (args[i] === "--upstream-port") upstreamPort = Number(args[++i]);
    else passThrough.push(args[i]);
  }
  return { port, upstreamPort, passThrough };
}

function start(name, args) {
  const child = spawn(process.execPath, [wrangler, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const prefix = (stream, out) => {
    let pending = "";
    stream.on("data", (chunk) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop();
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.on("exit", (code) => {
    console.error(`[${name}] exited with ${code}`);
    shutdown(code || 1);
  });
  children.push(child);
}

async function waitForHttp(url, name) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  console.error(`${name} did not start within 90 s`);
  shutdown(1);
}

function shutdown(code) {
  for (const child of children) child.kill("SIGTERM");
  process.exit(code);
}
