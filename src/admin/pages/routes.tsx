import { Hono } from "hono";
import { DecisionInputSchema } from "../../approvals/record.ts";
import { ApprovalService } from "../../approvals/service.ts";
import { readConfig } from "../../config.ts";
import { countAgainst } from "../../http/throttle.ts";
import { ACCESS_LOGOUT_PATH, accessSettings } from "../manage/access.ts";
import { clearSessionCookie, currentSession, issueSession, safeNext, setSessionCookie, type AdminPagesEnv, type AdminSession } from "../session.ts";
import { isAdminToken } from "../token.ts";
import { ApprovalListPage, ApprovalPage, deciderOf } from "./approval.tsx";
import { counterPages } from "./counter-routes.tsx";
import { decisionPages } from "./decision-routes.tsx";
import { grantPages } from "./grant-routes.tsx";
import { pageHeaders } from "./headers.ts";
import { MessagePage } from "./layout.tsx";
import { policyEditorPages, policyPages } from "./policy-routes.tsx";
import { serverPages } from "./server-routes.tsx";
import { toolPages } from "./tool-routes.tsx";
import { badRequest, checkedForm, logAction, readForm, render, signedIn, tooLarge, type PageContext } from "./respond.tsx";
import { SignInPage } from "./sign-in.tsx";
import { STYLESHEET } from "./style.ts";

/** Grant tokens look like this; they are an agent's key and never open the admin pages. */
const GRANT_TOKEN_PREFIX = "mcpgw_";
/** The recently decided approvals the list shows under the pending ones. */
const RECENT_APPROVALS = 20;
/** Pending approvals a page of the list shows; the rest are a link away, oldest last. */
const PENDING_PER_PAGE = 50;

/** The server approvals from before servers were named are for. */
const defaultServer = (c: PageContext) => readConfig(c.env).defaultServer.name;

function notFound(c: PageContext, session?: AdminSession) {
  return render(c, <MessagePage title="No such approval" message="There is no approval with this id. It may have been removed after its retention period (7 days)." session={session} />, 404);
}

/**
 * The operator console under /admin, server-rendered, with no script:
 * sign-in (the admin token, once, for a session cookie; or Cloudflare Access),
 * the approvals and one approval's page with its approve / deny form, and the
 * decisions, grants, policies, counters, servers and tools sections (their own route files).
 * Every response carries the page headers (CSP, nosniff, no-referrer, no-store).
 */
export const adminPages = new Hono<AdminPagesEnv>();

adminPages.onError((error, c) => {
  console.error("admin page failed", { path: c.req.path, error: String(error) });
  return render(c, <MessagePage title="Something went wrong" message="The gateway could not complete this request. Reload the page to see where things stand, and try again." />, 500);
});

adminPages.get("/", pageHeaders, (c) => c.redirect("/admin/approvals", 303));

