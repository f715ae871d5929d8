/**
 * The sandbox upstream: a test-only MCP server Worker the gateway is tested
 * against, standing in for Iterable's MCP server. See README.md beside this file.
 *
 *   /mcp            Iterable-shaped server (118 real tools and their prompts, fake data)
 *   /features/mcp   small server exercising notifications, server-to-client requests,
 *                   resources and subscriptions, annotations, prompts
 *   /__log?tag=T    GET: what the upstream received under `x-sandbox-tag: T`; DELETE: clear it
 *   /__calls?tag=T  GET: every tools/call received under T, counted per tool, and unparseable bodies; DELETE: clear it
 *   /__tools/send_report/change  POST: the features server serves send_report's changed definition; DELETE: the original
 *
 * Both MCP paths speak the 2025 revisions (sessionful) and 2026-07-28 (stateless).
 * Every request except /__log, /__calls and /__tools is logged and counted first, then `?delayMs=N` is honoured, then
 * the `Api-Key` check (only when SANDBOX_API_KEY is set), then `x-sandbox-fail-call`
 * (fail.ts), then `x-sandbox-tools-list-bytes` (big-list.ts), then the MCP endpoint.
 * On /mcp, `x-sandbox-page-size` (paged-list.ts) comes before the endpoint too.
 */
import { answerBigToolListIfAsked } from "./big-list.ts";
import { rejectWithoutApiKey } from "./credential.ts";
import { type DualEraEndpoint, createDualEraEndpoint } from "./dual-era-endpoint.ts";
import { buildFeaturesServer, sendReport } from "./features-server.ts";
import { buildIterableServer } from "./iterable-server.ts";
import { RequestLog, handleLogRequest } from "./request-log.ts";
import { CallCounts, handleCallCountsRequest } from "./call-counts.ts";
import { failIfAsked } from "./fail.ts";
import { answerPagedToolListIfAsked } from "./paged-list.ts";
import { answerToolVariantIfAsked } from "./tool-variants.ts";
import { stallIfAsked } from "./stall.ts";
import { handleToolChangeRequest, isToolChangeRequest } from "./tool-changes.ts";

export interface SandboxEnv {
  /** When set, /mcp and /features/mcp require `Api-Key: <this value>`. */
  SANDBOX_API_KEY?: string;
}

// Isolate-wide state: sessions and the request log must outlive a single request.
const requestLog = new RequestLog();
const callCounts = new CallCounts();

const iterable = createDualEraEndpoint(() => buildIterableServer());

// The features factory publishes resource updates on its own endpoint's notifier,
// hence the late-bound reference.
const features: DualEraEndpoint = createDualEraEndpoint((context) =>
  buildFeaturesServer(context, { publishResourceUpdated: (uri) => features.notify.resourceUpdated(uri) }),
);

/** Tools whose definition a test can change (`/__tools/<name>/change`): the features server's. */
const CHANGEABLE_TOOLS = new Map([[sendReport.name, sendReport]]);

const ENDPOINTS: ReadonlyMap<string, DualEraEndpoint> = new Map([
  ["/mcp", iterable],
  ["/features/mcp", features],
]);

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/__log") return handleLogRequest(requestLog, request);
    if (url.pathname === "/__calls") return handleCallCountsRequest(callCounts, request);
    if (isToolChangeRequest(url)) return handleToolChangeRequest(CHANGEABLE_TOOLS, request, () => features.notify.toolsChanged());

    await requestLog.record(request);
    await callCounts.record(request);
    await stallIfAsked(request);

    const endpoint = ENDPOINTS.get(url.pathname);
    if (endpoint === undefined) return new Response("Not found", { status: 404 });
    return (
      rejectWithoutApiKey(request, env.SANDBOX_API_KEY) ??
      (await failIfAsked(request)) ??
      (await answerBigToolListIfAsked(request)) ??
      (url.pathname === "/mcp" ? ((await answerToolVariantIfAsked(request)) ?? (await answerPagedToolListIfAsked(request))) : undefined) ??
      endpoint.fetch(request)
    );
  },
} satisfies ExportedHandler<SandboxEnv>;
