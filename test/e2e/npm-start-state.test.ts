/**
 * What `npm start` keeps, and whose it is (issue 18, bugs 2-4): the shipped
 * policy only where the operator has not changed it, one record per running
 * start (so two starts in one folder never take each other's away), and the
 * admin token across restarts.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT, runCli, startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";
import { seedShippedPolicy } from "../../scripts/start-seed.ts";
import { STATE_FILE } from "../../scripts/start-state.ts";
import { instanceFile } from "../../src/cli/local-instances.ts";
import { policyVersion } from "../../src/policy/version.ts";

const SHIPPED_FILE = "policies/iterable/recommended.json";
const operator = `${userInfo().username} (cli)`;
const files = mkdtempSync(join(tmpdir(), "npm-start-state-"));
/** A test that starts npm start two or three times. */
const RESTARTS_TIMEOUT_MS = 300_000;

// Every start a test makes is stopped, whatever happens to the test.
const running: RunningGateway[] = [];
async function start(...args: string[]): Promise<RunningGateway> {
  const gateway = await startGateway(args);
  running.push(gateway);
  return gateway;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((gateway) => gateway.stop()));
});

async function admin(gateway: RunningGateway, path: string, token = gateway.adminToken): Promise<Response> {
  return fetch(`${gateway.origin}/admin/api${path}`, { headers: { authorization: `Bearer ${token}` } });
}

