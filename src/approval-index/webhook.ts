import type { ApprovalRecord } from "../approvals/record.ts";
import { hmacSign } from "../crypto.ts";
import { readConfig } from "../config.ts";
import { clip, clipLine } from "../text/clip.ts";

/**
 * The approval webhook: each new pending approval is POSTed, signed, to the
 * operator's URL (a Slack incoming webhook, a chat bot, a pager), so a human
 * hears of it without watching the admin pages. The approval index keeps the
 * deliveries in its outbox (the table below; its lifecycle is described on
 * ApprovalIndex) and sends them from its Durable Object, off the agent's path.
 *
 * Settings, read from the index object's env: `APPROVAL_WEBHOOK_URL` (a var;
 * unset or empty: no webhook) and `APPROVAL_WEBHOOK_SECRET` (a secret; the
 * HMAC key of `X-Signature-256`, which is left out, with its timestamp, when
 * it is not set).
 */
type WebhookVars = { APPROVAL_WEBHOOK_URL?: string; APPROVAL_WEBHOOK_SECRET?: string };

export type WebhookTarget = { url: string; secret: string | undefined };

/** Where new pending approvals go, or undefined when no webhook is configured. */
export function webhookTarget(env: object): WebhookTarget | undefined {
  const vars = env as WebhookVars;
  const url = vars.APPROVAL_WEBHOOK_URL?.trim();
  if (!url) return undefined;
  return { url, secret: vars.APPROVAL_WEBHOOK_SECRET || undefined };
}

/** Attempts per delivery: the first at once, then after 30 s, 1, 2, 4 and 8 min (about 15.5 min in all). */
export const WEBHOOK_MAX_ATTEMPTS = 6;
const FIRST_RETRY_MS = 30_000;
/** A receiver has this long to answer an attempt. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** An attempt still marked as sending this long after it started was cut short (eviction, crash) and is due again. */
export const WEBHOOK_LEASE_MS = 60_000;

/** How long after failed attempt number `attempt` (1-based) the next one is due: 30 s, doubling. */
export function retryDelayMs(attempt: number): number {
  return FIRST_RETRY_MS * 2 ** (attempt - 1);
}

/**
 * Table `webhook_outbox`: one row per delivery still to make. `body` is the
 * exact JSON sent, frozen when the row is written, so every attempt sends
 * (and signs) the same bytes; `delivery_id` is the same for every attempt.
 * `attempts` counts attempts started; `next_attempt_at` is when the next is
 * due (while one is in flight, the end of its lease); `sending_since` is set
 * while an attempt is in flight; `last_error` says how the last one failed.
 */
export const WEBHOOK_OUTBOX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhook_outbox (
    approval_id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sending_since INTEGER,
    last_error TEXT
  );
  CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_at);
