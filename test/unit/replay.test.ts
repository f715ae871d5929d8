import { describe, expect, it } from "vitest";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import { replay } from "../../src/policy/replay.ts";
import { PolicySchema, type PolicyInput } from "../../src/policy/schema.ts";

const T0 = Date.parse("2026-11-25T10:00:00.000Z");
const MINUTE = 60_000;

const policy = (input: PolicyInput) => PolicySchema.parse(input);

let sequence = 0;

/** A call record as the gateway writes it; `args` are kept (audit full) only when `full` is set. */
function call(tool: string, at: number, overrides: Partial<CallRecord> & { args?: Record<string, unknown>; full?: boolean } = {}): CallRecord {
  const { args = {}, full = false, ...rest } = overrides;
  sequence += 1;
  return {
    kind: "call",
    id: `aud_${String(sequence).padStart(9, "0")}`,
    time: new Date(at).toISOString(),
    requestId: sequence,
    grant: { id: "g_replaytest0", label: "replay" },
    session: "s1",
    tool,
    decision: "allow",
    rule: "/default",
    reason: null,
    policy: { name: "recorded", version: "0123456789abcdef" },
    wouldRefuse: false,
    argumentKeys: Object.keys(args),
    argumentsHash: "0".repeat(64),
    ...(full ? { arguments: args } : {}),
    approval: null,
    upstream: { status: 200, latencyMs: 5 },
    gatewayMs: 1,
    ...rest,
    // What the policy decided: the record's decision, unless the upstream then failed.
    policyDecision: rest.policyDecision ?? (rest.decision === "upstream_error" || rest.decision === "upstream_timeout" ? "allow" : (rest.decision ?? "allow")),
  };
}

const ALLOW_ALL = policy({ version: "1", default: "allow" });

