import { base64url, randomBytes } from "../crypto.ts";
import type { GrantObject } from "../grant-object/grant-object.ts";
import { boundedRecord, RECORD_MAX_BYTES } from "./bounds.ts";
import type { AuditRecord } from "./record.ts";

/** Records wait this long in the isolate for others to share their trip to the grant's object. */
const FLUSH_AFTER_MS = 100;
/** More than this many waiting records are sent at once. */
const MAX_WAITING = 200;
/** A carrier whose timer has not fired by then is taken to be gone (its request cancelled): another takes over. */
const CARRIER_LOST_AFTER_MS = 5_000;

/**
 * Writes audit records into their grant's Durable Object and Workers Logs, off
 * the agent's path. Records are batched per isolate: they wait up to
 * FLUSH_AFTER_MS, then are logged (auditLog: a line holds many) and go to each
 * grant's object in one RPC, so a busy isolate costs one log line and one
 * round trip per batch, not per call: a log line is the dearest thing a call
 * does under `wrangler dev`, and Workers Logs bills per line.
 *
 * Only the waiting records are shared between requests, never a promise or a
 * timer: workerd binds those to the request that made them, and a request
 * awaiting another's is cancelled ("Promise will never complete"). So the
 * request whose record finds nothing waiting becomes the batch's carrier: it
 * keeps itself alive (`waitUntil`) on its own timer and sends everything
 * waiting by then, in its own request; the others only add their records. A
 * failed write is logged (the batch's log line, written first, holds the
 * record) and never reaches the agent. Every record is first brought within
 * its bounds (bounds.ts), so neither the log nor the trail holds more of what
 * an agent sent than that. A waiting call record keeps its arguments until its
 * batch goes (at most FLUSH_AFTER_MS, and MAX_WAITING records).
 */
export class AuditWriter {
  #namespace: DurableObjectNamespace<GrantObject>;
  #waiting = new Map<string, Array<AuditRecord | (() => Promise<AuditRecord>)>>();
  #count = 0;
  /** When the current batch's carrier set its timer; undefined when no batch is open. */
  #carrierSince: number | undefined;

  constructor(namespace: DurableObjectNamespace<GrantObject>) {
    this.#namespace = namespace;
  }

  /**
   * Adds a record to the batch: the record, or how to finish it (a call's
   * arguments are hashed when its batch goes, off the agent's path; it must
   * not fail).
   */
  write(grantId: string, written: AuditRecord | (() => Promise<AuditRecord>), waitUntil: (promise: Promise<unknown>) => void): void {
    const records = this.#waiting.get(grantId) ?? [];
    records.push(written);
    this.#waiting.set(grantId, records);
    this.#count += 1;
    const now = Date.now();
    if (this.#count >= MAX_WAITING) waitUntil(this.#send());
    else if (this.#carrierSince === undefined || now - this.#carrierSince > CARRIER_LOST_AFTER_MS) {
      this.#carrierSince = now;
      waitUntil(this.#sendAfter(FLUSH_AFTER_MS));
    }
  }

  /** Stores an operator's action now (not batched: the operator waits for it to be on record). */
  async writeNow(grantId: string, written: AuditRecord): Promise<void> {
    const record = boundedRecord(written);
    auditLog([record]);
    await this.#namespace.getByName(grantId).recordAudit([record]);
  }

  async #sendAfter(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.#send();
  }

  /** Sends whatever is waiting (nothing, when a full batch was sent since the timer was set). */
  async #send(): Promise<void> {
    const waiting = [...this.#waiting];
    this.#waiting = new Map();
    this.#count = 0;
    this.#carrierSince = undefined;
    const batches = await Promise.all(
      waiting.map(async ([grantId, entries]) => {
        const records = await Promise.all(entries.map(finished));
        return [grantId, records.filter((record) => record !== undefined)] as const;
      }),
    );
    auditLog(batches.flatMap(([, records]) => records));
    await Promise.all(batches.map(([grantId, records]) => this.#store(grantId, records)));
  }

  /**
   * Stores a batch; one that fails is split in halves, each stored on its
   * own, so whatever one record does (or a batch too large for one RPC) never
   * costs the others. A single record that still fails is logged by id (its
   * log line already holds it).
   */
  async #store(grantId: string, records: AuditRecord[]): Promise<void> {
    try {
      await this.#namespace.getByName(grantId).recordAudit(records);
    } catch (error) {
      if (records.length > 1) {
        const half = Math.ceil(records.length / 2);
        await Promise.all([this.#store(grantId, records.slice(0, half)), this.#store(grantId, records.slice(half))]);
        return;
      }
      console.error("audit record not stored", { grant: grantId, record: records[0]?.id, error: String(error).slice(0, 200) });
    }
  }
}

/** A waiting record, finished and within its bounds; one that cannot be is logged and left out, never costing the rest of its batch. */
async function finished(entry: AuditRecord | (() => Promise<AuditRecord>)): Promise<AuditRecord | undefined> {
  try {
    return boundedRecord(typeof entry === "function" ? await entry() : entry);
  } catch (error) {
    console.error("audit record could not be written", { error: String(error).slice(0, 200) });
    return undefined;
  }
}

/** A log line holds records up to this many characters (one larger record has a line of its own). */
const LOG_LINE_CHARS = RECORD_MAX_BYTES;

/**
 * Audit records as JSON log lines, `{"event":"audit","records":[…]}`, each at
 * most LOG_LINE_CHARS, or one record (records are bounded: bounds.ts).
 */
export function auditLog(records: readonly AuditRecord[]): void {
  let line: string[] = [];
  let chars = 0;
  const flush = () => {
    if (line.length > 0) console.log(`{"event":"audit","records":[${line.join(",")}]}`);
    [line, chars] = [[], 0];
  };
  for (const record of records) {
    const text = JSON.stringify(record);
    if (chars + text.length > LOG_LINE_CHARS) flush();
    line.push(text);
    chars += text.length + 1;
  }
  flush();
}

let lastAt = 0;
let sequence = 0;

/**
 * Sortable by time: `aud_` + the time in base36 (fixed width) + a sequence
 * within that millisecond in this isolate + 8 random bytes. In workerd the
 * clock stands still between I/O, so one agent's quick calls (say two refused
 * without reaching the upstream) often share a millisecond: the sequence keeps
 * them in the order they came.
 */
export function newAuditId(at: number): string {
  if (at === lastAt) sequence += 1;
  else [lastAt, sequence] = [at, 0];
  return `aud_${at.toString(36).padStart(9, "0")}${sequence.toString(36).padStart(4, "0")}${base64url(randomBytes(8))}`;
}
