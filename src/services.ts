import { AuditWriter } from "./audit/writer.ts";
import { readConfig, type GatewayConfig } from "./config.ts";
import type { Server } from "./servers/registry.ts";
import type { Bindings } from "./env.ts";
import { GrantStore } from "./grants/store.ts";
import { PolicyStore } from "./policy/store.ts";
import { PinCache } from "./pins/pin-cache.ts";
import type { ToolPins } from "./pins/tool-pins.ts";
import { ToolIndex } from "./tools/tool-index.ts";

/** One MCP server behind the gateway, and what this isolate knows of its tools and their pins. */
export type ServerRuntime = { server: Server; tools: ToolIndex; pins: PinCache };

/** What the gateway keeps per isolate: configuration and the caches that keep KV off the hot path. */
export type Services = {
  config: GatewayConfig;
  policies: PolicyStore;
  grants: GrantStore;
  /** Each declared server, by name. */
  servers: Map<string, ServerRuntime>;
  /** Batches audit records per isolate on their way to the grants' objects. */
  audit: AuditWriter;
  /** Each server's ToolPins object (src/pins/). */
  pinObjects: DurableObjectNamespace<ToolPins>;
};

/** The upstream's tool list is refetched at most this often when no agent lists tools. */
const TOOL_LIST_TTL_MS = 5 * 60_000;

// The env object is the same for every request an isolate serves.
const perEnv = new WeakMap<object, Services>();

export function servicesFor(env: Bindings): Services {
  let services = perEnv.get(env);
  if (!services) {
    const config = readConfig(env);
    services = {
      config,
      policies: new PolicyStore(env.POLICIES, config.cacheTtlMs),
      grants: new GrantStore(env.GRANTS, config.cacheTtlMs),
      servers: new Map([...config.servers].map(([name, server]) => [name, { server, tools: new ToolIndex(TOOL_LIST_TTL_MS, server.tags), pins: new PinCache(server) }])),
      audit: new AuditWriter(env.GRANT_OBJECT),
      pinObjects: env.TOOL_PINS,
    };
    perEnv.set(env, services);
  }
  return services;
}
