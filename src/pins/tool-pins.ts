import { DurableObject } from "cloudflare:workers";
import { adminRecord } from "../admin/manage/admin-record.ts";
import { sendWebhook, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_OUTBOX_SCHEMA, WebhookOutbox, webhookTarget, type Delivery, type WebhookTarget } from "../approval-index/webhook.ts";
import { AuditWriter } from "../audit/writer.ts";
import { GLOBAL_OBJECT } from "../limits/limiter.ts";
import type { Server } from "../servers/registry.ts";
import { changePayload, changeKey } from "./announce.ts";
import { catalogDefinitions } from "./catalog-pins.ts";
import { canonicalDefinition, hashText, type ToolDefinition } from "./definition.ts";
import type {
  AcceptOutcome,
  AcceptRequest,
  ChangeKind,
  ChangesPage,
  ChangesQuery,
  Observation,
  PendingChange,
  PinRecord,
  PinSnapshot,
  PinSource,
  PinsPage,
} from "./types.ts";

/**
 * The object's RPC surface, typed as it is written: the runtime's own stub
 * types cannot express a definition's `unknown` fields or a tuple.
 */
export type ToolPinsRpc = Pick<ToolPins, "snapshot" | "version" | "observe" | "changes" | "change" | "pins" | "pin" | "accept">;

/** One server's pins object: named by the server's name and where it is reached (`Server.pinKey`). */
export function toolPinsOf(namespace: DurableObjectNamespace<ToolPins>, server: Pick<Server, "pinKey">): ToolPinsRpc {
  return namespace.getByName(server.pinKey) as unknown as ToolPinsRpc;
}

/** A definition whose canonical text is larger than this is not kept: such a tool can be neither pinned nor accepted. */
export const MAX_DEFINITION_BYTES = 64 * 1024;
/** Pins per server: a server listing more tools has the rest refused (they are never pinned). */
export const MAX_PINS = 1000;
/** A tool name longer than this is never pinned nor kept for review: such a tool stays refused (the specification bounds names at 128). */
export const MAX_NAME_CHARS = 1024;
/** Changes awaiting review per server: past this, further changed or new tools stay refused without being listed for review. */
export const MAX_CHANGES = 200;
/** A change seen again is touched (its `last_seen`) at most this often. */
const TOUCH_AFTER_MS = 60_000;
/** Bytes of definitions one page of changes carries at most (never fewer than one change). */
const PAGE_BYTES = 512 * 1024;
const DELIVERY_BATCH = 25;

/** Who a pin or an audit record names when no person made it. */
export const FIRST_USE_ACTOR = "gateway (trust on first use)";
const CATALOG_ACTOR = "catalog";

type PinRow = { name: string; hash: string; definition: string; source: PinSource; pinned_by: string; pinned_at: number };
type ChangeRow = { name: string; kind: ChangeKind; hash: string; definition: string | null; bytes: number; first_seen: number; last_seen: number };

/**
 * One Durable Object per MCP server (`toolPinsOf`: its name and where it is reached): the pins
 * of its tools and the changes awaiting an operator's review. Every isolate
 * reads the pins (a snapshot of names and hashes, cached briefly) and judges
 * each listed tool against them itself; what it finds differing it reports
 * here, once, and this object keeps it for review, bumps the version that
 * open agent streams watch, and announces it on the approval webhook.
 *
 * Tables: `pins(name, hash, definition, source, pinned_by, pinned_at)`, the
 * definition being the canonical text the hash is of; `changes(name, kind,
 * hash, definition, bytes, first_seen, last_seen)`, one per tool (a later
 * change replaces an earlier unreviewed one); `meta(key, value)`: `seeded`,
 * `version`; and the webhook outbox (approval-index/webhook.ts). All bounded:
 * MAX_PINS, MAX_CHANGES, MAX_DEFINITION_BYTES each.
 *
 * Reached only over RPC from the gateway Worker.
 */
