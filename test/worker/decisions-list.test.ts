/**
 * The console's decisions list (issue 18) with real calls in the Workers
 * runtime: a short reason for operators (the agent's whole text, with the
 * approval's URL, stays on the record's page), a compact time on one line,
 * and links between decisions, approvals and grants.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { shortReason } from "../../src/admin/pages/short-reason.ts";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, signInCookie, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // call records are batched for 100 ms

async function page(gw: Gateway, path: string, cookie: string): Promise<string> {
  const response = await gw.fetch(`${ORIGIN}${path}`, { headers: { cookie } });
  expect(response.status, path).toBe(200);
  return response.text();
}

const decode = (html: string) =>
  html.replace(/<[^>]+>/g, "").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** The list's rows: each cell's HTML by its column. */
function rows(html: string): Array<Record<string, string>> {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row = ""]) =>
    Object.fromEntries([...row.matchAll(/<td data-label="([^"]*)"[^>]*>([\s\S]*?)<\/td>/g)].map(([, label = "", cell = ""]) => [label, cell])),
  );
}

describe("the decisions list is readable", () => {
  it("issue 18: a pending approval's row has a short reason without the agent's message or URL, a one-line time, and links to its record, approval and grant", async () => {
    const policy = await putPolicy({ version: "1", default: "deny", tools: { send_campaign: { action: "approve" }, get_campaigns: {} } });
    const { token, record: grant } = await createGrant(policy, { label: `dev-${crypto.randomUUID().slice(0, 8)}` });
    const gw = gateway();
    const agent = await rawAgent(gw, token);
    const pending = decisionOf(await agent.call("send_campaign", { campaignId: 5001 }));
    const approvalId = pending.approval.id as string;
    await agent.call("get_campaigns", {});
    await agent.call("delete_list", { listId: 1 });
    await settle();

    const cookie = await signInCookie(gw);
    const list = rows(await page(gw, `/admin/decisions?grant=${grant.id}`, cookie));
    const row = list.find((candidate) => candidate["Tool or action"]?.includes("send_campaign"))!;
    expect(decode(row.Reason!).trim()).toBe("waiting for a human's approval approval");
    expect(row.Reason).toContain(`href="/admin/approvals/${approvalId}"`);
    expect(row.Reason).not.toContain("http");
    expect(row.Reason).not.toContain("Call send_campaign again");
    expect(row.Grant).toContain(`href="/admin/grants/${grant.id}"`);
    // One line: the time of day (today), not the date, "UTC" and how long ago.
    expect(decode(row.Time!).trim()).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    const recordPath = /href="(\/admin\/decisions\/[^"]+)"/.exec(row.Time!)![1]!;
    const denied = list.find((candidate) => candidate["Tool or action"]?.includes("delete_list"))!;
    expect(decode(denied.Reason!).trim()).toBe("tool delete_list is not allowed by this policy (default: deny)");

    // The record's page keeps the agent's whole text, and links the approval and the grant.
    const recordPage = await page(gw, recordPath, cookie);
    expect(decode(recordPage)).toContain(`a human decides it at ${pending.approval.url}`);
    expect(recordPage).toContain(`href="/admin/approvals/${approvalId}"`);
    expect(recordPage).toContain(`href="/admin/grants/${grant.id}"`);
    // And the approval's page leads back to the grant's decisions on that tool.
    const approvalPage = await page(gw, `/admin/approvals/${approvalId}`, cookie);
    expect(approvalPage).toContain(`href="/admin/decisions?grant=${grant.id}&amp;tool=send_campaign&amp;server=iterable"`);
    expect(approvalPage).toContain(`href="/admin/grants/${grant.id}"`);

    // An operator's action links what it acted on.
    await gw.fetch(`${ORIGIN}/admin/api/approvals/${approvalId}/deny`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ note: "not this week" }),
    });
    await agent.call("send_campaign", { campaignId: 5001 });
    await settle();
    const after = rows(await page(gw, `/admin/decisions?grant=${grant.id}`, cookie));
    expect(after.find((candidate) => candidate["Tool or action"]?.includes("approval.deny"))!["Tool or action"]).toContain(`href="/admin/approvals/${approvalId}"`);
    expect(decode(after[0]!.Reason!).trim()).toBe("denied by an operator: not this week approval");
  });

  it("shortens every form of the agent's approval text, and other reasons to their first clause", () => {
    const approval = "apr_AAAAAAAAAAAAAAAAAAAAAA";
    const short = (decision: "deny" | "approval_required" | "approved" | "rate_limited", reason: string | null) => shortReason({ decision, reason, rule: "/tools/x", approval });
    expect(short("approval_required", `approval ${approval} expired at 2026-01-01T00:00:00.000Z without being used; calling x again with the same arguments asks for a new approval`)).toBe(
      "its approval expired unused; a retry asks again",
    );
    expect(short("deny", `an operator denied approval ${approval} (no note given). This call is refused until 2026-01-01T00:00:00.000Z; after that, calling it again asks for a new approval`)).toBe(
      "denied by an operator (no note)",
    );
    expect(short("approved", null)).toBe("approved by an operator; sent once");
    expect(shortReason({ decision: "rate_limited", reason: 'limit "sends" allows 10 per 60 s and 10 are used', rule: "/tools/x/limits/0", approval: null })).toBe('limit "sends" allows 10 per 60 s and 10 are used');
    expect(shortReason({ decision: "allow", reason: null, rule: "/tools/@read", approval: null })).toBe("rule /tools/@read");
    expect(shortReason({ decision: "invalid_arguments", reason: "x".repeat(500), rule: "", approval: null })).toHaveLength(120);
  });
});
