import type { TestProject } from "vitest/node";
import { createTestHarness } from "wrangler";
import { SANDBOX_CREDENTIAL } from "../../vitest.config.ts";
import { startFaultProxy } from "./fault-proxy.ts";
import { startWebhookSink } from "./webhook-sink.ts";

declare module "vitest" {
  interface ProvidedContext {
    sandboxUrl: string;
    faultUrl: string;
    webhookUrl: string;
  }
}

/**
 * Starts the sandbox upstream in its own workerd on a real loopback port, so
 * the gateway under test reaches it over HTTP exactly as it reaches Iterable,
 * and an unreachable or slow upstream can be tested for real; in front of
 * it, the fault proxy that makes it misbehave on request; and the webhook
 * sink that receives the approval webhooks (test/setup/webhook-sink.ts).
 */
export default async function startSandbox(project: TestProject) {
  const server = createTestHarness({
    workers: [{ configPath: "./test/upstream/wrangler.toml", secrets: { SANDBOX_API_KEY: SANDBOX_CREDENTIAL } }],
  });
  const { url } = await server.listen();
  const faults = await startFaultProxy(url.href);
  const webhooks = await startWebhookSink();
  project.provide("sandboxUrl", url.href);
  project.provide("faultUrl", faults.url);
  project.provide("webhookUrl", webhooks.url);
  return async () => {
    await webhooks.close();
    await faults.close();
    await server.close();
  };
}