export class ToolPins extends DurableObject<Env> {
  #outbox: WebhookOutbox;
  #warnedFull = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS pins (
          name TEXT PRIMARY KEY,
          hash TEXT NOT NULL,
          definition TEXT NOT NULL,
          source TEXT NOT NULL,
          pinned_by TEXT NOT NULL,
          pinned_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS changes (
          name TEXT PRIMARY KEY,
          kind TEXT NOT NULL,
          hash TEXT NOT NULL,
          definition TEXT,
          bytes INTEGER NOT NULL,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
      ctx.storage.sql.exec(WEBHOOK_OUTBOX_SCHEMA);
    });
  }

  /**
   * The pins every isolate judges with. A server with a catalog (`catalog`:
   * its name) is seeded from it on first use of this object.
   */
  async snapshot(catalog?: "iterable"): Promise<PinSnapshot> {
    this.#seedFromCatalog(catalog);
    return this.#snapshot();
  }

  /** The version alone: what an open agent stream polls to learn that the tools it may see changed. */
  async version(): Promise<number> {
    return this.#version();
  }

  /**
   * Takes what an isolate found: before the server is seeded, every tool
   * not yet pinned is pinned as first seen (a complete list seeds it, and
   * the pinning is audited as `tool.pin`); after, a tool differing from its
   * pin or without one is kept for review and announced, once per
   * definition. A change whose tool is seen matching its pin again is over.
   */
  async observe(observation: Observation, catalog?: "iterable"): Promise<PinSnapshot> {
    this.#seedFromCatalog(catalog);
    const now = Date.now();
    const target = webhookTarget(this.env);
    const outcome = this.ctx.storage.transactionSync(() => {
      const firstUse: string[] = [];
      const announced: string[] = [];
      let changed = false;
      const seeded = this.#seeded();
      for (const name of observation.matching) {
        if (this.ctx.storage.sql.exec("DELETE FROM changes WHERE name = ? RETURNING name", name).toArray().length > 0) changed = true;
      }
      for (const tool of observation.tools) {
        if (tool.name.length > MAX_NAME_CHARS) continue;
        const pin = this.#pinRow(tool.name);
        if (pin?.hash === tool.hash) {
          if (this.ctx.storage.sql.exec("DELETE FROM changes WHERE name = ? RETURNING name", tool.name).toArray().length > 0) changed = true;
          continue;
        }
        const bytes = byteLength(tool.definition);
        if (!seeded && !pin) {
          if (bytes <= MAX_DEFINITION_BYTES && this.#pinCount() < MAX_PINS) {
            this.#writePin(tool.name, tool.hash, tool.definition, "first_use", FIRST_USE_ACTOR, now);
            firstUse.push(tool.name);
            changed = true;
          }
          continue;
        }
        const recorded = this.#recordChange(tool.name, pin ? "changed" : "new", tool.hash, bytes <= MAX_DEFINITION_BYTES ? tool.definition : null, bytes, now);
        if (recorded === "new") {
          changed = true;
          announced.push(tool.name);
          if (target) this.#outbox.enqueueBody(changeKey(observation.server, tool.name, tool.hash), changePayload(this.#changeOf(observation.server, tool.name)!, observation.reviewUrl), now);
        }
      }
      if (!seeded && observation.complete) {
        this.#setMeta("seeded", "first_use");
        changed = true;
      }
      if (changed) this.#bumpVersion();
      return { firstUse, announced };
    });
    if (outcome.firstUse.length > 0) await this.#auditFirstUse(observation.server, outcome.firstUse, now);
    if (outcome.announced.length > 0) {
      console.warn(JSON.stringify({ event: "tool_definition_changed", server: observation.server, tools: outcome.announced.slice(0, 20), count: outcome.announced.length }));
      if (target) this.ctx.waitUntil(this.#deliverDue().catch((error: unknown) => console.error("tool change webhook delivery failed; the alarm retries", { error: String(error) })));
    }
    return this.#snapshot();
  }

  /** The changes awaiting review, by tool name, each with the pin it differs from. */
  async changes(server: string, query: ChangesQuery, catalog?: "iterable"): Promise<ChangesPage> {
    this.#seedFromCatalog(catalog);
    const rows = this.ctx.storage.sql
      .exec<Pick<ChangeRow, "name" | "bytes">>("SELECT name, bytes FROM changes WHERE name > ? ORDER BY name LIMIT ?", query.after ?? "", query.limit + 1)
      .toArray();
    const changes: PendingChange[] = [];
    let bytes = 0;
    for (const row of rows.slice(0, query.limit)) {
      const pinBytes = this.#pinRow(row.name)?.definition.length ?? 0;
      if (changes.length > 0 && bytes + row.bytes + pinBytes > PAGE_BYTES) break;
      bytes += row.bytes + pinBytes;
      changes.push(this.#changeOf(server, row.name)!);
    }
    const more = changes.length < rows.length;
    return { changes, next: more ? (changes.at(-1)?.name ?? null) : null };
  }

  /** One tool's change awaiting review, or undefined when it has none. */
  async change(server: string, name: string, catalog?: "iterable"): Promise<PendingChange | undefined> {
    this.#seedFromCatalog(catalog);
    return this.#changeOf(server, name);
  }

  /** The pins, by tool name, without their definitions. */
  async pins(query: ChangesQuery, catalog?: "iterable"): Promise<PinsPage> {
    this.#seedFromCatalog(catalog);
    const rows = this.ctx.storage.sql
      .exec<Omit<PinRow, "definition">>("SELECT name, hash, source, pinned_by, pinned_at FROM pins WHERE name > ? ORDER BY name LIMIT ?", query.after ?? "", query.limit + 1)
      .toArray();
    const pins = rows.slice(0, query.limit).map((row) => pinRecord(row));
    return { pins, next: rows.length > query.limit ? (pins.at(-1)?.name ?? null) : null };
  }

  /** One pin with its definition (what calls are validated against), or undefined. */
  async pin(name: string, catalog?: "iterable"): Promise<PinRecord | undefined> {
    this.#seedFromCatalog(catalog);
    const row = this.#pinRow(name);
    return row ? pinRecord(row, true) : undefined;
  }

  /**
   * An operator accepts a tool's change: its definition now served becomes
   * its pin, in the same step as the change is dropped and the acceptance
   * audited (`tool.accept`, with who).
   */
  async accept(request: AcceptRequest, catalog?: "iterable"): Promise<AcceptOutcome> {
    this.#seedFromCatalog(catalog);
    const now = Date.now();
    const outcome = this.ctx.storage.transactionSync((): AcceptOutcome => {
      const change = this.ctx.storage.sql.exec<ChangeRow>("SELECT * FROM changes WHERE name = ?", request.name).toArray()[0];
      if (!change) return { ok: false, reason: "not_found", message: `server ${request.server} has no change of tool ${request.name} awaiting review` };
      if (request.hash !== undefined && request.hash !== change.hash) {
        return { ok: false, reason: "stale", message: `tool ${request.name} changed again since it was reviewed (now ${change.hash.slice(0, 12)}…, reviewed ${request.hash.slice(0, 12)}…): review it again` };
      }
      if (change.definition === null) {
        return { ok: false, reason: "too_large", message: `tool ${request.name}'s definition is ${change.bytes} bytes, more than the ${MAX_DEFINITION_BYTES} the gateway pins: it cannot be accepted` };
      }
      if (!this.#pinRow(request.name) && this.#pinCount() >= MAX_PINS) {
        return { ok: false, reason: "too_large", message: `server ${request.server} has ${MAX_PINS} pinned tools, the most the gateway keeps` };
      }
      const previous = this.#pinRow(request.name);
      this.#writePin(request.name, change.hash, change.definition, "accepted", request.by, now);
      this.ctx.storage.sql.exec("DELETE FROM changes WHERE name = ?", request.name);
      this.#outbox.drop(changeKey(request.server, request.name, change.hash));
      this.#bumpVersion();
      return { ok: true, pin: pinRecord(this.#pinRow(request.name)!, true), previous: previous ? { hash: previous.hash, source: previous.source } : null };
    });
    if (outcome.ok) {
      const record = adminRecord(
        {
          action: "tool.accept",
          by: request.by,
          target: `${request.server}/${request.name}`,
          grant: null,
          detail: { server: request.server, tool: request.name, hash: outcome.pin.hash, previousHash: outcome.previous?.hash ?? null },
        },
        now,
      );
      await new AuditWriter(this.env.GRANT_OBJECT).writeNow(GLOBAL_OBJECT, record);
    }
    return outcome;
  }

  override async alarm(): Promise<void> {
    await this.#deliverDue();
  }

  #seedFromCatalog(catalog: "iterable" | undefined): void {
    if (catalog === undefined || this.#seeded()) return;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const definition of catalogDefinitions(catalog)) {
        const text = canonicalDefinition(definition);
        if (!this.#pinRow(definition.name)) this.#writePin(definition.name, hashText(text), text, "catalog", CATALOG_ACTOR, now);
      }
      this.#setMeta("seeded", "catalog");
      this.#bumpVersion();
    });
  }

  /** Records a change; "new" when it was not already awaiting review with this hash (then it is announced). */
  #recordChange(name: string, kind: ChangeKind, hash: string, definition: string | null, bytes: number, now: number): "new" | "known" | "full" {
    const known = this.ctx.storage.sql.exec<Pick<ChangeRow, "hash" | "last_seen">>("SELECT hash, last_seen FROM changes WHERE name = ?", name).toArray()[0];
    if (known?.hash === hash) {
      if (now - known.last_seen > TOUCH_AFTER_MS) this.ctx.storage.sql.exec("UPDATE changes SET last_seen = ? WHERE name = ?", now, name);
      return "known";
    }
    if (!known && this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM changes").one().n >= MAX_CHANGES) {
      if (!this.#warnedFull) console.error(`tool pinning: ${MAX_CHANGES} changes await review; further changed or new tools stay refused without being listed`);
      this.#warnedFull = true;
      return "full";
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO changes (name, kind, hash, definition, bytes, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, hash = excluded.hash, definition = excluded.definition, bytes = excluded.bytes, first_seen = excluded.first_seen, last_seen = excluded.last_seen`,
      name,
      kind,
      hash,
      definition,
      bytes,
      now,
      now,
    );
    return "new";
  }

  #changeOf(server: string, name: string): PendingChange | undefined {
    const row = this.ctx.storage.sql.exec<ChangeRow>("SELECT * FROM changes WHERE name = ?", name).toArray()[0];
    if (!row) return undefined;
    const pin = this.#pinRow(name);
    return {
      server,
      name,
      kind: row.kind,
      hash: row.hash,
      definition: row.definition === null ? null : (JSON.parse(row.definition) as ToolDefinition),
      bytes: row.bytes,
      firstSeen: new Date(row.first_seen).toISOString(),
      lastSeen: new Date(row.last_seen).toISOString(),
      pinned: pin ? pinRecord(pin, true) : null,
    };
  }

  async #auditFirstUse(server: string, names: string[], now: number): Promise<void> {
    const record = adminRecord(
      {
        action: "tool.pin",
        by: FIRST_USE_ACTOR,
        target: server,
        grant: null,
        detail: { server, count: names.length, tools: names.slice(0, 50), ...(names.length > 50 ? { more: names.length - 50 } : {}) },
      },
      now,
    );
    try {
      await new AuditWriter(this.env.GRANT_OBJECT).writeNow(GLOBAL_OBJECT, record);
    } catch (error) {
      // The pins stand; the log line AuditWriter wrote first holds the record.
      console.error("tool pinning: first-use audit record not stored", { server, error: String(error) });
    }
  }

  #snapshot(): PinSnapshot {
    const pins = this.ctx.storage.sql.exec<{ name: string; hash: string }>("SELECT name, hash FROM pins").toArray().map((row): [string, string] => [row.name, row.hash]);
    return { version: this.#version(), seeded: this.#seeded(), pins };
  }

  #pinRow(name: string): PinRow | undefined {
    return this.ctx.storage.sql.exec<PinRow>("SELECT * FROM pins WHERE name = ?", name).toArray()[0];
  }

  #pinCount(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pins").one().n;
  }

  #writePin(name: string, hash: string, definition: string, source: PinSource, by: string, now: number): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO pins (name, hash, definition, source, pinned_by, pinned_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, definition = excluded.definition, source = excluded.source, pinned_by = excluded.pinned_by, pinned_at = excluded.pinned_at`,
      name,
      hash,
      definition,
      source,
      by,
      now,
    );
  }

  #seeded(): boolean {
    return this.#meta("seeded") !== undefined;
  }

  #version(): number {
    return Number(this.#meta("version") ?? "0");
  }

  #bumpVersion(): void {
    this.#setMeta("version", String(this.#version() + 1));
  }

  #meta(key: string): string | undefined {
    return this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  #setMeta(key: string, value: string): void {
    this.ctx.storage.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** Sends every due change notice (the approval webhook's URL, signature and retries), then sets the alarm for the next. */
  async #deliverDue(): Promise<void> {
    const target = webhookTarget(this.env);
    const deliveries: Delivery[] = [];
    for (const row of this.#outbox.due(Date.now(), DELIVERY_BATCH)) {
      if (target) deliveries.push(this.#outbox.claim(row, Date.now()));
      else this.#outbox.drop(row.approval_id);
    }
    if (target && deliveries.length > 0) {
      await this.#schedule();
      await Promise.all(deliveries.map((delivery) => this.#attempt(target, delivery)));
    }
    await this.#schedule();
  }

  async #attempt(target: WebhookTarget, delivery: Delivery): Promise<void> {
    const result = await sendWebhook(target, delivery, Date.now(), "x-tool-change-id");
    const settled = this.#outbox.settle(delivery, result, Date.now());
    const about = { change: delivery.approvalId, attempt: delivery.attempt, of: WEBHOOK_MAX_ATTEMPTS };
    if (result.ok) console.log(JSON.stringify({ event: "tool_change_webhook_delivered", ...about, status: result.status }));
    else if (settled.kind === "given_up") console.error("tool change webhook given up", { ...about, status: result.status, error: result.error });
    else console.error("tool change webhook attempt failed; will retry", { ...about, status: result.status, error: result.error });
  }

  async #schedule(): Promise<void> {
    const due = this.#outbox.nextDueAt();
    if (due === undefined) return;
    if ((await this.ctx.storage.getAlarm()) !== due) await this.ctx.storage.setAlarm(due);
  }
}

function pinRecord(row: Omit<PinRow, "definition"> & { definition?: string }, withDefinition = false): PinRecord {
  return {
    name: row.name,
    hash: row.hash,
    source: row.source,
    pinnedBy: row.pinned_by,
    pinnedAt: new Date(row.pinned_at).toISOString(),
    ...(withDefinition && row.definition !== undefined ? { definition: JSON.parse(row.definition) as ToolDefinition } : {}),
  };
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}
