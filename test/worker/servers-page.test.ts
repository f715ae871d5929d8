/**
 * The Servers page and `GET /admin/api/servers`: each declared server, how it
 * is reached (never its credential), whether it answers, its serverInfo, tool
 * count and tools with tags, as the gateway finds them by asking the server
 * itself; the tools paged by count and bytes.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOOK_DEADLINE_MS, PROBE_TIMEOUT_MS, ServerStatusSchema, ServerToolPageSchema, type ServerStatus, type ServerTool } from "../../src/admin/manage/servers.ts";
import { clientDirect, gateway, SANDBOX_FEATURES, SANDBOX_MCP, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
/** Nothing listens on port 1 of the loopback address: connecting is refused at once. */
const CLOSED_PORT_URL = "http://127.0.0.1:1/mcp";

const THREE_SERVERS = JSON.stringify([
  { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL", catalog: "iterable" },
  { name: "features", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
  { name: "down", url: CLOSED_PORT_URL },
]);

function api(gw: Gateway, path: string) {
  return gw.fetch(`${ORIGIN}/admin/api${path}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
}

async function servers(gw: Gateway): Promise<{ text: string; servers: ServerStatus[] }> {
  const response = await api(gw, "/servers");
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return { text, servers: ServerStatusSchema.array().parse((JSON.parse(text) as { servers: unknown }).servers) };
}

/** Every tool of a server through the API, page by page. */
async function allTools(gw: Gateway, name: string, limit: number): Promise<{ tools: ServerTool[]; pages: number }> {
  const tools: ServerTool[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await api(gw, `/servers/${name}?limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`);
    expect(response.status).toBe(200);
    const page = ServerToolPageSchema.parse(await response.json());
    expect(page.tools.length).toBeLessThanOrEqual(limit);
    tools.push(...page.tools);
    cursor = page.cursor;
    pages++;
  } while (cursor !== null && pages < 100);
  return { tools, pages };
}

async function directToolNames(url: string): Promise<string[]> {
  const { client } = await clientDirect(url);
  try {
    return (await client.listTools()).tools.map((tool) => tool.name);
  } finally {
    await client.close();
  }
}

describe("GET /admin/api/servers", () => {
  it("there was no servers route: each declared server with how it is reached, whether it answers, its serverInfo and tool count", async () => {
    const gw = gateway({ SERVERS: THREE_SERVERS });
    const { text, servers: found } = await servers(gw);
    expect(found.map((server) => server.name)).toEqual(["iterable", "features", "down"]);
    const [iterable, features, down] = found as [ServerStatus, ServerStatus, ServerStatus];

    expect(iterable).toMatchObject({ default: true, reachable: true, error: null, reach: { via: "url", origin: new URL(SANDBOX_MCP).origin }, serverInfo: { name: "iterable-mcp" } });
    expect(iterable.toolCount).toBe((await directToolNames(SANDBOX_MCP)).length);
    expect(iterable.toolCount).toBe(118);
    expect(Date.parse(iterable.listedAt!)).toBeGreaterThan(Date.now() - 60_000);

    expect(features).toMatchObject({ default: false, reachable: true, serverInfo: { name: "sandbox-features", version: "1.0.0" } });
    expect(features.toolCount).toBe((await directToolNames(SANDBOX_FEATURES)).length);

    expect(down).toMatchObject({ default: false, reachable: false, reach: { via: "url", origin: "http://127.0.0.1:1" }, serverInfo: null, toolCount: null, listedAt: null });
    expect(down.error).toMatch(/unreachable/i);

    // How a server is reached is its origin: never its path, and never the credential the gateway sends it.
    expect(text).not.toContain(env.UPSTREAM_CREDENTIAL);
    expect(text).not.toContain("/features/mcp");
  });

  it("a server that does not start answering within 5 s is reported as not answering, and the others are not held up past it", async () => {
    const slow = JSON.stringify([
      { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
      { name: "slow", url: `${SANDBOX_MCP}?delayMs=20000` },
    ]);
    const started = Date.now();
    const { servers: found } = await servers(gateway({ SERVERS: slow }));
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(found[0]).toMatchObject({ name: "iterable", reachable: true });
    expect(found[1]).toMatchObject({ name: "slow", reachable: false, serverInfo: null });
    expect(found[1]!.error).toContain(`within ${PROBE_TIMEOUT_MS} ms`);
  });

  it("a look was not bounded as a whole: a server that answers each request slowly is given up on after LOOK_DEADLINE_MS", async () => {
    // Each request waits 4 s: initialize, notifications/initialized and tools/list would take 12 s.
    const slow = JSON.stringify([{ name: "sluggish", url: `${SANDBOX_MCP}?delayMs=4000`, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" }]);
    const started = Date.now();
    const { servers: found } = await servers(gateway({ SERVERS: slow }));
    expect(Date.now() - started).toBeLessThan(LOOK_DEADLINE_MS + 1_500);
    expect(found[0]).toMatchObject({ name: "sluggish", reachable: false, toolCount: null });
    expect(found[0]!.error).toContain(`within ${LOOK_DEADLINE_MS / 1000} s`);
  });

  it("a server reached through a service binding is shown by the binding's name", async () => {
    const gw = gateway({ SERVERS: JSON.stringify([{ name: "bound", binding: "UPSTREAM", credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" }]) });
    const { servers: found } = await servers(gw);
    expect(found).toEqual([expect.objectContaining({ name: "bound", reach: { via: "binding", binding: "UPSTREAM" }, reachable: true, toolCount: 118 })]);
  });

  it("the single-upstream settings are one server, the default, named UPSTREAM_NAME", async () => {
    const { servers: found } = await servers(gateway({ UPSTREAM_NAME: "solo" }));
    expect(found).toEqual([expect.objectContaining({ name: "solo", default: true, reachable: true, toolCount: 118 })]);
  });
});

describe("GET /admin/api/servers/{name}", () => {
  it("a server's tools come a page at a time, every tool once, with the tags policies see them by", async () => {
    const gw = gateway({ SERVERS: THREE_SERVERS });
    const { tools, pages } = await allTools(gw, "iterable", 50);
    expect(pages).toBe(3);
    expect(tools.map((tool) => tool.name)).toEqual(await directToolNames(SANDBOX_MCP));
    // Iterable's tools are tagged from the shipped catalog.
    expect(tools.find((tool) => tool.name === "get_lists")?.tags).toContain("read");
    expect(tools.find((tool) => tool.name === "send_campaign")?.tags).toContain("sends");

    // A server without a catalog: its tools' own annotations.
    const features = (await allTools(gw, "features", 100)).tools;
    expect(features.find((tool) => tool.name === "echo")?.tags).toEqual(["read"]);
    expect(features.find((tool) => tool.name === "wipe")?.tags).toEqual(["destructive"]);
  });

  it("an unreachable server: its status says why, and it has no tools", async () => {
    const response = await api(gateway({ SERVERS: THREE_SERVERS }), "/servers/down");
    expect(response.status).toBe(200);
    const page = ServerToolPageSchema.parse(await response.json());
    expect(page).toMatchObject({ server: { name: "down", reachable: false }, tools: [], cursor: null });
  });

  it("an unknown server is 404, a bad cursor or limit 400", async () => {
    const gw = gateway({ SERVERS: THREE_SERVERS });
    expect((await api(gw, "/servers/crm")).status).toBe(404);
    expect((await api(gw, "/servers/iterable?cursor=abc")).status).toBe(400);
    expect((await api(gw, "/servers/iterable?limit=501")).status).toBe(400);
  });

  it("without the admin token, both routes refuse", async () => {
    const gw = gateway({ SERVERS: THREE_SERVERS });
    for (const path of ["/servers", "/servers/iterable"]) expect((await gw.fetch(`${ORIGIN}/admin/api${path}`)).status).toBe(401);
  });
});
