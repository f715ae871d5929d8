import { describe, expect, it } from "vitest";
import { decide, isListed, type ToolCall } from "../../src/policy/evaluate.ts";
import { PolicySchema, type PolicyInput } from "../../src/policy/schema.ts";
import { validatePolicyText } from "../../src/policy/validate.ts";
// PolicyLayer's recommended send_campaign policy, exactly as published.
import SEED_POLICY from "../../policies/examples/send-campaign-rate-limit.json";


function policy(input: PolicyInput) {
  return PolicySchema.parse(input);
}

function call(name: string, args: Record<string, unknown> = {}, tags: string[] = []): ToolCall {
  return { name, args, tags: new Set(tags) };
}

describe("the seed policy (PolicyLayer's send_campaign rule)", () => {
  const seed = policy(SEED_POLICY as PolicyInput);

  it("allows send_campaign with its per-grant limit of 10 a minute", () => {
    expect(decide(seed, call("send_campaign", { campaignId: 7 }))).toEqual({
      decision: "allow",
      rule: "/tools/send_campaign",
      limits: [
        {
          counter: "send_campaign_rate",
          window: "minute",
          max: 10,
          scope: "grant",
          align: "sliding",
          rule: "/tools/send_campaign/limits/0",
          amount: 1,
        },
      ],
    });
  });

  it("denies everything else by default", () => {
    expect(decide(seed, call("get_campaigns"))).toMatchObject({ decision: "deny", rule: "/default" });
    expect(decide(seed, call("delete_user_by_email", { email: "a@b.c" }))).toMatchObject({ decision: "deny" });
  });

  it("lists only send_campaign", () => {
    expect(isListed(seed, "send_campaign", new Set())).toBe(true);
    expect(isListed(seed, "get_campaigns", new Set())).toBe(false);
  });
});

describe("precedence", () => {
  it("with no policy, every call is denied", () => {
    expect(decide(undefined, call("get_campaigns"))).toMatchObject({ decision: "deny", rule: "" });
    expect(isListed(undefined, "get_campaigns", new Set())).toBe(false);
  });

  it("hide beats an exact allow, globs and tags", () => {
    const p = policy({
      version: "1",
      default: "allow",
      hide: ["delete_*", "@destructive", "send_email"],
      tools: { send_email: {}, delete_list: {} },
    });
    expect(decide(p, call("delete_list"))).toEqual({ decision: "hidden", rule: "/hide/0" });
    expect(decide(p, call("wipe", {}, ["destructive"]))).toEqual({ decision: "hidden", rule: "/hide/1" });
    expect(decide(p, call("send_email"))).toEqual({ decision: "hidden", rule: "/hide/2" });
    expect(isListed(p, "send_email", new Set())).toBe(false);
  });

  it('"*" hides every tool', () => {
    const p = policy({ version: "1", default: "allow", hide: ["*"] });
    expect(decide(p, call("anything"))).toMatchObject({ decision: "hidden" });
  });

  it("an exact name beats a glob, the longest glob beats a shorter one, a glob beats a tag, a tag beats default", () => {
    const p = policy({
      version: "1",
      default: "allow",
      tools: {
        "@sends": { action: "approve" },
        "send_*": { action: "deny", reason: "short glob" },
        "send_email*": { action: "deny", reason: "long glob" },
        send_email_template_proof: {},
        "@pii": { action: "deny", reason: "pii" },
      },
    });
    expect(decide(p, call("send_email_template_proof", {}, ["sends"]))).toMatchObject({
      decision: "allow",
      rule: "/tools/send_email_template_proof",
    });
    expect(decide(p, call("send_email", {}, ["sends"]))).toMatchObject({ decision: "deny", reason: "long glob" });
    expect(decide(p, call("send_sms", {}, ["sends"]))).toMatchObject({ decision: "deny", reason: "short glob" });
    expect(decide(p, call("trigger_journey", {}, ["sends", "pii"]))).toMatchObject({
      decision: "approve",
      rule: "/tools/@sends/action",
    });
    expect(decide(p, call("get_user", {}, ["pii"]))).toMatchObject({ decision: "deny", reason: "pii" });
    expect(decide(p, call("get_lists"))).toMatchObject({ decision: "allow", rule: "/default" });
  });

  it("the policy's own tags add to the catalog's", () => {
    const p = policy({ version: "1", default: "allow", hide: ["@internal"], tags: { debug_dump: ["internal"] } });
    expect(decide(p, call("debug_dump"))).toMatchObject({ decision: "hidden" });
  });

  it("action deny reports the entry's reason", () => {
    const p = policy({ version: "1", default: "allow", tools: { delete_user_by_email: { action: "deny", reason: "GDPR deletions go through the DPO" } } });
    expect(decide(p, call("delete_user_by_email"))).toEqual({
      decision: "deny",
      rule: "/tools/delete_user_by_email/action",
      reason: "GDPR deletions go through the DPO",
    });
    expect(isListed(p, "delete_user_by_email", new Set())).toBe(false);
  });
});

