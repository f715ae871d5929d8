import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { FAKE_ITERABLE_TEST_KEY, ITERABLE_BUNDLE } from "./test/fake-iterable/global-setup.ts";
import { SANDBOX_CONTROL_HEADERS } from "./test/upstream/control-headers.ts";

export const SANDBOX_CREDENTIAL = "sandbox-test-key";

export default defineConfig({
  test: {
    projects: [
      {
        // Runs inside workerd with the gateway's real bindings (KV, Durable
        // Objects) from wrangler.toml; the upstream is the sandbox MCP server,
        // itself a Worker, listening on a real loopback port (test/setup).
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // wrangler.toml binds UPSTREAM to the Iterable Worker; here the binding reaches the sandbox
              // (the tests that go through it leave UPSTREAM_URL empty; the others set it, and it wins).
              serviceBindings: {
                UPSTREAM: async (request: Request) => {
                  const url = new URL(request.url);
                  const target = new URL(url.pathname + url.search, inject("sandboxUrl"));
                  return fetch(new Request(target, request));
                },
              },
              bindings: {
                UPSTREAM_URL: new URL("/mcp", inject("sandboxUrl")).href,
                UPSTREAM_CREDENTIAL: SANDBOX_CREDENTIAL,
                // The test upstreams' own controls: the sandbox's request log tag and misbehaviours, the fault proxy's faults.
                FORWARD_HEADERS: SANDBOX_CONTROL_HEADERS.join(","),
                SESSION_SECRET: "test-session-secret-0123456789abcdef",
                ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
                SANDBOX_URL: inject("sandboxUrl"),
                FAULT_URL: inject("faultUrl"),
                // Approval webhooks go to the sink (test/setup/webhook-sink.ts), which files each
                // under the path its grant's label names, so every test has a receiver of its own.
                WEBHOOK_SINK_URL: inject("webhookUrl"),
                APPROVAL_WEBHOOK_URL: new URL("by-label", inject("webhookUrl")).href,
                APPROVAL_WEBHOOK_SECRET: "test-webhook-secret-0123456789abcdef",
                // Property tests: 1,000 cases each in npm test, more with npm run fuzz.
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "1000",
                FUZZ_SEED: process.env.FUZZ_SEED ?? "20261125",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/worker/**/*.test.ts"],
          globalSetup: ["test/setup/sandbox.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // The Iterable MCP server Worker (upstreams/iterable), as wrangler bundles it for deployment,
        // in workerd with its wrangler.toml, calling the fake Iterable REST API on a loopback port.
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: ITERABLE_BUNDLE,
            wrangler: { configPath: "./upstreams/iterable/wrangler.toml" },
            miniflare: {
              bindings: {
                ITERABLE_BASE_URL: inject("fakeIterableUrl"),
                ITERABLE_API_KEY: FAKE_ITERABLE_TEST_KEY,
                FAKE_ITERABLE_URL: inject("fakeIterableUrl"),
              },
            },
          })),
        ],
        test: {
          name: "iterable",
          include: ["test/iterable/**/*.test.ts"],
          globalSetup: ["test/fake-iterable/global-setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // Node: drives `npm start` (two `wrangler dev` processes) over real HTTP.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // Each file runs its own npm start; they share the local KV state under .wrangler/.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
