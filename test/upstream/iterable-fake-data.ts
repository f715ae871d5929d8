/**
 * Plausible, deterministic fake Iterable API answers for the sandbox's 118 tools.
 *
 * The answer is derived from the tool name, not hand-written per tool: the first
 * word is the verb family (get/list/preview read, send/trigger send, everything
 * else writes), and the rest names the entity (campaign, template, list, …). The
 * same tool with the same arguments always yields the same JSON, so tests can
 * assert on it; ids echo the arguments where the caller named one.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Args = Record<string, unknown>;

/** Builds item `index` (1-based) of an entity kind; `id` is the caller's id when it named one. */
type ItemMaker = (index: number, id: number) => JsonObject;

interface EntityKind {
  /** Property a collection answer puts its items under (Iterable's own response keys). */
  collectionKey: string;
  item: ItemMaker;
}

const BASE_TIME = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY_MS = 86_400_000;
/** Items in a collection answer unless the caller asked for fewer or more (`pageSize`, `limit`, …). */
const DEFAULT_COLLECTION_SIZE = 3;
const MAX_COLLECTION_SIZE = 50;
const SIZE_ARGUMENTS = ["pageSize", "limit", "size", "maxResults", "count"] as const;

const CAMPAIGN_STATES = ["Draft", "Ready", "Scheduled", "Running", "Finished"] as const;

const at = (index: number): string => new Date(BASE_TIME + index * DAY_MS).toISOString();
const pick = <T>(values: readonly T[], index: number): T => values[index % values.length] as T;

const CAMPAIGN: EntityKind = {
  collectionKey: "campaigns",
  item: (i, id) => ({
    id,
    name: `Sandbox campaign ${id}`,
    campaignState: pick(CAMPAIGN_STATES, i),
    type: i % 2 === 0 ? "Triggered" : "Blast",
    messageMedium: "Email",
    templateId: 50_000 + id,
    listIds: [7_000 + i],
    createdAt: at(i),
    updatedAt: at(i + 1),
    createdByUserId: "sandbox@example.com",
  }),
};

const TEMPLATE: EntityKind = {
  collectionKey: "templates",
  item: (i, id) => ({
    templateId: id,
    name: `Sandbox template ${id}`,
    messageTypeId: 1_000 + i,
    clientTemplateId: `sandbox-template-${id}`,
    subject: `Hello from template ${id}`,
    createdAt: at(i),
    updatedAt: at(i + 1),
  }),
};

const LIST: EntityKind = {
  collectionKey: "lists",
  item: (i, id) => ({ id, name: `Sandbox list ${id}`, listType: "Standard", createdAt: at(i) }),
};

const USER: EntityKind = {
  collectionKey: "users",
  item: (i, id) => ({
    email: `user${id}@example.com`,
    userId: `user-${id}`,
    signupDate: at(i),
    dataFields: { firstName: `User${i}`, plan: pick(["free", "pro", "enterprise"], i) },
  }),
};

const EXPERIMENT: EntityKind = {
  collectionKey: "experiments",
  item: (i, id) => ({
    id,
    name: `Sandbox experiment ${id}`,
    status: pick(["Draft", "Running", "Finished"], i),
    experimentType: "Subject",
    campaignId: 10_000 + i,
    createdAt: at(i),
  }),
};

const VARIANT: EntityKind = {
  collectionKey: "variants",
  item: (i, id) => ({ variantId: id + i, name: `Variant ${String.fromCharCode(64 + i)}`, templateId: 50_000 + i }),
};

const CATALOG: EntityKind = {
  collectionKey: "catalogNames",
  item: (i) => ({ name: `sandbox-catalog-${i}` }),
};

const CATALOG_ITEM: EntityKind = {
  collectionKey: "catalogItemsWithProperties",
  item: (i, id) => ({ itemId: `item-${id}`, value: { title: `Item ${id}`, price: 10 * i }, lastModified: at(i) }),
};

const FIELD: EntityKind = {
  collectionKey: "fields",
  item: (i) => ({ fieldName: pick(["email", "firstName", "plan", "signupDate"], i), fieldType: pick(["string", "string", "string", "date"], i) }),
};

