/**
 * What one agent can put into the audit trail and the gateway's log, and
 * what an operator's view of it costs then: every record is bounded, pages
 * and exports are bounded by bytes as well as count, and a batch that cannot
 * be stored is split rather than lost.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RECORD_MAX_BYTES } from "../../src/audit/bounds.ts";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { AuditService } from "../../src/audit/service.ts";
import { AuditWriter } from "../../src/audit/writer.ts";
import { AuditLog } from "../../src/grant-object/audit.ts";
import { createGrant, gateway, newTag, putPolicy, rawAgent, signInCookie, type Gateway } from "./gateway.ts";

afterEach(() => vi.restoreAllMocks());

const ORIGIN = "https://gateway.test";
const FULL = { version: "1", default: "allow", audit: { arguments: "full" } };

async function api(gw: Gateway, path: string, headers: Record<string, string> = {}) {
  return gw.fetch(`${ORIGIN}/admin/api${path}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, ...headers } });
}

async function trailOf(gw: Gateway, grantId: string, atLeast: number): Promise<AuditRecord[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const records: AuditRecord[] = [];
    let cursor: string | null = null;
    do {
      const response = await api(gw, `/grants/${grantId}/audit?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { records: AuditRecord[]; cursor: string | null };
      records.push(...page.records);
      cursor = page.cursor;
    } while (cursor);
    if (records.length >= atLeast || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("one agent takes the audit trail down for everyone (issue 16, defect 3)", () => {
  it("40 calls with 900 KB tool names and 40 with 900 KB arguments (audit: full): the trail, its NDJSON export and the decisions page answer 200 within seconds; each record and log line is bounded", async () => {
    const logged: string[] = [];
    const original = console.log;
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
    const { token, record: grant } = await createGrant(await putPolicy(FULL as never), { label: `bounds-${newTag()}` });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    const longName = `x${"n".repeat(900_000)}`;
    const bigArguments = { eventName: "e", dataFields: { blob: "a".repeat(900_000) } };
    for (let i = 0; i < 40; i++) {
      const named = await agent.call(`${longName}${i}`, {});
      expect(named.error?.code, "a tool name past 128 characters is invalid params").toBe(-32602);
      await agent.call("track_event", { ...bigArguments, id: `e${i}` });
    }
    const records = await trailOf(gw, grant.id, 80);
    expect(records.length).toBeGreaterThanOrEqual(80);
    for (const record of records) expect(JSON.stringify(record).length).toBeLessThanOrEqual(RECORD_MAX_BYTES);
    const tracked = records.filter((record): record is CallRecord => record.kind === "call" && record.tool === "track_event");
    expect(tracked).toHaveLength(40);
    expect(tracked[0]).not.toHaveProperty("arguments");
    expect(tracked[0]!.argumentsBytes).toBeGreaterThan(900_000);
    expect(tracked[0]!.argumentsPreview!.length).toBeLessThanOrEqual(1024);
    const named = records.filter((record): record is CallRecord => record.kind === "call" && record.tool.startsWith("xn"));
    expect(named).toHaveLength(40);
    for (const record of named) expect(record.tool.length).toBeLessThanOrEqual(256);

    const started = Date.now();
    const merged = await api(gw, "/audit?limit=1000");
    expect(merged.status).toBe(200);
    expect((await merged.text()).length).toBeLessThan(2 * 1024 * 1024);
    const ndjson = await api(gw, `/grants/${grant.id}/audit`, { accept: "application/x-ndjson" });
    expect(ndjson.status).toBe(200);
    const lines = (await ndjson.text()).trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(80);
    const everything = await api(gw, "/audit", { accept: "application/x-ndjson" });
    expect(everything.status).toBe(200);
    await everything.body?.cancel();
    const cookie = await signInCookie(gw);
    expect((await gw.fetch(`${ORIGIN}/admin/decisions?grant=${grant.id}`, { headers: { cookie } })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);

    // The gateway's own log never held what the agent sent whole.
    console.log = original;
    for (const line of logged) expect(line.length, line.slice(0, 120)).toBeLessThan(RECORD_MAX_BYTES + 1024);
  });

  it("a page of the trail ends at about 1 MiB of records whatever the count asked, and the cursor then goes on from the last one sent", async () => {
    const stub = env.GRANT_OBJECT.getByName(`bounds-page-${newTag()}`);
    const now = Date.now();
    const records: AuditRecord[] = Array.from({ length: 40 }, (_, i) => callRecord(`aud_${String(now - i).padStart(13, "0")}${i}`, now - i, { arguments: { blob: "b".repeat(60_000) } }));
    const pages = await runInDurableObject(stub, (_instance, state) => {
      const log = new AuditLog(state.storage.sql);
      log.append(records);
      const walked = [log.query({ limit: 1000 })];
      while (walked.at(-1)!.next && walked.length < 100) walked.push(log.query({ limit: 1000, before: walked.at(-1)!.next }));
      return walked;
    });
    expect(pages.length).toBeGreaterThanOrEqual(3); // 40 records of 60 KB: 2.4 MB
    for (const page of pages) expect(JSON.stringify(page.records).length).toBeLessThan(1024 * 1024 + RECORD_MAX_BYTES);
    expect(pages.flatMap((page) => page.records.map((record) => record.id))).toEqual(records.map((record) => record.id));
  });

  it("the merged trail of several grants, cut by bytes, misses and repeats nothing as its cursor goes on", async () => {
    const [a, b] = await Promise.all([createGrant(await putPolicy(FULL as never)), createGrant(await putPolicy(FULL as never))]);
    const now = Date.now();
    const written = { [a.record.id]: [] as string[], [b.record.id]: [] as string[] };
    for (const [index, grant] of [a, b].entries()) {
      const records = Array.from({ length: 30 }, (_, i) => callRecord(`aud_${String(now - 2 * i - index).padStart(13, "0")}${index}${i}`, now - 2 * i - index, { grant: { id: grant.record.id, label: "x" }, arguments: { blob: "m".repeat(60_000) } }));
      await env.GRANT_OBJECT.getByName(grant.record.id).recordAudit(records);
      written[grant.record.id] = records.map((record) => record.id);
    }
    const seen: string[] = [];
    for await (const record of new AuditService(env).all(undefined, { limit: 1000 })) {
      if (record.grant?.id === a.record.id || record.grant?.id === b.record.id) seen.push(record.id);
    }
    expect(seen).toHaveLength(60);
    expect(new Set(seen)).toEqual(new Set([...written[a.record.id]!, ...written[b.record.id]!]));
  });

  it("a batch of records that cannot be stored is split, never dropped whole: only the record that fails is lost, and it is logged", async () => {
    const grantId = `bounds-split-${newTag()}`;
    const errors: unknown[][] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args));
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const poison = `aud_poison${newTag()}`;
    // The real grant objects, except that a batch holding the poison record is refused, as an RPC that failed.
    const namespace = {
      getByName: (name: string) => {
        const real = env.GRANT_OBJECT.getByName(name);
        return {
          recordAudit: async (batch: AuditRecord[]) => {
            if (batch.some((record) => record.id === poison)) throw new Error("simulated: the batch could not be stored");
            return real.recordAudit(batch);
          },
        };
      },
    } as unknown as DurableObjectNamespace<import("../../src/grant-object/grant-object.ts").GrantObject>;
    const writer = new AuditWriter(namespace);
    const now = Date.now();
    const ids = Array.from({ length: 9 }, (_, i) => (i === 4 ? poison : `aud_${String(now).padStart(13, "0")}${newTag().slice(0, 8)}${i}`));
    const waits: Promise<unknown>[] = [];
    for (const [i, id] of ids.entries()) writer.write(grantId, callRecord(id, now + i), (promise) => void waits.push(promise));
    await Promise.all(waits);
    const stored = await runInDurableObject(env.GRANT_OBJECT.getByName(grantId), (_instance, state) => new AuditLog(state.storage.sql).query({ limit: 100 }).records.map((record) => record.id));
    expect(new Set(stored)).toEqual(new Set(ids.filter((id) => id !== poison)));
    expect(errors.some((args) => String(args[0]).includes("audit record not stored") && JSON.stringify(args[1]).includes(poison))).toBe(true);
  });

  it("a record that cannot be finished is logged and left out; the rest of its batch is stored and logged, many to a line", async () => {
    const grantId = `bounds-finish-${newTag()}`;
    const errors: unknown[][] = [];
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args));
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const writer = new AuditWriter(env.GRANT_OBJECT);
    const now = Date.now();
    const ids = Array.from({ length: 5 }, (_, i) => `aud_${String(now).padStart(13, "0")}${newTag().slice(0, 8)}${i}`);
    const waits: Promise<unknown>[] = [];
    for (const [i, id] of ids.entries()) writer.write(grantId, async () => callRecord(id, now + i), (promise) => void waits.push(promise));
    writer.write(grantId, () => Promise.reject(new Error("simulated: the record could not be finished")), (promise) => void waits.push(promise));
    await Promise.all(waits);
    const stored = await runInDurableObject(env.GRANT_OBJECT.getByName(grantId), (_instance, state) => new AuditLog(state.storage.sql).query({ limit: 100 }).records.map((record) => record.id));
    expect(new Set(stored)).toEqual(new Set(ids));
    const logged = lines.filter((line) => line.startsWith('{"event":"audit","records":['));
    expect(logged).toHaveLength(1);
    expect((JSON.parse(logged[0]!) as { records: Array<{ id: string }> }).records.map((record) => record.id)).toEqual(ids);
    expect(errors.some((args) => String(args[0]).includes("audit record could not be written"))).toBe(true);
  });
});

function callRecord(id: string, at: number, extra: Partial<CallRecord> = {}): CallRecord {
  return {
    kind: "call",
    id,
    time: new Date(at).toISOString(),
    requestId: 1,
    grant: { id: "g", label: "l" },
    session: null,
    tool: "track_event",
    decision: "allow",
    policyDecision: "allow",
    rule: "/default",
    reason: null,
    policy: { name: "p", version: "v" },
    wouldRefuse: false,
    argumentKeys: ["blob"],
    argumentsHash: "0".repeat(64),
    approval: null,
    upstream: null,
    gatewayMs: 0,
    ...extra,
  };
}