`;

export type OutboxRow = {
  approval_id: string;
  delivery_id: string;
  body: string;
  enqueued_at: number;
  attempts: number;
  next_attempt_at: number;
  sending_since: number | null;
  last_error: string | null;
};

/** One attempt to make: claimed in the outbox, not yet sent. */
export type Delivery = { approvalId: string; deliveryId: string; body: string; attempt: number; enqueuedAt: number };

export type DeliveryResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** What became of a delivery after an attempt. */
export type Settled = { kind: "delivered" } | { kind: "retrying"; at: number } | { kind: "given_up" };

/** The outbox rows, in the index object's SQLite storage. Every method is synchronous, like the index's own writes. */
export class WebhookOutbox {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Queues the notice of a new pending approval, due at once; a second call for the same approval changes nothing. */
  enqueue(approval: ApprovalRecord, now: number, defaultServer?: string): void {
    this.#sql.exec(
      "INSERT INTO webhook_outbox (approval_id, delivery_id, body, enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (approval_id) DO NOTHING",
      approval.id,
      deliveryIdFor(approval.id),
      pendingPayload(approval, defaultServer),
      now,
      now,
    );
  }

  /** Queues any other notice under its own key (a tool change's, say), due at once; a second call for the same key changes nothing. */
  enqueueBody(key: string, body: string, now: number): void {
    this.#sql.exec(
      "INSERT INTO webhook_outbox (approval_id, delivery_id, body, enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (approval_id) DO NOTHING",
      key,
      key,
      body,
      now,
      now,
    );
  }

  /** Rows whose next attempt is due, earliest first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.#sql.exec<OutboxRow>("SELECT * FROM webhook_outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?", now, limit).toArray();
  }

  /** Starts an attempt: counted now, and due again at the end of its lease should it never finish. */
  claim(row: OutboxRow, now: number): Delivery {
    this.#sql.exec(
      "UPDATE webhook_outbox SET attempts = attempts + 1, sending_since = ?, next_attempt_at = ? WHERE approval_id = ?",
      now,
      now + WEBHOOK_LEASE_MS,
      row.approval_id,
    );
    return { approvalId: row.approval_id, deliveryId: row.delivery_id, body: row.body, attempt: row.attempts + 1, enqueuedAt: row.enqueued_at };
  }

  /** Records an attempt's result: delivered and given-up rows are deleted, others are due again after the backoff. */
  settle(delivery: Delivery, result: DeliveryResult, now: number): Settled {
    if (result.ok || delivery.attempt >= WEBHOOK_MAX_ATTEMPTS) {
      this.drop(delivery.approvalId);
      return result.ok ? { kind: "delivered" } : { kind: "given_up" };
    }
    const at = now + retryDelayMs(delivery.attempt);
    this.#sql.exec(
      "UPDATE webhook_outbox SET next_attempt_at = ?, sending_since = NULL, last_error = ? WHERE approval_id = ?",
      at,
      result.error,
      delivery.approvalId,
    );
    return { kind: "retrying", at };
  }

  drop(approvalId: string): void {
    this.#sql.exec("DELETE FROM webhook_outbox WHERE approval_id = ?", approvalId);
  }

  get(approvalId: string): OutboxRow | undefined {
    return this.#sql.exec<OutboxRow>("SELECT * FROM webhook_outbox WHERE approval_id = ?", approvalId).toArray()[0];
  }

  /** When the earliest delivery is due, if any is queued. */
  nextDueAt(): number | undefined {
    return this.#sql.exec<{ at: number | null }>("SELECT MIN(next_attempt_at) AS at FROM webhook_outbox").one().at ?? undefined;
  }
}

/** The same for every attempt at the same approval's notice, so receivers can drop duplicates. */
export function deliveryIdFor(approvalId: string): string {
  return `${approvalId}.pending`;
}

/**
 * The webhook's body: `{"type": "approval.pending", "approval": <record>,
 * "text": <one line for chat>}`. The record is the admin API's, faithful but
 * bounded: free-text fields longer than RECORD_TEXT_CHARS are clipped, and
 * arguments whose JSON exceeds INLINE_ARGUMENTS_BYTES are left out
 * (`arguments: null`) with the start of their JSON in `argumentsPreview`;
 * `argumentsHash` and the approval page stand for the whole. So no body
 * exceeds WEBHOOK_BODY_MAX_BYTES plus twice the approval URL's length.
 */
export function pendingPayload(approval: ApprovalRecord, defaultServer?: string): string {
  return JSON.stringify({ type: "approval.pending", approval: boundedRecord(approval), text: approvalText(approval, defaultServer) });
}

/** The gateway's default server, which the chat line need not name; undefined when the configuration cannot be read (then every server is named). */
export function defaultServerOf(env: object): string | undefined {
  try {
    return readConfig(env).defaultServer.name;
  } catch {
    return undefined;
  }
}

/** Label, tool, session, policy name and version, decider and note: each at most this many characters in the payload's record. */
export const RECORD_TEXT_CHARS = 256;
/** Arguments are inlined in the payload's record while their JSON is at most this many bytes (UTF-8). */
export const INLINE_ARGUMENTS_BYTES = 4096;
/** Beyond that, the start of their JSON, at most this many characters. */
export const ARGUMENTS_PREVIEW_CHARS = 512;
/**
 * The most a body can weigh whatever the agent and the OAuth client chose,
 * on top of twice the approval URL (the operator's): 7 × 256 record
 * characters written as `\u0001` (6 bytes each), 4 KiB of inline arguments,
 * and a chat line of about 600 characters at up to 5 bytes each (`&amp;`).
 * The tests' worst case, with every field at its worst, weighs 17,707 bytes.
 */
export const WEBHOOK_BODY_MAX_BYTES = 20_480;

type WebhookRecord = Omit<ApprovalRecord, "arguments" | "params"> & {
  arguments: ApprovalRecord["arguments"] | null;
  argumentsPreview?: string;
  params: ApprovalRecord["params"];
  paramsPreview?: string;
};

/** A JSON value inline when small enough, else null and the start of its JSON. */
function inlineOrPreview(value: Record<string, unknown>): { value: Record<string, unknown> | null; preview?: string } {
  const json = JSON.stringify(value);
  // UTF-8 never takes fewer bytes than UTF-16 code units: a longer string need not be encoded to know.
  const inline = json.length <= INLINE_ARGUMENTS_BYTES && new TextEncoder().encode(json).length <= INLINE_ARGUMENTS_BYTES;
  return inline ? { value } : { value: null, preview: clip(json, ARGUMENTS_PREVIEW_CHARS) };
}

function boundedRecord(approval: ApprovalRecord): WebhookRecord {
  const text = (value: string) => clip(value, RECORD_TEXT_CHARS);
  const nullable = (value: string | null) => (value === null ? null : text(value));
  const args = inlineOrPreview(approval.arguments);
  return {
    ...approval,
    grant: { ...approval.grant, label: text(approval.grant.label) },
    tool: text(approval.tool),
    arguments: args.value,
    ...(args.preview === undefined ? {} : { argumentsPreview: args.preview }),
    // The other params a call rarely carries are shown by their start only, so the body keeps its bound.
    params: null,
    ...(approval.params === null ? {} : { paramsPreview: clip(JSON.stringify(approval.params), ARGUMENTS_PREVIEW_CHARS) }),
    policy: { ...approval.policy, name: text(approval.policy.name), version: text(approval.policy.version) },
    session: nullable(approval.session),
    decidedBy: nullable(approval.decidedBy),
    note: nullable(approval.note),
  };
}

/** How much of the agent's and the client's text the chat line shows. */
export const LABEL_CHARS = 64;
const TOOL_CHARS = 64;
const SHOWN_ARGUMENTS = 4;
const ARGUMENT_CHARS = 40;

/**
 * One line a Slack incoming webhook (or any chat) shows as is, led by the
 * one link it has, the approval page: `<url|Approval needed>: ‹tool› for
 * grant ‹label› with ‹name=value, …›, expires <time>`, each ‹…› a code
 * span; `‹tool› on ‹server›` when the call goes to a server other than the
 * default. Whatever the
 * agent or the OAuth client chose (tool, arguments, the label, which is an
 * OAuth app's own `client_name`) is clipped, rid of controls and
 * bidirectional overrides, and shown in a code span, escaped as Slack asks,
 * so that nothing in it becomes a link, a mention or formatting.
 */
export function approvalText(approval: ApprovalRecord, defaultServer?: string): string {
  const entries = Object.entries(approval.arguments);
  const shown = entries.slice(0, SHOWN_ARGUMENTS).map(([name, value]) => `${clipLine(name, ARGUMENT_CHARS)}=${clipLine(JSON.stringify(value) ?? "null", ARGUMENT_CHARS)}`);
  if (entries.length > SHOWN_ARGUMENTS) shown.push(`+${entries.length - SHOWN_ARGUMENTS} more`);
  const args = shown.length > 0 ? code(shown.join(", ")) : "no arguments";
  const link = `<${slackUrl(approval.url)}|Approval needed>`;
  const server = approval.server !== undefined && approval.server !== defaultServer ? ` on ${code(approval.server)}` : "";
  return `${link}: ${code(clipLine(approval.tool, TOOL_CHARS))}${server} for grant ${code(clipLine(approval.grant.label, LABEL_CHARS))} with ${args}, expires ${approval.expiresAt}`;
}

/**
 * A Slack code span: its text shows as typed, never as a link, mention or
 * formatting. Slack still reads `&`, `<` and `>` there, so they are escaped;
 * it has no escape for a backtick, which would end the span, so one shows as
 * U+02CB (ˋ).
 */
export function code(text: string): string {
  return `\`${text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("`", "\u02cb")}\``;
}