describe("policy replay: recorded calls decided again under a candidate", () => {
  it("tightening (default allow → deny with one tool allowed) flips the other tools' allowed calls to denied", () => {
    const records = [call("get_campaigns", T0), call("get_lists", T0 + 1_000), call("send_campaign", T0 + 2_000, { args: { campaignId: 7 } })];
    const report = replay(records, policy({ version: "1", default: "deny", tools: { get_campaigns: {} } }));

    expect(report.calls).toBe(3);
    expect(report.counts).toEqual({ unchanged: 1, "allowed → denied": 2 });
    expect(report.changes).toEqual([
      expect.objectContaining({ change: "allowed → denied", tool: "get_lists", recorded: "allow", candidate: "deny", rule: "/default", reason: "tool get_lists is not allowed by this policy (default: deny)" }),
      expect.objectContaining({ change: "allowed → denied", tool: "send_campaign", time: new Date(T0 + 2_000).toISOString() }),
    ]);
    expect(report.notes).toEqual([]);
  });

  it("reads the records oldest first whatever their order, and skips operators' records", () => {
    const admin: AuditRecord = { kind: "admin", id: "aud_x", time: new Date(T0).toISOString(), grant: null, action: "policy.push", by: "ops", target: "p", detail: {} };
    const records = [call("get_lists", T0 + 2_000), admin, call("get_campaigns", T0)];
    const report = replay(records, policy({ version: "1", default: "deny" }));
    expect(report).toMatchObject({ calls: 2, first: new Date(T0).toISOString(), last: new Date(T0 + 2_000).toISOString() });
    expect(report.changes.map((change) => change.tool)).toEqual(["get_campaigns", "get_lists"]);
  });

  it("adding an approve rule: calls that ran without a human now need one", () => {
    const records = [call("send_campaign", T0, { args: { campaignId: 7 } }), call("get_campaigns", T0 + 1)];
    const report = replay(records, policy({ version: "1", default: "allow", tools: { "@sends": { action: "approve" } } }));
    expect(report.counts).toEqual({ "allowed → newly needs approval": 1, unchanged: 1 });
    expect(report.changes[0]).toMatchObject({ tool: "send_campaign", recorded: "allow", candidate: "approval_required", rule: "/tools/@sends/action" });
  });

  it("a limit of 2 an hour over 5 calls within the hour: the last 3 are newly limited", () => {
    const records = [0, 5, 10, 20, 40].map((minutes) => call("get_lists", T0 + minutes * MINUTE));
    const candidate = policy({ version: "1", default: "allow", tools: { get_lists: { limits: [{ counter: "lists", window: "hour", max: 2 }] } } });
    const report = replay(records, candidate);
    expect(report.counts).toEqual({ unchanged: 2, "allowed → newly limited": 3 });
    expect(report.changes.map((change) => change.time)).toEqual([10, 20, 40].map((minutes) => new Date(T0 + minutes * MINUTE).toISOString()));
    expect(report.changes[0]).toMatchObject({ candidate: "rate_limited", rule: "/tools/get_lists/limits/0", reason: 'limit "lists" allows 2 per 3600 s and 2 are used' });
    expect(report.notes.join("\n")).toContain("limits count from zero at the first replayed call");

    // Sliding: an hour after the first call, one fits again; calendar: a new UTC hour starts afresh.
    const later = [...records, call("get_lists", T0 + 61 * MINUTE)];
    expect(replay(later, candidate).counts).toEqual({ unchanged: 3, "allowed → newly limited": 3 });
    const calendar = policy({ version: "1", default: "allow", tools: { get_lists: { limits: [{ counter: "lists", window: "hour", max: 2, align: "calendar" }] } } });
    const split = [call("get_lists", T0 + 58 * MINUTE), call("get_lists", T0 + 59 * MINUTE), call("get_lists", T0 + 59.5 * MINUTE), call("get_lists", T0 + 60 * MINUTE)];
    expect(replay(split, calendar).changes.map((change) => change.time)).toEqual([new Date(T0 + 59.5 * MINUTE).toISOString()]);
  });

  it("counts only what the candidate would forward, shares counters across tools, and keeps sessions apart", () => {
    const shared = policy({
      version: "1",
      default: "deny",
      tools: {
        get_lists: { limits: [{ counter: "reads", window: "hour", max: 2 }] },
        get_campaigns: { limits: [{ counter: "reads", window: "hour", max: 2 }] },
      },
    });
    // get_templates is denied by the candidate: it takes nothing from the shared counter.
    const records = [call("get_templates", T0), call("get_lists", T0 + 1), call("get_templates", T0 + 2), call("get_campaigns", T0 + 3), call("get_lists", T0 + 4)];
    expect(replay(records, shared).changes.map((change) => `${change.tool} ${change.change}`)).toEqual([
      "get_templates allowed → denied",
      "get_templates allowed → denied",
      "get_lists allowed → newly limited",
    ]);

    const perSession = policy({ version: "1", default: "allow", all_tools: { limits: [{ counter: "calls", window: "hour", max: 1, scope: "session" }] } });
    const sessions = [call("get_lists", T0, { session: "a" }), call("get_lists", T0 + 1, { session: "b" }), call("get_lists", T0 + 2, { session: "a" })];
    expect(replay(sessions, perSession).changes).toEqual([expect.objectContaining({ session: "a", change: "allowed → newly limited", rule: "/all_tools/limits/0" })]);
  });

  it("a deny_if on an argument's value cannot be told from records that kept only the keys", () => {
    const candidate = policy({
      version: "1",
      default: "allow",
      tools: { send_campaign: { deny_if: [{ conditions: [{ path: "args.campaignId", op: "in", value: [13] }], on_deny: "not campaign 13" }] } },
    });
    const records = [call("send_campaign", T0, { args: { campaignId: 13 } }), call("send_campaign", T0 + 1, { args: { dataFields: {} } }), call("get_lists", T0 + 2)];
    const report = replay(records, candidate);
    // Without campaignId the condition is false whatever the values are: that call is decided.
    expect(report.counts).toEqual({ "cannot tell": 1, unchanged: 2 });
    expect(report.changes).toEqual([
      expect.objectContaining({
        change: "cannot tell",
        candidate: null,
        rule: "/tools/send_campaign/deny_if/0/conditions/0",
        reason: 'a "in" condition reads args.campaignId, and the record kept only the argument keys (campaignId)',
      }),
    ]);
    expect(report.notes[0]).toContain('"audit": {"arguments": "full"}');
  });

  it("the same rule on records that kept their arguments (audit full) is decided", () => {
    const candidate = policy({
      version: "1",
      default: "allow",
      tools: { send_campaign: { deny_if: [{ conditions: [{ path: "args.campaignId", op: "in", value: [13] }], on_deny: "not campaign 13" }] } },
    });
    const records = [call("send_campaign", T0, { args: { campaignId: 13 }, full: true }), call("send_campaign", T0 + 1, { args: { campaignId: 14 }, full: true })];
    const report = replay(records, candidate);
    expect(report.counts).toEqual({ "allowed → denied": 1, unchanged: 1 });
    expect(report.changes[0]).toMatchObject({ recorded: "allow", candidate: "deny", rule: "/tools/send_campaign/deny_if/0", reason: "not campaign 13" });
  });

  it("keys answer `exists`, and a limit that counts by a present argument's value cannot be told", () => {
    const exists = policy({ version: "1", default: "allow", tools: { send_campaign: { require: [{ conditions: [{ path: "args.campaignId", op: "exists", value: true }] }] } } });
    const records = [call("send_campaign", T0, { args: { campaignId: 1 } }), call("send_campaign", T0 + 1, { args: {} })];
    expect(replay(records, exists).changes).toEqual([expect.objectContaining({ change: "allowed → denied", rule: "/tools/send_campaign/require/0", time: new Date(T0 + 1).toISOString() })]);

    const counted = policy({ version: "1", default: "allow", tools: { trigger_journey: { limits: [{ counter: "lists", window: "day", max: 10, increment_from: "args.listIds" }] } } });
    const fanout = [call("trigger_journey", T0, { args: { journeyId: 1, listIds: [1, 2] } }), call("trigger_journey", T0 + 1, { args: { journeyId: 1 } })];
    expect(replay(fanout, counted).changes).toEqual([
      expect.objectContaining({ change: "cannot tell", rule: "/tools/trigger_journey/limits/0/increment_from", time: new Date(T0).toISOString() }),
    ]);
    const full = [0, 1, 2].map((n) => call("trigger_journey", T0 + n, { args: { journeyId: n, listIds: [1, 2, 3, 4] }, full: true }));
    expect(replay(full, counted).changes).toEqual([expect.objectContaining({ change: "allowed → newly limited", reason: 'limit "lists" allows 10 per 86400 s and 8 are used' })]);
  });

  it("loosening: calls the recorded policy denied are allowed, if their arguments fit the tool's schema", () => {
    const denied = (tool: string, at: number) => call(tool, at, { decision: "deny", rule: "/default", reason: `tool ${tool} is not allowed by this policy (default: deny)`, upstream: null });
    const records = [denied("get_lists", T0), denied("delete_list", T0 + 1), call("get_campaigns", T0 + 2)];
    const report = replay(records, policy({ version: "1", default: "deny", tools: { "@read": {} } }));
    expect(report.counts).toEqual({ "denied → allowed": 1, unchanged: 2 });
    expect(report.changes[0]).toMatchObject({ tool: "get_lists", recorded: "deny", candidate: "allow", rule: "/tools/@read" });
    expect(report.changes[0]?.reason).toContain("if the arguments fit the tool's inputSchema");

    // Arguments the schema refused stay refused; a tool the upstream lacks stays unknown.
    const refused = [
      call("get_lists", T0, { decision: "invalid_arguments", rule: "/default", reason: "listId: expected number", upstream: null }),
      call("no_such_tool", T0 + 1, { decision: "unknown_tool", rule: "/default", reason: "the upstream has no such tool", upstream: null }),
    ];
    expect(replay(refused, ALLOW_ALL).counts).toEqual({ unchanged: 2 });
  });

  it("removing an approval rule: approved and pending calls would run without a human", () => {
    const approval = policy({ version: "1", default: "allow", tools: { "@sends": { action: "approve" } } });
    const records = [
      call("send_campaign", T0, { args: { campaignId: 1 }, decision: "approval_required", rule: "/tools/@sends/action", upstream: null }),
      call("send_campaign", T0 + 1, { args: { campaignId: 1 }, decision: "approved", rule: "/tools/@sends/action", approval: "apr_x" }),
    ];
    // The very policy that recorded them changes nothing: the approved call is assumed approved again.
    expect(replay(records, approval).counts).toEqual({ unchanged: 2 });
    expect(replay(records, ALLOW_ALL).counts).toEqual({ "needs approval → allowed": 2 });
  });

  it("monitor records (wouldRefuse) compare what they would have decided", () => {
    const monitor = policy({ version: "1", default: "deny", mode: "monitor", tools: { "@read": {} } });
    const records = [
      call("get_lists", T0),
      call("send_campaign", T0 + 1, { args: { campaignId: 1 }, decision: "deny", rule: "/default", reason: "tool send_campaign is not allowed by this policy (default: deny)", wouldRefuse: true }),
      // An upstream failure keeps the decision it followed only in its reason.
      call("send_campaign", T0 + 2, { args: { campaignId: 2 }, decision: "upstream_error", policyDecision: "deny", rule: "/default", reason: "the upstream failed (the policy's decision: deny)", wouldRefuse: true, upstream: { status: 502, latencyMs: 3 } }),
    ];
    expect(replay(records, monitor).counts).toEqual({ unchanged: 3 });
    expect(replay(records, { ...monitor, mode: "enforce" }).counts).toEqual({ unchanged: 3 });
    const report = replay(records, ALLOW_ALL);
    expect(report.counts).toEqual({ unchanged: 1, "denied → allowed": 2 });
    expect(report.changes.map((change) => change.recorded)).toEqual(["deny", "deny"]);
  });

  it("a monitor candidate counts every call it would forward, over its limit or not", () => {
    const watch = policy({ version: "1", default: "allow", mode: "monitor", all_tools: { limits: [{ counter: "all", window: "minute", max: 1 }] } });
    const report = replay([call("get_lists", T0), call("get_lists", T0 + 1), call("get_lists", T0 + 2)], watch);
    expect(report.changes.map((change) => change.reason)).toEqual(['limit "all" allows 1 per 60 s and 1 are used', 'limit "all" allows 1 per 60 s and 2 are used']);
  });

  it("no records: nothing to replay, nothing changes", () => {
    expect(replay([], ALLOW_ALL)).toEqual({ calls: 0, first: null, last: null, counts: {}, changes: [], notes: [] });
  });
});

