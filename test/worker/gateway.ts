/**
 * Test helpers: a gateway with its own isolate caches, grants and policies
 * written to the real KV bindings, MCP SDK clients pointed at the gateway or
 * straight at the sandbox, and the sandbox's record of what it received.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index.ts";
import { issueGrant } from "../../src/grants/records.ts";
import type { PolicyInput } from "../../src/policy/schema.ts";

export const GATEWAY_URL = "https://gateway.test/mcp";
export const SANDBOX_MCP = new URL("mcp", env.SANDBOX_URL).href;
export const SANDBOX_FEATURES = new URL("features/mcp", env.SANDBOX_URL).href;
export const TAG_HEADER = "x-sandbox-tag";

export type Gateway = {
  env: typeof env;
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
};

/**
 * The gateway Worker with its real bindings. Each call gets a fresh env
 * object and so fresh isolate caches (policies, grants, tool list), which
 * keeps tests independent; `vars` override wrangler.toml vars for this one.
 */
export function gateway(vars: Record<string, string> = {}): Gateway {
  const gatewayEnv = { ...env, ...vars };
  return {
    env: gatewayEnv,
    fetch: async (input, init) => worker.fetch(new Request(input, init), gatewayEnv, createExecutionContext()),
  };
}

/** Writes a policy under a fresh name into the POLICIES namespace and returns the name. */
export async function putPolicy(policy: PolicyInput | string, name = `policy-${crypto.randomUUID()}`): Promise<string> {
  await env.POLICIES.put(name, typeof policy === "string" ? policy : JSON.stringify(policy));
  return name;
}

export const ALLOW_ALL: PolicyInput = { version: "1", default: "allow" };

/** Issues a grant as `mcp-gateway grant create` does and stores it in the GRANTS namespace. */
export async function createGrant(policy: string, options: { expiresAt?: Date; label?: string } = {}) {
  const issued = await issueGrant({ label: options.label ?? "test-agent", policy, ...options });
  for (const entry of issued.entries) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
  return issued;
}

/** A grant on an allow-everything policy: the gateway as a plain proxy. */
export async function openGrant() {
  return createGrant(await putPolicy(ALLOW_ALL));
}

export function newTag(): string {
  return crypto.randomUUID();
}

/** What the sandbox received under a tag. */
export async function upstreamLog(tag: string): Promise<Array<{ method: string; path: string; search: string; headers: Record<string, string>; body: string }>> {
  const response = await fetch(new URL(`__log?tag=${tag}`, env.SANDBOX_URL));
  return response.json();
}

type ClientOptions = { token?: string; tag?: string; url?: string; capabilities?: ConstructorParameters<typeof Client>[1] };

/** The v1 MCP SDK client, connected through the gateway. */
export async function clientViaGateway(gw: Gateway, options: ClientOptions = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.tag) headers[TAG_HEADER] = options.tag;
  const transport = new StreamableHTTPClientTransport(new URL(options.url ?? GATEWAY_URL), {
    fetch: (input, init) => gw.fetch(input, init),
    requestInit: { headers },
  });
  const client = new Client({ name: "gateway-test", version: "1.0.0" }, options.capabilities);
  await client.connect(transport);
  return { client, transport };
}

/** The same client connected straight to the sandbox, for side-by-side comparison. */
export async function clientDirect(url: string, options: Omit<ClientOptions, "token" | "url"> = {}) {
  const headers: Record<string, string> = { "api-key": env.UPSTREAM_CREDENTIAL };
  if (options.tag) headers[TAG_HEADER] = options.tag;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: "gateway-test", version: "1.0.0" }, options.capabilities);
  await client.connect(transport);
  return { client, transport };
}
