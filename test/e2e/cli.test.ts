import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { cli, runCli, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

function policyFile(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "policy-")), "policy.json");
  writeFileSync(file, content);
  return file;
}

/** Who the CLI records as acting when --by is not given. */
const operator = `${userInfo().username} (cli)`;

describe("mcp-gateway policy validate / simulate (offline, no gateway needed)", () => {
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
    const missing = await cli("policy", "push", "policies/iterable/recommended.json");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("missing --name");

    const kvFlagAlone = await cli("grant", "list", "--local");
    expect(kvFlagAlone.status).toBe(2);
    expect(kvFlagAlone.stderr).toContain("--local, --remote and --config go with --via-kv");

    const noKvForm = await cli("audit", "--via-kv");
    expect(noKvForm.status).toBe(2);
    expect(noKvForm.stderr).toContain("--via-kv works with policy push, grant create, grant list, grant revoke");

    const both = await cli("grant", "list", "--url", "http://localhost:1", "--port", "1");
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("choose one of --url and --port");

    const fileAndName = await cli("policy", "simulate", "policies/iterable/recommended.json", "--name", "recommended", "--tool", "get_lists");
    expect(fileAndName.status).toBe(2);
    expect(fileAndName.stderr).toContain("policy simulate takes a FILE or --name NAME");
  });
});

