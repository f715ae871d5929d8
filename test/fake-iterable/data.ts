/**
 * Deterministic Iterable API data for the fake API, in the shapes Iterable's
 * REST API answers (the ones `@iterable/api` validates), with the sandbox's
 * conventions (test/upstream/iterable-fake-data.ts): "Sandbox …" names, ids
 * that echo the caller's, times counted in days from 2026-01-05 09:00 UTC,
 * three items in a collection unless the caller asks for a page size.
 * The same request always gets the same answer.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const BASE_TIME = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY_MS = 86_400_000;
const DEFAULT_COLLECTION_SIZE = 3;
const MAX_COLLECTION_SIZE = 50;

/** Epoch milliseconds, day `index` after the base time (Iterable's usual timestamps). */
export const epochMs = (index: number): number => BASE_TIME + index * DAY_MS;
/** The same instant as ISO-8601, for the fields Iterable answers in that form. */
export const isoTime = (index: number): string => new Date(epochMs(index)).toISOString();

const pick = <T>(values: readonly T[], index: number): T => values[index % values.length] as T;

/** How many items a collection answer holds: the caller's page size (or limit), capped, else three. */
export function collectionSize(query: URLSearchParams, ...names: string[]): number {
  for (const name of names.length > 0 ? names : ["pageSize"]) {
    const asked = Number(query.get(name));
    if (Number.isInteger(asked) && asked > 0) return Math.min(MAX_COLLECTION_SIZE, asked);
  }
  return DEFAULT_COLLECTION_SIZE;
}

export function collection<T>(size: number, make: (index: number) => T): T[] {
  return Array.from({ length: size }, (_, index) => make(index + 1));
}

/** A six-digit id that depends only on `seed` (FNV-1a), as the sandbox makes them. */
export function stableId(seed: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < seed.length; index += 1) {
    hash ^= seed.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 100_000 + (hash % 900_000);
}

/** Iterable's answer to a write: `{msg, code: "Success", params}`. */
export function success(msg: string, params: JsonObject | null = null): JsonObject {
  return { msg, code: "Success", params };
}

const CAMPAIGN_STATES = ["Draft", "Ready", "Scheduled", "Running", "Finished"] as const;

export function campaign(id: number, index = 1): JsonObject {
  return {
    id,
    name: `Sandbox campaign ${id}`,
    type: index % 2 === 0 ? "Triggered" : "Blast",
    campaignState: pick(CAMPAIGN_STATES, index),
    messageMedium: "Email",
    createdAt: epochMs(index),
    updatedAt: epochMs(index + 1),
    createdByUserId: "sandbox@example.com",
    templateId: 50_000 + id,
    listIds: [7_000 + index],
    labels: [],
  };
}

export function list(id: number, index = 1): JsonObject {
  return { id, name: `Sandbox list ${id}`, description: `Sandbox list number ${index}`, listType: "Standard", createdAt: epochMs(index) };
}

export function listUserEmails(listId: number, size: number): string[] {
  return collection(size, (index) => `user${listId}-${index}@example.com`);
}

export function user(email: string, userId: string, index = 1): JsonObject {
  return {
    email,
    userId,
    profileUpdatedAt: isoTime(index),
    dataFields: { firstName: `User${index}`, plan: pick(["free", "pro", "enterprise"], index), signupDate: isoTime(index) },
  };
}

export function userEvent(who: { email?: string; userId?: string }, index: number): JsonObject {
  return {
    _id: `evt-${index}`,
    eventName: pick(["emailOpen", "emailClick", "purchase"], index),
    ...(who.email === undefined ? {} : { email: who.email }),
    ...(who.userId === undefined ? {} : { userId: who.userId }),
    createdAt: isoTime(index),
    campaignId: 10_000 + index,
    templateId: 50_000 + index,
    dataFields: {},
  };
}

export function sentMessage(index: number): JsonObject {
  return {
    messageId: `msg-${index}`,
    campaignId: 10_000 + index,
    templateId: 50_000 + index,
    campaignName: `Sandbox campaign ${10_000 + index}`,
    messageMedium: "Email",
    status: "Sent",
    sentAt: isoTime(index),
  };
}

