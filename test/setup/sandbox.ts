import type { TestProject } from "vitest/node";
import { createTestHarness } from "wrangler";
import { SANDBOX_CREDENTIAL } from "../../vitest.config.ts";

declare module "vitest" {
  interface ProvidedContext {
    sandboxUrl: string;
  }
}

/**
 * Starts the sandbox upstream in its own workerd on a real loopback port, so
 * the gateway under test reaches it over HTTP exactly as it reaches Iterable,
 * and an unreachable or slow upstream can be tested for real.
 */
export default async function startSandbox(project: TestProject) {
  const server = createTestHarness({
    workers: [{ configPath: "./test/upstream/wrangler.toml", secrets: { SANDBOX_API_KEY: SANDBOX_CREDENTIAL } }],
  });
  const { url } = await server.listen();
  project.provide("sandboxUrl", url.href);
  return async () => server.close();
}
