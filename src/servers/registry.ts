import { z } from "zod";
import { taggerOf, toolTags, type Tagger } from "../tools/catalog.ts";

/**
 * The MCP servers behind the gateway, declared in configuration (the SERVERS
 * var: a JSON array), each reached through a service binding or at a URL.
 * Adding a server is configuration, not code. Without SERVERS the
 * single-upstream settings (UPSTREAM_URL or the UPSTREAM binding,
 * UPSTREAM_CREDENTIAL_HEADER and UPSTREAM_CREDENTIAL, UPSTREAM_TIMEOUT_MS)
 * declare one server, named UPSTREAM_NAME, exactly as before.
 *
 * A declaration names the *secret* that holds its credential, never the
 * value, so the configuration can be committed and the values stay in
 * `wrangler secret put`.
 */
export const SERVER_NAME_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;
export const SERVER_NAME_RULE = "a lower-case letter, then lower-case letters, digits and '-', at most 24 in all";

/** The URL requests through a binding are addressed to: the path is the MCP endpoint; the host is never resolved. */
export const BINDING_URL = "https://upstream.binding/mcp";

const httpUrl = z.url({ protocol: /^https?$/ });

export const ServerDeclarationSchema = z
  .strictObject({
    name: z.string().regex(SERVER_NAME_PATTERN, SERVER_NAME_RULE),
    /** A service binding's name in the Worker's env (wrangler.toml [[services]]). */
    binding: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional(),
    /** A Streamable HTTP endpoint. */
    url: httpUrl.optional(),
    /** The header that carries the server's credential, when it needs one. */
    credentialHeader: z.string().min(1).max(100).optional(),
    /** The name of the Worker secret that holds that credential's value (never the value). */
    credentialSecret: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional(),
    /** How long the server has to start answering (ms). */
    timeoutMs: z.number().int().positive().max(300_000).optional(),
    /** Tags for its tools: the shipped Iterable catalog; without one, tags come from the tools' own annotations. */
    catalog: z.literal("iterable").optional(),
  })
  .refine((server) => (server.binding === undefined) !== (server.url === undefined), "give exactly one of binding and url")
  .refine((server) => (server.credentialHeader === undefined) === (server.credentialSecret === undefined), "credentialHeader and credentialSecret go together");
export type ServerDeclaration = z.infer<typeof ServerDeclarationSchema>;

export const ServerDeclarationsSchema = z
  .array(ServerDeclarationSchema)
  .min(1)
  .max(32)
  .refine((servers) => new Set(servers.map((server) => server.name)).size === servers.length, "server names must be unique");

/** How the gateway sends to one server. */
export type Upstream = { via: "url" | "binding"; url: URL; fetch: (url: URL, init: RequestInit) => Promise<Response> };

/** One declared server, resolved against the Worker's env. */
export type Server = {
  name: string;
  upstream: Upstream;
  /** The credential header and its value, when the server needs one. */
  credential: { header: string; value: string } | undefined;
  /** The header agents can never set for this server (its credential's), even without a value. */
  credentialHeader: string;
  timeoutMs: number;
  /** Tags of this server's tools. */
  tags: Tagger;
  /** The catalog whose definitions pin its tools; without one, its tools are pinned on first use (src/pins/). */
  catalog: "iterable" | undefined;
  /**
   * Whose pins these are: the server's name and where it is reached (its
   * binding, or its URL without query), so an operator who points a name at
   * another server starts from that server's first use, not from pins of a
   * server it no longer is.
   */
  pinKey: string;
};

/** What a service binding offers (the runtime's Fetcher, named here so Node code can read this file). */
type ServiceBinding = { fetch(input: URL, init: RequestInit): Promise<Response> };

export type LegacyUpstream = { name: string; url: string; credentialHeader: string; credential: string | undefined; timeoutMs: number };

/** The declared servers, in order (the first is the default), or an error naming what is wrong. */
export function resolveServers(env: object, declarations: ServerDeclaration[] | undefined, legacy: LegacyUpstream, defaultTimeoutMs: number): Map<string, Server> {
  const vars = env as Record<string, unknown>;
  const servers = new Map<string, Server>();
  if (declarations === undefined) {
    const upstream = upstreamOf(legacy.url === "" ? undefined : legacy.url, legacy.url === "" ? (vars.UPSTREAM as ServiceBinding | undefined) : undefined, "UPSTREAM");
    servers.set(legacy.name, {
      name: legacy.name,
      upstream,
      credential: legacy.credential === undefined ? undefined : { header: legacy.credentialHeader, value: legacy.credential },
      credentialHeader: legacy.credentialHeader,
      timeoutMs: legacy.timeoutMs,
      tags: toolTags,
      // The UPSTREAM binding is the Iterable Worker (upstreams/iterable); a URL may be any server.
      catalog: upstream.via === "binding" ? "iterable" : undefined,
      pinKey: pinKeyOf(legacy.name, upstream, "UPSTREAM"),
    });
    return servers;
  }
  for (const declaration of declarations) {
    const value = declaration.credentialSecret === undefined ? undefined : vars[declaration.credentialSecret];
    if (declaration.credentialSecret !== undefined && typeof value !== "string") {
      throw new Error(`invalid gateway configuration: server ${declaration.name}: its credential secret ${declaration.credentialSecret} is not set (wrangler secret put ${declaration.credentialSecret})`);
    }
    const binding = declaration.binding === undefined ? undefined : (vars[declaration.binding] as ServiceBinding | undefined);
    const upstream = upstreamOf(declaration.url, binding, declaration.binding, declaration.name);
    servers.set(declaration.name, {
      name: declaration.name,
      upstream,
      credential: declaration.credentialHeader && typeof value === "string" ? { header: declaration.credentialHeader, value } : undefined,
      credentialHeader: declaration.credentialHeader ?? "api-key",
      timeoutMs: declaration.timeoutMs ?? defaultTimeoutMs,
      tags: declaration.catalog === "iterable" ? toolTags : taggerOf({}),
      catalog: declaration.catalog,
      pinKey: pinKeyOf(declaration.name, upstream, declaration.binding),
    });
  }
  return servers;
}

function pinKeyOf(name: string, upstream: Upstream, binding: string | undefined): string {
  return `${name} ${upstream.via === "binding" ? `binding:${binding}` : `${upstream.url.origin}${upstream.url.pathname}`}`;
}

function upstreamOf(url: string | undefined, binding: ServiceBinding | undefined, bindingName: string | undefined, server?: string): Upstream {
  if (url !== undefined) return { via: "url", url: new URL(url), fetch: (to, init) => fetch(to, init) };
  if (binding) return { via: "binding", url: new URL(BINDING_URL), fetch: (to, init) => binding.fetch(to, init) };
  const who = server === undefined ? "no upstream: set UPSTREAM_URL, or bind the UPSTREAM service (wrangler.toml [[services]])" : `server ${server}: no service binding ${bindingName} (wrangler.toml [[services]])`;
  throw new Error(`invalid gateway configuration: ${who}`);
}
