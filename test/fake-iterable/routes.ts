/**
 * The Iterable REST endpoints the 118 tools of `@iterable/mcp` call (read from
 * `@iterable/api`'s client, node_modules/@iterable/api/dist/client), each with
 * an answer in the shape that client validates. First match wins, so a
 * literal path comes before a parameter in the same place.
 */
import * as data from "./data.ts";
import type { Json, JsonObject } from "./data.ts";

/** What a handler sees of a request whose key was right. */
export type RouteRequest = {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
};

export type RouteAnswer = { status?: number; json: Json } | { status?: number; text: string; contentType: string };

type Handler = (request: RouteRequest) => RouteAnswer;
type Route = { method: string; segments: string[]; handler: Handler };

const json = (value: Json): RouteAnswer => ({ json: value });
const text = (value: string, contentType = "text/plain; charset=utf-8"): RouteAnswer => ({ text: value, contentType });
const ok = (msg: string, params: JsonObject | null = null): RouteAnswer => json(data.success(msg, params));

const num = (value: string | undefined): number => (Number.isFinite(Number(value)) ? Number(value) : data.stableId(String(value)));
const bodyOf = (request: RouteRequest): Record<string, unknown> =>
  typeof request.body === "object" && request.body !== null && !Array.isArray(request.body) ? (request.body as Record<string, unknown>) : {};
const numberIn = (request: RouteRequest, key: string): number | undefined => {
  const value = bodyOf(request)[key];
  return typeof value === "number" ? value : undefined;
};
const countOf = (value: unknown): number => (Array.isArray(value) ? value.length : 0);
const seedOf = (request: RouteRequest): number => data.stableId(JSON.stringify(request.body ?? null));

const MESSAGING_CHANNELS = ["email", "sms", "push", "webPush", "whatsApp", "inApp"];
const TEMPLATE_MEDIUMS = ["email", "sms", "push", "inapp"];

