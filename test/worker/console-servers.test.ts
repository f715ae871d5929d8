/**
 * The console with several servers: the Servers page (each server's status,
 * one server's tools with tags), the grant form's server checkboxes and the
 * grant pages naming the servers, and the server column and filter of the
 * Decisions list and the approvals.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApprovalListPage, ApprovalPage } from "../../src/admin/pages/approval.tsx";
import type { ApprovalRecord } from "../../src/approvals/record.ts";
import { ALLOW_ALL, clientViaGateway, gateway, putPolicy, SANDBOX_FEATURES, SANDBOX_MCP, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // call records are batched for 100 ms

const SERVERS = JSON.stringify([
  { name: "iterable", url: SANDBOX_MCP, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL", catalog: "iterable" },
  { name: "features", url: SANDBOX_FEATURES, credentialHeader: "Api-Key", credentialSecret: "UPSTREAM_CREDENTIAL" },
  { name: "down", url: "http://127.0.0.1:1/mcp" },
]);

function get(gw: Gateway, path: string, cookie: string) {
  return gw.fetch(`${ORIGIN}${path}`, { headers: { cookie }, redirect: "manual" });
}

function postForm(gw: Gateway, path: string, fields: Array<[string, string]>, cookie: string) {
  return gw.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

async function signIn(gw: Gateway): Promise<string> {
  const response = await gw.fetch(`${ORIGIN}/admin/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: env.ADMIN_TOKEN, next: "/admin/approvals" }).toString(),
    redirect: "manual",
  });
  expect(response.status).toBe(303);
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

async function pageText(gw: Gateway, path: string, cookie: string, status = 200): Promise<string> {
  const response = await get(gw, path, cookie);
  expect(response.status, path).toBe(status);
  return response.text();
}

const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)![1]!;

/** The body rows of the page's first table, as text cells. */
function rows(html: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!.replace(/<[^>]+>/g, "").replaceAll("&#39;", "'").trim()));
}

function headings(html: string): string[] {
  const head = /<thead>([\s\S]*?)<\/thead>/.exec(html)?.[1] ?? "";
  return [...head.matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((cell) => cell[1]!.trim());
}

describe("the Servers page", () => {
  it("there was no Servers page: the navigation links it, and it shows each server's reachability, what it says it is and its tool count", async () => {
    const gw = gateway({ SERVERS });
    const cookie = await signIn(gw);
    expect(await pageText(gw, "/admin/approvals", cookie)).toContain('href="/admin/servers"');
    const html = await pageText(gw, "/admin/servers", cookie);
    expect(headings(html)).toEqual(["Server", "Reached at", "Status", "Says it is", "Tools", "Listed"]);
    const [iterable, features, down] = rows(html);
    expect(iterable?.[0]).toContain("iterable");
    expect(iterable?.[0]).toContain("(default)");
    expect(iterable?.[1]).toBe(new URL(SANDBOX_MCP).origin);
    expect(iterable?.[2]).toBe("answers");
    expect(iterable?.[3]).toMatch(/^iterable-mcp /);
    expect(iterable?.[4]).toBe("118");
    expect(features?.[3]).toBe("sandbox-features 1.0.0");
    expect(down?.[2]).toMatch(/^unreachable/);
    expect(down?.[2]).toContain("Upstream unreachable");
    expect(down?.[4]).toBe("unknown");
    expect(html).toContain("One server does not answer: down");
    expect(html).not.toContain(env.UPSTREAM_CREDENTIAL);
  });

  it("one server's page lists its tools with their tags, a page at a time", async () => {
    const gw = gateway({ SERVERS });
    const cookie = await signIn(gw);
    const features = await pageText(gw, "/admin/servers/features", cookie);
    expect(headings(features)).toEqual(["Tool", "Tags", "Description"]);
    const echo = rows(features).find((row) => row[0]?.startsWith("echo"));
    expect(echo?.[1]).toBe("@read");
    expect(rows(features).find((row) => row[0]?.startsWith("wipe"))?.[1]).toBe("@destructive");

    const first = await pageText(gw, "/admin/servers/iterable", cookie);
    expect(rows(first)).toHaveLength(100);
    expect(first).toContain('href="/admin/servers/iterable?cursor=100"');
    const second = await pageText(gw, "/admin/servers/iterable?cursor=100", cookie);
    expect(rows(second)).toHaveLength(18);
    expect(second).not.toContain("More tools");
    expect(second).toContain("First tools");

    await pageText(gw, "/admin/servers/crm", cookie, 404);
    await pageText(gw, "/admin/servers/iterable?cursor=x", cookie, 404);
  });
});

describe("grants name their servers in the console", () => {
  it("the grant form offered no servers: it has a checkbox per server (the default checked), and the grant made with features alone reaches it alone", async () => {
    const gw = gateway({ SERVERS });
    const cookie = await signIn(gw);
    const policy = await putPolicy(ALLOW_ALL, `policy-${crypto.randomUUID().slice(0, 8)}`);
    const list = await pageText(gw, "/admin/grants", cookie);
    expect(list).toMatch(/<input type="checkbox" name="servers" value="iterable" checked=""\/>/);
    expect(list).toMatch(/<input type="checkbox" name="servers" value="features"\/>/);
    expect(list).toMatch(/<input type="checkbox" name="servers" value="down"\/>/);

    const label = `features-${crypto.randomUUID().slice(0, 8)}`;
    const created = await postForm(gw, "/admin/grants", [["csrf", csrfOf(list)], ["label", label], ["policy", policy], ["servers-offered", "1"], ["servers", "features"]], cookie);
    const page = await created.text();
    expect(created.status, page).toBe(200);
    const id = /<dd class="mono">(g_[A-Za-z0-9_-]{12})<\/dd>/.exec(page)![1]!;
    const facts = await pageText(gw, `/admin/grants/${id}`, cookie);
    expect(/<dt>Servers<\/dt>\s*<dd>([\s\S]*?)<\/dd>/.exec(facts)?.[1]).toBe("<code>features</code>");
    const listed = await pageText(gw, "/admin/grants", cookie);
    const row = rows(listed).find((cells) => cells[0]?.startsWith(label));
    expect(row?.[3]).toBe("features");
  });

  it("no server ticked is refused on the page, with the form kept", async () => {
    const gw = gateway({ SERVERS });
    const cookie = await signIn(gw);
    const list = await pageText(gw, "/admin/grants", cookie);
    const refused = await postForm(gw, "/admin/grants", [["csrf", csrfOf(list)], ["label", "nothing"], ["policy", await putPolicy(ALLOW_ALL)], ["servers-offered", "1"]], cookie);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("name at least one server");
  });
});

describe("the Decisions list has a server column and filter", () => {
  it("decisions did not say which server: the column names it and the filter keeps one server's calls", async () => {
    const gw = gateway({ SERVERS });
    const cookie = await signIn(gw);
    const created = await gw.fetch(`${ORIGIN}/admin/api/grants`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "two-servers", policy: await putPolicy(ALLOW_ALL), servers: ["iterable", "features"] }),
    });
    const { grant, token } = (await created.json()) as { grant: { id: string }; token: string };
    for (const [server, tool, args] of [
      ["features", "echo", { text: "hi" }],
      ["iterable", "get_lists", {}],
    ] as const) {
      const { client } = await clientViaGateway(gw, { token, url: `${ORIGIN}/mcp/${server}` });
      await client.callTool({ name: tool, arguments: args });
      await client.close();
    }
    await settle();

    const all = await pageText(gw, `/admin/decisions?grant=${grant.id}`, cookie);
    expect(headings(all)).toEqual(["Time (UTC)", "Decision", "Server", "Tool or action", "Grant", "Reason"]);
    const calls = rows(all).filter((cells) => cells[1] === "allow").map((cells) => [cells[2], cells[3]]);
    expect(calls).toEqual([
      ["iterable", "get_lists"],
      ["features", "echo"],
    ]);
    expect(all).toMatch(/<option value="features">features<\/option>/);

    const features = await pageText(gw, `/admin/decisions?grant=${grant.id}&server=features`, cookie);
    expect(features).toMatch(/<option value="features" selected="">features<\/option>/);
    expect(rows(features).map((cells) => [cells[1], cells[2], cells[3]])).toEqual([["allow", "features", "echo"]]);

    // Through the admin API too.
    const api = await gw.fetch(`${ORIGIN}/admin/api/grants/${grant.id}/audit?server=iterable`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const records = ((await api.json()) as { records: Array<{ kind: string; tool?: string }> }).records.filter((record) => record.kind === "call");
    expect(records.map((record) => record.tool)).toEqual(["get_lists"]);

    await pageText(gw, "/admin/decisions?server=crm", cookie, 400);
  });
});

