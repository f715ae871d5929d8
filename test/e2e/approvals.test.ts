import { userInfo } from "node:os";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { freePort, runCli, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";
import { ADMIN_TOKEN_ENV } from "../../src/cli/admin-target.ts";
import { instanceFile } from "../../src/cli/local-instances.ts";

/** Who the CLI records as deciding when --by is not given. */
const operator = `${userInfo().username} (cli)`;

type Decision = { decision: string; approval?: { id: string; status: string; expiresAt: string; url: string } };
type Approval = { id: string; status: string; tool: string; arguments: Record<string, unknown>; grant: { label: string }; note: string | null; url: string };
/** A row of `approvals list --json`: the approval without its arguments, with their start. */
type ListedApproval = Omit<Approval, "arguments"> & { argumentsPreview: string };

let gateway: RunningGateway;
// Every CLI answer, to prove the admin token never shows up in one.
const outputs: string[] = [];

beforeAll(async () => {
  gateway = await startGateway(["--sandbox"]);
});
afterAll(async () => {
  try {
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) expect(output).not.toContain(gateway.adminToken);
  } finally {
    await gateway?.stop();
  }
});
const clients: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 6000 chars):\n${gateway.output().slice(-6000)}`)));

/** An SDK client on the dev grant whose traffic the sandbox logs under its own tag. */
async function connect() {
  const tag = `approvals-${randomBytes(6).toString("hex")}`;
  const transport = new StreamableHTTPClientTransport(new URL(gateway.url), {
    requestInit: { headers: { authorization: `Bearer ${gateway.token}`, "x-sandbox-tag": tag } },
  });
  const client = new Client({ name: "e2e-approvals", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
  /** How many calls of `tool` reached the sandbox. */
  const arrived = async (tool: string) => {
    const log = (await (await fetch(`${new URL(gateway.upstreamUrl).origin}/__log?tag=${tag}`)).json()) as Array<{ body: string }>;
    return log.filter((entry) => entry.body.includes('"tools/call"') && entry.body.includes(`"${tool}"`)).length;
  };
  return { call, arrived };
}

/** `mcp-gateway …` with this environment on top of the test's own (`undefined` removes a variable). */
async function run(env: Record<string, string | undefined>, ...args: string[]) {
  const result = await runCli(args, env);
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** `mcp-gateway approvals …` against the gateway's origin with its admin token, as against a deployed one. */
const approvals = (...args: string[]) => run({ [ADMIN_TOKEN_ENV]: gateway.adminToken }, "approvals", ...args, "--url", gateway.origin);

function decisionOf(result: CallToolResult): Decision {
  return result._meta?.["mcp-policy-gateway/decision"] as Decision;
}

function textOf(result: CallToolResult): string {
  return result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
}

/** A pending approval's id, after checking the call was held for it. */
function pendingId(result: CallToolResult): string {
  expect(result.isError, JSON.stringify(result)).toBe(true);
  const decision = decisionOf(result);
  expect(decision).toMatchObject({ decision: "approval_required", approval: { status: "pending", id: expect.stringMatching(/^apr_/) } });
  expect(textOf(result)).toContain(`approval ${decision.approval!.id} is pending`);
  return decision.approval!.id;
}

// The local state outlives each npm start, and an approval is bound to its
// arguments: a campaign id of this run's own keeps earlier runs' approvals out.
const freshCampaign = () => randomInt(1_000_000, 1_000_000_000);

describe("approvals through npm start: the agent waits, an operator decides with the CLI, the call runs once", () => {
  it("pending → listed → approved → runs exactly once → a new call needs a new approval → denied with a note", async () => {
    const agent = await connect();
    const campaignId = freshCampaign();

    const first = await agent.call("send_campaign", { campaignId });
    const firstId = pendingId(first);
    expect(await agent.arrived("send_campaign")).toBe(0);

    const listed = await approvals("list", "--status", "pending", "--json");
    expect(listed.status, listed.stderr).toBe(0);
    const pending = (JSON.parse(listed.stdout) as { approvals: ListedApproval[]; cursor: string | null }).approvals;
    expect(pending).toContainEqual(expect.objectContaining({ id: firstId, status: "pending", tool: "send_campaign", argumentsPreview: `{"campaignId":${campaignId}}`, grant: expect.objectContaining({ label: "dev" }) }));

    const text = await approvals("list", "--status", "pending");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${firstId}  pending   send_campaign +grant="dev" +requested=\\S+  expires=\\S+  args=\\{"campaignId":${campaignId}\\}$`, "m"));

    const shown = await approvals("show", firstId);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`approval ${firstId}: pending`);
    expect(shown.stdout).toContain(`"campaignId": ${campaignId}`);
    expect(shown.stdout).toContain(`page:      ${decisionOf(first).approval!.url}`);

    const approved = await approvals("approve", firstId, "--note", "ok");
    expect(approved.status, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`approval ${firstId} approved by ${operator}`);
    expect(approved.stdout).toContain("note: ok");

    const retry = await agent.call("send_campaign", { campaignId });
    expect(retry.isError, JSON.stringify(retry)).toBeFalsy();
    expect(await agent.arrived("send_campaign")).toBe(1);
    const used = await approvals("show", firstId, "--json");
    expect(JSON.parse(used.stdout)).toMatchObject({ id: firstId, status: "consumed", note: "ok", decidedBy: operator });

    // Used once: the same call again asks for a new approval.
    const again = await agent.call("send_campaign", { campaignId });
    const secondId = pendingId(again);
    expect(secondId).not.toBe(firstId);
    expect(await agent.arrived("send_campaign")).toBe(1);

    const denied = await approvals("deny", secondId, "--note", "not this campaign today", "--by", "e2e-operator");
    expect(denied.status, denied.stderr).toBe(0);
    expect(denied.stdout).toContain(`approval ${secondId} denied by e2e-operator`);

    const refused = await agent.call("send_campaign", { campaignId });
    expect(refused.isError).toBe(true);
    expect(decisionOf(refused)).toMatchObject({ decision: "deny", approval: { id: secondId, status: "denied" } });
    expect(textOf(refused)).toContain("not this campaign today");
    expect(await agent.arrived("send_campaign")).toBe(1);

    // Decided approvals stay decided, and the CLI says how.
    const late = await approvals("approve", secondId);
    expect(late.status).toBe(1);
    expect(late.stderr).toContain(`cannot approve approval ${secondId}: it is already denied (by e2e-operator at `);
    expect(late.stderr).toContain("not this campaign today");
    const twice = await approvals("deny", firstId);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain(`cannot deny approval ${firstId}: it is already consumed: approved (by ${operator} at `);
    expect(await agent.arrived("send_campaign")).toBe(1);
  });

  it("an approval binds the arguments, not their key order", async () => {
    // send_campaign takes only campaignId; send_email (also @sends) takes several.
    const agent = await connect();
    const campaignId = freshCampaign();
    const id = pendingId(await agent.call("send_email", { campaignId, recipientEmail: "ada@example.com" }));
    expect((await approvals("approve", id)).status).toBe(0);

    const reordered = await agent.call("send_email", { recipientEmail: "ada@example.com", campaignId });
    expect(reordered.isError, JSON.stringify(reordered)).toBeFalsy();
    expect(await agent.arrived("send_email")).toBe(1);
    expect(JSON.parse((await approvals("show", id, "--json")).stdout)).toMatchObject({ status: "consumed" });
  });

  it("without --url the CLI finds the running npm start (URL and admin token) by itself", async () => {
    expect(JSON.parse(readFileSync(instanceFile(gateway.port), "utf8"))).toMatchObject({ url: gateway.origin, port: gateway.port, pid: gateway.pid, token: gateway.adminToken });
    const agent = await connect();
    const id = pendingId(await agent.call("send_campaign", { campaignId: freshCampaign() }));

    const listed = await run({ [ADMIN_TOKEN_ENV]: undefined }, "approvals", "list", "--status", "pending", "--json");
    expect(listed.status, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { approvals: ListedApproval[] }).approvals.map((a) => a.id)).toContain(id);
    const denied = await run({ [ADMIN_TOKEN_ENV]: undefined }, "approvals", "deny", id);
    expect(denied.status, denied.stderr).toBe(0);
    expect(denied.stdout).toContain(`approval ${id} denied by ${operator}`);

    // MCP_GATEWAY_ADMIN_TOKEN, when set, overrides npm start's token.
    const overridden = await run({ [ADMIN_TOKEN_ENV]: "not-the-token" }, "approvals", "list");
    expect(overridden.status).toBe(1);
    expect(overridden.stderr).toContain(`refused the admin token in ${ADMIN_TOKEN_ENV}: unset it to use npm start's own token`);
  });

  it("wrong token, unknown approval, no token, nothing listening, no admin API: clear errors, exit 1", async () => {
    const wrong = await run({ [ADMIN_TOKEN_ENV]: "wrong-token" }, "approvals", "list", "--url", gateway.origin);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim()).toBe(`the gateway at ${gateway.origin} refused the admin token in ${ADMIN_TOKEN_ENV}: it is not the gateway's ADMIN_TOKEN`);
    expect(wrong.stdout).toBe("");

    const unknown = await approvals("show", "apr_AAAAAAAAAAAAAAAAAAAAAA");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim()).toBe(`no approval apr_AAAAAAAAAAAAAAAAAAAAAA at ${gateway.origin}`);

    const malformed = await approvals("approve", "42");
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toContain('"42" is not an approval id');

    // The URL of a running npm start lends its own token; any other URL needs the variable.
    const local = await run({ [ADMIN_TOKEN_ENV]: undefined }, "approvals", "list", "--url", gateway.origin);
    expect(local.status, local.stderr).toBe(0);
    const noToken = await run({ [ADMIN_TOKEN_ENV]: undefined }, "approvals", "list", "--url", new URL(gateway.upstreamUrl).origin);
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toContain(`${ADMIN_TOKEN_ENV} is not set`);
    expect(noToken.stderr).toContain("start the gateway with npm start, or pass --url and set MCP_GATEWAY_ADMIN_TOKEN");

    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const down = await run({ [ADMIN_TOKEN_ENV]: "any" }, "approvals", "list", "--url", nowhere);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain(`cannot reach the gateway at ${nowhere} (ECONNREFUSED`);

    // The sandbox upstream is an HTTP server without /admin, like a gateway without ADMIN_TOKEN.
    const notAGateway = await run({ [ADMIN_TOKEN_ENV]: "any" }, "approvals", "list", "--url", new URL(gateway.upstreamUrl).origin);
    expect(notAGateway.status).toBe(1);
    expect(notAGateway.stderr).toContain("has no admin API: the gateway runs without an ADMIN_TOKEN");

    const badStatus = await approvals("list", "--status", "waiting");
    expect(badStatus.status).toBe(1);
    expect(badStatus.stderr).toContain("--status takes one of pending, approved, denied, expired, consumed");
  });
});
