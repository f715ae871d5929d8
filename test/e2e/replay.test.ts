import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { runCli, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";
import { ADMIN_TOKEN_ENV } from "../../src/cli/admin-target.ts";

let gateway: RunningGateway;
let grant: { id: string; label: string };
const files = mkdtempSync(join(tmpdir(), "replay-"));

function policyFile(name: string, document: unknown): string {
  const file = join(files, `${name}.json`);
  writeFileSync(file, JSON.stringify(document));
  return file;
}

const ALLOW_ALL = { version: "1", default: "allow" };

/** `mcp-gateway …` with this environment on top of the test's own (`undefined` removes a variable). */
const run = (env: Record<string, string | undefined>, ...args: string[]) => runCli(args, env);

/** `mcp-gateway policy replay FILE --grant ID …` against the gateway's origin, as against a deployed one. */
const replay = (file: string, ...args: string[]) =>
  run({ [ADMIN_TOKEN_ENV]: gateway.adminToken }, "policy", "replay", file, "--grant", grant.id, "--url", gateway.origin, ...args);

/** The grant's call records, once the gateway has written them (off the agent's path, batched for ~100 ms). */
async function recordedCalls(expected: number): Promise<Array<{ tool: string; decision: string }>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const response = await fetch(`${gateway.origin}/admin/api/grants/${grant.id}/audit?decision=allow`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
    const { records } = (await response.json()) as { records: Array<{ kind: string; tool: string; decision: string }> };
    const calls = records.filter((record) => record.kind === "call");
    if (calls.length >= expected || Date.now() > deadline) return calls;
  }
}

beforeAll(async () => {
  gateway = await startGateway();
  // A grant of this run's own on an allow-all policy: the local state outlives each npm start.
  const name = `replay-e2e-${randomBytes(4).toString("hex")}`;
  const pushed = await gateway.cli("policy", "push", policyFile("allow-all", ALLOW_ALL), "--name", name);
  expect(pushed.status, pushed.stderr).toBe(0);
  const created = await gateway.cli("grant", "create", "--label", name, "--policy", name, "--json");
  expect(created.status, created.stderr).toBe(0);
  const { token, grant: record } = JSON.parse(created.stdout) as { token: string; grant: { id: string; label: string } };
  grant = record;

  const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "e2e-replay", version: "1.0.0" });
  await client.connect(transport);
  try {
    for (const [tool, args] of [["get_campaigns", {}], ["get_lists", {}], ["send_campaign", { campaignId: 4242 }]] as const) {
      const result = await client.callTool({ name: tool, arguments: args });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
    }
  } finally {
    await client.close();
  }
  expect((await recordedCalls(3)).map((call) => call.tool).sort()).toEqual(["get_campaigns", "get_lists", "send_campaign"]);
});
afterAll(async () => gateway?.stop());
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 6000 chars):\n${gateway.output().slice(-6000)}`)));

describe("policy replay through npm start: a grant's recorded calls decided again under a candidate", () => {
  it("a tightened candidate: exit 1, naming every call that would flip", async () => {
    const tightened = policyFile("tightened", { version: "1", default: "deny", tools: { get_campaigns: {} } });
    const result = await replay(tightened);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`replaying ${tightened} over 3 calls of grant "${grant.label}" (${grant.id}) from `);
    expect(result.stdout).toMatch(/^ {2}2 {2}allowed → denied$/m);
    expect(result.stdout).toMatch(/^ {2}1 {2}unchanged$/m);
    expect(result.stdout).toMatch(/^allowed → denied {2}\S+Z {2}get_lists +allow → deny {2}\/default: tool get_lists is not allowed by this policy \(default: deny\)$/m);
    expect(result.stdout).toMatch(/^allowed → denied {2}\S+Z {2}send_campaign +allow → deny {2}\/default: tool send_campaign is not allowed/m);
    expect(result.stdout).not.toMatch(/^allowed → denied .*get_campaigns/m);
    expect(result.stdout).toContain("2 would change, of 3 calls");
    expect(result.stdout).not.toContain(gateway.adminToken);

    const json = await replay(tightened, "--json", "--since", "1h");
    expect(json.status, json.stderr).toBe(1);
    const report = JSON.parse(json.stdout) as { calls: number; counts: Record<string, number>; changes: Array<{ tool: string; recorded: string; candidate: string }>; changed: boolean };
    expect(report).toMatchObject({ calls: 3, counts: { unchanged: 1, "allowed → denied": 2 }, changed: true, grant: { id: grant.id, label: grant.label } });
    expect(report.changes.map((change) => [change.tool, change.recorded, change.candidate])).toEqual([
      ["get_lists", "allow", "deny"],
      ["send_campaign", "allow", "deny"],
    ]);
  });

  it("the recommended policy: sends would need a human, reads stay allowed", async () => {
    const result = await replay("policies/iterable/recommended.json");
    expect(result.status, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^allowed → newly needs approval {2}\S+Z {2}send_campaign {2}allow → approval_required {2}\/tools\/@sends\/action: this tool sends messages/m);
    expect(result.stdout).toMatch(/^ {2}2 {2}unchanged$/m);
    expect(result.stdout).toContain("note: limits count from zero at the first replayed call");
  });

  it("the very policy the calls were recorded under: exit 0, nothing would change", async () => {
    const result = await replay(policyFile("same", ALLOW_ALL));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^nothing would change: 3 calls of grant "${grant.label}" \\(${grant.id}\\) from \\S+ to \\S+, recorded under "${grant.label}" version [0-9a-f]{16}, all decided the same by `));
  });

  it("a window without calls, a bad window, a wrong token, an invalid candidate: each says so", async () => {
    const allowAll = policyFile("allow-all", ALLOW_ALL);
    const empty = await replay(allowAll, "--since", "2020-01-01T00:00:00Z", "--until", "2020-01-02T00:00:00Z");
    expect(empty.status, empty.stderr).toBe(0);
    expect(empty.stdout).toContain(`nothing would change: no calls recorded for grant ${grant.id} from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z`);

    const badWindow = await replay(allowAll, "--since", "last tuesday");
    expect(badWindow.status).toBe(2);
    expect(badWindow.stderr).toContain('--since takes a duration before now (30m, 24h, 7d) or an ISO time (2026-11-25T10:00:00Z), not "last tuesday"');

    const wrong = await run({ [ADMIN_TOKEN_ENV]: "wrong-token" }, "policy", "replay", allowAll, "--grant", grant.id, "--url", gateway.origin);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim()).toBe(`the gateway at ${gateway.origin} refused the admin token in ${ADMIN_TOKEN_ENV}: it is not the gateway's ADMIN_TOKEN`);

    const invalid = await replay(policyFile("invalid", { version: "1", default: "deny", tools: { get_lists: { limits: [{ counter: "c", window: "hour", max: 0 }] } } }));
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain("tools.get_lists.limits[0].max");
    expect(invalid.stdout).toBe("");
  });
});