export function template(id: number, index = 1): JsonObject {
  return {
    templateId: id,
    name: `Sandbox template ${id}`,
    createdAt: epochMs(index),
    updatedAt: epochMs(index + 1),
    creatorUserId: "sandbox@example.com",
    messageTypeId: 1_000 + index,
    clientTemplateId: `sandbox-template-${id}`,
  };
}

/** A template of one medium as `/api/templates/<medium>/get` answers it. */
export function templateOf(medium: string, id: number, locale: string | null): JsonObject {
  const base: JsonObject = { ...template(id), locale: locale ?? "en", isDefaultLocale: locale === null };
  switch (medium) {
    case "email":
      return { ...base, subject: `Hello from template ${id}`, fromEmail: "sandbox@example.com", html: `<html><body><p>Template ${id}</p></body></html>` };
    case "sms":
      return { ...base, message: `Sandbox SMS ${id}` };
    case "push":
      return { ...base, title: `Sandbox push ${id}`, message: `Push body ${id}` };
    default:
      return { ...base, html: `<div>Sandbox in-app ${id}</div>` };
  }
}

export function previewHtml(medium: string, id: number): string {
  return `<html><body><h1>Preview of ${medium} template ${id}</h1></body></html>`;
}

export function catalogItem(catalogName: string, itemId: string, index = 1): JsonObject {
  const value = { title: `Item ${itemId}`, price: 10 * index };
  return { catalogName, itemId, lastModified: epochMs(index), size: JSON.stringify(value).length, value };
}

export function journey(id: number, index = 1): JsonObject {
  return {
    id,
    name: `Sandbox journey ${id}`,
    enabled: index % 2 === 1,
    isArchived: false,
    journeyType: "Triggered",
    createdAt: epochMs(index),
    updatedAt: epochMs(index + 1),
    creatorUserId: "sandbox@example.com",
  };
}

export function snippet(id: number, index = 1): JsonObject {
  return {
    id,
    name: `sandbox_snippet_${id}`,
    content: `<p>Snippet ${index}</p>`,
    description: `Sandbox snippet ${id}`,
    createdAt: isoTime(index),
    createdBy: "sandbox@example.com",
    updatedAt: isoTime(index + 1),
    updatedBy: "sandbox@example.com",
    projectId: 4_200,
    variables: [],
  };
}

export function webhook(id: number, index = 1): JsonObject {
  return {
    id,
    endpoint: `https://hooks.example.com/${id}`,
    authType: "NoAuth",
    enabled: true,
    blastSendEnabled: index % 2 === 1,
    triggeredSendEnabled: true,
    channelIds: [100 + index],
    messageTypeIds: [1_000 + index],
  };
}

export function channel(id: number, index = 1): JsonObject {
  return { id, name: pick(["Marketing email", "Transactional email", "Push"], index), channelType: pick(["Marketing", "Transactional", "Marketing"], index), messageMedium: pick(["Email", "Email", "Push"], index) };
}

export function messageType(id: number, index = 1): JsonObject {
  return { id, name: `Message type ${id}`, channelId: 100 + index, subscriptionPolicy: "OptOut" };
}

export function inAppMessage(index: number): JsonObject {
  return {
    messageId: `inapp-${index}`,
    campaignId: 10_000 + index,
    content: { html: `<div>In-app message ${index}</div>`, payload: {} },
    trigger: { type: "immediate" },
    createdAt: epochMs(index),
    saveToInbox: false,
  };
}

export function embeddedPlacement(placementId: number, index: number): JsonObject {
  return {
    placementId,
    embeddedMessages: [
      {
        metadata: { messageId: `embedded-${placementId}-${index}`, campaignId: 10_000 + index, placementId, isProof: false, priorityOrder: 1 },
        elements: { title: `Sandbox embedded ${index}`, body: "Hello from the sandbox" },
        payload: {},
      },
    ],
  };
}

const EXPERIMENT_STATES = ["draft", "running", "finished"] as const;

export function experimentSummary(id: number, index = 1): JsonObject {
  return { id, name: `Sandbox experiment ${id}`, status: pick(EXPERIMENT_STATES, index), startDate: isoTime(index), channelType: "email", author: "sandbox@example.com" };
}