/** [method, path, handler]; `:name` matches one path segment (percent-decoded). */
const TABLE: Array<[string, string, Handler]> = [
  // Campaigns
  ["GET", "/api/campaigns", ({ query }) => json({ campaigns: data.collection(data.collectionSize(query), (i) => data.campaign(10_000 + i, i)), totalCampaignsCount: data.collectionSize(query) })],
  ["GET", "/api/campaigns/metrics", ({ query }) => text(data.metricsCsv("id", [num(query.get("campaignId") ?? "0")]), "text/csv")],
  ["GET", "/api/campaigns/recurring/:id/childCampaigns", ({ params, query }) =>
    json({ campaigns: data.collection(data.collectionSize(query), (i) => data.campaign(num(params.id) + i, i)), totalCampaignsCount: data.collectionSize(query) })],
  ["GET", "/api/campaigns/:id", ({ params }) => json(data.campaign(num(params.id)))],
  ["POST", "/api/campaigns/create", (request) => json({ campaignId: seedOf(request) })],
  ["POST", "/api/campaigns/archive", (request) => json({ success: (bodyOf(request).campaignIds as Json[] | undefined) ?? [], failed: [] })],
  ["POST", "/api/campaigns/:id/schedule", ({ params }) => ok(`Campaign ${params.id} scheduled`)],
  ["POST", "/api/campaigns/:id/send", ({ params }) => ok(`Campaign ${params.id} sent`)],
  ...["abort", "cancel", "activateTriggered", "deactivateTriggered", "trigger"].map((action): [string, string, Handler] => [
    "POST",
    `/api/campaigns/${action}`,
    (request) => ok(`Campaign ${numberIn(request, "campaignId")}: ${action} done`),
  ]),

  // Catalogs
  ["GET", "/api/catalogs", ({ query }) =>
    json(data.success("", { catalogNames: data.collection(data.collectionSize(query), (i) => ({ name: `sandbox-catalog-${i}` })), totalCatalogsCount: data.collectionSize(query) }))],
  ["POST", "/api/catalogs/:catalog", ({ params }) => ok(`Catalog ${params.catalog} created`)],
  ["DELETE", "/api/catalogs/:catalog", ({ params }) => ok(`Catalog ${params.catalog} deleted`)],
  ["GET", "/api/catalogs/:catalog/fieldMappings", () => json(data.success("", data.CATALOG_FIELD_MAPPINGS))],
  ["PUT", "/api/catalogs/:catalog/fieldMappings", ({ params }) => ok(`Field mappings of ${params.catalog} updated`)],
  ["GET", "/api/catalogs/:catalog/items", ({ params, query }) => {
    const size = data.collectionSize(query);
    return json(data.success("", { catalogItemsWithProperties: data.collection(size, (i) => data.catalogItem(params.catalog ?? "", `item-${i}`, i)), totalItemsCount: size }));
  }],
  ["POST", "/api/catalogs/:catalog/items", (request) => ok(`${Object.keys(bodyOf(request).documents ?? {}).length} items of ${request.params.catalog} queued for update`)],
  ["DELETE", "/api/catalogs/:catalog/items", (request) => ok(`${countOf(bodyOf(request).itemIds)} items of ${request.params.catalog} queued for deletion`)],
  ["GET", "/api/catalogs/:catalog/items/:item", ({ params }) => json(data.catalogItem(params.catalog ?? "", params.item ?? ""))],
  ...["PATCH", "PUT", "DELETE"].map((method): [string, string, Handler] => [
    method,
    "/api/catalogs/:catalog/items/:item",
    ({ params }) => ok(`Item ${params.item} of ${params.catalog} ${method === "DELETE" ? "deleted" : "updated"}`),
  ]),

  // Events
  ["POST", "/api/events/track", () => ok("Event tracked")],
  ["POST", "/api/events/trackBulk", (request) => json({ successCount: countOf(bodyOf(request).events), failCount: 0 })],
  ["GET", "/api/events/byUserId/:userId", ({ params, query }) => json({ events: data.collection(data.collectionSize(query, "limit"), (i) => data.userEvent({ userId: params.userId }, i)) })],
  ["GET", "/api/events/:email", ({ params, query }) => json({ events: data.collection(data.collectionSize(query, "limit"), (i) => data.userEvent({ email: params.email }, i)) })],

  // Experiments
  ["GET", "/api/experiments/metrics", ({ query }) => text(data.metricsCsv("experimentId", query.getAll("experimentId").map(num)), "text/csv")],
  ["GET", "/api/experiments", ({ query }) => {
    const size = data.collectionSize(query, "limit");
    return json({ experiments: data.collection(size, (i) => data.experimentSummary(20_000 + i, i)), totalCount: size });
  }],
  ["POST", "/api/experiments", (request) => json(data.experiment(seedOf(request)))],
  ["GET", "/api/experiments/:id", ({ params }) => json(data.experiment(num(params.id), "running"))],
  ["GET", "/api/experiments/:id/variants", ({ params }) => json(data.experimentVariants(num(params.id)))],
  ["POST", "/api/experiments/:id/variants", ({ params }) => json(data.experiment(num(params.id)))],
  ["GET", "/api/experiments/:id/totals", ({ params }) => json(data.experimentTotals(num(params.id)))],
  ["GET", "/api/experiments/:id/trends", ({ params }) => json(data.experimentTrends(num(params.id)))],
  ["PATCH", "/api/experiments/:id/settings", ({ params }) => json(data.experiment(num(params.id)))],
  ["POST", "/api/experiments/:id/start", ({ params }) => json(data.experiment(num(params.id), "running"))],
  ["POST", "/api/experiments/:id/cancel", ({ params }) => json(data.experiment(num(params.id), "finished"))],
  ["POST", "/api/experiments/:id/winner", ({ params }) => json(data.experiment(num(params.id), "winner_found"))],
  ["POST", "/api/experiments/:id/delete", ({ params }) => json(data.experiment(num(params.id), "finished"))],

  // Data export
  ["GET", "/api/export/jobs", () => json({ jobs: data.collection(3, (i) => data.exportJob(30_000 + i, i)) })],
  ["POST", "/api/export/start", (request) => json({ jobId: seedOf(request), message: "Export job enqueued" })],
  ["GET", "/api/export/:jobId/files", ({ params }) => json(data.exportFiles(num(params.jobId)))],
  ["DELETE", "/api/export/:jobId", ({ params }) => ok(`Export job ${params.jobId} cancelled`)],

  // Journeys
  ["GET", "/api/journeys", ({ query }) => json({ journeys: data.collection(data.collectionSize(query), (i) => data.journey(40_000 + i, i)), totalJourneysCount: data.collectionSize(query) })],
  ["POST", "/api/workflows/triggerWorkflow", (request) => ok(`Journey ${numberIn(request, "workflowId")} triggered`)],

  // Lists
  ["GET", "/api/lists", () => json({ lists: data.collection(3, (i) => data.list(7_000 + i, i)) })],
  ["POST", "/api/lists", (request) => json({ listId: seedOf(request) })],
  ["POST", "/api/lists/subscribe", (request) => json({ successCount: countOf(bodyOf(request).subscribers), failCount: 0 })],
  ["POST", "/api/lists/unsubscribe", (request) => json({ successCount: countOf(bodyOf(request).subscribers), failCount: 0 })],
  ["GET", "/api/lists/getUsers", ({ query }) => text(data.listUserEmails(num(query.get("listId") ?? "0"), data.collectionSize(query, "maxResults")).join("\n"))],
  ["GET", "/api/lists/previewUsers", ({ query }) => text(data.listUserEmails(num(query.get("listId") ?? "0"), data.collectionSize(query, "size")).join("\n"))],
  ["GET", "/api/lists/:id/size", ({ params }) => text(String(1_000 + (num(params.id) % 9_000)))],
  ["DELETE", "/api/lists/:id", ({ params }) => ok(`List ${params.id} deleted`)],

  // Messaging
  ...MESSAGING_CHANNELS.flatMap((channel): Array<[string, string, Handler]> => [
    ["POST", `/api/${channel}/target`, (request) => ok(`${channel} sent`, { messageId: `sandbox-${seedOf(request)}` })],
    ["POST", `/api/${channel}/cancel`, () => ok(`${channel} cancelled`)],
  ]),
  ["GET", "/api/inApp/getMessages", ({ query }) => json({ inAppMessages: data.collection(data.collectionSize(query, "count"), data.inAppMessage) })],
  ["GET", "/api/embedded-messaging/messages", ({ query }) => {
    const placements = query.getAll("placementIds").map(num);
    return json({ placements: (placements.length > 0 ? placements : [1]).map((id, index) => data.embeddedPlacement(id, index + 1)) });
  }],
  ["GET", "/api/channels", () => json({ channels: data.collection(3, (i) => data.channel(100 + i, i)) })],
  ["GET", "/api/messageTypes", () => json({ messageTypes: data.collection(3, (i) => data.messageType(1_000 + i, i)) })],

  // Snippets
  ["GET", "/api/snippets", () => json({ snippets: data.collection(3, (i) => data.snippet(60_000 + i, i)) })],
  ["POST", "/api/snippets", (request) => json({ snippetId: seedOf(request) })],
  ["GET", "/api/snippets/:identifier", ({ params }) => json({ snippet: data.snippet(num(params.identifier)) })],
  ["PUT", "/api/snippets/:identifier", ({ params }) => json({ snippetId: num(params.identifier) })],
  ["DELETE", "/api/snippets/:identifier", ({ params }) => json({ snippetId: num(params.identifier) })],

  // Subscriptions
  ["PUT", "/api/subscriptions/:group/:groupId", ({ params, query }) => ok(`Subscription group ${params.groupId}: ${query.get("action")} queued`)],
  ...["PATCH", "DELETE"].flatMap((method): Array<[string, string, Handler]> => [
    [method, "/api/subscriptions/:group/:groupId/user/:email", ({ params }) => ok(`${params.email} ${method === "PATCH" ? "subscribed to" : "unsubscribed from"} ${params.groupId}`)],
    [method, "/api/subscriptions/:group/:groupId/byUserId/:userId", ({ params }) => ok(`${params.userId} ${method === "PATCH" ? "subscribed to" : "unsubscribed from"} ${params.groupId}`)],
  ]),

  // Templates
  ["GET", "/api/templates", ({ query }) => json({ templates: data.collection(data.collectionSize(query), (i) => data.template(50_000 + i, i)), totalTemplatesCount: data.collectionSize(query) })],
  ["GET", "/api/templates/getByClientTemplateId", ({ query }) => json({ templates: [{ templateId: data.stableId(query.get("clientTemplateId") ?? ""), locales: ["en"] }] })],
  ["POST", "/api/templates/bulkDelete", (request) => json({ success: (bodyOf(request).ids as Json[] | undefined) ?? [], failed: [] })],
  ...TEMPLATE_MEDIUMS.flatMap((medium): Array<[string, string, Handler]> => [
    ["GET", `/api/templates/${medium}/get`, ({ query }) => json(data.templateOf(medium, num(query.get("templateId") ?? "0"), query.get("locale")))],
    ["POST", `/api/templates/${medium}/upsert`, () => ok(`Upserted ${medium} template`)],
    ["POST", `/api/templates/${medium}/update`, (request) => ok(`Updated ${medium} template ${numberIn(request, "templateId")}`)],
    ["POST", `/api/templates/${medium}/proof`, (request) => ok(`Proof of ${medium} template ${numberIn(request, "templateId")} sent`)],
    ["POST", `/api/templates/${medium}/preview`, ({ query }) => text(data.previewHtml(medium, num(query.get("templateId") ?? "0")), "text/html; charset=utf-8")],
  ]),

  // Users
  ["GET", "/api/users/getFields", () => json({ fields: data.USER_FIELDS })],
  ["GET", "/api/users/getSentMessages", ({ query }) => json({ messages: data.collection(data.collectionSize(query, "limit"), data.sentMessage) })],
  ["POST", "/api/users/bulkUpdate", (request) => json({ successCount: countOf(bodyOf(request).users), failCount: 0 })],
  ...["update", "updateEmail", "updateSubscriptions", "merge"].map((action): [string, string, Handler] => ["POST", `/api/users/${action}`, () => ok(`User ${action} done`)]),
  ["GET", "/api/users/byUserId/:userId", ({ params }) => json({ user: data.user(`${params.userId}@example.com`, params.userId ?? "") })],
  ["DELETE", "/api/users/byUserId/:userId", ({ params }) => ok(`User ${params.userId} deleted`)],
  ["GET", "/api/users/:email", ({ params }) => json({ user: data.user(params.email ?? "", `user-${data.stableId(params.email ?? "")}`) })],
  ["DELETE", "/api/users/:email", ({ params }) => ok(`User ${params.email} deleted`)],

  // Webhooks
  ["GET", "/api/webhooks", () => json({ webhooks: data.collection(3, (i) => data.webhook(80_000 + i, i)) })],
  ["POST", "/api/webhooks", (request) => json({ ...data.webhook(numberIn(request, "id") ?? 80_001), ...(bodyOf(request) as JsonObject) })],
];

const ROUTES: Route[] = TABLE.map(([method, path, handler]) => ({ method, segments: path.split("/").slice(1), handler }));

/** The handler for a method and path, with the path's parameters; undefined when Iterable has no such endpoint. */
export function findRoute(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | undefined {
  const segments = pathname.split("/").slice(1);
  for (const route of ROUTES) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = route.segments.every((pattern, index) => {
      const segment = segments[index] ?? "";
      if (!pattern.startsWith(":")) return pattern === segment;
      const value = decoded(segment);
      if (value === undefined || value.length === 0) return false;
      params[pattern.slice(1)] = value;
      return true;
    });
    if (matches) return { handler: route.handler, params };
  }
  return undefined;
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
