/**
 * Issue 16's checks from outside, as an attacker meets `npm start`: every
 * admin route refuses without the token, floods of huge arguments and tool
 * names leave the operator's lists answering, a redacted value stays out of
 * the trail, registration and token guessing meet 429, and /authorize never
 * sends a browser to an unverified app on an error.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { startGateway, type RunningGateway } from "../../scripts/local-gateway.ts";

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway?.stop();
});
beforeEach(() => onTestFailed(() => console.log(`npm start output (last 4000 chars):\n${gateway.output().slice(-4000)}`)));

async function admin(path: string, init: RequestInit = {}) {
  const response = await fetch(`${gateway.origin}/admin/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${gateway.adminToken}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  return response;
}

/** A policy pushed and a grant created through the admin API (audited), and the v1 SDK client on it. */
async function agentOn(policy: object) {
  const name = `doors_${crypto.randomUUID().slice(0, 8)}`;
  expect((await admin(`/policies/${name}`, { method: "PUT", body: JSON.stringify({ policy }) })).status).toBe(200);
  const created = await admin("/grants", { method: "POST", body: JSON.stringify({ label: name, policy: name }) });
  expect(created.status).toBe(201);
  const { token, grant } = (await created.json()) as { token: string; grant: { id: string } };
  const client = new Client({ name: "e2e-doors", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { client, grantId: grant.id };
}

describe("issue 16 through npm start", () => {
  it("every route of the admin API's own OpenAPI document answers 401 without a token", async () => {
    const document = (await (await fetch(`${gateway.origin}/admin/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    let routes = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        const url = `${gateway.origin}/admin/api${path.replace("{id}", "apr_AAAAAAAAAAAAAAAAAAAAAA").replace("{name}", "recommended")}`;
        const response = await fetch(url, { method: method.toUpperCase(), headers: { "content-type": "application/json" }, ...(method === "get" ? {} : { body: "{}" }) });
        expect(response.status, `${method} ${path}`).toBe(401);
        routes++;
      }
    }
    expect(routes).toBeGreaterThanOrEqual(16);
    expect((await fetch(`${gateway.origin}/admin/api/policies/openapi.json`, { method: "PUT", body: JSON.stringify({ policy: { version: "1", default: "allow" } }), headers: { "content-type": "application/json" } })).status).toBe(401);
  });

  it("40 calls with 900 KB arguments and 40 with 900 KB tool names: the pending approvals, the trail and its NDJSON export answer 200 within seconds; a redacted value never appears in the trail", async () => {
    const { client, grantId } = await agentOn({
      version: "1",
      default: "allow",
      tools: { send_email: { action: "approve" } },
    });
    const big = "z".repeat(900_000);
    for (let i = 0; i < 40; i++) {
      const answer = (await client.callTool({ name: "send_email", arguments: { campaignId: 1, recipientEmail: `r${i}@example.com`, dataFields: { big } } })) as { isError?: boolean; content: Array<{ text: string }> };
      expect(answer.isError).toBe(true);
      expect(answer.content[0]!.text).toContain("too large to review");
      await expect(client.callTool({ name: `${big}${i}`, arguments: {} })).rejects.toThrow(/128/);
    }
    // Redacted (keys only, the default): the value the agent sent is in its refusal, never in the trail.
    const redacted = (await client.callTool({ name: "track_event", arguments: { eventName: "e", campaignId: -987654321 } })) as { isError?: boolean; content: Array<{ text: string }> };
    expect(redacted.isError).toBe(true);

    await new Promise((resolve) => setTimeout(resolve, 1500)); // records are written off the agent's path
    const started = Date.now();
    const pending = await admin("/approvals?status=pending");
    expect(pending.status).toBe(200);
    await pending.text();
    const trail = await admin(`/grants/${grantId}/audit?limit=1000`);
    expect(trail.status).toBe(200);
    const trailText = await trail.text();
    expect(JSON.parse(trailText).records.length).toBeGreaterThanOrEqual(81);
    expect(trailText).not.toContain("987654321");
    const merged = await admin("/audit?limit=1000");
    expect(merged.status).toBe(200);
    await merged.text();
    const ndjson = await admin("/audit", { headers: { accept: "application/x-ndjson" } });
    expect(ndjson.status).toBe(200);
    const lines = (await ndjson.text()).trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(81);
    expect(lines.every((line) => line.length <= 64 * 1024)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("a 100,000-character client_name is 400; /authorize shows its errors on the gateway's page instead of redirecting to the app", async () => {
    const register = (body: object) => fetch(`${gateway.origin}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const huge = await register({ client_name: "n".repeat(100_000), redirect_uris: ["https://evil.example/landing"], token_endpoint_auth_method: "none" });
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { error: string }).error).toBe("invalid_client_metadata");
    const registered = await register({ client_name: "evil", redirect_uris: ["https://evil.example/landing"], token_endpoint_auth_method: "none" });
    expect(registered.status).toBe(201);
    const { client_id } = (await registered.json()) as { client_id: string };
    const base = { client_id, redirect_uri: "https://evil.example/landing", state: "s", resource: `${gateway.origin}/mcp` };
    const attempts: Array<Record<string, string>> = [
      { ...base, response_type: "code" }, // no PKCE
      { ...base, response_type: "code", code_challenge: "x".repeat(43), code_challenge_method: "plain" },
      { ...base, response_type: "code", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", resource: "https://elsewhere.example/mcp" },
      { ...base, response_type: "token", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" },
    ];
    for (const query of attempts) {
      const response = await fetch(`${gateway.origin}/authorize?${new URLSearchParams(query)}`, { redirect: "manual" });
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).not.toMatch(/href="https:\/\/evil\.example/);
    }
  });

  // wrangler dev, like Cloudflare's edge, names the client in CF-Connecting-IP, keeping one the client sent: each flood
  // below comes from an address of its own, so it leaves the loopback address (the other tests') unthrottled.
  it("300 concurrent registrations from one address meet 429 with Retry-After", async () => {
    const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        fetch(`${gateway.origin}/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": address },
          body: JSON.stringify({ client_name: `flood ${i}`, redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" }),
        }),
      ),
    );
    const statuses = answers.map((response) => response.status);
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(280);
    expect(answers.find((response) => response.status === 429)?.headers.get("retry-after")).toBe("60");
  });

  it("200 concurrent wrong admin tokens meet 429; the right token still answers at once", async () => {
    const address = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fetch(`${gateway.origin}/admin/api/grants`, { headers: { authorization: `Bearer wrong-admin-token-${i}-0123456789abcdef`, "cf-connecting-ip": address } })),
    );
    const statuses = answers.map((response) => response.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(190);
    // The right token, from that very address, answers at once.
    const started = Date.now();
    expect((await admin("/grants", { headers: { "cf-connecting-ip": address } })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
