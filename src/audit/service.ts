import { readConfig } from "../config.ts";
import type { Bindings } from "../env.ts";
import type { AuditPageQuery } from "../grant-object/audit.ts";
import { grantKey } from "../grants/grant.ts";
import { decodeCursor, encodeCursor, type AuditPosition, type AuditQuery, type AuditRecord } from "./record.ts";

/** The object that keeps the records of actions on no grant (a policy push). */
export const GATEWAY_AUDIT_OBJECT = "global";

export type AuditPageResult = { records: AuditRecord[]; cursor: string | null };

/**
 * Reads the audit trail for operators. A grant's trail is one page from its
 * own object. The whole gateway's is merged from every grant's object (and
 * the gateway-wide one), asked in parallel: one request per grant, newest
 * first, each page continuing exactly where the previous one ended.
 */
export class AuditService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  async grantPage(grantId: string, query: AuditQuery): Promise<AuditPageResult> {
    const page = await this.#page(grantId, query);
    return { records: page.records, cursor: page.next ? encodeCursor(page.next) : null };
  }

  async allPage(query: AuditQuery): Promise<AuditPageResult> {
    const objects = [...(await this.#grantIds()), GATEWAY_AUDIT_OBJECT];
    const pages = await Promise.all(objects.map((name) => this.#page(name, query)));
    // An object's page that ended early (by count or by bytes) says nothing of its records older than its
    // last one: the merged page stops there, at the newest such edge, so the next page misses nothing.
    const edges = pages.filter((page) => page.next !== undefined).map((page) => page.next as AuditPosition);
    const edge = edges.sort(newestFirst)[0];
    const merged = pages
      .flatMap((page) => page.records.map((record) => ({ record, position: positionOf(record) })))
      .filter((entry) => edge === undefined || newestFirst(entry.position, edge) <= 0);
    merged.sort((a, b) => newestFirst(a.position, b.position));
    const taken = merged.slice(0, query.limit);
    const more = merged.length > query.limit || pages.some((page) => page.next !== undefined);
    const last = taken.at(-1);
    return { records: taken.map((entry) => entry.record), cursor: more && last ? encodeCursor(last.position) : null };
  }

  /** Every page in turn, for a stream of JSON lines (at most `max` records). */
  async *all(grantId: string | undefined, query: AuditQuery, max = 100_000): AsyncGenerator<AuditRecord> {
    let cursor = query.cursor;
    let sent = 0;
    for (;;) {
      const page = grantId === undefined ? await this.allPage({ ...query, cursor }) : await this.grantPage(grantId, { ...query, cursor });
      for (const record of page.records) {
        if (sent++ >= max) return;
        yield record;
      }
      if (page.cursor === null) return;
      cursor = page.cursor;
    }
  }

  async #page(objectName: string, query: AuditQuery) {
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const pageQuery: AuditPageQuery = {
      decision: query.decision,
      tool: query.tool,
      server: query.server === undefined ? undefined : { name: query.server, isDefault: query.server === readConfig(this.#env).defaultServer.name },
      sinceMs: query.since === undefined ? undefined : Date.parse(query.since),
      untilMs: query.until === undefined ? undefined : Date.parse(query.until),
      before,
      limit: query.limit,
    };
    return this.#env.GRANT_OBJECT.getByName(objectName).auditPage(pageQuery) as Promise<{ records: AuditRecord[]; next: AuditPosition | undefined }>;
  }

  async #grantIds(): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#env.GRANTS.list({ prefix: grantKey(""), ...(cursor ? { cursor } : {}) });
      ids.push(...page.keys.map((key) => key.name.slice(grantKey("").length)));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return ids;
  }
}

/** Sorts positions newest first: negative when `a` is newer. */
function newestFirst(a: AuditPosition, b: AuditPosition): number {
  return b.at - a.at || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0);
}

function positionOf(record: AuditRecord): AuditPosition {
  return { at: Date.parse(record.time), id: record.id };
}
