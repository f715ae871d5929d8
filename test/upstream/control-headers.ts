/**
 * The request headers by which tests and benchmarks steer the sandbox (its
 * request-log tag, a large or paged tools/list, a failing or slow call) and the fault
 * proxy in front of it. The gateway forwards only the protocol's headers
 * upstream, so whatever runs it in front of these upstreams lists them in
 * FORWARD_HEADERS (vitest.config.ts, scripts/start.ts).
 */
export const SANDBOX_CONTROL_HEADERS = ["x-sandbox-tag", "x-sandbox-tools-list-bytes", "x-sandbox-fail-call", "x-sandbox-delay-ms", "x-fault", "x-fault-method", "x-sandbox-page-size", "x-sandbox-tool-variant"];
