declare namespace Cloudflare {
  interface Env {
    /** Origin of the sandbox upstream started by test/setup/sandbox.ts, with a trailing slash. */
    SANDBOX_URL: string;
    /** The fault proxy in front of the sandbox (test/setup/fault-proxy.ts), with a trailing slash. */
    FAULT_URL: string;
    /** Cases per property in test/worker/fuzz.test.ts, and the seed. */
    FUZZ_RUNS?: string;
    FUZZ_SEED?: string;
    UPSTREAM_CREDENTIAL: string;
    SESSION_SECRET: string;
    ADMIN_TOKEN: string;
  }
}