const JOURNEY: EntityKind = {
  collectionKey: "journeys",
  item: (i, id) => ({ id, name: `Sandbox journey ${id}`, enabled: i % 2 === 1, createdAt: at(i) }),
};

const SNIPPET: EntityKind = {
  collectionKey: "snippets",
  item: (i, id) => ({ id, name: `sandbox_snippet_${id}`, content: `<p>Snippet ${i}</p>`, variables: [] }),
};

const WEBHOOK: EntityKind = {
  collectionKey: "webhooks",
  item: (i, id) => ({ id, endpoint: `https://hooks.example.com/${id}`, enabled: true, events: ["emailSend"], authType: "None", createdAt: at(i) }),
};

const CHANNEL: EntityKind = {
  collectionKey: "channels",
  item: (i, id) => ({ id, name: pick(["Marketing email", "Transactional email", "Push"], i), channelType: "Marketing", messageMedium: pick(["Email", "Email", "Push"], i) }),
};

const MESSAGE_TYPE: EntityKind = {
  collectionKey: "messageTypes",
  item: (i, id) => ({ id, name: `Message type ${id}`, channelId: 100 + i, subscriptionPolicy: "OptOut" }),
};

const MESSAGE: EntityKind = {
  collectionKey: "messages",
  item: (i, id) => ({ messageId: `msg-${id}-${i}`, campaignId: 10_000 + i, createdAt: at(i), messageMedium: "Email" }),
};

const EVENT: EntityKind = {
  collectionKey: "events",
  item: (i, id) => ({ eventName: pick(["emailOpen", "emailClick", "purchase"], i), createdAt: at(i), campaignId: 10_000 + i, itemId: `evt-${id}-${i}` }),
};

const EXPORT_JOB: EntityKind = {
  collectionKey: "jobs",
  item: (i, id) => ({ id, dataTypeName: "emailSend", jobState: pick(["enqueued", "running", "completed"], i), startResponseCode: 200, requestedAt: at(i) }),
};

const EXPORT_FILE: EntityKind = {
  collectionKey: "files",
  item: (i, id) => ({ file: `https://exports.example.com/${id}/part-${i}.csv`, size: 1024 * i }),
};

const DATA_TYPE: EntityKind = {
  collectionKey: "dataTypes",
  item: (i) => ({ name: pick(["emailSend", "emailOpen", "emailClick", "user"], i) }),
};

/** First match wins, so the more specific names come first. */
const ENTITY_KINDS: ReadonlyArray<readonly [RegExp, EntityKind]> = [
  [/catalog_item/, CATALOG_ITEM],
  [/field|mapping/, FIELD],
  [/catalog/, CATALOG],
  [/variant/, VARIANT],
  [/experiment/, EXPERIMENT],
  [/event/, EVENT],
  [/campaign/, CAMPAIGN],
  [/template/, TEMPLATE],
  [/journey/, JOURNEY],
  [/user/, USER],
  [/list/, LIST],
  [/snippet/, SNIPPET],
  [/webhook/, WEBHOOK],
  [/channel/, CHANNEL],
  [/message_type/, MESSAGE_TYPE],
  [/message/, MESSAGE],
  [/export_job|jobs/, EXPORT_JOB],
  [/file/, EXPORT_FILE],
  [/data_type/, DATA_TYPE],
];

const READ_VERBS = new Set(["get", "list"]);
const SEND_VERBS = new Set(["send", "trigger"]);

/** Past tense of every verb the tool names start with. */
const PAST_TENSE: Readonly<Record<string, string>> = {
  abort: "aborted",
  activate: "activated",
  archive: "archived",
  cancel: "cancelled",
  copy: "copied",
  create: "created",
  deactivate: "deactivated",
  declare: "declared",
  delete: "deleted",
  replace: "replaced",
  schedule: "scheduled",
  send: "sent",
  start: "started",
  subscribe: "subscribed",
  track: "tracked",
  trigger: "triggered",
  unsubscribe: "unsubscribed",
  update: "updated",
  upsert: "upserted",
};

