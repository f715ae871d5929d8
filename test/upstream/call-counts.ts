/**
 * How many `tools/call` requests the sandbox received, per tag and tool, for
 * the whole run: unlike the request log, which keeps the last entries of each
 * tag, these counts drop nothing however many requests arrive, so a property
 * test can compare every call that reached the upstream with what the gateway
 * decided. The size is bounded by distinct tags × distinct tool names, not by
 * requests: tags and names per tag are capped, and a name past the cap (or too
 * long to keep) still counts, under `others`.
 *
 * A POST body that is not JSON is counted too (`unparseable`): the gateway
 * re-serialises what it forwards, so the sandbox should never see one, and a
 * test that counts calls must not miss one it could not read.
 */
import { TAG_HEADER } from "./request-log.ts";

/** What one tag's requests held: each tool name with its count, in the order first seen. */
export interface TagCallCounts {
  /** `name` is the call's `params.name` as sent (any JSON value; null when absent). */
  tools: Array<{ name: unknown; count: number }>;
  /** Calls whose name was not kept (past `maxToolsPerTag`, or longer than `maxNameChars`). */
  others: number;
  /** POST bodies that were not JSON. */
  unparseable: number;
}

export interface CallCountsOptions {
  /** Distinct tags kept; the least recently written tag goes first. */
  maxTags?: number;
  /** Distinct tool names counted apart per tag; further names count under `others`. */
  maxToolsPerTag?: number;
  /** Characters of a name's JSON kept as its key; a longer name counts under `others`. */
  maxNameChars?: number;
}

const DEFAULTS: Required<CallCountsOptions> = { maxTags: 200, maxToolsPerTag: 1000, maxNameChars: 1024 };

type Counts = { byName: Map<string, number>; others: number; unparseable: number };

export class CallCounts {
  readonly #options: Required<CallCountsOptions>;
  // Insertion order is recency: a tag is re-inserted on every write, so the first key is evicted first.
  readonly #byTag = new Map<string, Counts>();

  constructor(options: CallCountsOptions = {}) {
    this.#options = { ...DEFAULTS, ...options };
  }

  /** Counts a request's `tools/call` messages (a batch's each), reading a clone so the body stays readable. */
  async record(request: Request): Promise<void> {
    if (request.method !== "POST") return;
    const tag = request.headers.get(TAG_HEADER) ?? "";
    const text = await request.clone().text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#counts(tag).unparseable += 1;
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (isToolCall(message)) this.#count(tag, message.params?.name ?? null);
    }
  }

  counts(tag: string): TagCallCounts {
    const counts = this.#byTag.get(tag);
    if (counts === undefined) return { tools: [], others: 0, unparseable: 0 };
    const tools = [...counts.byName].map(([key, count]) => ({ name: JSON.parse(key) as unknown, count }));
    return { tools, others: counts.others, unparseable: counts.unparseable };
  }

  clear(tag: string): void {
    this.#byTag.delete(tag);
  }

  #count(tag: string, name: unknown): void {
    const counts = this.#counts(tag);
    // JSON text as the key: strings and other values stay apart ("1" is not 1), and no key reaches a prototype.
    const key = JSON.stringify(name) ?? "null";
    const known = counts.byName.get(key);
    if (known !== undefined) counts.byName.set(key, known + 1);
    else if (key.length <= this.#options.maxNameChars && counts.byName.size < this.#options.maxToolsPerTag) counts.byName.set(key, 1);
    else counts.others += 1;
  }

  #counts(tag: string): Counts {
    const counts = this.#byTag.get(tag) ?? { byName: new Map(), others: 0, unparseable: 0 };
    this.#byTag.delete(tag);
    this.#byTag.set(tag, counts);
    if (this.#byTag.size > this.#options.maxTags) {
      const oldest = this.#byTag.keys().next().value;
      if (oldest !== undefined) this.#byTag.delete(oldest);
    }
    return counts;
  }
}

function isToolCall(message: unknown): message is { method: "tools/call"; params?: { name?: unknown } } {
  return typeof message === "object" && message !== null && (message as { method?: unknown }).method === "tools/call";
}

/**
 * `GET /__calls?tag=T` returns T's counts as JSON (TagCallCounts); `DELETE /__calls?tag=T` clears them.
 * A missing `tag` parameter means the untagged bucket "".
 */
export function handleCallCountsRequest(counts: CallCounts, request: Request): Response {
  const tag = new URL(request.url).searchParams.get("tag") ?? "";
  switch (request.method) {
    case "GET":
      return Response.json(counts.counts(tag));
    case "DELETE":
      counts.clear(tag);
      return new Response(null, { status: 204 });
    default:
      return new Response("Method not allowed", { status: 405, headers: { Allow: "GET, DELETE" } });
  }
}
