import type { McpServerConfig } from "@iterable/mcp/dist/config.js";
import { isHttpsOrLocalhost } from "@iterable/mcp/dist/utils/url.js";
import { z } from "zod";
import { ConfigError } from "./config-error.ts";

/** The Worker's bindings: the package's own settings, under the names `@iterable/mcp` reads from its environment. */
export type IterableWorkerEnv = {
  /** Secret (`wrangler secret put ITERABLE_API_KEY`); never in wrangler.toml. */
  ITERABLE_API_KEY?: string;
  ITERABLE_BASE_URL?: string;
  ITERABLE_USER_PII?: string;
  ITERABLE_ENABLE_WRITES?: string;
  ITERABLE_ENABLE_SENDS?: string;
};

/**
 * The package's own configuration type (only the type: its config.js would load the key manager).
 * The key lives here and in the call context only: never logged, never answered.
 */
export type IterableConfig = McpServerConfig;

/** The package's default data centre (EU: https://api.eu.iterable.com). */
export const DEFAULT_BASE_URL = "https://api.iterable.com";

/**
 * The package enables a capability only for the exact string "true"; a typo
 * there would silently narrow the tool list, so here anything but "true" or
 * "false" is a configuration error instead.
 */
const flag = z.enum(["true", "false"]).default("false").transform((value) => value === "true");

const ConfigSchema = z.object({
  ITERABLE_API_KEY: z.string({ error: "is not set (wrangler secret put ITERABLE_API_KEY)" }).min(1, "is empty"),
  // The key travels in a header: only over TLS, or to this machine (a local fake API), as the package's own setup insists.
  ITERABLE_BASE_URL: z
    .url({ error: "must be a URL" })
    .default(DEFAULT_BASE_URL)
    .refine((url) => isHttpsOrLocalhost(new URL(url)), "must be https:// (or http://localhost)")
    .transform((url) => url.replace(/\/+$/, "")),
  ITERABLE_USER_PII: flag,
  ITERABLE_ENABLE_WRITES: flag,
  ITERABLE_ENABLE_SENDS: flag,
});

/** The request's settings, or a ConfigError naming every problem (never a value). */
export function readConfig(env: IterableWorkerEnv): IterableConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`);
    throw new ConfigError(`Iterable MCP Worker misconfigured: ${problems.join("; ")}`);
  }
  const { data } = parsed;
  return {
    apiKey: data.ITERABLE_API_KEY,
    baseUrl: data.ITERABLE_BASE_URL,
    allowUserPii: data.ITERABLE_USER_PII,
    allowWrites: data.ITERABLE_ENABLE_WRITES,
    allowSends: data.ITERABLE_ENABLE_SENDS,
  };
}