/** An experiment as its detail endpoints answer it (create, start, cancel, winner, settings, delete answer the same). */
export function experiment(id: number, status: string = "draft"): JsonObject {
  const variant = (variantId: number, index: number): JsonObject => ({
    id: variantId,
    name: `Variant ${String.fromCharCode(64 + index)}`,
    value: { templateId: 50_000 + index },
    currentPercentage: 50,
    isWinner: status === "winner_found" && index === 1,
    isControl: index === 1,
  });
  return {
    id,
    status,
    creationDate: epochMs(1),
    startDate: status === "draft" ? null : epochMs(2),
    finishDate: null,
    channelType: "email",
    experimentType: "Subject",
    allocationMode: "even_split",
    sizing: { testGroupPercentage: 100, holdoutPercentage: 0 },
    meta: { name: `Sandbox experiment ${id}`, conversionMetrics: ["purchase"], campaignId: 10_000 + (id % 1000), projectId: 4_200, orgId: 42 },
    variants: [variant(id * 10 + 1, 1), variant(id * 10 + 2, 2)],
    constraints: { targetSegment: null, suppressionListIds: [] },
  };
}

export function experimentVariants(id: number): JsonObject {
  return {
    experimentId: id,
    variants: [1, 2].map((index) => ({
      variantId: id * 10 + index,
      name: `Variant ${String.fromCharCode(64 + index)}`,
      value: { templateId: 50_000 + index },
      currentPercentage: 50,
      content: { subject: `Subject line ${index}`, preheader: null, htmlSource: `<p>Variant ${index}</p>`, plainText: null },
    })),
  };
}

export function experimentTotals(id: number): JsonObject {
  return {
    id,
    status: "running",
    variants: [1, 2].map((index) => ({
      id: id * 10 + index,
      name: `Variant ${String.fromCharCode(64 + index)}`,
      isControl: index === 1,
      isWinner: false,
      metrics: { sends: 5_000 + index * 100, opens: 2_100 + index * 50, purchases: 40 + index },
    })),
  };
}

export function experimentTrends(id: number): JsonObject {
  const series = (index: number) => ({ opens: [0, 1, 2].map((day) => ({ time: isoTime(day), value: 100 * (day + index) })) });
  return {
    id,
    status: "running",
    interval: "day",
    startDateTime: isoTime(0),
    endDateTime: isoTime(3),
    variants: [1, 2].map((index) => ({ id: id * 10 + index, name: `Variant ${String.fromCharCode(64 + index)}`, isControl: index === 1, isWinner: false, series: series(index) })),
    holdout: null,
  };
}

/** Campaign or experiment metrics: Iterable answers these as CSV. */
export function metricsCsv(idColumn: string, ids: readonly number[]): string {
  const header = [idColumn, "Total Email Sends", "Unique Email Opens", "Unique Email Clicks", "Total Unsubscribes"];
  const rows = ids.map((id) => [String(id), String(10_000 + (id % 1000)), String(4_200 + (id % 500)), String(830 + (id % 100)), "12"]);
  return [header, ...rows].map((row) => row.join(",")).join("\n") + "\n";
}

const EXPORT_STATES = ["enqueued", "running", "completed"] as const;

export function exportJob(id: number, index = 1): JsonObject {
  return { id, dataTypeName: pick(["emailSend", "emailOpen", "user"], index), jobState: pick(EXPORT_STATES, index), scheduledStartTime: isoTime(index), bytesExported: 1024 * index };
}

export function exportFiles(jobId: number): JsonObject {
  return {
    exportTruncated: false,
    jobId,
    jobState: "completed",
    files: [1, 2].map((index) => ({ file: `part-${index}.json`, url: `https://exports.example.com/${jobId}/part-${index}.json` })),
  };
}

export const USER_FIELDS: JsonObject = { email: "string", userId: "string", firstName: "string", plan: "string", signupDate: "date" };

export const CATALOG_FIELD_MAPPINGS: JsonObject = { definedMappings: { title: "string", price: "double" }, undefinedFields: ["color"] };
