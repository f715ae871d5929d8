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
import { eventData } from "../../src/mcp/sse.ts";
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
 * keeps tests independent; `overrides` replace wrangler.toml vars (or, to
 * simulate an outage, a binding) for this one.
 */
export function gateway(overrides: Record<string, unknown> = {}): Gateway {
  const gatewayEnv = { ...env, ...overrides } as typeof env;
  // Cloudflare's edge names every client's address (CF-Connecting-IP); here each gateway() is one client of
  // its own, so one test's wrong tokens never throttle another's. A request that names its address keeps it.
  const address = testAddress();
  return {
    env: gatewayEnv,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      if (!request.headers.has("cf-connecting-ip")) request.headers.set("cf-connecting-ip", address);
      return worker.fetch(request, gatewayEnv, createExecutionContext());
    },
  };
}

/** An address no other test uses (documentation range 2001:db8::/32, 64 random bits). */
export function testAddress(): string {
  const words = [...crypto.getRandomValues(new Uint16Array(4))].map((word) => word.toString(16));
  return `2001:db8::${words.join(":")}`;
}

/** Writes a policy under a fresh name into the POLICIES namespace and returns the name. */
export async function putPolicy(policy: PolicyInput | object | string, name = `policy-${crypto.randomUUID()}`): Promise<string> {
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

type RpcAnswer = {
  id?: unknown;
  contentType?: string;
  result?: { isError?: boolean; content?: Array<{ text?: string }>; tools?: Array<{ name: string }>; _meta?: Record<string, any> };
  error?: { code: number; message: string; data?: { status?: number } };
};

/**
 * An agent speaking raw JSON-RPC over HTTP to the gateway (2025-06-18, with a
 * session): for firing many concurrent calls and reading exactly what came back.
 */
export async function rawAgent(gw: Gateway, token: string, tag = newTag()) {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", [TAG_HEADER]: tag };
  let nextId = 1;
  const post = async (message: object, extra: Record<string, string> = {}) =>
    gw.fetch(GATEWAY_URL, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(message) });
  const initialize = await post({
    jsonrpc: "2.0",
    id: nextId++,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-agent", version: "1" } },
  });
  const sessionId = initialize.headers.get("mcp-session-id")!;
  await initialize.text();
  await (await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sessionId })).text();
  const rpc = async (method: string, params: object, extra: Record<string, string> = {}): Promise<RpcAnswer & { status: number }> => {
    const id = nextId++;
    const response = await post({ jsonrpc: "2.0", id, method, params }, { "mcp-session-id": sessionId, ...extra });
    const text = await response.text();
    // Like SDK clients, an SSE event whose data is not JSON is skipped.
    const messages = (response.headers.get("content-type") ?? "").includes("event-stream")
      ? eventData(text).flatMap((data) => {
          try {
            return [JSON.parse(data) as RpcAnswer];
          } catch {
            return [];
          }
        })
      : [JSON.parse(text) as RpcAnswer];
    const answer = messages.find((message) => message.id === id) ?? messages.find((message) => message.id === null) ?? {};
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", ...answer };
  };
  return {
    sessionId,
    tag,
    rpc,
    call: (name: string, args: object = {}, extra: Record<string, string> = {}) => rpc("tools/call", { name, arguments: args }, extra),
  };
}

export const decisionOf = (answer: RpcAnswer) => answer.result?._meta?.["mcp-policy-gateway/decision"];

/** An operator signed in to the console with the admin token: the session cookie (`name=value`). */
export async function signInCookie(gw: Gateway): Promise<string> {
  const response = await gw.fetch("https://gateway.test/admin/sign-in", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: env.ADMIN_TOKEN, next: "/admin/approvals" }).toString(),
    redirect: "manual",
  });
  const cookie = response.headers.get("set-cookie")?.split(";")[0];
  if (response.status !== 303 || !cookie) throw new Error(`sign-in failed: ${response.status}`);
  return cookie;
}
