import { type McpServerFactory, createMcpHandler, isLegacyRequest } from "@modelcontextprotocol/server";

import { LegacySessions } from "./legacy-sessions.ts";

/** One MCP endpoint path: a fetch handler plus the modern handler's change notifier. */
export interface DualEraEndpoint {
  fetch(request: Request): Promise<Response>;
  /** Publishes change events to open 2026-07-28 `subscriptions/listen` streams. */
  readonly notify: ReturnType<typeof createMcpHandler>["notify"];
}

/**
 * Serves one server factory to both protocol eras on one path, the routing
 * docs/serving/legacy-clients.md prescribes for keeping a sessionful 2025 deployment:
 *
 * - `isLegacyRequest` is the SDK's own classification step, so this branch never
 *   disagrees with `createMcpHandler`. Claim-less POSTs (`initialize` and every
 *   2025-era message), body-less GET/DELETE and posted JSON-RPC responses go to the
 *   sessionful leg.
 * - Everything else (requests carrying the 2026-07-28 `_meta` envelope, and the
 *   modern path's own validation errors) goes to a strict, stateless modern handler
 *   built with `legacy: 'reject'`, which owns those error answers.
 */
export function createDualEraEndpoint(factory: McpServerFactory): DualEraEndpoint {
  const modern = createMcpHandler(factory, { legacy: "reject" });
  const legacy = new LegacySessions(factory);
  return {
    notify: modern.notify,
    async fetch(request) {
      return (await isLegacyRequest(request)) ? legacy.handle(request) : modern.fetch(request);
    },
  };
}