/** The fake answer for a validated call of `toolName`. */
export function fakeIterableResult(toolName: string, args: Args): JsonObject {
  let [verb = "", ...rest] = toolName.split("_");
  // `partial_update_x` and `bulk_delete_x` are updates and deletes of x.
  if ((verb === "partial" || verb === "bulk") && rest[0] !== undefined && rest[0] in PAST_TENSE) [verb = "", ...rest] = rest;
  // `subscribe_to_list` → "list", `get_user_by_email` → "user".
  const noun = rest.join("_").replace(/^(to|from)_/, "").split("_by_")[0] ?? "";
  const callerId = callerIdOf(args);
  const id = callerId ?? stableId(`${toolName}:${JSON.stringify(args)}`);

  if (verb === "preview") {
    return { html: `<html><body><h1>Preview of template ${id}</h1></body></html>`, subject: `Preview ${id}` };
  }
  if (READ_VERBS.has(verb)) return readResult(noun, id, collectionSize(args));
  return writeResult(verb, noun, args, callerId, id);
}

function readResult(noun: string, id: number, size: number): JsonObject {
  if (/metrics|totals|trends|size/.test(noun)) return metrics(noun, id);
  const kind = ENTITY_KINDS.find(([pattern]) => pattern.test(noun))?.[1] ?? LIST;
  if (!isCollection(noun)) return kind.item(1, id);
  const items = Array.from({ length: size }, (_, index) => kind.item(index + 1, id + index));
  return { [kind.collectionKey]: items, totalCount: items.length };
}

function writeResult(verb: string, noun: string, args: Args, callerId: number | undefined, id: number): JsonObject {
  const subject = humanize(noun);
  const past = PAST_TENSE[verb] ?? `${verb}ed`;
  // Name the id only when it identifies the subject itself (send_campaign's
  // campaignId), not a related entity (send_email's campaignId).
  const ownId = callerId !== undefined && idKeyOf(args)?.toLowerCase().startsWith(noun.split("_")[0] ?? "");
  const msg = ownId ? `${subject} ${callerId} ${past}` : `${subject} ${past}`;
  const params: Json = verb === "create" ? { id } : SEND_VERBS.has(verb) ? { messageId: `sandbox-${id}` } : null;
  return { msg, code: "Success", params };
}

function metrics(noun: string, id: number): JsonObject {
  if (noun.endsWith("size")) return { size: 1000 + (id % 9000) };
  return {
    id,
    sends: 10_000 + (id % 1000),
    opens: 4_200 + (id % 500),
    clicks: 830 + (id % 100),
    unsubscribes: 12,
    conversions: 57,
    from: at(0),
    to: at(7),
  };
}

function collectionSize(args: Args): number {
  const asked = SIZE_ARGUMENTS.map((name) => args[name]).find((value) => typeof value === "number");
  return typeof asked === "number" ? Math.max(1, Math.min(MAX_COLLECTION_SIZE, Math.trunc(asked))) : DEFAULT_COLLECTION_SIZE;
}

/** `get_campaigns` → collection, `get_campaign` → one item. */
function isCollection(noun: string): boolean {
  return noun.endsWith("s");
}

/** The first argument that names an entity id (`id`, `campaignId`, `listId`, …). */
function idKeyOf(args: Args): string | undefined {
  return Object.keys(args).find((key) => /(^id$|Id$)/.test(key) && typeof args[key] === "number");
}

function callerIdOf(args: Args): number | undefined {
  const key = idKeyOf(args);
  return key === undefined ? undefined : (args[key] as number);
}

/** A six-digit id that depends only on `seed` (FNV-1a), so answers are reproducible. */
function stableId(seed: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < seed.length; index += 1) {
    hash ^= seed.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 100_000 + (hash % 900_000);
}

function humanize(noun: string): string {
  const words = noun.split("_").filter((word) => word.length > 0);
  const text = words.join(" ");
  return text.length === 0 ? "Request" : `${text[0]?.toUpperCase()}${text.slice(1)}`;
}
