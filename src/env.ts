import type { GatewayConfig } from "./config.js";

/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them. */
export type Bindings = Env & {
  /** The upstream's credential, injected into every upstream request (`wrangler secret put UPSTREAM_CREDENTIAL`). */
  UPSTREAM_CREDENTIAL?: string;
};

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    config: GatewayConfig;
  };
};
