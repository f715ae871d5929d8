declare namespace Cloudflare {
  interface Env {
    /** The fake Iterable REST API (test/fake-iterable), with a trailing slash; also the Worker's ITERABLE_BASE_URL here. */
    FAKE_ITERABLE_URL: string;
    ITERABLE_API_KEY: string;
    ITERABLE_BASE_URL: string;
    ITERABLE_USER_PII: string;
    ITERABLE_ENABLE_WRITES: string;
    ITERABLE_ENABLE_SENDS: string;
  }
}