adminPages.get("/style.css", pageHeaders, (c) => c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8" }));

adminPages.get("/sign-in", pageHeaders, async (c) => {
  const next = safeNext(c.req.query("next"));
  if (await currentSession(c, c.var.adminToken)) return c.redirect(next, 303);
  return render(c, <SignInPage next={next} access={accessSettings(c.env) !== undefined} />);
});

adminPages.post("/sign-in", pageHeaders, async (c) => {
  const form = await readForm(c);
  if (!form) return tooLarge(c);
  const next = safeNext(form.get("next"));
  const access = accessSettings(c.env) !== undefined;
  const presented = (form.get("token") ?? "").trim();
  const refuse = async (reason: string, error: string) => {
    logAction({ action: "sign_in", ok: false, reason });
    // Every wrong token counts against this address, as on the API: a guessing run meets 429.
    const throttle = await countAgainst(c.env, "AUTH_FAILURE_THROTTLE", c.req.raw, "admin");
    if (!throttle.throttled) return render(c, <SignInPage next={next} access={access} error={error} />, 401);
    c.header("Retry-After", String(throttle.retryAfterSeconds));
    return render(c, <SignInPage next={next} access={access} error={`Too many wrong tokens from your address: try again in ${throttle.retryAfterSeconds} s.`} />, 429);
  };
  if (presented.startsWith(GRANT_TOKEN_PREFIX)) return refuse("grant token", "That is a grant token, an agent's key: it never opens the admin pages. Paste the admin token.");
  if (presented === "" || !(await isAdminToken(c.var.adminToken, presented))) return refuse("wrong token", "That is not the admin token.");
  const { value } = await issueSession(c.var.adminToken);
  setSessionCookie(c, value);
  logAction({ action: "sign_in", ok: true });
  return c.redirect(next, 303);
});

adminPages.post("/sign-out", pageHeaders, signedIn, async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  clearSessionCookie(c);
  const { session } = c.var;
  logAction({ action: "sign_out", by: session.identity });
  // Cloudflare Access sends its token with every request: only its own logout ends that session.
  return c.redirect(session.via === "access" ? ACCESS_LOGOUT_PATH : "/admin/sign-in", 303);
});

adminPages.get("/approvals", pageHeaders, signedIn, async (c) => {
  const service = new ApprovalService(c.env);
  const cursor = c.req.query("cursor")?.slice(0, 200);
  const [pending, recent] = await Promise.all([
    service.list({ status: "pending", limit: PENDING_PER_PAGE, cursor }),
    // The recent ones only on the first page: the pages after it are the pending list's.
    cursor === undefined ? service.list({ decided: true, limit: RECENT_APPROVALS }) : undefined,
  ]);
  return render(c, <ApprovalListPage pending={pending} recent={recent?.approvals ?? []} paged={cursor !== undefined} defaultServer={defaultServer(c)} session={c.var.session} />);
});

adminPages.get("/approvals/:id", pageHeaders, signedIn, async (c) => {
  const approval = await new ApprovalService(c.env).get(c.req.param("id"));
  if (!approval) return notFound(c, c.var.session);
  return render(c, <ApprovalPage approval={approval} defaultServer={defaultServer(c)} session={c.var.session} />);
});

adminPages.post("/approvals/:id", pageHeaders, signedIn, async (c) => {
  const { session } = c.var;
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  const { form } = checked;
  const decision = form.get("decision");
  if (decision !== "approve" && decision !== "deny") return badRequest(c, "Choose Approve or Deny.");
  // Browsers send a textarea's line breaks as CRLF.
  const text = (form.get("note") ?? "").replace(/\r\n?/g, "\n").trim();
  const note = text === "" ? undefined : text;
  const by = deciderOf(session);
  const input = DecisionInputSchema.safeParse({ ...(note === undefined ? {} : { note }), by });
  if (!input.success) return badRequest(c, "The note is too long: at most 2000 characters.");

  const id = c.req.param("id");
  const outcome = await new ApprovalService(c.env).decide(id, decision, { ...input.data, by });
  logAction({ action: decision, approval: id, by, ok: outcome.ok, ...(outcome.approval ? { status: outcome.approval.status } : {}) });
  if (outcome.ok) return c.redirect(`/admin/approvals/${id}`, 303);
  if (!outcome.approval) return notFound(c, session);
  const notice = `Your ${decision === "approve" ? "approval" : "denial"} was not recorded: this approval is ${outcome.approval.status}, no longer pending.`;
  return render(c, <ApprovalPage approval={outcome.approval} defaultServer={defaultServer(c)} session={session} notice={notice} />, 409);
});

adminPages.route("/decisions", decisionPages);
adminPages.route("/grants", grantPages);
adminPages.route("/policies", policyPages);
adminPages.route("/policy-editor", policyEditorPages);
adminPages.route("/counters", counterPages);
adminPages.route("/servers", serverPages);
adminPages.route("/tools", toolPages);