async function storedVersion(gateway: RunningGateway, name: string): Promise<string | null> {
  const response = await admin(gateway, `/policies/${name}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { version: string | null }).version;
}

describe("npm start keeps what the operator changed", () => {
  it("a restart silently replaced an operator's edited recommended policy with the shipped file: the edit survives, and the restart prints the one line that says how to take the shipped one", async () => {
    const shipped = JSON.parse(readFileSync(join(ROOT, SHIPPED_FILE), "utf8")) as { tools: Record<string, unknown> };
    const shippedVersion = await policyVersion(shipped);
    // The operator's edit: one more write an hour. Nothing else a concurrent test could notice.
    const edited = { ...shipped, tools: { ...shipped.tools, "@writes": { limits: [{ counter: "writes_per_hour", window: "hour", max: 101, scope: "grant" }] } } };
    const editedVersion = await policyVersion(edited);
    const file = join(files, "edited.json");
    writeFileSync(file, JSON.stringify(edited, null, 2));

    const first = await start();
    let restarted: RunningGateway | undefined;
    try {
      expect(first.output()).toMatch(/^policy: {3}"recommended" version [0-9a-f]{16} \(policies\/iterable\/recommended\.json/m);
      const pushed = await first.cli("policy", "push", file, "--name", "recommended");
      expect(pushed.status, pushed.stderr).toBe(0);
      await first.stop();

      restarted = await start();
      expect(await storedVersion(restarted, "recommended")).toBe(editedVersion);
      const line = `policy:   "recommended" version ${editedVersion} kept: it was changed since npm start pushed it; to take the shipped one (version ${shippedVersion}): npx mcp-gateway policy push ${SHIPPED_FILE} --name recommended`;
      expect(restarted.output().split("\n").filter((text) => text.startsWith("policy:"))).toEqual([line]);
      // The trail's latest push of recommended is the version in force, and it names the operator.
      const pushes = ((await (await admin(restarted, "/audit?decision=admin&limit=1000")).json()) as { records: Array<{ action: string; target: string; by: string; detail: { version: string } }> }).records.filter(
        (record) => record.action === "policy.push" && record.target === "recommended",
      );
      expect(pushes[0]).toMatchObject({ by: operator, detail: { version: editedVersion } });
    } finally {
      // Back to the shipped policy, as the line says, for the tests and starts after this one.
      const target = restarted ?? first;
      if (target) {
        const taken = await target.cli("policy", "push", SHIPPED_FILE, "--name", "recommended");
        expect(taken.status, taken.stderr).toBe(0);
      }
    }
    expect(await storedVersion(restarted!, "recommended")).toBe(shippedVersion);
  }, RESTARTS_TIMEOUT_MS);

  it("npm start pushes a shipped policy where none is stored or where the stored one is what it pushed last (audited as npm start), and keeps an operator's", async () => {
    const gateway = await start();
    const name = `shipped-e2e-${randomBytes(4).toString("hex")}`;
    const shippedFile = join(files, `${name}.json`);
    const stateFile = join(files, `${name}-state.json`);
    const target = { origin: gateway.origin, token: gateway.adminToken, from: "npm start" as const, tokenFromEnv: false };
    const ship = async (max: number) => {
      const document = { version: "1", default: "deny", tools: { get_lists: { limits: [{ counter: "lists", window: "hour", max }] } } };
      writeFileSync(shippedFile, JSON.stringify(document));
      return policyVersion(document);
    };

    const v1 = await ship(1);
    expect(await seedShippedPolicy(target, { name, file: shippedFile }, "/", stateFile)).toBe(`policy:   "${name}" version ${v1} (${shippedFile}, pushed)`);
    expect(await storedVersion(gateway, name)).toBe(v1);
    expect(await seedShippedPolicy(target, { name, file: shippedFile }, "/", stateFile)).toBe(`policy:   "${name}" version ${v1} (${shippedFile})`);

    // A new shipped version replaces the one npm start pushed.
    const v2 = await ship(2);
    expect(await seedShippedPolicy(target, { name, file: shippedFile }, "/", stateFile)).toBe(`policy:   "${name}" version ${v2} (${shippedFile}, pushed, was ${v1})`);
    expect(await storedVersion(gateway, name)).toBe(v2);

    // The operator's own version is kept, whatever is shipped next.
    const mine = join(files, `${name}-mine.json`);
    writeFileSync(mine, JSON.stringify({ version: "1", default: "deny", tools: { get_lists: {} } }));
    expect((await gateway.cli("policy", "push", mine, "--name", name)).status).toBe(0);
    const operatorVersion = await storedVersion(gateway, name);
    const v3 = await ship(3);
    expect(await seedShippedPolicy(target, { name, file: shippedFile }, "/", stateFile)).toBe(
      `policy:   "${name}" version ${operatorVersion} kept: it was changed since npm start pushed it; to take the shipped one (version ${v3}): npx mcp-gateway policy push ${shippedFile} --name ${name}`,
    );
    expect(await storedVersion(gateway, name)).toBe(operatorVersion);

    const records = ((await (await admin(gateway, "/audit?decision=admin&limit=1000")).json()) as { records: Array<{ action: string; target: string; by: string; detail: { version: string } }> }).records;
    expect(records.filter((record) => record.target === name).map((record) => [record.action, record.by, record.detail.version])).toEqual([
      ["policy.push", operator, operatorVersion],
      ["policy.push", "npm start", v2],
      ["policy.push", "npm start", v1],
    ]);
  });
});

describe("one running npm start's state is its own", () => {
  it("a second npm start in the same folder deleted the first one's admin file when it stopped: two starts each keep working, and after one stops the CLI finds the other without flags", async () => {
    const [a, b] = [await start(), await start()];
    expect(existsSync(instanceFile(a.port))).toBe(true);
    expect(existsSync(instanceFile(b.port))).toBe(true);

    // Two running: the CLI names them and asks which.
    const which = await runCli(["grant", "list"], { MCP_GATEWAY_ADMIN_TOKEN: undefined });
    expect(which.status).toBe(1);
    expect(which.stderr).toContain("npm starts are running: ");
    expect(which.stderr).toContain(`${a.origin} (pid ${a.pid})`);
    expect(which.stderr).toContain(`${b.origin} (pid ${b.pid})`);
    expect(which.stderr).toContain("say which with --port");

    // Each by its port, and each by its URL (a running start's URL brings its own token).
    for (const gateway of [a, b]) {
      const label = `two-starts-${gateway.port}`;
      const byPort = await gateway.cli("grant", "create", "--label", label, "--policy", "recommended", "--json");
      expect(byPort.status, byPort.stderr).toBe(0);
      const byUrl = await runCli(["audit", "--decision", "admin", "--limit", "1", "--url", gateway.origin], { MCP_GATEWAY_ADMIN_TOKEN: undefined });
      expect(byUrl.status, byUrl.stderr).toBe(0);
      expect(byUrl.stdout).toContain(`grant="${label}"`);
    }

    await b.stop();
    expect(existsSync(instanceFile(b.port))).toBe(false);
    expect(existsSync(instanceFile(a.port))).toBe(true);
    const alone = await runCli(["grant", "create", "--label", "after-b-stopped", "--policy", "recommended", "--json"], { MCP_GATEWAY_ADMIN_TOKEN: undefined });
    expect(alone.status, alone.stderr).toBe(0);
    const { grant } = JSON.parse(alone.stdout) as { grant: { id: string } };
    expect((await admin(a, `/grants/${grant.id}/counters`)).status).toBe(200);

    // A start that dies leaves its record behind; the CLI ignores it and removes it.
    await a.stop("SIGKILL");
    expect(existsSync(instanceFile(a.port))).toBe(true);
    const none = await runCli(["grant", "list"], { MCP_GATEWAY_ADMIN_TOKEN: undefined });
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe("no running npm start found: start the gateway with npm start, or pass --url and set MCP_GATEWAY_ADMIN_TOKEN");
    expect(existsSync(instanceFile(a.port))).toBe(false);
    // The rest of what it left (its Iterable Worker config) goes with the next start on that port; none will come.
    rmSync(dirname(instanceFile(a.port)), { recursive: true, force: true });
  }, RESTARTS_TIMEOUT_MS);

  it("the admin token changed on every start, signing browsers out: it is kept across a restart (mode 0600), and --new-admin-token replaces it and says so", async () => {
    const first = await start();
    const kept = first.adminToken;
    expect(statSync(STATE_FILE).mode & 0o777).toBe(0o600);
    expect(statSync(instanceFile(first.port)).mode & 0o777).toBe(0o600);
    await first.stop();

    const second = await start();
    expect(second.adminToken).toBe(kept);
    expect(second.output()).not.toContain("--new-admin-token asked");
    expect((await admin(second, "/grants")).status).toBe(200);
    await second.stop();

    const rotated = await start("--new-admin-token");
    expect(rotated.adminToken).not.toBe(kept);
    expect(rotated.output()).toContain(`admin token: ${rotated.adminToken}\n          a new one, as --new-admin-token asked: browsers signed in with the old one sign in again`);
    expect((await admin(rotated, "/grants", kept)).status).toBe(401);
    expect((await admin(rotated, "/grants")).status).toBe(200);
    expect((await rotated.cli("grant", "list")).status).toBe(0);
  }, RESTARTS_TIMEOUT_MS);
});
