/** Runs `npm start` (scripts/start.ts) on free ports, for end-to-end tests and the benchmark, and the CLI beside it. */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export type RunningGateway = {
  url: string;
  /** The sandbox's /mcp under --sandbox; otherwise where the fake Iterable API listens (its base URL + "mcp", unused). */
  upstreamUrl: string;
  /** The fake Iterable API's base URL (the default upstream's outside world), with its request log at `__fake/requests`. */
  iterableApiUrl: string;
  /** The sandbox's features server, as the gateway reaches it (`Api-Key: sandbox-dev-key`); the default mode only. */
  featuresUpstreamUrl: string;
  /** `/mcp/<server>` at this gateway. */
  serverUrl: (name: string) => string;
  /** The dev grant's token. */
  token: string;
  /** The gateway's origin, where /admin lives. */
  origin: string;
  port: number;
  adminToken: string;
  /** The start script's process id, which leads the process group of everything npm start runs. */
  pid: number;
  output: () => string;
  /** `mcp-gateway …` against this npm start, picked by its port (its own admin token, found by the CLI). */
  cli: (...args: string[]) => Promise<CliResult>;
  /** Stops npm start and everything it runs; SIGKILL leaves its state behind, as a crash would. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
};

export type CliResult = { status: number | null; stdout: string; stderr: string };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function startGateway(extraArgs: string[] = []): Promise<RunningGateway> {
  const [port, upstreamPort, featuresPort] = [await freePort(), await freePort(), await freePort()];
  const ports = ["--port", String(port), "--upstream-port", String(upstreamPort), "--features-port", String(featuresPort)];
  const child: ChildProcess = spawn(process.execPath, ["scripts/start.ts", ...ports, ...extraArgs], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const { token, adminToken } = await new Promise<{ token: string; adminToken: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not become ready:\n${output}`)), 150_000);
    const check = () => {
      const match = /is ready: .*\n(?:.*\n)*?.*dev token.*\n\s+(mcpgw_\S+)\n(?:.*\n)*?admin token: (\S+)/.exec(output);
      if (match?.[1] && match[2]) {
        clearTimeout(timer);
        // Scanning the whole output again on every later chunk (each logged call) grows quadratically.
        child.stdout?.off("data", check);
        resolve({ token: match[1], adminToken: match[2] });
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  return {
    url: `http://localhost:${port}/mcp`,
    upstreamUrl: `http://127.0.0.1:${upstreamPort}/mcp`,
    iterableApiUrl: `http://127.0.0.1:${upstreamPort}/`,
    featuresUpstreamUrl: `http://127.0.0.1:${featuresPort}/features/mcp`,
    serverUrl: (name) => `http://localhost:${port}/mcp/${name}`,
    token,
    origin: `http://localhost:${port}`,
    port,
    adminToken,
    pid: child.pid!,
    output: () => output,
    cli: (...args) => runCli([...args, "--port", String(port)], { MCP_GATEWAY_ADMIN_TOKEN: undefined }),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // The whole process group: the start script and its wrangler dev trees.
      process.kill(-child.pid!, signal);
      await exited;
    },
  };
}

/** `mcp-gateway …` as a user runs it, in the test's environment. */
export function cli(...args: string[]): Promise<CliResult> {
  return runCli(args);
}

/**
 * `mcp-gateway …` with `env` on top of the test's environment (`undefined`
 * removes a variable). Asynchronous on purpose: a blocked event loop would keep
 * HTTP clients in this process from noticing that the server closed their idle
 * keep-alive sockets.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["src/cli/main.ts", ...args], { cwd: ROOT, env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Pushes `policy` as `name` through the gateway's CLI and creates a grant on it (labelled `label`): its token. */
export async function grantOnPolicy(gateway: RunningGateway, name: string, policy: object, label: string): Promise<string> {
  const file = join(tmpdir(), `${name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(policy));
  try {
    const pushed = await gateway.cli("policy", "push", file, "--name", name);
    if (pushed.status !== 0) throw new Error(pushed.stderr);
  } finally {
    rmSync(file, { force: true });
  }
  const created = await gateway.cli("grant", "create", "--label", label, "--policy", name, "--json");
  if (created.status !== 0) throw new Error(created.stderr);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

/** Makes `count` get_campaigns calls through `client`, `concurrency` at a time; a refused call stops the run. */
export async function callsAtConcurrency(client: Client, count: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const result = await client.callTool({ name: "get_campaigns", arguments: {} });
        if (result.isError) throw new Error(JSON.stringify(result).slice(0, 300));
      }
    }),
  );
}
