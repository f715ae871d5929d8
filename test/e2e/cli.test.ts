import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../../scripts/local-gateway.ts";

function policyFile(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "policy-")), "policy.json");
  writeFileSync(file, content);
  return file;
}

describe("mcp-gateway policy validate / simulate (no wrangler needed)", () => {
  it("accepts a valid policy and prints its version", async () => {
    const result = await cli("policy", "validate", "policies/examples/send-campaign-rate-limit.json");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/valid \(version [0-9a-f]{16}\)/);
  });

  it("names the exact JSON path of every problem and exits 1", async () => {
    const file = policyFile(
      JSON.stringify({
        version: "1",
        default: "allow",
        tools: {
          send_campaign: {
            limits: [{ counter: "c", window: "fortnight", max: 0 }],
            deny_if: [{ conditions: [{ path: "args.name", op: "regex", value: "([" }] }],
          },
        },
        defualt: "deny",
      }),
    );
    const result = await cli("policy", "validate", file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("tools.send_campaign.limits[0].window");
    expect(result.stderr).toContain("tools.send_campaign.limits[0].max");
    expect(result.stderr).toContain("tools.send_campaign.deny_if[0].conditions[0].value: not a valid regular expression");
    expect(result.stderr).toContain('Unrecognized key: "defualt"');
  });

  it("simulates a call: the decision, the rule, the limits and the tags", async () => {
    const allowed = await cli("policy", "simulate", "policies/examples/campaign-allow-list.json", "--tool", "send_campaign", "--args", '{"campaignId":101}');
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).toContain("ALLOW send_campaign by /tools/send_campaign");
    expect(allowed.stdout).toContain("campaign_sends 2/day per grant");

    const denied = await cli("policy", "simulate", "policies/examples/campaign-allow-list.json", "--tool", "send_campaign", "--args", '{"campaignId":7}');
    expect(denied.stdout).toContain("DENY send_campaign by /tools/send_campaign/require/0: this agent may only send campaigns 101 and 102");

    const hidden = await cli("policy", "simulate", "policies/iterable/recommended.json", "--tool", "delete_user_by_email", "--json");
    expect(JSON.parse(hidden.stdout)).toMatchObject({ tool: "delete_user_by_email", decision: "hidden", rule: "/hide/0", limits: [] });
  });

  it("explains usage mistakes with exit status 2", async () => {
    const result = await cli("policy", "push", "policies/iterable/recommended.json");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("missing --name");
  });
});
