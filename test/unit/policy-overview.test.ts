/// <reference types="vite/client" />
/**
 * The consent page's summary of a policy (src/oauth/policy-overview.ts)
 * against what decide() says: for every shipped policy and every catalog
 * tool, the verdict must hold for a battery of arguments written here,
 * independently of the arguments the summary tries itself.
 */
import { describe, expect, it } from "vitest";
import catalog from "../../policies/iterable/catalog.json" with { type: "json" };
import recommended from "../../policies/iterable/recommended.json" with { type: "json" };
import { limitText, policyOverview, toolVerdict, type ToolVerdict } from "../../src/oauth/policy-overview.ts";
import { decide, isListed } from "../../src/policy/evaluate.ts";
import { representativeArguments } from "../../src/policy/representative-args.ts";
import { PolicySchema, type Policy } from "../../src/policy/schema.ts";
import { toolTags } from "../../src/tools/catalog.ts";

const EXAMPLES = import.meta.glob<object>("../../policies/examples/*.json", { eager: true, import: "default" });
const SHIPPED: Array<[string, Policy]> = [
  ["iterable/recommended.json", PolicySchema.parse(recommended)],
  ...Object.entries(EXAMPLES).map(([path, document]) => [path.replace(/^.*policies\//, ""), PolicySchema.parse(document)] as [string, Policy]),
];
const TOOLS = Object.keys(catalog.tools);

/** Arguments an agent might send, chosen without looking at how the summary picks its own. */
const BATTERY: Array<Record<string, unknown>> = [
  {},
  { campaignId: 101 },
  { campaignId: 102 },
  { campaignId: 7 },
  { campaignId: "101" },
  { listIds: [] },
  { listIds: [1] },
  { listIds: [1, 2] },
  { listIds: [1, 2, 3] },
  { listIds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] },
  { campaignId: 101, listIds: [1, 2, 3] },
  { email: "someone@example.com", dataFields: { a: 1 } },
];

/** What decide() makes of a tool over the battery: the set of decisions. */
function decisionsOver(policy: Policy, tool: string): Set<string> {
  const tags = toolTags(tool);
  return new Set(BATTERY.map((args) => decide(policy, { name: tool, args, tags }).decision).filter((kind) => kind !== "invalid_arguments"));
}

/** Whether a verdict agrees with decide() over the battery. */
function agrees(verdict: ToolVerdict, policy: Policy, tool: string): boolean {
  const seen = decisionsOver(policy, tool);
  const only = (kind: string) => seen.size === 1 && seen.has(kind);
  switch (verdict) {
    case "hidden":
      return !isListed(policy, tool, toolTags(tool)) && [...seen].every((kind) => kind === "hidden" || kind === "deny");
    case "refused":
      return isListed(policy, tool, toolTags(tool)) && only("deny");
    case "approval":
      return only("approve");
    case "allowed":
      return only("allow");
    case "conditional":
      // "Depends on the arguments" must be true: the battery meets at least two different decisions.
      return seen.size > 1;
  }
}

describe("the consent page's policy summary agrees with decide()", () => {
  for (const [file, policy] of SHIPPED) {
    it(`every catalog tool under policies/${file}`, () => {
      const overview = policyOverview(file, "v", policy);
      const verdicts = Object.entries(overview.tools).flatMap(([verdict, tools]) => tools.map((tool) => [tool, verdict as ToolVerdict] as const));
      expect(verdicts.map(([tool]) => tool).sort()).toEqual([...TOOLS].sort());
      const wrong = verdicts.filter(([tool, verdict]) => !agrees(verdict, policy, tool)).map(([tool, verdict]) => `${tool}: ${verdict}, decide() gives ${[...decisionsOver(policy, tool)].join("/")}`);
      expect(wrong).toEqual([]);
    });
  }

  it("bug 5: an unconditional deny_if (the PolicyLayer starter's send_campaign) is always refused, not 'refused for some arguments'", () => {
    const [, starter] = SHIPPED.find(([file]) => file.endsWith("policylayer-starter.json"))!;
    const overview = policyOverview("policylayer-starter", "v", starter);
    expect(overview.tools.refused).toEqual(["send_campaign"]);
    expect(overview.tools.conditional).toEqual([]);
    const line = overview.rules.find((rule) => rule.pattern === "send_campaign")!.text;
    expect(line).toBe("listed, but every call is refused, saying “Requires human approval.”");
    expect(line).not.toContain("some arguments");
    expect(overview.rules.find((rule) => rule.pattern === "get_*")!.text).toBe("allowed");
  });

  it("says what a conditional entry does, and which arguments decide", () => {
    const policies = Object.fromEntries(SHIPPED.map(([file, policy]) => [file.replace(/^.*\//, "").replace(".json", ""), policy]));
    const allowList = policyOverview("x", "v", policies["campaign-allow-list"]!);
    expect(allowList.tools.conditional).toEqual(["send_campaign"]);
    expect(allowList.rules.find((rule) => rule.pattern === "send_campaign")!.text).toBe(
      "allowed or refused, by its arguments: refused unless args.campaignId is one of 101, 102, saying “this agent may only send campaigns 101 and 102”; at most 2 calls a day (fixed UTC windows) for this grant",
    );
    const fanout = policyOverview("x", "v", policies["list-fanout-cap"]!);
    expect(fanout.rules.find((rule) => rule.pattern === "trigger_campaign")!.text).toBe(
      "allowed or refused, by its arguments: refused when args.listIds has at least 3 items (or characters), saying “trigger at most 2 lists per call”; at most 10 per 6 hours for this grant, each call counting args.listIds (its value, or its length)",
    );
    const rec = policyOverview("recommended", "v", policies.recommended ?? SHIPPED[0]![1]);
    expect(rec.rules.map((rule) => `${rule.pattern}: ${rule.text}`)).toEqual([
      "@sends: every call needs a human's approval; at most 20 calls an hour for this grant",
      "@writes: allowed; at most 100 calls an hour for this grant",
      "@read: allowed",
    ]);
    const noPii = policyOverview("x", "v", policies["no-pii"]!);
    expect(noPii.rules[0]!.text).toBe("hidden from the app; every call refused, saying “this agent analyses campaigns; it never sends”");
  });

  it("bug 5: limits read as English: an hour, a minute, plurals, durations", () => {
    const limit = (window: string, max: number, extra: object = {}) => limitText({ counter: "c", window, max, scope: "grant", align: "sliding", ...extra });
    expect(limit("hour", 20)).toBe("at most 20 calls an hour for this grant");
    expect(limit("minute", 1)).toBe("at most 1 call a minute for this grant");
    expect(limit("second", 5)).toBe("at most 5 calls a second for this grant");
    expect(limit("6h", 10)).toBe("at most 10 calls per 6 hours for this grant");
    expect(limit("1d", 3)).toBe("at most 3 calls per day for this grant");
    expect(limit("90s", 2, { scope: "global" })).toBe("at most 2 calls per 90 seconds across all grants");
    expect(limit("15m", 4, { scope: "session" })).toBe("at most 4 calls per 15 minutes per session");
  });

  it("recognises rules that never hold, and rules it cannot work out, without claiming either way", () => {
    const policy = PolicySchema.parse({
      version: "1",
      default: "deny",
      tools: {
        never: { deny_if: [{ conditions: [{ path: "args.a", op: "in", value: [] }] }] },
        contradiction: { deny_if: [{ conditions: [{ path: "args.a", op: "eq", value: 1 }, { path: "args.a", op: "eq", value: 2 }] }] },
        pattern: { deny_if: [{ conditions: [{ path: "args.s", op: "regex", value: "^[0-9]{3}x$" }] }] },
        nested: { require: [{ conditions: [{ path: "args.a.b[1]", op: "eq", value: "ok" }] }] },
        proto: { deny_if: [{ conditions: [{ path: "args.__proto__", op: "exists", value: true }] }] },
      },
    });
    const verdict = (tool: string) => toolVerdict(policy, tool, new Set());
    expect(verdict("never")).toBe("allowed");
    expect(verdict("contradiction")).toBe("allowed");
    const overview = policyOverview("x", "v", policy);
    expect(overview.rules.find((rule) => rule.pattern === "never")!.text).toBe("allowed; its deny_if rule can match no arguments, so it never applies");
    // No guess matches the pattern, but some string does: the summary says it depends, and why it cannot say more.
    expect(verdict("pattern")).toBe("conditional");
    expect(overview.rules.find((rule) => rule.pattern === "pattern")!.text).toContain("could not be worked out here");
    expect(verdict("nested")).toBe("conditional");
    expect(decide(policy, { name: "nested", args: { a: { b: [null, "ok"] } }, tags: new Set() }).decision).toBe("allow");
    expect(verdict("proto")).toBe("conditional");
    expect(representativeArguments(policy.tools.proto!).args.some((args) => Object.hasOwn(args, "__proto__"))).toBe(true);
  });
});
