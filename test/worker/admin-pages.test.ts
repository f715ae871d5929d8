/**
 * The approval page and its sign-in, in the Workers runtime: a real pending
 * approval made by a real call through the gateway, decided with the page's
 * forms, and the agent's retry going through (or refused with the note).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApprovalListPage, ApprovalPage } from "../../src/admin/pages/approval.tsx";
import { CONTENT_SECURITY_POLICY } from "../../src/admin/pages/headers.ts";
import { issueSession, safeNext, SESSION_COOKIE, SESSION_LIFETIME_MS } from "../../src/admin/session.ts";
import type { ApprovalRecord } from "../../src/approvals/record.ts";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, type Gateway } from "./gateway.ts";

const ORIGIN = "https://gateway.test";
const APPROVE_SEND: object = { version: "1", default: "deny", tools: { send_campaign: { action: "approve" } } };

type Approval = { id: string; status: string; decidedBy: string | null; note: string | null };

/** A grant under the approve-send_campaign policy, an agent on it, and the pending approval its first call created. */
async function pendingApproval(gw: Gateway, campaignId = 7) {
  const issued = await createGrant(await putPolicy(APPROVE_SEND), { label: "campaign-bot" });
  const agent = await rawAgent(gw, issued.token);
  const answer = await agent.call("send_campaign", { campaignId });
  expect(answer.result?.isError).toBe(true);
  const decision = decisionOf(answer) as { decision: string; approval: { id: string; url: string; status: string } };
  expect(decision).toMatchObject({ decision: "approval_required", approval: { status: "pending" } });
  return { agent, grant: issued.record, approval: decision.approval, path: new URL(decision.approval.url).pathname };
}

