declare namespace Cloudflare {
  interface Env {
    /** Origin of the sandbox upstream started by test/setup/sandbox.ts, with a trailing slash. */
    SANDBOX_URL: string;
    /** The fault proxy in front of the sandbox (test/setup/fault-proxy.ts), with a trailing slash. */
    FAULT_URL: string;
    /** The approval webhook receiver (test/setup/webhook-sink.ts), with a trailing slash. */
    WEBHOOK_SINK_URL: string;
    /** The sink's `/by-label` path: each delivery is filed under its grant label's path. */
    APPROVAL_WEBHOOK_URL?: string;
    APPROVAL_WEBHOOK_SECRET?: string;
    /** Cases per property in test/worker/fuzz.test.ts, and the seed. */
    FUZZ_RUNS?: string;
    FUZZ_SEED?: string;
    UPSTREAM_CREDENTIAL: string;
    SESSION_SECRET: string;
    ADMIN_TOKEN: string;
  }
}
