import { CliError, UsageError } from "./errors.ts";
import { runningInstances, type Instance } from "./local-instances.ts";
import { printable } from "./text.ts";

/** The environment variable that holds the admin token of a deployed gateway (it overrides npm start's). */
export const ADMIN_TOKEN_ENV = "MCP_GATEWAY_ADMIN_TOKEN";
export const HOW_TO_REACH = `start the gateway with npm start, or pass --url and set ${ADMIN_TOKEN_ENV}`;

/**
 * Which gateway a command talks to: its origin and admin token, and where
 * they came from (for error messages; the token is never printed).
 */
export type AdminTarget = {
  origin: string;
  token: string;
  from: "url" | "npm start";
  tokenFromEnv: boolean;
  /** The running npm start it is, when it is one. */
  instance?: Instance;
};

/** How the user chose the gateway: --url, --port (an npm start's), or neither. */
export type TargetChoice = { url?: string | undefined; port?: string | undefined };

/**
 * `--url URL` with the token from MCP_GATEWAY_ADMIN_TOKEN (or, for the URL of
 * a running npm start, that start's own token); `--port PORT`, the npm start
 * on that port; neither, the one running npm start (several: the user says
 * which). The environment variable, when set, wins for the token.
 */
export function adminTarget(choice: TargetChoice, env: NodeJS.ProcessEnv = process.env, instances: () => Instance[] = runningInstances): AdminTarget {
  const fromEnv = env[ADMIN_TOKEN_ENV] || undefined;
  if (choice.url !== undefined && choice.port !== undefined) throw new UsageError("choose one of --url and --port");
  if (choice.url !== undefined) {
    const url = gatewayUrl(choice.url);
    const local = fromEnv === undefined ? instances().find((instance) => sameLocalGateway(url, instance)) : undefined;
    if (local) return fromInstance(local, undefined);
    if (fromEnv === undefined) throw new CliError(`${ADMIN_TOKEN_ENV} is not set: it holds the gateway's ADMIN_TOKEN (${HOW_TO_REACH})`);
    return { origin: url.origin, token: fromEnv, from: "url", tokenFromEnv: true };
  }
  const running = instances();
  const listed = running.map((instance) => `${instance.url} (pid ${instance.pid})`).join(", ");
  if (choice.port !== undefined) {
    const port = portNumber(choice.port);
    const instance = running.find((candidate) => candidate.port === port);
    if (!instance) throw new CliError(`no npm start is running on port ${port}${running.length > 0 ? ` (running: ${listed})` : ""}: ${HOW_TO_REACH}`);
    return fromInstance(instance, fromEnv);
  }
  const [only, ...others] = running;
  if (!only) throw new CliError(`no running npm start found: ${HOW_TO_REACH}`);
  if (others.length > 0) throw new CliError(`${running.length} npm starts are running: ${listed}; say which with --port ${only.port} (or --url ${only.url})`);
  return fromInstance(only, fromEnv);
}

function fromInstance(instance: Instance, fromEnv: string | undefined): AdminTarget {
  return { origin: new URL(instance.url).origin, token: fromEnv ?? instance.token, from: "npm start", tokenFromEnv: fromEnv !== undefined, instance };
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The URL names this npm start's gateway: a loopback name and its port. */
function sameLocalGateway(url: URL, instance: Instance): boolean {
  return url.protocol === "http:" && LOOPBACK.has(url.hostname) && Number(url.port) === instance.port;
}

/** The gateway's URL from what a user passes: its origin, or its /mcp or /admin URL. */
function gatewayUrl(text: string): URL {
  const wrong = () => new UsageError(`--url takes the gateway's origin, like https://mcp-policy-gateway.you.workers.dev, not "${printable(text)}"`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw wrong();
  }
  if (!["http:", "https:"].includes(url.protocol) || !/^\/(mcp|admin)?\/?$/.test(url.pathname)) throw wrong();
  return url;
}

function portNumber(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port takes the port an npm start listens on (1-65535), not "${printable(text)}"`);
  return port;
}
