/**
 * Test helpers for the Iterable MCP server Worker: the Worker as wrangler
 * bundled it (test/fake-iterable/global-setup.ts), with the project's bindings
 * or some replaced; MCP SDK clients pointed at it; and what the fake Iterable
 * API received.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { env } from "cloudflare:workers";
import type { IterableWorkerEnv } from "../../upstreams/iterable/src/config.ts";
import type { LoggedRequest } from "../fake-iterable/logged-request.ts";

export const WORKER_URL = "https://iterable-mcp.test/mcp";
export const REVISION = "2025-06-18";

type WorkerModule = { default: { fetch(request: Request, env: IterableWorkerEnv): Promise<Response> } };

/** The project's main module (the bundle): the same isolate and module instance the tests run in. */
const BUNDLE = "../../.build/iterable-mcp/index.js";

export type IterableWorker = {
  env: IterableWorkerEnv;
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
};

/** The Worker with the project's bindings, `overrides` replacing some (`undefined` removes one). */
export async function iterableWorker(overrides: Partial<Record<keyof IterableWorkerEnv, string | undefined>> = {}): Promise<IterableWorker> {
  const { default: worker } = (await import(/* @vite-ignore */ BUNDLE)) as WorkerModule;
  const workerEnv: IterableWorkerEnv = { ...env, ...overrides };
  return { env: workerEnv, fetch: (input, init) => worker.fetch(new Request(input, init), workerEnv) };
}

/** A client name no other test uses, so the fake API's log can be read for this test alone. */
export function clientName(): string {
  return `test-${crypto.randomUUID()}`;
}

const opened: Client[] = [];

/** The v1 SDK client, as an agent would connect, named `name`. */
export async function connect(worker: IterableWorker, name: string = clientName()): Promise<{ client: Client; transport: StreamableHTTPClientTransport; errors: Error[] }> {
  const errors: Error[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(WORKER_URL), { fetch: (input, init) => worker.fetch(input, init) });
  const client = new Client({ name, version: "1.0.0" });
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  opened.push(client);
  return { client, transport, errors };
}

export async function closeClients(): Promise<void> {
  await Promise.allSettled(opened.splice(0).map((client) => client.close()));
}

/** A JSON-RPC POST outside any SDK client. */
export function rawPost(worker: IterableWorker, message: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return worker.fetch(WORKER_URL, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": REVISION, ...headers },
    body: JSON.stringify(message),
  });
}

/** What the fake Iterable API received from the client named `client`. */
export async function fakeRequests(client: string): Promise<LoggedRequest[]> {
  const response = await fetch(new URL(`__fake/requests?client=${encodeURIComponent(client)}`, env.FAKE_ITERABLE_URL));
  return response.json();
}

/** The JSON the package put in a tool result's text. */
export function resultJson(result: unknown): unknown {
  const [first] = (result as CallToolResult).content;
  if (first?.type !== "text") throw new Error(`expected a text result, got ${JSON.stringify(result)}`);
  return JSON.parse(first.text);
}
