/**
 * Console frictions of issue 18, in the Workers runtime with the real
 * bindings: no select chooses for the operator (the replay's grant was the
 * newest, often a revoked one), the expiry field's hint is not a value, a
 * revoked grant says when and by whom, and Counters opens on every grant's
 * use against its limits, nearest the limit first, a bounded page at a time.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { OVERVIEW_GRANTS_PER_PAGE } from "../../src/admin/manage/counters.ts";
import { hashToken } from "../../src/grants/grant.ts";
import { revocationEntries } from "../../src/grants/records.ts";
import { createGrant, gateway, putPolicy, rawAgent, signInCookie, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";

async function page(gw: Gateway, path: string, cookie: string): Promise<string> {
  const response = await gw.fetch(`${ORIGIN}${path}`, { headers: { cookie } });
  expect(response.status, path).toBe(200);
  return response.text();
}

const decode = (html: string) =>
  html.replace(/<[^>]+>/g, "").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** Every select of a page: its id, and the value a browser submits untouched (the option marked selected, else the first). */
function selects(html: string): Array<{ id: string; chosen: string; options: string[] }> {
  return [...html.matchAll(/<select\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g)].map(([, id = "", body = ""]) => {
    const options = [...body.matchAll(/<option\b([^>]*)>/g)].map(([, attributes = ""]) => ({ value: /value="([^"]*)"/.exec(attributes)?.[1] ?? "", selected: /\bselected\b/.test(attributes) }));
    return { id, chosen: (options.find((option) => option.selected) ?? options[0])?.value ?? "", options: options.map((option) => option.value) };
  });
}

async function revokeInConsole(gw: Gateway, cookie: string, grantId: string) {
  const confirm = await page(gw, `/admin/grants/${grantId}/revoke`, cookie);
  const csrf = /name="csrf" value="([^"]+)"/.exec(confirm)![1]!;
  const response = await gw.fetch(`${ORIGIN}/admin/grants/${grantId}/revoke`, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf, confirm: "revoke" }).toString(),
    redirect: "manual",
  });
  expect(response.status).toBe(303);
}

describe("selects choose nothing for the operator", () => {
  it("issue 18: the replay's grant select no longer preselects the newest grant (a revoked one); no select on any page picks a grant or policy by itself", async () => {
    const gw = gateway();
    const cookie = await signInCookie(gw);
    const policy = await putPolicy({ version: "1", default: "allow" }, `aaa-${crypto.randomUUID().slice(0, 8)}`);
    await createGrant(policy, { label: "older" });
    const { record: newest } = await createGrant(policy, { label: "newest, then revoked" });
    await revokeInConsole(gw, cookie, newest.id);

    const pages = ["/admin/policy-editor", `/admin/policy-editor?name=${policy}`, "/admin/grants", "/admin/counters", "/admin/decisions"];
    for (const path of pages) {
      for (const select of selects(await page(gw, path, cookie))) {
        expect(select.chosen, `${path} #${select.id}`).toBe("");
        expect(select.options[0], `${path} #${select.id}: the first option is the empty choice`).toBe("");
      }
    }
    const replay = selects(await page(gw, "/admin/policy-editor", cookie)).find((select) => select.id === "replay-grant")!;
    expect(replay.options).toContain(newest.id);
    expect(decode(await page(gw, "/admin/policy-editor", cookie))).toContain(`newest, then revoked (${newest.id}, revoked)`);
  });

  it("issue 18: the expiry field has a hint, not a placeholder that reads as a value", async () => {
    const gw = gateway();
    const html = await page(gw, "/admin/grants", await signInCookie(gw));
    const input = /<input\b[^>]*\bid="expires"[^>]*>/.exec(html)![0];
    expect(input).not.toContain("placeholder");
    expect(decode(html)).toContain("Empty: the grant never expires. Otherwise a duration like 90m, 12h or 30d.");
  });
});

