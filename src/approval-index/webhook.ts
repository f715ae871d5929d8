import type { ApprovalRecord } from "../approvals/record.ts";

/**
 * The approval webhook: each new pending approval is POSTed, signed, to the
 * operator's URL (a Slack incoming webhook, a chat bot, a pager), so a human
 * hears of it without watching the admin pages. The approval index keeps the
 * deliveries in its outbox (the table below; its lifecycle is described on
 * ApprovalIndex) and sends them from its Durable Object, off the agent's path.
 *
 * Settings, read from the index object's env: `APPROVAL_WEBHOOK_URL` (a var;
 * unset or empty: no webhook) and `APPROVAL_WEBHOOK_SECRET` (a secret; the
 * HMAC key of `X-Signature-256`, which is left out when it is not set).
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
  enqueue(approval: ApprovalRecord, now: number): void {
    this.#sql.exec(
      "INSERT INTO webhook_outbox (approval_id, delivery_id, body, enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (approval_id) DO NOTHING",
      approval.id,
      deliveryIdFor(approval.id),
      pendingPayload(approval),
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

/** The webhook's body: `{"type": "approval.pending", "approval": <ApprovalRecord>, "text": <one line for chat>}`. */
export function pendingPayload(approval: ApprovalRecord): string {
  return JSON.stringify({ type: "approval.pending", approval, text: approvalText(approval) });
}

const SHOWN_ARGUMENTS = 4;
const SHOWN_CHARACTERS = 40;

/**
 * One line a Slack incoming webhook (or any chat) shows as is: the tool, the
 * grant, a short view of the arguments, the expiry and the approval page.
 * Everything the agent chose (tool name, arguments) and the grant's label are
 * escaped the way Slack asks (`&`, `<`, `>`), so an argument cannot ping a
 * channel (`<!channel>`) or dress up a link; line breaks become spaces.
 */
export function approvalText(approval: ApprovalRecord): string {
  const entries = Object.entries(approval.arguments);
  const shown = entries.slice(0, SHOWN_ARGUMENTS).map(([name, value]) => `${clip(name)}=${clip(JSON.stringify(value) ?? "null")}`);
  if (entries.length > SHOWN_ARGUMENTS) shown.push(`+${entries.length - SHOWN_ARGUMENTS} more`);
  const args = shown.length > 0 ? shown.join(", ") : "no arguments";
  return `Approval needed: ${chat(approval.tool)} for grant "${chat(approval.grant.label)}" (${chat(args)}), expires ${approval.expiresAt}: ${approval.url}`;
}

/** At most SHOWN_CHARACTERS characters (whole code points), with an ellipsis when cut. */
function clip(text: string): string {
  const chars = Array.from(text);
  return chars.length <= SHOWN_CHARACTERS ? text : `${chars.slice(0, SHOWN_CHARACTERS - 1).join("")}…`;
}

function chat(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

/**
 * One attempt: POSTs the body's exact bytes with `X-Signature-256:
 * sha256=<hex HMAC-SHA256 of those bytes>` (when a secret is set),
 * `X-Approval-Id` and `X-Delivery-Id`. Any 2xx is delivered; anything else,
 * a network error or no answer within WEBHOOK_TIMEOUT_MS is a failure. The
 * error never contains the URL (a Slack webhook URL is itself a credential)
 * nor the secret.
 */
export async function sendWebhook(target: WebhookTarget, delivery: Delivery): Promise<DeliveryResult> {
  const body = new TextEncoder().encode(delivery.body);
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": "mcp-policy-gateway-webhook",
    "x-approval-id": delivery.approvalId,
    "x-delivery-id": delivery.deliveryId,
  });
  if (target.secret) headers.set("x-signature-256", `sha256=${await hmacSha256Hex(target.secret, body)}`);
  try {
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

/** Hex HMAC-SHA256 of `bytes` keyed by `secret` (Web Crypto). */
export async function hmacSha256Hex(secret: string, bytes: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes));
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