describe("argument rules", () => {
  const p = policy({
    version: "1",
    default: "deny",
    tools: {
      send_campaign: {
        require: [{ conditions: [{ path: "args.campaignId", op: "in", value: [101, 102] }], on_deny: "only campaigns 101 and 102" }],
        deny_if: [{ conditions: [{ path: "args.listIds", op: "len_gte", value: 3 }], on_deny: "at most 2 lists" }],
        approve_if: [{ conditions: [{ path: "args.campaignId", op: "eq", value: 102 }] }],
      },
    },
  });

  it("every require rule must hold", () => {
    expect(decide(p, call("send_campaign", { campaignId: 999 }))).toEqual({
      decision: "deny",
      rule: "/tools/send_campaign/require/0",
      reason: "only campaigns 101 and 102",
    });
    expect(decide(p, call("send_campaign", {}))).toMatchObject({ rule: "/tools/send_campaign/require/0" });
  });

  it("a matching deny_if denies", () => {
    expect(decide(p, call("send_campaign", { campaignId: 101, listIds: [1, 2, 3] }))).toMatchObject({
      decision: "deny",
      rule: "/tools/send_campaign/deny_if/0",
      reason: "at most 2 lists",
    });
  });

  it("a matching approve_if needs approval, otherwise the call is allowed", () => {
    expect(decide(p, call("send_campaign", { campaignId: 102 }))).toMatchObject({
      decision: "approve",
      rule: "/tools/send_campaign/approve_if/0",
    });
    expect(decide(p, call("send_campaign", { campaignId: 101, listIds: [1, 2] }))).toMatchObject({ decision: "allow" });
  });

  it("without on_deny the reason describes the rule", () => {
    const q = policy({
      version: "1",
      default: "allow",
      tools: { send_email: { deny_if: [{ conditions: [{ path: "args.recipientEmail", op: "regex", value: "@competitor\\.com$" }] }] } },
    });
    expect(decide(q, call("send_email", { recipientEmail: "x@competitor.com" }))).toMatchObject({
      reason: 'arguments match a denial rule: args.recipientEmail regex "@competitor\\\\.com$"',
    });
  });
});