describe("a revoked grant says when and by whom", () => {
  it("issue 18: revoked in the console, its page names the time and the operator; revoked outside any audited door, it says the trail does not know", async () => {
    const gw = gateway();
    const cookie = await signInCookie(gw);
    const policy = await putPolicy({ version: "1", default: "allow" });
    const { record } = await createGrant(policy, { label: "to revoke" });
    const before = Date.now();
    await revokeInConsole(gw, cookie, record.id);
    const html = await page(gw, `/admin/grants/${record.id}`, cookie);
    const revoked = /<dt>Revoked<\/dt><dd>([\s\S]*?)<\/dd>/.exec(html)?.[1];
    expect(revoked).toBeDefined();
    expect(decode(revoked!)).toMatch(/ UTC \(\d+ s ago\) by admin$/);
    const at = Date.parse(/datetime="([^"]+)"/.exec(revoked!)![1]!);
    expect(at).toBeGreaterThanOrEqual(before - 1000);

    const { record: quiet, token } = await createGrant(policy, { label: "revoked in KV" });
    for (const entry of revocationEntries(quiet, await hashToken(token))) await env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
    const quietPage = decode(await page(gw, `/admin/grants/${quiet.id}`, cookie));
    expect(quietPage).toContain("Revokednot in the audit trail");
  });
});

describe("Counters opens on every grant's use against its limits", () => {
  it("issue 18: without a grant chosen, each grant's limits nearest their maximum first, the global counters once, and a page costs a bounded number of Durable Object requests", async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const policy = await putPolicy({
      version: "1",
      default: "allow",
      tools: { get_campaigns: { limits: [{ counter: `reads_${id}`, window: "hour", max: 4 }] } },
      all_tools: { limits: [{ counter: `everyone_${id}`, window: "day", max: 1000, scope: "global" }] },
    });
    // Enough grants with limits that one page cannot hold them all.
    const grants: Array<Awaited<ReturnType<typeof createGrant>>> = [];
    for (let n = 0; n < OVERVIEW_GRANTS_PER_PAGE + 2; n++) grants.push(await createGrant(policy, { label: `agent-${id}-${n}` }));
    const gw = gateway();
    // Use: the newest grant 3 of 4, the one before 1 of 4, the others none.
    const busiest = grants.at(-1)!;
    const light = grants.at(-2)!;
    const busyAgent = await rawAgent(gw, busiest.token);
    for (let n = 0; n < 3; n++) await busyAgent.call("get_campaigns", {});
    await (await rawAgent(gw, light.token)).call("get_campaigns", {});

    // Count the Durable Object requests a page view makes.
    const objects: string[] = [];
    const counted = gateway({
      GRANT_OBJECT: new Proxy(env.GRANT_OBJECT, {
        get: (target, property) =>
          property === "getByName"
            ? (name: string) => {
                objects.push(name);
                return target.getByName(name);
              }
            : Reflect.get(target, property, target).bind?.(target) ?? Reflect.get(target, property, target),
      }),
    });
    const cookie = await signInCookie(counted);
    const html = await page(counted, "/admin/counters", cookie);
    expect(objects.length).toBeLessThanOrEqual(OVERVIEW_GRANTS_PER_PAGE + 1);
    expect(objects.filter((name) => name === "global")).toHaveLength(1);

    const table = /<table[^>]*aria-labelledby="nearest"[^>]*>([\s\S]*?)<\/table>/.exec(html)![1]!;
    const rows = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row = ""]) => decode(row));
    const ours = rows.filter((row) => row.includes(`reads_${id}`));
    expect(ours[0]).toContain(`agent-${id}-${OVERVIEW_GRANTS_PER_PAGE + 1}`);
    expect(ours[0]).toContain("3 / 4 (75 %)");
    expect(ours[1]).toContain(`agent-${id}-${OVERVIEW_GRANTS_PER_PAGE}`);
    expect(ours[1]).toContain("1 / 4 (25 %)");
    expect(ours.length).toBeLessThanOrEqual(OVERVIEW_GRANTS_PER_PAGE);
    const global = decode(/<table[^>]*aria-labelledby="global"[^>]*>([\s\S]*?)<\/table>/.exec(html)![1]!);
    expect(global.match(new RegExp(`everyone_${id}`, "g"))).toHaveLength(1);
    expect(global).toContain("4 / 1000");

    // The rest of the grants are a link away.
    const next = /href="(\/admin\/counters\?cursor=[^"]+)"/.exec(html)![1]!.replaceAll("&amp;", "&");
    const rest = decode(await page(gw, next, cookie));
    const listed = (text: string) => grants.filter((_, n) => text.includes(`agent-${id}-${n}`)).length;
    expect(listed(decode(html)) + listed(rest)).toBeGreaterThanOrEqual(grants.length);
  });
});
