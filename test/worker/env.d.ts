declare namespace Cloudflare {
  interface Env {
    /** Origin of the sandbox upstream started by test/setup/sandbox.ts, with a trailing slash. */
    SANDBOX_URL: string;
    UPSTREAM_CREDENTIAL: string;
    SESSION_SECRET: string;
  }
}
