/**
 * The approval webhook, through the gateway Worker with its real Durable
 * Objects: a new pending approval is POSTed, signed, to the receiver by the
 * approval index, retried with backoff, given up after a bounded number of
 * attempts, and never holds up or loses the approval.
 *
 * The index object's env comes from vitest.config.ts, the same for every
 * test: APPROVAL_WEBHOOK_URL is the webhook sink's `/by-label` path, and the
 * sink files each delivery under the path its grant's label names. So each
 * test picks its receiver's behaviour, under a tag of its own, with the label
 * of the grant it creates (`/ok/<tag>`, `/fail-then-ok/2/<tag>`, `/down/<tag>`).
 * Retries are driven without sleeping: the test moves the delivery's due time
 * to now, as if the backoff had elapsed, and runs the index's alarm. The index
 * without a URL or without a secret is the real class on a real object's
 * storage, constructed with that env (as gateway() does for the Worker).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { APPROVAL_INDEX_NAME, ApprovalIndex } from "../../src/approval-index/approval-index.ts";
import {
  approvalText,
  ARGUMENTS_PREVIEW_CHARS,
  deliveryIdFor,
  INLINE_ARGUMENTS_BYTES,
  LABEL_CHARS,
  pendingPayload,
  RECORD_TEXT_CHARS,
  retryDelayMs,
  WEBHOOK_BODY_MAX_BYTES,
  WEBHOOK_MAX_ATTEMPTS,
  WebhookOutbox,
  type OutboxRow,
} from "../../src/approval-index/webhook.ts";
import type { ApprovalRecord } from "../../src/approvals/record.ts";
import { createGrant, decisionOf, gateway, newTag, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const APPROVE_SENDS = { version: "1", default: "deny", tools: { send_campaign: { action: "approve" } } };

/** One POST the sink received (test/setup/webhook-sink.ts): headers, the body as text and as exact bytes, the status it answered. */
type Received = { headers: Record<string, string>; body: string; bodyBase64: string; status: number };

const index = () => env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME);

/** What the sink received at `path`. */
async function received(path: string): Promise<Received[]> {
  return (await fetch(new URL(`__received${path}`, env.WEBHOOK_SINK_URL))).json();
}

/** Polls `read` until `done` holds (the index delivers off the caller's path, so a test waits for it). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const outboxRow = (id: string) => runInDurableObject(index(), (_instance, state) => new WebhookOutbox(state.storage.sql).get(id));
const outboxSize = (stub = index()) => runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_outbox").one().n);

/** Waits until attempt number `attempts` is over: the row is gone (delivered or given up) or waits for its next attempt. */
const attemptOver = (id: string, attempts: number) =>
  eventually(
    () => outboxRow(id),
    (row) => row === undefined || (row.attempts === attempts && row.sending_since === null),
  );

/** The backoff has elapsed: the delivery is due now, and the alarm makes its next attempt. */
async function retryNow(id: string): Promise<void> {
  await runInDurableObject(index(), (_instance, state) => {
    state.storage.sql.exec("UPDATE webhook_outbox SET next_attempt_at = ? WHERE approval_id = ?", Date.now(), id);
  });
  expect(await runDurableObjectAlarm(index())).toBe(true);
}