describe("mcp-gateway against npm start: every command through the admin API, which validates and audits it", () => {
  let gateway: RunningGateway;
  const admin = async (path: string) => {
    const response = await fetch(`${gateway.origin}/admin/api${path}`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
    expect(response.status, path).toBe(200);
    return response.json() as Promise<{ records: Array<Record<string, unknown>> }>;
  };
  /** The operator records of a grant's object (or the gateway-wide one's, for a policy push), newest first. */
  const actions = async (grantId?: string) => (await admin(`${grantId ? `/grants/${grantId}` : ""}/audit?decision=admin&limit=1000`)).records;

  beforeAll(async () => {
    gateway = await startGateway(["--sandbox"]);
  });
  afterAll(async () => gateway?.stop());
  beforeEach(() => onTestFailed(() => console.log(`npm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`)));

  it("the CLI was a second, unaudited door that took 11-14 s a command: grant create answers in under a second (the whole process, as a user runs it) through the admin API, and its audit record names the CLI's user", async () => {
    // Three grants, each a new CLI process (picking this npm start by its port); the middle time is the command's, not a busy moment's.
    const times: number[] = [];
    const grants: Array<{ grant: { id: string; label: string; status: string }; token: string }> = [];
    for (let n = 0; n < 3; n++) {
      const label = `cli-speed-${randomBytes(4).toString("hex")}`;
      const started = performance.now();
      const created = await gateway.cli("grant", "create", "--label", label, "--policy", "recommended", "--json");
      times.push(performance.now() - started);
      expect(created.status, created.stderr).toBe(0);
      grants.push(JSON.parse(created.stdout) as { grant: { id: string; label: string; status: string }; token: string });
    }
    const median = [...times].sort((a, b) => a - b)[1]!;
    console.log(`mcp-gateway grant create: ${times.map((ms) => ms.toFixed(0)).join(", ")} ms (median ${median.toFixed(0)} ms)`);
    expect(median).toBeLessThan(1000);

    const merged = await admin("/audit?decision=admin&limit=1000");
    for (const { grant, token } of grants) {
      expect(merged.records).toContainEqual(expect.objectContaining({ kind: "admin", action: "grant.create", target: grant.id, by: operator, detail: { label: grant.label, policy: "recommended", servers: ["iterable"] } }));
      expect(grant).toMatchObject({ label: expect.stringMatching(/^cli-speed-/), status: "active" });
      expect(token).toMatch(/^mcpgw_/);
    }
  });

  it("grant create --policy doesnotexist exited 0 with a token for a grant that sees nothing: it exits 1 with the admin API's reason, and no grant is made", async () => {
    const label = `cli-nopolicy-${randomBytes(4).toString("hex")}`;
    const result = await gateway.cli("grant", "create", "--label", label, "--policy", "doesnotexist");
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('grant not created: there is no policy named "doesnotexist"');
    expect(result.stdout).toBe("");
    const listed = JSON.parse((await gateway.cli("grant", "list", "--json")).stdout) as Array<{ label: string }>;
    expect(listed.map((grant) => grant.label)).not.toContain(label);
  });

  it("policy push, list and simulate by name; grant list and revoke; counters show and reset: each a call of the admin API, each change recorded with who made it", async () => {
    const name = `cli-e2e-${randomBytes(4).toString("hex")}`;
    const counter = `lists_${randomBytes(3).toString("hex")}`;
    const file = policyFile(JSON.stringify({ version: "1", default: "deny", tools: { get_lists: { limits: [{ counter, window: "hour", max: 5 }] } } }));

    const pushed = await gateway.cli("policy", "push", file, "--name", name);
    expect(pushed.status, pushed.stderr).toBe(0);
    const version = /version ([0-9a-f]{16})/.exec(pushed.stdout)?.[1];
    expect(pushed.stdout).toBe(`policy "${name}" (version ${version}) pushed to ${gateway.origin}, recorded as by ${operator}\n`);
    expect((await gateway.cli("policy", "list")).stdout).toMatch(new RegExp(`^${name} +version ${version}$`, "m"));
    const invalid = await gateway.cli("policy", "push", policyFile(JSON.stringify({ version: "1", default: "sometimes" })), "--name", name);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain("is not a valid policy; nothing was stored:\n  default:");
    const simulated = await gateway.cli("policy", "simulate", "--name", name, "--tool", "get_lists");
    expect(simulated.status, simulated.stderr).toBe(0);
    expect(simulated.stdout).toContain(`ALLOW get_lists by /tools/get_lists\nlimits: ${counter} 5/hour per grant`);
    expect((await gateway.cli("policy", "simulate", "--name", "no-such-policy", "--tool", "get_lists")).stderr).toContain(`no policy named "no-such-policy" at ${gateway.origin}`);

    const created = await gateway.cli("grant", "create", "--label", name, "--policy", name, "--expires", "2h", "--json");
    expect(created.status, created.stderr).toBe(0);
    const { grant, token } = JSON.parse(created.stdout) as { grant: { id: string }; token: string };
    expect(JSON.parse((await gateway.cli("grant", "list", "--json")).stdout)).toContainEqual(expect.objectContaining({ id: grant.id, label: name, status: "active", revoked: false }));

    // One call counts against the limit.
    const agent = new Client({ name: "cli-e2e", version: "1.0.0" });
    await agent.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect((await agent.callTool({ name: "get_lists", arguments: {} })).isError).toBeFalsy();
    } finally {
      await agent.close();
    }
    const shown = await gateway.cli("counters", "show", grant.id);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`grant ${grant.id} "${name}" (active), policy "${name}" version ${version}`);
    expect(shown.stdout).toMatch(new RegExp(`^  ${counter} +grant +hour sliding +1/5 +/tools/get_lists/limits/0$`, "m"));
    const reset = await gateway.cli("counters", "reset", grant.id, counter);
    expect(reset.stdout.trim()).toBe(`counter "${counter}" of grant ${grant.id} reset: 1 usage row forgotten, recorded as by ${operator}`);
    expect((await gateway.cli("counters", "show", grant.id, "--json")).stdout).toContain('"used": 0');
    expect((await gateway.cli("counters", "reset", grant.id, "nope")).stderr).toContain(`policy "${name}" has no grant-scoped limit on counter "nope"`);

    const revoked = await gateway.cli("grant", "revoke", grant.id, "--by", "e2e-operator");
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`grant ${grant.id} "${name}" revoked`);
    const again = await gateway.cli("grant", "revoke", grant.id);
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(`grant ${grant.id} is revoked already`);
    expect((await gateway.cli("grant", "revoke", "g_AAAAAAAAAAAA")).stderr.trim()).toBe(`no grant with id g_AAAAAAAAAAAA at ${gateway.origin}`);

    expect((await actions(grant.id)).map((record) => [record.action, record.by])).toEqual([
      ["grant.revoke", "e2e-operator"],
      ["counter.reset", operator],
      ["grant.create", operator],
    ]);
    expect((await actions()).filter((record) => record.target === name).map((record) => [record.action, record.by, record.detail])).toEqual([["policy.push", operator, { name, version }]]);
  });

  it("audit: a page newest first and the command for the next; --json streams every matching record as one JSON line", async () => {
    const name = `cli-audit-${randomBytes(4).toString("hex")}`;
    expect((await gateway.cli("policy", "push", policyFile(JSON.stringify({ version: "1", default: "allow" })), "--name", name)).status).toBe(0);
    const { grant } = JSON.parse((await gateway.cli("grant", "create", "--label", name, "--policy", name, "--json")).stdout) as { grant: { id: string } };
    expect((await gateway.cli("grant", "revoke", grant.id)).status).toBe(0);

    const first = await gateway.cli("audit", "--grant", grant.id, "--decision", "admin", "--limit", "1");
    expect(first.status, first.stderr).toBe(0);
    const [line, more, ...rest] = first.stdout.trim().split("\n");
    expect(rest).toEqual([]);
    expect(line).toMatch(new RegExp(`^\\S+Z  admin  grant\\.revoke  grant="${name}"  by ${operator.replace(/[()]/g, "\\$&")}, target ${grant.id}$`));
    expect(more).toMatch(new RegExp(`^more: mcp-gateway audit --grant ${grant.id} --decision admin --limit 1 --port ${gateway.port} --cursor \\S+$`));
    const next = await runCli(more!.slice("more: mcp-gateway ".length).split(" "));
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout.trim()).toMatch(/^\S+Z  admin  grant\.create  /);

    const streamed = await gateway.cli("audit", "--grant", grant.id, "--json");
    expect(streamed.status, streamed.stderr).toBe(0);
    const records = streamed.stdout.trim().split("\n").map((text) => JSON.parse(text) as { kind: string; action: string; by: string });
    expect(records.map((record) => [record.kind, record.action, record.by])).toEqual([
      ["admin", "grant.revoke", operator],
      ["admin", "grant.create", operator],
    ]);
    const capped = await gateway.cli("audit", "--json", "--limit", "1");
    expect(capped.stdout.trim().split("\n")).toHaveLength(1);
    expect((await gateway.cli("audit", "--decision", "maybe")).stderr).toContain("the gateway refused: decision:");
    expect((await gateway.cli("audit", "--since", "yesterday")).status).toBe(2);
  });

  it("--via-kv, for a Worker that cannot be reached, writes KV past the gateway and says on stderr that it leaves no audit record", async () => {
    const name = `cli-kv-${randomBytes(4).toString("hex")}`;
    const pushed = await cli("policy", "push", policyFile(JSON.stringify({ version: "1", default: "allow" })), "--name", name, "--via-kv");
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain("this leaves NO audit record");
    expect(pushed.stdout).toContain(`policy "${name}" (version `);
    expect(pushed.stdout).toContain("pushed to the local POLICIES namespace (no audit record)");

    const refused = await cli("grant", "create", "--label", name, "--policy", "doesnotexist", "--via-kv");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('grant not created: there is no policy named "doesnotexist" in the local POLICIES namespace');

    const created = await cli("grant", "create", "--label", name, "--policy", name, "--via-kv", "--json");
    expect(created.status, created.stderr).toBe(0);
    expect(created.stderr).toContain("this leaves NO audit record");
    const { grant } = JSON.parse(created.stdout) as { grant: { id: string } };
    // The gateway reads what was written, and knows nothing of it happening.
    expect(JSON.parse((await gateway.cli("grant", "list", "--json")).stdout)).toContainEqual(expect.objectContaining({ id: grant.id, label: name }));
    expect(await actions(grant.id)).toEqual([]);
    expect((await actions()).filter((record) => record.target === name)).toEqual([]);
  });
});
