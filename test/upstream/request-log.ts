/**
 * What the sandbox upstream received, kept in isolate memory so a test can prove
 * what the gateway forwarded (headers it injected or stripped, the exact body it
 * re-serialised). Entries are grouped by the request header `x-sandbox-tag`, so
 * concurrent tests each read only their own traffic; untagged requests land under "".
 *
 * Both the number of tags and the entries per tag are capped (oldest dropped first),
 * and long bodies are truncated, so a long test run cannot grow the isolate unbounded.
 */

/** One request as the upstream saw it. */
export interface LoggedRequest {
  method: string;
  path: string;
  search: string;
  /** Lower-cased header names, as the Fetch API's `Headers` iterates them. */
  headers: Record<string, string>;
  body: string;
}

export interface RequestLogOptions {
  /** Entries kept per tag; the oldest go first. */
  maxEntriesPerTag?: number;
  /** Distinct tags kept; the least recently written tag goes first. */
  maxTags?: number;
  /** Characters of a body kept; a longer body is cut and marked. */
  maxBodyChars?: number;
}

export const TAG_HEADER = "x-sandbox-tag";

const DEFAULTS: Required<RequestLogOptions> = {
  maxEntriesPerTag: 500,
  maxTags: 200,
  maxBodyChars: 64 * 1024,
};

export class RequestLog {
  readonly #options: Required<RequestLogOptions>;
  // A Map iterates in insertion order; re-inserting a tag on write makes the
  // first key the least recently written one, which is the one evicted.
  readonly #byTag = new Map<string, LoggedRequest[]>();

  constructor(options: RequestLogOptions = {}) {
    this.#options = { ...DEFAULTS, ...options };
  }

  /**
   * Records a request without consuming it: the body is read from a clone, so the
   * original stays readable for the MCP handler behind the log.
   */
  async record(request: Request): Promise<void> {
    const url = new URL(request.url);
    const tag = request.headers.get(TAG_HEADER) ?? "";
    const body = request.body === null ? "" : await request.clone().text();
    this.#append(tag, {
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: Object.fromEntries(request.headers),
      body: this.#truncate(body),
    });
  }

  entries(tag: string): LoggedRequest[] {
    return this.#byTag.get(tag) ?? [];
  }

  clear(tag: string): void {
    this.#byTag.delete(tag);
  }

  #append(tag: string, entry: LoggedRequest): void {
    const entries = this.#byTag.get(tag) ?? [];
    this.#byTag.delete(tag);
    entries.push(entry);
    if (entries.length > this.#options.maxEntriesPerTag) entries.shift();
    this.#byTag.set(tag, entries);
    if (this.#byTag.size > this.#options.maxTags) {
      const oldest = this.#byTag.keys().next().value;
      if (oldest !== undefined) this.#byTag.delete(oldest);
    }
  }

  #truncate(body: string): string {
    const max = this.#options.maxBodyChars;
    return body.length <= max ? body : `${body.slice(0, max)}…[truncated ${body.length - max} chars]`;
  }
}

/**
 * `GET /__log?tag=T` returns the entries for T as JSON; `DELETE /__log?tag=T` clears them.
 * A missing `tag` parameter means the untagged bucket "".
 */
export function handleLogRequest(log: RequestLog, request: Request): Response {
  const tag = new URL(request.url).searchParams.get("tag") ?? "";
  switch (request.method) {
    case "GET":
      return Response.json(log.entries(tag));
    case "DELETE":
      log.clear(tag);
      return new Response(null, { status: 204 });
    default:
      return new Response("Method not allowed", { status: 405, headers: { Allow: "GET, DELETE" } });
  }
}