/** The admin API, as an operator's script calls it. */
async function admin(gw: Gateway, path: string, init: RequestInit = {}) {
  const response = await gw.fetch(`https://gateway.test/admin/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** An agent whose grant's label is the sink path its approvals' webhooks are filed under; its first send_campaign call opens an approval. */
async function pendingApproval(sinkPath: string, args: object = { campaignId: 42 }) {
  const { token, record: grant } = await createGrant(await putPolicy(APPROVE_SENDS), { label: sinkPath });
  const gw = gateway();
  const agent = await rawAgent(gw, token);
  await agent.rpc("tools/list", {});
  const answer = await agent.call("send_campaign", args);
  expect(decisionOf(answer)).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
  const id = decisionOf(answer).approval.id as string;
  return { gw, agent, grant, id, args };
}

/**
 * The receiver's check, exactly as the README gives it to operators (Node 20+
 * or Workers): the payload when the delivery is authentic, fresh and new;
 * otherwise why it is refused. Recomputes the HMAC over the exact bytes
 * `<timestamp>.<delivery id>.<body>`, compares in constant time
 * (crypto.subtle.verify), refuses timestamps more than 5 minutes away
 * (replays), and drops delivery ids it has seen (retries after a lost answer).
 */
async function verifyApprovalWebhook(request: Request, secret: string, seen: Set<string>, now = Date.now()) {
  const body = new Uint8Array(await request.arrayBuffer()); // the exact bytes: verify before parsing
  const timestamp = request.headers.get("x-signature-timestamp") ?? "";
  const deliveryId = request.headers.get("x-delivery-id") ?? "";
  const hex = /^sha256=([0-9a-f]{64})$/.exec(request.headers.get("x-signature-256") ?? "")?.[1];
  if (!hex || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "unsigned" } as const;
  if (Math.abs(now / 1000 - Number(timestamp)) > 300) return { ok: false, reason: "stale" } as const;
  const prefix = new TextEncoder().encode(`${timestamp}.${deliveryId}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signature = Uint8Array.from(hex.match(/../g)!, (pair) => Number.parseInt(pair, 16));
  if (!(await crypto.subtle.verify("HMAC", key, signature, signed))) return { ok: false, reason: "bad signature" } as const;
  if (seen.has(deliveryId)) return { ok: false, reason: "duplicate" } as const; // answer 2xx all the same: it was handled
  seen.add(deliveryId);
  return { ok: true, payload: JSON.parse(new TextDecoder().decode(body)) } as const;
}

/** What the sink received, as the request the receiver saw (the exact body bytes), with some headers changed. */
function asRequest(entry: Received, changed: Record<string, string> = {}): Request {
  const body = Uint8Array.from(atob(entry.bodyBase64), (char) => char.charCodeAt(0));
  const names = ["content-type", "x-approval-id", "x-delivery-id", "x-signature-256", "x-signature-timestamp"];
  const headers = new Headers(names.flatMap((name) => (entry.headers[name] === undefined ? [] : [[name, entry.headers[name]] as [string, string]])));
  for (const [name, value] of Object.entries(changed)) headers.set(name, value);
  return new Request("https://receiver.test/approvals", { method: "POST", headers, body });
}

/** Whether the delivery verifies with this secret, as first seen. */
async function verifies(secret: string, entry: Received, changed: Record<string, string> = {}, now?: number): Promise<boolean> {
  return (await verifyApprovalWebhook(asRequest(entry, changed), secret, new Set(), now)).ok;
}

describe("a new pending approval is posted to the webhook", () => {
  it("once, signed over the exact body, with the admin API's record and a chat line naming tool, grant and link", async () => {
    const path = `/ok/${newTag()}`;
    const { gw, agent, grant, id } = await pendingApproval(path);

    const deliveries = await eventually(() => received(path), (list) => list.length > 0);
    expect(deliveries).toHaveLength(1);
    const [delivery] = deliveries as [Received];
    expect(delivery.status).toBe(200);
    expect(delivery.headers["content-type"]).toBe("application/json");
    expect(delivery.headers["x-approval-id"]).toBe(id);
    expect(delivery.headers["x-delivery-id"]).toBe(deliveryIdFor(id));
    expect(await verifies(env.APPROVAL_WEBHOOK_SECRET!, delivery)).toBe(true);
    expect(await verifies("another-secret", delivery)).toBe(false);
    expect(await verifies(env.APPROVAL_WEBHOOK_SECRET!, { ...delivery, bodyBase64: btoa(`${delivery.body} `) })).toBe(false);

    const payload = JSON.parse(delivery.body) as { type: string; approval: ApprovalRecord; text: string };
    expect(Object.keys(payload)).toEqual(["type", "approval", "text"]);
    expect(payload.type).toBe("approval.pending");
    const record = (await admin(gw, `/approvals/${id}`)).body as ApprovalRecord;
    expect(payload.approval).toEqual(record);
    expect(payload.approval).toMatchObject({ id, status: "pending", tool: "send_campaign", grant: { id: grant.id, label: path }, arguments: { campaignId: 42 } });
    expect(payload.text).toBe(`<${record.url}|Approval needed>: \`send_campaign\` for grant \`${path}\` with \`campaignId=42\`, expires ${record.expiresAt}`);
    expect(payload.text).not.toContain("\n");
    expect(await outboxRow(id)).toBeUndefined();

    // The same call again finds the same pending approval: nothing new is queued or sent.
    const again = await agent.call("send_campaign", { campaignId: 42 });
    expect(decisionOf(again)).toMatchObject({ decision: "approval_required", approval: { id, status: "pending" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await outboxSize()).toBe(0);
    expect(await received(path)).toHaveLength(1);
  });

  it("a receiver failing twice gets it on the third attempt, the same delivery each time, after 30 s and 1 min of backoff", async () => {
    const path = `/fail-then-ok/2/${newTag()}`;
    const { gw, id } = await pendingApproval(path);

    for (const attempt of [1, 2]) {
      if (attempt > 1) await retryNow(id);
      const row = (await attemptOver(id, attempt)) as OutboxRow;
      expect(row).toMatchObject({ attempts: attempt, last_error: "HTTP 500", sending_since: null });
      const wait = row.next_attempt_at - Date.now();
      expect(wait).toBeGreaterThan(retryDelayMs(attempt) - 5_000);
      expect(wait).toBeLessThanOrEqual(retryDelayMs(attempt));
      expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("pending");
    }
    expect(retryDelayMs(1)).toBe(30_000);
    expect(retryDelayMs(2)).toBe(60_000);
    await retryNow(id);
    expect(await outboxRow(id)).toBeUndefined();

    const deliveries = await received(path);
    expect(deliveries.map((entry) => entry.status)).toEqual([500, 500, 200]);
    expect(new Set(deliveries.map((entry) => entry.headers["x-delivery-id"]))).toEqual(new Set([deliveryIdFor(id)]));
    expect(new Set(deliveries.map((entry) => entry.body)).size).toBe(1);
    for (const entry of deliveries) expect(await verifies(env.APPROVAL_WEBHOOK_SECRET!, entry)).toBe(true);
  });

  it("a receiver that is always down: the approval stays pending, listed and approvable; delivery stops after six attempts, logged without the secret", async () => {
    const errors = vi.spyOn(console, "error");
    const path = `/down/${newTag()}`;
    const { gw, agent, id } = await pendingApproval(path);

    await attemptOver(id, 1);
    for (let attempt = 2; attempt <= WEBHOOK_MAX_ATTEMPTS; attempt++) {
      await retryNow(id);
      const row = await attemptOver(id, attempt);
      if (attempt < WEBHOOK_MAX_ATTEMPTS) expect(row).toMatchObject({ attempts: attempt, last_error: "HTTP 503" });
      else expect(row).toBeUndefined();
    }
    expect(WEBHOOK_MAX_ATTEMPTS).toBe(6);
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000]);
    // Given up: nothing is left to send, whatever alarm runs next.
    await runDurableObjectAlarm(index());
    expect((await received(path)).map((entry) => entry.status)).toEqual(Array(WEBHOOK_MAX_ATTEMPTS).fill(503));

    const logged = errors.mock.calls.map((call) => JSON.stringify(call));
    const mine = logged.filter((line) => line.includes(id));
    expect(mine.filter((line) => line.includes("attempt failed"))).toHaveLength(WEBHOOK_MAX_ATTEMPTS - 1);
    expect(mine.filter((line) => line.includes("given up"))).toHaveLength(1);
    expect(mine.at(-1)).toContain('"attempt":6');
    expect(mine.at(-1)).toContain('"status":503');
    expect(logged.some((line) => line.includes(env.APPROVAL_WEBHOOK_SECRET!))).toBe(false);
    expect(logged.some((line) => line.includes(env.WEBHOOK_SINK_URL))).toBe(false);

    const pending = await admin(gw, "/approvals?status=pending");
    expect(pending.status).toBe(200);
    expect(pending.body.approvals.map((approval: ApprovalRecord) => approval.id)).toContain(id);
    expect(await admin(gw, `/approvals/${id}/approve`, { method: "POST", body: JSON.stringify({ by: "alice" }) })).toMatchObject({
      status: 200,
      body: { id, status: "approved", decidedBy: "alice" },
    });
    const retry = await agent.call("send_campaign", { campaignId: 42 });
    expect(retry.result?.isError).toBeFalsy();
    expect((await admin(gw, `/approvals/${id}`)).body.status).toBe("consumed");
  });

  it("a notice still due when its approval was decided is dropped unsent", async () => {
    const path = `/fail-then-ok/1/${newTag()}`;
    const { gw, id } = await pendingApproval(path);
    await attemptOver(id, 1);
    expect((await admin(gw, `/approvals/${id}/deny`, { method: "POST", body: "{}" })).status).toBe(200);
    // The grant's object reports the decision to the index off the operator's path.
    await eventually(
      () => admin(gw, "/approvals?status=denied"),
      (list) => list.body.approvals.some((approval: ApprovalRecord) => approval.id === id),
    );
    await retryNow(id);
    expect(await outboxRow(id)).toBeUndefined();
    expect((await received(path)).map((entry) => entry.status)).toEqual([500]);
  });
});

describe("the index's webhook settings", () => {
  /** The ApprovalIndex class on a fresh object's real storage, constructed with these settings. */
  async function indexWith(vars: { APPROVAL_WEBHOOK_URL?: string | undefined; APPROVAL_WEBHOOK_SECRET?: string | undefined }, records: ApprovalRecord[]) {
    const stub = env.APPROVAL_INDEX.getByName(`settings-${crypto.randomUUID()}`);
    const listed = await runInDurableObject(stub, async (_instance, state) => {
      const instance = new ApprovalIndex(state, { ...env, ...vars } as Env);
      await instance.upsert(records.map((record) => ({ record, revision: 1 })));
      return (await instance.list({ status: "pending", limit: 50 })).approvals;
    });
    return { stub, listed };
  }

  it("without APPROVAL_WEBHOOK_URL (unset or empty) nothing is queued or sent; the approval is recorded as usual", async () => {
    for (const url of [undefined, "", "  "]) {
      const record = fakeApproval(`/ok/${newTag()}`);
      const { stub, listed } = await indexWith({ APPROVAL_WEBHOOK_URL: url }, [record]);
      expect(listed.map((approval) => approval.id)).toEqual([record.id]);
      expect(await outboxSize(stub)).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await received(record.grant.label)).toEqual([]);
    }
  });

  it("without APPROVAL_WEBHOOK_SECRET the webhook is sent unsigned, with a one-time warning", async () => {
    const warnings = vi.spyOn(console, "warn");
    const path = `/ok/${newTag()}`;
    const records = [fakeApproval(path), fakeApproval(path)];
    await indexWith({ APPROVAL_WEBHOOK_URL: new URL(path.slice(1), env.WEBHOOK_SINK_URL).href, APPROVAL_WEBHOOK_SECRET: undefined }, records);
    const deliveries = await eventually(() => received(path), (list) => list.length >= 2);
    expect(deliveries.map((entry) => entry.headers["x-approval-id"]).sort()).toEqual(records.map((record) => record.id).sort());
    for (const entry of deliveries) {
      expect(entry.headers).not.toHaveProperty("x-signature-256");
      expect(entry.headers).not.toHaveProperty("x-signature-timestamp");
    }
    expect(warnings.mock.calls.filter((call) => String(call[0]).includes("APPROVAL_WEBHOOK_SECRET"))).toHaveLength(1);
  });

  it("only an approval's first report, while pending and live, sends a notice; a repeated report sends nothing", async () => {
    const path = `/ok/${newTag()}`;
    const [fresh, decidedFirst, lapsed] = [fakeApproval(path), fakeApproval(path), fakeApproval(path, { expiresAt: new Date(Date.now() - 1_000).toISOString() })];
    const stub = env.APPROVAL_INDEX.getByName(`reports-${crypto.randomUUID()}`);
    const settings = { ...env, APPROVAL_WEBHOOK_URL: new URL(path.slice(1), env.WEBHOOK_SINK_URL).href } as Env;
    const report = (entries: Array<{ record: ApprovalRecord; revision: number }>) =>
      runInDurableObject(stub, async (_instance, state) => new ApprovalIndex(state, settings).upsert(entries));

    await report([{ record: fresh, revision: 1 }]);
    await eventually(() => received(path), (list) => list.length > 0);
    // The grant's object sends a report again when it did not hear back: the index already has it.
    await report([{ record: fresh, revision: 1 }]);
    await report([{ record: { ...decidedFirst, status: "approved" }, revision: 2 }]);
    await report([{ record: decidedFirst, revision: 1 }]);
    await report([{ record: lapsed, revision: 1 }]);
    expect(await outboxSize(stub)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await received(path)).map((entry) => entry.headers["x-approval-id"])).toEqual([fresh.id]);
  });
});