describe("condition operators", () => {
  type Case = [op: string, value: unknown, actual: unknown, expected: boolean];
  const cases: Case[] = [
    ["eq", 5, 5, true],
    ["eq", { a: [1] }, { a: [1] }, true],
    ["eq", 5, "5", false],
    ["neq", 5, 6, true],
    ["neq", 5, 5, false],
    ["in", [1, 2], 2, true],
    ["in", [1, 2], 3, false],
    ["not_in", [1, 2], 3, true],
    ["not_in", [1, 2], 1, false],
    ["lt", 10, 9, true],
    ["lt", 10, 10, false],
    ["lte", 10, 10, true],
    ["gt", 10, 11, true],
    ["gt", 10, "11", false],
    ["gte", "2026-01-01", "2026-06-01", true],
    ["regex", "^camp-\\d+$", "camp-42", true],
    ["regex", "^camp-\\d+$", 42, false],
    ["contains", "vip", "all-vip-users", true],
    ["contains", 7, [5, 7], true],
    ["contains", 8, [5, 7], false],
    ["exists", true, null, true],
    ["len_lte", 2, [1, 2], true],
    ["len_lte", 2, [1, 2, 3], false],
    ["len_gte", 3, "abc", true],
    ["len_gte", 3, 12345, false],
  ];
  it.each(cases)("%s %j against %j is %s", (op, value, actual, expected) => {
    const p = policy({
      version: "1",
      default: "allow",
      tools: { t: { deny_if: [{ conditions: [{ path: "args.x", op, value } as never] }] } },
    });
    expect(decide(p, call("t", { x: actual })).decision).toBe(expected ? "deny" : "allow");
  });

  it.each(["eq", "neq", "in", "not_in", "lt", "regex", "contains", "len_lte"])("%s is false on a missing path", (op) => {
    const value = op === "in" || op === "not_in" ? [1] : op === "regex" ? "x" : 1;
    const p = policy({
      version: "1",
      default: "allow",
      tools: { t: { deny_if: [{ conditions: [{ path: "args.missing.deeper[0]", op, value } as never] }] } },
    });
    expect(decide(p, call("t", { other: 1 })).decision).toBe("allow");
  });

  it("exists is true only when the path is present, and exists:false the reverse", () => {
    const p = policy({
      version: "1",
      default: "allow",
      tools: {
        t: { deny_if: [{ conditions: [{ path: "args.a.b[1]", op: "exists" }] }] },
        u: { deny_if: [{ conditions: [{ path: "args.dryRun", op: "exists", value: false }] }] },
      },
    });
    expect(decide(p, call("t", { a: { b: [0, 0] } })).decision).toBe("deny");
    expect(decide(p, call("t", { a: { b: [0] } })).decision).toBe("allow");
    expect(decide(p, call("u", {})).decision).toBe("deny");
    expect(decide(p, call("u", { dryRun: true })).decision).toBe("allow");
  });
});

describe("limits", () => {
  it("per-tool and all_tools limits both apply, with increment_from counting an array", () => {
    const p = policy({
      version: "1",
      default: "allow",
      all_tools: { limits: [{ counter: "everything", window: "hour", max: 1000 }] },
      tools: { send_campaign: { limits: [{ counter: "recipients", window: "1d", max: 5, increment_from: "args.listIds", align: "calendar" }] } },
    });
    const decision = decide(p, call("send_campaign", { listIds: [1, 2, 3] }));
    expect(decision).toMatchObject({
      decision: "allow",
      limits: [
        { counter: "recipients", amount: 3, align: "calendar", scope: "grant", rule: "/tools/send_campaign/limits/0" },
        { counter: "everything", amount: 1, rule: "/all_tools/limits/0" },
      ],
    });
    expect(decide(p, call("get_lists"))).toMatchObject({ decision: "allow", limits: [{ counter: "everything" }] });
  });
});

describe("monitor mode", () => {
  it("still decides; the mode travels with the policy for the shell to forward anyway", () => {
    const p = policy({ version: "1", default: "deny", mode: "monitor" });
    expect(p.mode).toBe("monitor");
    expect(decide(p, call("send_campaign"))).toMatchObject({ decision: "deny", rule: "/default" });
  });
});

describe("defect 3: tool names that are Object.prototype keys", () => {
  it.each(["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty"])("%s is judged as any other name", (name) => {
    const p = policy({ version: "1", default: "allow", tags: { send_campaign: ["sends"] }, tools: { "@sends": { action: "deny" } } });
    expect(decide(p, call(name))).toEqual({ decision: "allow", rule: "/default", limits: [] });
    expect(isListed(p, name, new Set())).toBe(true);
    expect(decide(policy({ version: "1", default: "deny" }), call(name))).toMatchObject({ decision: "deny", rule: "/default" });
  });

  it("a policy naming one of them as a tool or tag entry works on that name only", () => {
    const p = policy(JSON.parse('{"version":"1","default":"allow","tags":{"constructor":["odd"]},"tools":{"@odd":{"action":"deny"},"toString":{"action":"deny"}}}'));
    expect(decide(p, call("constructor"))).toMatchObject({ decision: "deny", rule: "/tools/@odd/action" });
    expect(decide(p, call("toString"))).toMatchObject({ decision: "deny", rule: "/tools/toString/action" });
    expect(decide(p, call("valueOf"))).toMatchObject({ decision: "allow" });
  });

  it("__proto__ as a policy key is refused, not silently dropped", () => {
    expect(validatePolicyText('{"version":"1","default":"allow","tools":{"__proto__":{"action":"deny"}}}')).toEqual({
      ok: false,
      problems: ['tools.__proto__: "__proto__" cannot name a tool in a policy'],
    });
    expect(validatePolicyText('{"version":"1","default":"allow","tags":{"__proto__":["x"]}}').ok).toBe(false);
  });
});

