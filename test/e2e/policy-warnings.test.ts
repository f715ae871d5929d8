import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../../scripts/local-gateway.ts";

/** `mcp-gateway policy validate` lists warnings under a valid policy (issue 16, defect 11); no wrangler needed. */
describe("defect 11: policy validate warns about a hold longer than a call without progress is held", () => {
  it("prints the policy valid, then each warning at its JSON path, and exits 0", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "policy-")), "policy.json");
    writeFileSync(file, JSON.stringify({ version: "1", default: "deny", approval: { hold: "60s" }, tools: { send_campaign: { action: "approve" } } }));
    const result = await cli("policy", "validate", file);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/valid \(version [0-9a-f]{16}\)\nwarnings:\n {2}approval\.hold: 60s is longer than the 50 s a call without a progress token is held/);
  });
});
