import type { AgentAuth } from "./grants/authenticate.ts";
import type { GrantRecord } from "./grants/grant.ts";
import type { ServerRuntime, Services } from "./services.ts";

/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them. */
export type Bindings = Env & {
  /** A URL upstream (any Streamable HTTP MCP server); when set it wins over the UPSTREAM service binding. */
  UPSTREAM_URL?: string;
  /** The upstream's credential, injected into every upstream request (`wrangler secret put UPSTREAM_CREDENTIAL`). */
  UPSTREAM_CREDENTIAL?: string;
  /** Key of the HMAC that binds session ids to grants (`wrangler secret put SESSION_SECRET`). */
  SESSION_SECRET?: string;
  /** Opens /admin (`wrangler secret put ADMIN_TOKEN`); without it every admin route answers 404. */
  ADMIN_TOKEN?: string;
  /** Signs approval webhooks (`wrangler secret put APPROVAL_WEBHOOK_SECRET`). */
  APPROVAL_WEBHOOK_SECRET?: string;
  /** Optional vars (docs/configuration.md): where approval webhooks go, and Cloudflare Access in front of /admin. */
  APPROVAL_WEBHOOK_URL?: string;
  ACCESS_TEAM_DOMAIN?: string;
  ACCESS_AUD?: string;
  AUDIT_RETENTION_DAYS?: string;
  /** OAuth token lifetimes in seconds (docs/configuration.md; defaults in src/config.ts). */
  OAUTH_ACCESS_TOKEN_TTL?: string;
  OAUTH_REFRESH_TOKEN_TTL?: string;
};

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    services: Services;
    /** The authenticated agent's grant. */
    grant: GrantRecord;
    /** The MCP server this request goes to (from the path, or the grant's only server). */
    server: ServerRuntime;
    /** At /mcp, for a grant that reaches several servers: them all, merged into one (src/servers/merged.ts); `server` is then unset until a call picks one. */
    merged: ServerRuntime[] | undefined;
    /** How the agent proved it holds that grant: its grant token, or an OAuth access token bound to it. */
    auth: AgentAuth;
  };
};
