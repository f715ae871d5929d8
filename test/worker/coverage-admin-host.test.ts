/**
 * Doors that had no test of their own (issue 21): the `/admin` host guard
 * against DNS rebinding under a loopback PUBLIC_URL (as `npm start` runs the
 * gateway), and `GET` / `DELETE /mcp` without a token.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateway, newTag, openGrant, rawAgent, signInCookie, TAG_HEADER, upstreamLog } from "./gateway.ts";

const LOCAL = { PUBLIC_URL: "http://localhost:8787" };
const LOOPBACK_HOSTS = ["localhost:8787", "127.0.0.1:8787", "[::1]:8787"];
const FOREIGN_HOSTS = ["evil.example:8787", "evil.example", "localhost:9999", "localhost", "127.0.0.2:8787"];

const adminToken = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

describe("/admin under a loopback PUBLIC_URL: only loopback names on its port", () => {
  it("the API, with the right admin token, refuses a foreign Host (403) and answers each loopback name", async () => {
    const gw = gateway(LOCAL);
    for (const host of FOREIGN_HOSTS) {
      const response = await gw.fetch(`http://${host}/admin/api/grants`, { headers: adminToken });
      expect(response.status, host).toBe(403);
      expect(await response.json(), host).toEqual({ error: "forbidden", message: `host ${host} is not allowed` });
    }
    for (const host of LOOPBACK_HOSTS) {
      const response = await gw.fetch(`http://${host}/admin/api/grants`, { headers: adminToken });
      expect(response.status, host).toBe(200);
      expect(await response.json(), host).toHaveProperty("grants");
    }
  });

  it("the Host header decides, not the URL the request names (a rebinding page's requests carry its own name)", async () => {
    const gw = gateway(LOCAL);
    const rebound = await gw.fetch("http://localhost:8787/admin/api/grants", { headers: { ...adminToken, host: "evil.example:8787" } });
    expect(rebound.status).toBe(403);
    expect((await gw.fetch("http://localhost:8787/admin/api/grants", { headers: { ...adminToken, host: "LOCALHOST:8787" } })).status).toBe(200);
  });

  it("the pages, the sign-in and the API's own document are behind the guard too", async () => {
    const gw = gateway(LOCAL);
    const signIn = (host: string) =>
      gw.fetch(`http://${host}/admin/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: env.ADMIN_TOKEN, next: "/admin/approvals" }).toString(),
        redirect: "manual",
      });
    const foreign = await signIn("evil.example:8787");
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
    const local = await signIn("127.0.0.1:8787");
    expect(local.status).toBe(303);
    const cookie = local.headers.get("set-cookie")!.split(";")[0]!;

    expect((await gw.fetch("http://evil.example:8787/admin/approvals", { headers: { cookie } })).status).toBe(403);
    expect((await gw.fetch("http://127.0.0.1:8787/admin/approvals", { headers: { cookie } })).status).toBe(200);
    expect((await gw.fetch("http://evil.example:8787/admin/api/openapi.json")).status).toBe(403);
    expect((await gw.fetch("http://[::1]:8787/admin/api/openapi.json")).status).toBe(200);
    expect((await gw.fetch("http://evil.example:8787/admin")).status).toBe(403);
  });

  it("a deployed gateway (public PUBLIC_URL, or none) does not restrict Host: the edge routes only its own names", async () => {
    for (const vars of [{ PUBLIC_URL: "https://mcp.example.com" }, {}]) {
      const gw = gateway(vars);
      expect((await gw.fetch("https://elsewhere.example/admin/api/grants", { headers: adminToken })).status).toBe(200);
    }
    const cookie = await signInCookie(gateway());
    expect((await gateway().fetch("https://gateway.test/admin/approvals", { headers: { cookie } })).status).toBe(200);
  });
});

describe("GET and DELETE /mcp without a token", () => {
  const noToken = async (method: "GET" | "DELETE", path: string, extra: Record<string, string> = {}) => {
    const tag = newTag();
    const response = await gateway().fetch(`https://gateway.test${path}`, {
      method,
      headers: { accept: "text/event-stream", [TAG_HEADER]: tag, ...extra },
    });
    return { response, received: (await upstreamLog(tag)).length };
  };

  for (const method of ["GET", "DELETE"] as const) {
    for (const path of ["/mcp", "/mcp/iterable"]) {
      it(`${method} ${path}: 401 with a Bearer challenge, and nothing reaches the upstream`, async () => {
        const { response, received } = await noToken(method, path);
        expect(response.status).toBe(401);
        expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
        expect(received).toBe(0);
      });
    }

    it(`${method} /mcp with a live session's id but no token: 401, and the session is untouched`, async () => {
      const { token } = await openGrant();
      const gw = gateway();
      const agent = await rawAgent(gw, token);
      const { response, received } = await noToken(method, "/mcp", { "mcp-session-id": agent.sessionId, "mcp-protocol-version": "2025-06-18" });
      expect(response.status).toBe(401);
      expect(received).toBe(0);
      // Still open for its owner.
      expect((await agent.rpc("ping", {})).status).toBe(200);
    });

    it(`${method} /mcp with a wrong token: 401`, async () => {
      const { response, received } = await noToken(method, "/mcp", { authorization: "Bearer mcpg_not-a-real-token" });
      expect(response.status).toBe(401);
      expect(received).toBe(0);
    });
  }
});