describe("the chat line", () => {
  it("summarises the arguments (long values cut, extra ones counted) in code spans, escaped the way Slack asks", () => {
    const record = fakeApproval("ops <!channel> & co", {
      tool: "trigger_campaign",
      arguments: { campaignId: 7, note: `${"x".repeat(100)}\nsecond line`, html: "<a href=x>", d: 1, e: 2, f: 3 },
    });
    const text = approvalText(record);
    expect(text).toBe(
      `<${record.url}|Approval needed>: \`trigger_campaign\` for grant \`ops &lt;!channel&gt; &amp; co\` with \`campaignId=7, note="${"x".repeat(38)}…, html="&lt;a href=x&gt;", d=1, +2 more\`, expires ${record.expiresAt}`,
    );
    expect(approvalText({ ...record, arguments: {} })).toBe(`<${record.url}|Approval needed>: \`trigger_campaign\` for grant \`ops &lt;!channel&gt; &amp; co\` with no arguments, expires ${record.expiresAt}`);
  });
});

describe("the webhook can carry a fake approval link (issue 16, defect 8)", () => {
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

  it("the webhook can carry a fake approval link: Slack markup, bare URLs and bidi overrides in the label, tool and arguments stay text in code spans; the one link is the real one, first", () => {
    const record = fakeApproval(`<https://evil.example|Approve here> <!channel> \u202Egnp.exe ${"y".repeat(80)}`, {
      tool: "send`<@U123>`*bold*",
      arguments: { "to<!here>": "https://evil.example/approve?x=1&y=2", note: "`<https://evil.example|click>`\u2066\u0007" },
    });
    const text = approvalText(record);
    const label = "&lt;https://evil.example|Approve here&gt; &lt;!channel&gt; gnp.exe " + "y".repeat(LABEL_CHARS - 1 - "<https://evil.example|Approve here> <!channel> gnp.exe ".length) + "…";
    expect(text).toBe(
      `<${record.url}|Approval needed>: \`send\u02cb&lt;@U123&gt;\u02cb*bold*\` for grant \`${label}\` with \`to&lt;!here&gt;="https://evil.example/approve?x=1&amp;y=2", note="\u02cb&lt;https://evil.example|click&gt;\u02cb\\u0007"\`, expires ${record.expiresAt}`,
    );
    // Slack reads only `<…>` as links and mentions: there is one, the approval page, and it comes first.
    expect(text.match(/<[^>]*>/g)).toEqual([`<${record.url}|Approval needed>`]);
    expect(text.startsWith(`<${record.url}|`)).toBe(true);
    // Three code spans (tool, label, arguments), none closed early by the agent's backticks.
    expect(text.split("`")).toHaveLength(7);
    expect(text).not.toMatch(HIDDEN);
  });

  it("the webhook can carry a fake approval link: the payload's record stays faithful, clipped where large; its text is the escaped line", () => {
    const label = `<!here> \u202E${"z".repeat(1_000)}`;
    const record = fakeApproval(label, { tool: "t\u0007", session: "s".repeat(300), arguments: { to: "<!channel>", n: 1 } });
    const payload = JSON.parse(pendingPayload(record)) as { type: string; approval: Record<string, unknown>; text: string };
    expect(payload.text).toBe(approvalText(record));
    expect(payload.approval).toEqual({
      ...record,
      grant: { id: record.grant.id, label: `${label.slice(0, RECORD_TEXT_CHARS - 1)}…` },
      session: `${"s".repeat(RECORD_TEXT_CHARS - 1)}…`,
    });
  });

  it("the webhook can carry a fake approval link: whatever an agent or client sends, the body stays under WEBHOOK_BODY_MAX_BYTES; large arguments are summarised", () => {
    let largest = 0;
    // The worst of both: the record's clip is all controls (6 bytes each in JSON), what the chat line shows after them all `&` (5 bytes).
    const worst = `${"\u0001".repeat(RECORD_TEXT_CHARS)}${"&".repeat(70_000)}`;
    for (const filler of ["&", "<", '"', "\\", "\u0001", "\u202E", "\ud800", "\u{1D54F}", "é", "`", worst]) {
      const huge = filler === worst ? worst : filler.repeat(70_000);
      const strings = { tool: huge, session: huge, policy: { name: huge, version: huge }, note: huge, decidedBy: huge };
      const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${huge.slice(0, 2_000)}${i}`, huge]));
      // Just small enough to go inline (its JSON is exactly INLINE_ARGUMENTS_BYTES), with every argument the chat line shows at full width in `&`.
      const inline: Record<string, string> = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`${"&".repeat(40)}${i}`, "&".repeat(40)]));
      inline["&".repeat(40) + 4] += "&".repeat(INLINE_ARGUMENTS_BYTES - new TextEncoder().encode(JSON.stringify(inline)).length);
      expect(new TextEncoder().encode(JSON.stringify(inline)).length).toBe(INLINE_ARGUMENTS_BYTES);
      for (const args of [many, inline]) {
        const record = fakeApproval(huge, { ...strings, arguments: args });
        const body = pendingPayload(record);
        largest = Math.max(largest, new TextEncoder().encode(body).length);
        const { approval } = JSON.parse(body) as { approval: Record<string, any> };
        for (const text of [approval.grant.label, approval.tool, approval.session, approval.policy.name, approval.policy.version, approval.note, approval.decidedBy]) {
          expect(Array.from(text as string)).toHaveLength(RECORD_TEXT_CHARS);
        }
        expect(approval).toMatchObject({ id: record.id, argumentsHash: record.argumentsHash, url: record.url, expiresAt: record.expiresAt });
        if (args === inline) expect(approval.arguments).toEqual(inline);
        else {
          expect(approval.arguments).toBeNull();
          expect(JSON.stringify(args).startsWith((approval.argumentsPreview as string).slice(0, -1))).toBe(true);
          expect(Array.from(approval.argumentsPreview as string).length).toBeLessThanOrEqual(ARGUMENTS_PREVIEW_CHARS);
        }
      }
    }
    // 17,707 bytes at the time of writing, with this 63-character approval URL.
    expect(largest).toBeGreaterThan(WEBHOOK_BODY_MAX_BYTES * 0.8);
    expect(largest).toBeLessThanOrEqual(WEBHOOK_BODY_MAX_BYTES);
  });

  it("the webhook can carry a fake approval link: the signature covers <timestamp>.<delivery id>.<body>; a changed timestamp, delivery id or body fails, a stale or repeated delivery is refused", async () => {
    const path = `/ok/${newTag()}`;
    const { id } = await pendingApproval(path);
    const [delivery] = (await eventually(() => received(path), (list) => list.length > 0)) as [Received];
    const secret = env.APPROVAL_WEBHOOK_SECRET!;
    const timestamp = Number(delivery.headers["x-signature-timestamp"]);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(10);
    expect(delivery.headers["x-delivery-id"]).toBe(deliveryIdFor(id));

    const seen = new Set<string>();
    expect(await verifyApprovalWebhook(asRequest(delivery), secret, seen)).toMatchObject({ ok: true, payload: { type: "approval.pending", approval: { id } } });
    expect(await verifyApprovalWebhook(asRequest(delivery), secret, seen)).toEqual({ ok: false, reason: "duplicate" });
    expect(await verifies(secret, delivery, { "x-signature-timestamp": String(timestamp + 1) })).toBe(false);
    expect(await verifies(secret, delivery, { "x-delivery-id": `${deliveryIdFor(id)}x` })).toBe(false);
    expect(await verifies(secret, delivery, { "x-signature-256": `sha256=${"0".repeat(64)}` })).toBe(false);
    // Older than 5 minutes: refused as a replay, though the signature is good.
    expect(await verifyApprovalWebhook(asRequest(delivery), secret, new Set(), (timestamp + 301) * 1000)).toEqual({ ok: false, reason: "stale" });
    expect(await verifies(secret, delivery, {}, (timestamp + 299) * 1000)).toBe(true);
  });

  it("the webhook can carry a fake approval link: a retried delivery is signed anew, with its own time, over the same delivery id and body", async () => {
    const path = `/fail-then-ok/1/${newTag()}`;
    const { id } = await pendingApproval(path);
    await attemptOver(id, 1);
    // The backoff elapses on the clock the index reads.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + retryDelayMs(1));
    expect(await runDurableObjectAlarm(index())).toBe(true);
    expect(await outboxRow(id)).toBeUndefined();

    const [first, second] = (await received(path)) as [Received, Received];
    expect([first.status, second.status]).toEqual([500, 200]);
    expect(second.headers["x-delivery-id"]).toBe(first.headers["x-delivery-id"]);
    expect(second.body).toBe(first.body);
    const [t1, t2] = [Number(first.headers["x-signature-timestamp"]), Number(second.headers["x-signature-timestamp"])];
    expect(t2 - t1).toBeGreaterThanOrEqual(retryDelayMs(1) / 1000 - 1);
    expect(t2 - t1).toBeLessThanOrEqual(retryDelayMs(1) / 1000 + 10);
    expect(second.headers["x-signature-256"]).not.toBe(first.headers["x-signature-256"]);
    const secret = env.APPROVAL_WEBHOOK_SECRET!;
    expect(await verifies(secret, second)).toBe(true);
    expect(await verifies(secret, first, {}, t1 * 1000)).toBe(true);
    // The first attempt's signature does not carry over to the retry's time.
    expect(await verifies(secret, first, { "x-signature-timestamp": String(t2) })).toBe(false);
  });
});

function fakeApproval(label: string, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const id = `apr_${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;
  const now = Date.now();
  return {
    id,
    grant: { id: `grant-${crypto.randomUUID()}`, label },
    tool: "send_campaign",
    arguments: { campaignId: 1 },
    params: null,
    argumentsHash: "0".repeat(64),
    policy: { name: "p", version: "v1" },
    session: null,
    status: "pending",
    requestedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    decidedAt: null,
    decidedBy: null,
    note: null,
    url: `https://gateway.test/admin/approvals/${id}`,
    ...overrides,
  };
}