async function adminApi(gw: Gateway, id: string): Promise<Approval> {
  const response = await gw.fetch(`${ORIGIN}/admin/api/approvals/${id}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return response.json();
}

function postForm(gw: Gateway, path: string, fields: Record<string, string>, cookie?: string, origin = ORIGIN) {
  return gw.fetch(`${origin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

function get(gw: Gateway, path: string, cookie?: string) {
  return gw.fetch(`${ORIGIN}${path}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });
}

/** Signs in with the admin token; returns the cookie to send back (`name=value`). */
async function signIn(gw: Gateway, next = "/admin/approvals"): Promise<string> {
  const response = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next });
  expect(response.status).toBe(303);
  const cookie = response.headers.get("set-cookie")?.split(";")[0];
  expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
  return cookie!;
}

function csrfOf(page: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  expect(token).toBeDefined();
  return token!;
}

function expectPageHeaders(response: Response) {
  expect(response.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  expect(response.headers.get("cache-control")).toBe("no-store");
}

describe("the approval page", () => {
  it("not signed in: the page sends the browser to sign-in, which brings it back", async () => {
    const gw = gateway();
    const { path } = await pendingApproval(gw);
    const response = await get(gw, path);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/admin/sign-in?next=${encodeURIComponent(path)}`);
    expectPageHeaders(response);

    const form = await get(gw, response.headers.get("location")!);
    expect(form.status).toBe(200);
    expect(form.headers.get("content-type")).toMatch(/^text\/html/);
    expectPageHeaders(form);
    const text = await form.text();
    expect(text).toMatch(/^<!doctype html>/);
    expect(text).toContain('name="token" type="password"');
    expect(text).toContain(`name="next" value="${path}"`);
    expect(text).not.toContain("<script");

    // Every page needs the session, the list and the decision form too.
    expect((await get(gw, "/admin/approvals")).status).toBe(303);
    const post = await postForm(gw, path, { decision: "approve" });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toBe(`/admin/sign-in?next=${encodeURIComponent(path)}`);
    expect((await adminApi(gw, (await pendingApproval(gw, 8)).approval.id)).status).toBe("pending");
  });

  it("a link followed from another site is reloaded from this one, so the SameSite=Strict cookie comes along", async () => {
    const gw = gateway();
    const { path } = await pendingApproval(gw);
    const crossSite = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" };
    const bounce = await gw.fetch(`${ORIGIN}${path}`, { headers: crossSite, redirect: "manual" });
    expect(bounce.status).toBe(200);
    expectPageHeaders(bounce);
    const text = await bounce.text();
    expect(text).toContain(`<meta http-equiv="refresh" content="0;url=${path}"/>`);
    expect(text).toContain(`<a href="${path}">`);
    // The reload comes from this site: with the cookie it is the page, without it sign-in.
    const cookie = await signIn(gw);
    expect((await gw.fetch(`${ORIGIN}${path}`, { headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", cookie }, redirect: "manual" })).status).toBe(200);
    expect((await gw.fetch(`${ORIGIN}${path}`, { headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate" }, redirect: "manual" })).status).toBe(303);
    // Only navigations are bounced, and never a POST.
    expect((await gw.fetch(`${ORIGIN}${path}`, { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }, redirect: "manual" })).status).toBe(303);
    const post = await gw.fetch(`${ORIGIN}${path}`, { method: "POST", headers: { ...crossSite, "content-type": "application/x-www-form-urlencoded" }, body: "decision=approve", redirect: "manual" });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toMatch(/^\/admin\/sign-in\?next=/);
  });

  it("a wrong token gets the form again with 401; a grant token is refused as such; neither sets a cookie", async () => {
    const gw = gateway();
    const wrong = await postForm(gw, "/admin/sign-in", { token: "not-the-admin-token", next: "/admin/approvals" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expectPageHeaders(wrong);
    const wrongText = await wrong.text();
    expect(wrongText).toContain("That is not the admin token.");
    expect(wrongText).toContain('name="token"');

    const { token } = await createGrant(await putPolicy(APPROVE_SEND));
    const grantToken = await postForm(gw, "/admin/sign-in", { token, next: "/admin/approvals" });
    expect(grantToken.status).toBe(401);
    expect(grantToken.headers.get("set-cookie")).toBeNull();
    expect(await grantToken.text()).toContain("That is a grant token");

    const empty = await postForm(gw, "/admin/sign-in", { next: "/admin/approvals" });
    expect(empty.status).toBe(401);
    expect(empty.headers.get("set-cookie")).toBeNull();

    // A grant token as a Bearer header opens neither the pages nor the API.
    const bearer = await gw.fetch(`${ORIGIN}/admin/approvals`, { headers: { authorization: `Bearer ${token}` }, redirect: "manual" });
    expect(bearer.status).toBe(303);
    const api = await gw.fetch(`${ORIGIN}/admin/api/approvals`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(401);
  });

  it("the admin token sets an HttpOnly, SameSite=Strict, /admin-scoped, Secure, 12-hour session cookie and goes back to next", async () => {
    const gw = gateway();
    const response = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next: "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA");
    expectPageHeaders(response);
    const cookie = response.headers.get("set-cookie")!;
    const attributes = cookie.split(/;\s*/).slice(1).map((attribute) => attribute.toLowerCase());
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=\\d+\\.[\\w-]{22}\\.[\\w-]{43};`));
    expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/admin", "secure", `max-age=${SESSION_LIFETIME_MS / 1000}`]));
    // The cookie is not the admin token, nor derived from it in a way that shows.
    expect(cookie).not.toContain(env.ADMIN_TOKEN);

    // Plain http is accepted for loopback names only (npm start); there the cookie cannot be Secure.
    for (const origin of ["http://localhost:8787", "http://127.0.0.1:8787", "http://[::1]:8787"]) {
      const local = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next: "/admin/approvals" }, undefined, origin);
      expect(local.status).toBe(303);
      expect(local.headers.get("set-cookie")!.toLowerCase()).not.toContain("secure");
      expect(local.headers.get("set-cookie")!.toLowerCase()).toContain("samesite=strict");
    }
    const plainHttp = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next: "/admin/approvals" }, undefined, "http://gateway.test");
    expect(plainHttp.headers.get("set-cookie")!.toLowerCase()).toContain("secure");

    // Signed in already: the sign-in page goes straight on.
    const again = await get(gw, "/admin/sign-in?next=%2Fadmin%2Fapprovals", await signIn(gw));
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/admin/approvals");
  });

  it("next only ever leads to a path under /admin on this site", async () => {
    for (const next of ["https://evil.example/admin", "//evil.example/admin", "/\\evil.example", "/admin/../mcp", "/admin/%2e%2e/mcp", "/mcp", "javascript:alert(1)", "/admin\t/x", "admin/approvals", ""]) {
      expect(safeNext(next), next).toBe("/admin/approvals");
    }
    for (const next of ["/admin", "/admin/approvals", "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA", "/admin/approvals?status=pending"]) {
      expect(safeNext(next), next).toBe(next);
    }
    const gw = gateway();
    const response = await postForm(gw, "/admin/sign-in", { token: env.ADMIN_TOKEN, next: "//evil.example/steal" });
    expect(response.headers.get("location")).toBe("/admin/approvals");
    const form = await (await get(gw, "/admin/sign-in?next=https%3A%2F%2Fevil.example%2F")).text();
    expect(form).toContain('name="next" value="/admin/approvals"');
  });

  it("shows the tool, the grant, the policy and the arguments; approving needs the form's CSRF token; then the retry goes through", async () => {
    const gw = gateway();
    const { agent, grant, approval, path } = await pendingApproval(gw);
    const cookie = await signIn(gw, path);
    const page = await get(gw, path, cookie);
    expect(page.status).toBe(200);
    expectPageHeaders(page);
    const text = await page.text();
    expect(text).toContain("<code>send_campaign</code>");
    expect(text).toContain("campaign-bot");
    expect(text).toContain(grant.id);
    expect(text).toMatch(/version [0-9a-f]{16}/);
    expect(text).toContain(`<code>{\n  &quot;campaignId&quot;: 7\n}</code>`);
    expect(text).toContain('class="status status-pending"');
    expect(text).toContain('value="approve"');
    expect(text).toContain('value="deny"');
    expect(text).not.toContain("<script");
    const csrf = csrfOf(text);

    // Listed among the pending approvals, with a link.
    const list = await (await get(gw, "/admin/approvals", cookie)).text();
    expect(list).toContain(`href="${path}"`);

    // No CSRF token, a wrong one, or another session's: 403, nothing decided.
    const otherSession = csrfOf(await (await get(gw, path, await signIn(gw))).text());
    const attempts: Array<Record<string, string>> = [{ decision: "approve" }, { decision: "approve", csrf: "x".repeat(43) }, { decision: "approve", csrf: otherSession }];
    for (const fields of attempts) {
      const refused = await postForm(gw, path, fields, cookie);
      expect(refused.status).toBe(403);
      expectPageHeaders(refused);
    }
    expect((await adminApi(gw, approval.id)).status).toBe("pending");
    // A decision that is neither approve nor deny.
    expect((await postForm(gw, path, { decision: "maybe", csrf }, cookie)).status).toBe(400);

    const approved = await postForm(gw, path, { decision: "approve", note: "looks right", csrf }, cookie);
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toBe(path);
    expect(await adminApi(gw, approval.id)).toMatchObject({ status: "approved", decidedBy: "admin (approval page)", note: "looks right" });
    const after = await (await get(gw, path, cookie)).text();
    expect(after).toContain('class="status status-approved"');
    expect(after).toContain("admin (approval page)");
    expect(after).not.toContain('value="approve"');

    const retry = await agent.call("send_campaign", { campaignId: 7 });
    expect(retry.result?.isError, JSON.stringify(retry)).toBeFalsy();
    expect(JSON.stringify(retry.result?.content)).toContain("Campaign 7 sent");
    expect((await adminApi(gw, approval.id)).status).toBe("consumed");

    // Deciding again: 409, and the page shows where it stands.
    const late = await postForm(gw, path, { decision: "deny", csrf }, cookie);
    expect(late.status).toBe(409);
    const lateText = await late.text();
    expect(lateText).toContain("was not recorded: this approval is consumed");
    expect(lateText).toContain('class="status status-consumed"');
  });

  it("deny with a note: the agent's next retry is refused with that note", async () => {
    const gw = gateway();
    const { agent, approval, path } = await pendingApproval(gw, 9);
    const cookie = await signIn(gw, path);
    const csrf = csrfOf(await (await get(gw, path, cookie)).text());
    // A note over 2000 characters is refused, and nothing is decided.
    expect((await postForm(gw, path, { decision: "deny", note: "x".repeat(2001), csrf }, cookie)).status).toBe(400);
    expect((await adminApi(gw, approval.id)).status).toBe("pending");
    const denied = await postForm(gw, path, { decision: "deny", note: "  wrong audience <b>list</b>\r\nnot this one  ", csrf }, cookie);
    expect(denied.status).toBe(303);
    expect(await adminApi(gw, approval.id)).toMatchObject({ status: "denied", decidedBy: "admin (approval page)", note: "wrong audience <b>list</b>\nnot this one" });
    const page = await (await get(gw, path, cookie)).text();
    expect(page).toContain('<dd class="note">wrong audience &lt;b&gt;list&lt;/b&gt;\nnot this one</dd>');

    // A second deny is a conflict, and a form body larger than 64 KiB is not read.
    expect((await postForm(gw, path, { decision: "deny", csrf }, cookie)).status).toBe(409);
    expect((await postForm(gw, path, { decision: "deny", csrf, note: "x".repeat(70_000) }, cookie)).status).toBe(413);

    const retry = await agent.call("send_campaign", { campaignId: 9 });
    expect(retry.result?.isError).toBe(true);
    expect(decisionOf(retry)).toMatchObject({ decision: "deny", approval: { id: approval.id, status: "denied" } });
    expect(retry.result?.content?.[0]?.text).toContain("wrong audience <b>list</b>");
  });

  it("an unknown approval is a 404 page", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    for (const id of ["apr_AAAAAAAAAAAAAAAAAAAAAA", "not-an-id", "%3Cscript%3E"]) {
      const response = await get(gw, `/admin/approvals/${id}`, cookie);
      expect(response.status).toBe(404);
      expectPageHeaders(response);
      const text = await response.text();
      expect(text).toContain("No such approval");
      expect(text).not.toContain("<script>");
    }
    const csrf = csrfOf(await (await get(gw, "/admin/approvals", cookie)).text());
    expect((await postForm(gw, "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA", { decision: "approve", csrf }, cookie)).status).toBe(404);
  });

  it("sessions: forged, expired or signed under another admin token send the browser to sign-in; sign-out needs the CSRF token", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const [name, value] = cookie.split("=") as [string, string];
    const [expiry, nonce, mac] = value.split(".") as [string, string, string];
    const forged = [
      `${name}=${Number(expiry) + 1000}.${nonce}.${mac}`,
      `${name}=${expiry}.${nonce.replace(/^./, (c) => (c === "A" ? "B" : "A"))}.${mac}`,
      `${name}=${expiry}.${nonce}.${"A".repeat(43)}`,
      `${name}=${env.ADMIN_TOKEN}`,
      `${name}=`,
    ];
    for (const bad of forged) expect((await get(gw, "/admin/approvals", bad)).status, bad).toBe(303);

    const expired = await issueSession(env.ADMIN_TOKEN, Date.now() - SESSION_LIFETIME_MS - 1000);
    expect((await get(gw, "/admin/approvals", `${name}=${expired.value}`)).status).toBe(303);
    // Claims to last longer than one lifetime from now: refused even though it is signed.
    const tooLong = await issueSession(env.ADMIN_TOKEN, Date.now() + 60_000);
    expect((await get(gw, "/admin/approvals", `${name}=${tooLong.value}`)).status).toBe(303);

    // Rotating the admin token signs everyone out.
    const rotated = gateway({ ADMIN_TOKEN: "rotated-admin-token-0123456789abcdef" });
    expect((await get(rotated, "/admin/approvals", cookie)).status).toBe(303);
    expect((await get(gw, "/admin/approvals", cookie)).status).toBe(200);

    const csrf = csrfOf(await (await get(gw, "/admin/approvals", cookie)).text());
    expect((await postForm(gw, "/admin/sign-out", {}, cookie)).status).toBe(403);
    const out = await postForm(gw, "/admin/sign-out", { csrf }, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/admin/sign-in");
    const cleared = out.headers.get("set-cookie")!;
    expect(cleared).toMatch(new RegExp(`^${SESSION_COOKIE}=;`));
    expect(cleared.toLowerCase()).toContain("max-age=0");
    expect(cleared.toLowerCase()).toContain("path=/admin");
  });

  it("the session cookie does not open /mcp, and the admin token does not either", async () => {
    const gw = gateway();
    const cookie = await signIn(gw);
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const withCookie = await gw.fetch(`${ORIGIN}/mcp`, { method: "POST", headers: { ...headers, cookie }, body });
    expect(withCookie.status).toBe(401);
    const withAdminToken = await gw.fetch(`${ORIGIN}/mcp`, { method: "POST", headers: { ...headers, authorization: `Bearer ${env.ADMIN_TOKEN}` }, body });
    expect(withAdminToken.status).toBe(401);
  });

  it("every page sends the CSP and the other headers, and the stylesheet is the Worker's own", async () => {
    const gw = gateway();
    const style = await get(gw, "/admin/style.css");
    expect(style.status).toBe(200);
    expect(style.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expectPageHeaders(style);
    expect(await style.text()).toContain("body {");

    const cookie = await signIn(gw);
    for (const path of ["/admin", "/admin/sign-in", "/admin/approvals", "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA"]) {
      const response = await get(gw, path, cookie);
      expectPageHeaders(response);
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    }
    const page = await (await get(gw, "/admin/approvals", cookie)).text();
    expect(page).toContain('<link rel="stylesheet" href="/admin/style.css"/>');
    // Nothing the CSP would block: no script, no inline style, nothing from elsewhere.
    expect(page).not.toMatch(/<script|style=|<style|https?:\/\//);
  });

  it("without ADMIN_TOKEN every /admin path is 404", async () => {
    const gw = gateway({ ADMIN_TOKEN: "" });
    for (const path of ["/admin", "/admin/", "/admin/sign-in", "/admin/style.css", "/admin/approvals", "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA", "/admin/api/approvals"]) {
      expect((await get(gw, path)).status, path).toBe(404);
    }
    for (const path of ["/admin/sign-in", "/admin/sign-out", "/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA"]) {
      const response = await postForm(gw, path, { token: "", next: "/admin" });
      expect(response.status, path).toBe(404);
      expect(response.headers.get("set-cookie")).toBeNull();
    }
  });
});

describe("what the page shows of an approval", () => {
  const record: ApprovalRecord = {
    id: "apr_AAAAAAAAAAAAAAAAAAAAAA",
    grant: { id: "grt_test", label: "bot <img src=x>" },
    tool: "send_campaign",
    arguments: { subject: "</code></pre><script>alert(1)</script>", "pay\u202Eto": "evil\u200Bcom", tag: "a\u{E0041}b", nbsp: "a\u00A0b", nl: "line\nbreak" },
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
  // A page component's output, rendered to a string (the test file is not JSX).
  const rendered = async (element: unknown) => String(await (element as { toString(): string | Promise<string> }).toString());

  it("arguments are escaped HTML, and characters that would not show are written as \\u escapes of the same JSON value", async () => {
    const html = await rendered(ApprovalPage({ approval: record, session, now: Date.parse("2026-11-25T23:30:00Z") }));
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("bot &lt;img src=x&gt;");
    const shown = /<pre><code>([\s\S]*?)<\/code><\/pre>/.exec(html)![1]!;
    const json = shown.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&#39;", "'").replaceAll("&amp;", "&");
    expect(json).toContain("pay\\u202Eto");
    expect(json).toContain("evil\\u200Bcom");
    expect(json).toContain("a\\uDB40\\uDC41b");
    expect(json).toContain("a\\u00A0b");
    expect(json).toContain("line\\nbreak");
    expect(json).not.toMatch(/[\u00A0\u200B\u202E]|\u{E0041}/u);
    expect(JSON.parse(json)).toEqual(record.arguments);
    expect(html).toContain("(in 30 min)");
  });

  it("the list links each pending approval", async () => {
    const { arguments: args, params: _params, ...rest } = record;
    const row = { ...rest, argumentsPreview: JSON.stringify(args), argumentsBytes: JSON.stringify(args).length };
    const html = await rendered(ApprovalListPage({ pending: { approvals: [row], cursor: null }, session }));
    expect(html).toContain('href="/admin/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA"');
    expect(html).toContain("bot &lt;img src=x&gt;");
  });
});