/** The approval page's URL as a Slack link target: `&` escaped, and nothing that could end the link (`|`, `>`) or open another. */
export function slackUrl(url: string): string {
  return url.replaceAll("&", "&amp;").replaceAll("<", "%3C").replaceAll(">", "%3E").replaceAll("|", "%7C");
}

/**
 * One attempt: POSTs the body's exact bytes with `X-Approval-Id` (a tool change: `X-Tool-Change-Id`),
 * `X-Delivery-Id` and, when a secret is set, `X-Signature-Timestamp: <Unix
 * seconds>` and `X-Signature-256: sha256=<hex HMAC-SHA256 of
 * "<timestamp>.<delivery id>.<body>">`. The timestamp is the attempt's own
 * (each retry is signed anew), so a receiver can refuse old deliveries as
 * replays; the delivery id is signed so one cannot be passed off as another.
 * (The split is unambiguous: the timestamp is digits, the delivery id has no
 * `{`, the body starts with one.) Any 2xx is delivered; anything else, a
 * network error or no answer within WEBHOOK_TIMEOUT_MS is a failure. The
 * error never contains the URL (a Slack webhook URL is itself a credential)
 * nor the secret.
 */
export async function sendWebhook(target: WebhookTarget, delivery: Delivery, now = Date.now(), idHeader = "x-approval-id"): Promise<DeliveryResult> {
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": "mcp-policy-gateway-webhook",
    [idHeader]: delivery.approvalId,
    "x-delivery-id": delivery.deliveryId,
  });
  if (target.secret) {
    const timestamp = String(Math.floor(now / 1000));
    const signature = await hmacSign(target.secret, `${timestamp}.${delivery.deliveryId}.${delivery.body}`);
    headers.set("x-signature-timestamp", timestamp);
    headers.set("x-signature-256", `sha256=${hex(signature)}`);
  }
  try {
    const body = new TextEncoder().encode(delivery.body);
    const response = await fetch(target.url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? { ok: true, status: response.status } : { ok: false, status: response.status, error: `HTTP ${response.status}` };
  } catch (error) {
    if (error instanceof Error && error.name === "TimeoutError") return { ok: false, status: null, error: `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s` };
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { ok: false, status: null, error: redact(message, target.url) };
  }
}

/** The message without the webhook URL, as configured or as the runtime normalises it. */
function redact(message: string, url: string): string {
  const forms = [url, URL.parse(url)?.href].filter((form): form is string => form !== undefined && form !== "");
  return forms.reduce((text, form) => text.replaceAll(form, "<APPROVAL_WEBHOOK_URL>"), message);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
