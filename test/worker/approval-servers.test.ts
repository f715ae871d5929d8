/** Approvals name their server, and the admin API lists one server's at a time. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashToken, tokenKey, type GrantRecord } from "../../src/grants/grant.ts";
import { clientViaGateway, createGrant, gateway, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP } from "./gateway.ts";

const credential = { credentialHeader: "api-key", credentialSecret: "UPSTREAM_CREDENTIAL" };

describe("approvals by server", () => {
  it("GET /admin/api/approvals?server=S lists that server's approvals alone", async () => {
    const gw = gateway({
      SERVERS: JSON.stringify([
        { name: "iterable", url: SANDBOX_MCP, catalog: "iterable", ...credential },
        { name: "features", url: SANDBOX_FEATURES, ...credential },
      ]),
    });
    const policy = await putPolicy({ version: "1", default: "allow", tools: { echo: { action: "approve" }, get_lists: { action: "approve" } } });
    const issued = await createGrant(policy, { label: `servers-${crypto.randomUUID()}` });
    const record: GrantRecord = { ...issued.record, servers: ["iterable", "features"] };
    await env.GRANTS.put(tokenKey(await hashToken(issued.token)), JSON.stringify(record));

    const { client: features } = await clientViaGateway(gw, { token: issued.token, url: "https://gateway.test/mcp/features" });
    const { client: iterable } = await clientViaGateway(gw, { token: issued.token, url: "https://gateway.test/mcp/iterable" });
    expect((await features.callTool({ name: "echo", arguments: { text: "needs a human" } })).isError).toBe(true);
    expect((await iterable.callTool({ name: "get_lists", arguments: {} })).isError).toBe(true);

    const list = async (server: string) => {
      const response = await gw.fetch(`https://gateway.test/admin/api/approvals?status=pending&limit=200&server=${server}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
      expect(response.status).toBe(200);
      const page = (await response.json()) as { approvals: Array<{ tool: string; server?: string; grant: { id: string } }> };
      return page.approvals.filter((approval) => approval.grant.id === record.id).map((approval) => `${approval.server}/${approval.tool}`);
    };
    expect(await list("features")).toEqual(["features/echo"]);
    expect(await list("iterable")).toEqual(["iterable/get_lists"]);
    expect(await list("nowhere")).toEqual([]);
  });
});