describe("policy replay with per-server sections", () => {
  const SECTIONED = policy({
    version: "1",
    default: "allow",
    all_tools: { limits: [{ counter: "calls", window: "hour", max: 1 }] },
    servers: { crm: { default: "allow", tools: { send_x: { action: "deny" } }, all_tools: { limits: [{ counter: "calls", window: "hour", max: 1 }] } } },
  });

  it("decides each call under the section of the server its record names, its rule pointing into the section", () => {
    const report = replay([call("send_x", T0, { server: "iterable" }), call("send_x", T0 + 1_000, { server: "crm" })], policy({ version: "1", default: "allow", servers: { crm: { default: "allow", tools: { send_x: { action: "deny" } } } } }));
    expect(report.counts).toEqual({ unchanged: 1, "allowed → denied": 1 });
    expect(report.changes).toEqual([expect.objectContaining({ tool: "send_x", server: "crm", candidate: "deny", rule: "/servers/crm/tools/send_x/action" })]);
  });

  it("counts limits of the same counter name per server, as the gateway does", () => {
    const records = [call("get_x", T0, { server: "iterable" }), call("get_x", T0 + 1_000, { server: "crm" }), call("get_x", T0 + 2_000, { server: "crm" })];
    const report = replay(records, SECTIONED);
    expect(report.counts).toEqual({ unchanged: 2, "allowed → newly limited": 1 });
    expect(report.changes).toEqual([expect.objectContaining({ server: "crm", candidate: "rate_limited", rule: "/servers/crm/all_tools/limits/0" })]);
  });

  it("a global limit counts across servers", () => {
    const global = { all_tools: { limits: [{ counter: "calls", window: "hour" as const, max: 1, scope: "global" as const }] } };
    const report = replay([call("get_x", T0, { server: "iterable" }), call("get_x", T0 + 1_000, { server: "crm" })], policy({ version: "1", default: "allow", ...global, servers: { crm: { default: "allow", ...global } } }));
    expect(report.changes).toEqual([expect.objectContaining({ server: "crm", candidate: "rate_limited" })]);
  });

  it("with a server given, decides every record as that server's (records recorded before servers were named included)", () => {
    const report = replay([call("send_x", T0)], SECTIONED, { server: "crm" });
    expect(report.changes).toEqual([expect.objectContaining({ server: null, candidate: "deny", rule: "/servers/crm/tools/send_x/action" })]);
    expect(report.notes.some((note) => note.includes("recorded before records named their server"))).toBe(false);
  });

  it("says so when records that name no server were decided under the top level of a policy with sections", () => {
    const report = replay([call("get_x", T0)], SECTIONED);
    expect(report.notes).toContain(
      "1 call was recorded before records named their server and was decided under the top level: to decide them under the default server's section, replay that server alone (--server)",
    );
  });
});
