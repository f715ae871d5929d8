/**
 * Grants name the servers they reach: the admin API's grant creation takes
 * `servers` (each declared, at least one; absent, the default server), the
 * record keeps them, lists and the audit record show them, and the grant is
 * refused at any other server's URL before anything is forwarded.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdminRecord } from "../../src/audit/record.ts";
import { AuditService } from "../../src/audit/service.ts";
import { hashToken, tokenKey } from "../../src/grants/grant.ts";
import { ALLOW_ALL, gateway, newTag, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP, upstreamLog, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";

/** Two servers, both the sandbox: its Iterable-shaped server first (the default), its features server second. */
export const TWO_SERVERS = JSON.stringify([
  { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL", catalog: "iterable" },
  { name: "features", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
]);

function api(gw: Gateway, path: string, method = "GET", body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return gw.fetch(`${ORIGIN}/admin/api${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

type Created = { grant: { id: string; servers?: string[] }; token: string };

async function create(gw: Gateway, body: Record<string, unknown>): Promise<Created> {
  const response = await api(gw, "/grants", "POST", body);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Created;
}

function initialize(gw: Gateway, token: string, path: string, tag: string) {
  return gw.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "x-sandbox-tag": tag },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
  });
}

describe("grant creation names the servers a grant reaches", () => {
  it("grant creation ignored servers: a grant for features alone is stored with it, listed with it, and audited with it", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const policy = await putPolicy(ALLOW_ALL);
    const { grant, token } = await create(gw, { label: "features-only", policy, servers: ["features"] });
    expect(grant.servers).toEqual(["features"]);
    const stored = await env.GRANTS.get(tokenKey(await hashToken(token)), { type: "json" });
    expect(stored).toMatchObject({ id: grant.id, servers: ["features"] });

    const listed = (await (await api(gw, "/grants")).json()) as { grants: Array<{ id: string; servers?: string[] }> };
    expect(listed.grants.find((row) => row.id === grant.id)?.servers).toEqual(["features"]);

    const { records } = await new AuditService(env).grantPage(grant.id, { decision: "admin", limit: 10 });
    const created = records.find((record): record is AdminRecord => record.kind === "admin" && record.action === "grant.create");
    expect(created?.detail).toMatchObject({ servers: ["features"] });
  });

  it("servers are stored in the order the gateway declares them, each once", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const { grant } = await create(gw, { label: "both", policy: await putPolicy(ALLOW_ALL), servers: ["features", "iterable", "features"] });
    expect(grant.servers).toEqual(["iterable", "features"]);
  });

  it("without servers, the grant reaches the default server and its record says so", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const { grant } = await create(gw, { label: "default", policy: await putPolicy(ALLOW_ALL) });
    expect(grant.servers).toEqual(["iterable"]);
  });

  it("an unknown server was accepted: 400 naming it, and no grant is made", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const label = `unknown-${crypto.randomUUID()}`;
    const response = await api(gw, "/grants", "POST", { label, policy: await putPolicy(ALLOW_ALL), servers: ["iterable", "crm"] });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.message).toContain('"crm"');
    expect(body.message).toContain("iterable, features");
    const listed = (await (await api(gw, "/grants")).json()) as { grants: Array<{ label: string }> };
    expect(listed.grants.some((row) => row.label === label)).toBe(false);
  });

  it("an empty list of servers is refused: a grant reaching nothing is no grant", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const response = await api(gw, "/grants", "POST", { label: "none", policy: await putPolicy(ALLOW_ALL), servers: [] });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain("name at least one server");
  });

  it("a grant made for iterable alone is refused (403) at /mcp/features before anything is forwarded, and answered at /mcp/iterable", async () => {
    const gw = gateway({ SERVERS: TWO_SERVERS });
    const { token } = await create(gw, { label: "iterable-only", policy: await putPolicy(ALLOW_ALL), servers: ["iterable"] });
    const refusedTag = newTag();
    const refused = await initialize(gw, token, "/mcp/features", refusedTag);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('does not reach the server "features"');
    expect(await upstreamLog(refusedTag)).toEqual([]);

    const answered = await initialize(gw, token, "/mcp/iterable", newTag());
    expect(answered.status).toBe(200);
    await answered.text();
  });
});