describe("defect 4: increment_from can never make a call free", () => {
  const limited = policy({
    version: "1",
    default: "deny",
    tools: { trigger_campaign: { limits: [{ counter: "lists", window: "day", max: 5, increment_from: "args.listIds" }] } },
  });
  const amountFor = (listIds: unknown) => {
    const decision = decide(limited, call("trigger_campaign", listIds === undefined ? {} : { listIds }));
    return decision.decision === "allow" ? decision.limits[0]?.amount : decision;
  };

  it.each([
    [-5, 1],
    [0, 1],
    [0.5, 1],
    [2.1, 3],
    [3, 3],
    [1e300, Number.MAX_SAFE_INTEGER],
    [[], 1],
    [[1, 2, 3], 3],
    ["", 1],
    ["abcd", 4],
    [undefined, 1],
  ])("%j counts %j", (value, amount) => {
    expect(amountFor(value)).toBe(amount);
  });

  it.each([[true], [{ a: 1 }], [null], [Number.NaN], [Number.POSITIVE_INFINITY]])("%j cannot be counted: invalid arguments naming the path", (value) => {
    expect(amountFor(value)).toMatchObject({
      decision: "invalid_arguments",
      rule: "/tools/trigger_campaign/limits/0/increment_from",
      reason: expect.stringContaining("args.listIds is"),
    });
  });
});

describe("defect 5: rules without conditions (PolicyLayer's starter policies)", () => {
  it("conditions: [] loads and always matches: deny_if denies, approve_if asks, require holds", () => {
    const starter = policy({
      version: "1",
      default: "deny",
      tools: {
        send_campaign: { deny_if: [{ conditions: [], on_deny: "Requires human approval." }] },
        send_email: { approve_if: [{ conditions: [] }] },
        get_campaigns: { require: [{ conditions: [] }] },
      },
    });
    expect(decide(starter, call("send_campaign", { campaignId: 1 }))).toEqual({ decision: "deny", rule: "/tools/send_campaign/deny_if/0", reason: "Requires human approval." });
    expect(decide(starter, call("send_email"))).toMatchObject({ decision: "approve", rule: "/tools/send_email/approve_if/0", reason: expect.stringContaining("always") });
    expect(decide(starter, call("get_campaigns"))).toMatchObject({ decision: "allow" });
  });
});

describe("approval settings", () => {
  it("the entry's approval settings win over the policy's, which win over the defaults (ttl 1h, hold 0s)", () => {
    const p = policy({
      version: "1",
      default: "deny",
      approval: { ttl: "30m" },
      tools: { send_campaign: { action: "approve", approval: { hold: "2m" } }, send_email: { approve_if: [{ conditions: [] }] }, "@sends": { action: "approve" } },
    });
    expect(decide(p, call("send_campaign"))).toMatchObject({ decision: "approve", approval: { ttlMs: 30 * 60_000, holdMs: 120_000 } });
    expect(decide(p, call("send_email"))).toMatchObject({ decision: "approve", approval: { ttlMs: 30 * 60_000, holdMs: 0 } });
    const plain = policy({ version: "1", default: "deny", tools: { send_campaign: { action: "approve" } } });
    expect(decide(plain, call("send_campaign"))).toMatchObject({ approval: { ttlMs: 3_600_000, holdMs: 0 } });
  });

  it("a hold longer than 5 minutes, or a ttl outside 1s..7d, is refused when the policy loads", () => {
    expect(validatePolicyText('{"version":"1","default":"deny","approval":{"hold":"6m"}}')).toMatchObject({ ok: false, problems: ["approval.hold: at most 5m"] });
    expect(validatePolicyText('{"version":"1","default":"deny","tools":{"x":{"approval":{"ttl":"8d"}}}}')).toMatchObject({ ok: false, problems: ["tools.x.approval.ttl: between 1s and 7d"] });
    expect(validatePolicyText('{"version":"1","default":"deny","approval":{"ttl":"0s"}}').ok).toBe(false);
    expect(validatePolicyText('{"version":"1","default":"deny","approval":{"ttl":"7d","hold":"5m"}}').ok).toBe(true);
  });
});