describe("approvals name their server", () => {
  const approval: ApprovalRecord = {
    id: "apr_AAAAAAAAAAAAAAAAAAAAAA",
    grant: { id: "g_AAAAAAAAAAAA", label: "bot" },
    server: "features",
    tool: "wipe",
    arguments: {},
    params: null,
    argumentsHash: "0".repeat(64),
    policy: { name: "p", version: "0123456789abcdef" },
    session: null,
    status: "pending",
    requestedAt: "2026-11-25T23:00:00.000Z",
    expiresAt: "2026-11-26T00:00:00.000Z",
    decidedAt: null,
    decidedBy: null,
    note: null,
    url: "https://gateway.test/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA",
  };
  const session = { expiresAt: 0, nonce: "n", csrfToken: "t", identity: "admin", via: "token" as const };
  const rendered = async (element: unknown) => String(await (element as { toString(): string | Promise<string> }).toString());

  it("the approvals list had no server column: each row names its server, the default one for approvals made before servers were named", async () => {
    const { arguments: _args, params: _params, ...rest } = approval;
    const row = { ...rest, argumentsPreview: "{}", argumentsBytes: 2 };
    const { server: _server, ...old } = row;
    const html = await rendered(ApprovalListPage({ pending: { approvals: [row, { ...old, id: "apr_BBBBBBBBBBBBBBBBBBBBBB" }], cursor: null }, defaultServer: "iterable", session }));
    expect(headings(html)[0]).toBe("Server");
    expect(rows(html).map((cells) => cells[0])).toEqual(["features", "iterable"]);
  });

  it("the approval page names the server and links it", async () => {
    const html = await rendered(ApprovalPage({ approval, defaultServer: "iterable", session, now: Date.parse("2026-11-25T23:30:00Z") }));
    expect(html).toMatch(/<dt>Server<\/dt>\s*<dd>\s*<a href="\/admin\/servers\/features"><code>features<\/code><\/a>/);
  });
});
