/**
 * Who an operator action names. The admin token names nobody, so a caller of
 * the admin API (the CLI, npm start) says who acts with an optional `by` on
 * every route that changes something, as the approval decisions already take
 * it; without one the record says "admin (api)". `by` is bounded like the
 * approvals' (1 to 200 characters): anything else is refused and nothing
 * changes.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdminRecord, AuditRecord } from "../../src/audit/record.ts";
import { AuditService, GATEWAY_AUDIT_OBJECT } from "../../src/audit/service.ts";
import { ALLOW_ALL, gateway, putPolicy, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";

function api(gw: Gateway, path: string, method = "GET", body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return gw.fetch(`${ORIGIN}/admin/api${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

/** The operator records an object keeps (a grant's, or the gateway-wide one), newest first. */
async function actions(object: string): Promise<AdminRecord[]> {
  const { records } = await new AuditService(env).grantPage(object, { decision: "admin", limit: 1000 });
  return records.filter((record: AuditRecord): record is AdminRecord => record.kind === "admin");
}

const LIMITED = (counter: string) => ({ version: "1", default: "allow", all_tools: { limits: [{ counter, window: "hour", max: 5 }] } });

describe("the admin API records who acts as the caller names them (`by`)", () => {
  it("every change through the admin API was recorded as admin (api), whoever the caller said it was: grant create, revoke, counter reset and policy push record the given by", async () => {
    const gw = gateway();
    const counter = `by_${crypto.randomUUID().slice(0, 8)}`;
    const policy = await putPolicy(LIMITED(counter));

    const created = await api(gw, "/grants", "POST", { label: "by-test", policy, by: "alice (cli)" });
    expect(created.status, await created.clone().text()).toBe(201);
    const { grant } = (await created.json()) as { grant: { id: string } };
    const reset = await api(gw, `/grants/${grant.id}/counters/reset`, "POST", { counter, scope: "grant", by: "bob (cli)" });
    expect(reset.status, await reset.clone().text()).toBe(200);
    const revoked = await api(gw, `/grants/${grant.id}/revoke`, "POST", { by: "carol (cli)" });
    expect(revoked.status, await revoked.clone().text()).toBe(200);
    expect((await actions(grant.id)).map((record) => [record.action, record.by])).toEqual([
      ["grant.revoke", "carol (cli)"],
      ["counter.reset", "bob (cli)"],
      ["grant.create", "alice (cli)"],
    ]);

    const name = `by-${crypto.randomUUID().slice(0, 8)}`;
    const pushed = await api(gw, `/policies/${name}`, "PUT", { policy: ALLOW_ALL, by: "npm start" });
    expect(pushed.status, await pushed.clone().text()).toBe(200);
    const push = (await actions(GATEWAY_AUDIT_OBJECT)).find((record) => record.target === name);
    expect(push).toMatchObject({ action: "policy.push", by: "npm start" });
  });

  it("without by, a change is still recorded as admin (api); revoke takes no body at all", async () => {
    const gw = gateway();
    const policy = await putPolicy(ALLOW_ALL);
    const created = await api(gw, "/grants", "POST", { label: "no-by", policy });
    const { grant } = (await created.json()) as { grant: { id: string } };
    expect((await api(gw, `/grants/${grant.id}/revoke`, "POST")).status).toBe(200);
    expect((await actions(grant.id)).map((record) => record.by)).toEqual(["admin (api)", "admin (api)"]);
  });

  it("a by that is empty, over 200 characters or not a string is refused with 400, and nothing changes", async () => {
    const gw = gateway();
    const counter = `by_${crypto.randomUUID().slice(0, 8)}`;
    const policy = await putPolicy(LIMITED(counter));
    const created = await api(gw, "/grants", "POST", { label: "bounded", policy });
    const { grant } = (await created.json()) as { grant: { id: string } };
    const before = (await api(gw, "/grants").then((r) => r.json() as Promise<{ grants: unknown[] }>)).grants.length;
    const name = `by-${crypto.randomUUID().slice(0, 8)}`;

    for (const by of ["", "x".repeat(201), 42]) {
      const attempts: Array<[string, string, unknown]> = [
        ["/grants", "POST", { label: "too-long", policy, by }],
        [`/grants/${grant.id}/revoke`, "POST", { by }],
        [`/grants/${grant.id}/counters/reset`, "POST", { counter, scope: "grant", by }],
        [`/policies/${name}`, "PUT", { policy: ALLOW_ALL, by }],
      ];
      for (const [path, method, body] of attempts) {
        const response = await api(gw, path, method, body);
        expect(response.status, `${method} ${path} by=${JSON.stringify(by).slice(0, 20)}`).toBe(400);
        expect(await response.json()).toMatchObject({ error: "invalid_request", message: expect.stringContaining("by") });
      }
    }
    expect((await api(gw, "/grants").then((r) => r.json() as Promise<{ grants: unknown[] }>)).grants.length).toBe(before);
    expect((await api(gw, "/grants").then((r) => r.json() as Promise<{ grants: Array<{ id: string; status: string }> }>)).grants.find((g) => g.id === grant.id)?.status).toBe("active");
    expect(await env.POLICIES.get(name)).toBeNull();
    expect((await actions(grant.id)).map((record) => record.action)).toEqual(["grant.create"]);
    // 200 characters is the bound, not past it.
    const longest = await api(gw, `/grants/${grant.id}/revoke`, "POST", { by: "y".repeat(200) });
    expect(longest.status).toBe(200);
  });
});
