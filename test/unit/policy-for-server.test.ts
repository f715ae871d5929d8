import { describe, expect, it } from "vitest";
import { decide, isListed } from "../../src/policy/evaluate.ts";
import { inDocument, policyForServer } from "../../src/policy/for-server.ts";
import { PolicySchema, type PolicyInput } from "../../src/policy/schema.ts";
import { validatePolicy, validatePolicyText } from "../../src/policy/validate.ts";
import SEED_POLICY from "../../policies/examples/send-campaign-rate-limit.json";

const withSection = PolicySchema.parse({
  version: "1",
  default: "allow",
  tools: { send_x: { limits: [{ counter: "sends", window: "hour", max: 5 }] } },
  servers: {
    crm: {
      default: "deny",
      tools: { send_x: { action: "approve", limits: [{ counter: "sends", window: "day", max: 1 }] }, "get_*": {} },
    },
  },
} satisfies PolicyInput);

const call = (name: string) => ({ name, args: {}, tags: new Set<string>() });

describe("policyForServer", () => {
  it("gives the top level to a server without a section, with no pointer base", () => {
    const { policy, pointerBase } = policyForServer(withSection, "iterable");
    expect(pointerBase).toBe("");
    expect(policy).toBe(withSection);
    expect(decide(policy, call("send_x"))).toMatchObject({ decision: "allow", rule: "/tools/send_x" });
  });

  it("gives a server its section whole, replacing the top level (nothing merged)", () => {
    const { policy, pointerBase } = policyForServer(withSection, "crm");
    expect(pointerBase).toBe("/servers/crm");
    // The top level's default allow does not reach crm: its section says deny.
    expect(decide(policy, call("list_things"))).toMatchObject({ decision: "deny", rule: "/default" });
    expect(isListed(policy, "list_things", new Set())).toBe(false);
    expect(isListed(policy, "get_lists", new Set())).toBe(true);
    expect(policy.servers).toBeUndefined();
  });

  it("points a section's decisions, and their limits, into the whole document", () => {
    const { policy, pointerBase } = policyForServer(withSection, "crm");
    const decision = inDocument(decide(policy, call("send_x")), pointerBase);
    expect(decision).toMatchObject({ decision: "approve", rule: "/servers/crm/tools/send_x/action" });
    expect(decision.decision === "approve" && decision.limits.map((limit) => limit.rule)).toEqual(["/servers/crm/tools/send_x/limits/0"]);
    expect(inDocument(decide(policy, call("nope")), pointerBase)).toMatchObject({ decision: "deny", rule: "/servers/crm/default" });
  });

  it("never reads a server name off Object.prototype", () => {
    for (const name of ["__proto__", "constructor", "toString"]) expect(policyForServer(withSection, name).pointerBase).toBe("");
  });
});

describe("the policy schema's servers", () => {
  it("loads a PolicyLayer policy exactly as before (no servers member)", () => {
    const parsed = PolicySchema.parse(SEED_POLICY);
    expect(parsed.servers).toBeUndefined();
    expect(policyForServer(parsed, "anything").policy).toBe(parsed);
  });

  it("refuses an unknown key inside a section, at its path", () => {
    const result = validatePolicy({ version: "1", default: "allow", servers: { crm: { default: "deny", tool: {} } } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join("\n")).toMatch(/^servers\.crm: .*"tool"/m);
  });

  it("refuses a misspelt key deep in a section at its exact path", () => {
    const result = validatePolicy({ version: "1", default: "allow", servers: { crm: { default: "deny", tools: { send_x: { limits: [{ counter: "c", window: "hour", maxx: 1 }] } } } } });
    expect(!result.ok && result.problems.join("\n")).toMatch(/^servers\.crm\.tools\.send_x\.limits\[0\]/m);
  });

  it("refuses what a section cannot hold: version, $schema, nested servers", () => {
    for (const extra of [{ version: "1" }, { $schema: "x" }, { servers: {} }]) {
      const result = validatePolicy({ version: "1", default: "allow", servers: { crm: { default: "deny", ...extra } } });
      expect(result.ok, JSON.stringify(extra)).toBe(false);
    }
  });

  it("refuses a section name that cannot be a server's, and a section without its default", () => {
    expect(validatePolicy({ version: "1", default: "allow", servers: { CRM: { default: "deny" } } }).ok).toBe(false);
    const missing = validatePolicy({ version: "1", default: "allow", servers: { crm: {} } });
    expect(!missing.ok && missing.problems.join("\n")).toMatch(/^servers\.crm\.default/m);
  });

  it('refuses "__proto__" as a server or as a tool inside a section, rather than dropping it', () => {
    const server = validatePolicyText('{"version": "1", "default": "allow", "servers": {"__proto__": {"default": "deny"}}}');
    expect(!server.ok && server.problems).toEqual(['servers.__proto__: "__proto__" cannot name a server in a policy']);
    const tool = validatePolicyText('{"version": "1", "default": "allow", "servers": {"crm": {"default": "deny", "tools": {"__proto__": {}}}}}');
    expect(!tool.ok && tool.problems).toEqual(['servers.crm.tools.__proto__: "__proto__" cannot name a tool in a policy']);
  });

  it("warns, without refusing, about a section for a server the gateway does not declare", () => {
    const document = { version: "1", default: "allow", servers: { crm: { default: "deny" }, iterable: { default: "allow" } } };
    const validation = validatePolicy(document, { servers: ["iterable", "features"] });
    expect(validation.ok).toBe(true);
    expect(validation.ok && validation.warnings).toEqual([
      'servers.crm: this gateway declares no server named "crm" (it declares iterable, features), so this section applies to nothing here',
    ]);
    // Offline (no gateway to ask), nothing is known to be missing.
    expect(validatePolicy(document).ok && validatePolicy(document)).toMatchObject({ warnings: [] });
  });

  it("warns about a long approval hold inside a section at its path", () => {
    const validation = validatePolicy({ version: "1", default: "allow", servers: { crm: { default: "deny", tools: { x: { action: "approve", approval: { hold: "5m" } } } } } });
    expect(validation.ok && validation.warnings.join("\n")).toMatch(/^servers\.crm\.tools\.x\.approval\.hold: 5m is longer/m);
  });
});
