import type { Context } from "hono";
import { Hono } from "hono";
import { html } from "hono/html";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DecisionInputSchema } from "../../approvals/record.ts";
import { ApprovalService } from "../../approvals/service.ts";
import { isAdminToken } from "../token.ts";
import {
  clearSessionCookie,
  CSRF_FIELD,
  currentSession,
  isCsrfToken,
  issueSession,
  requireSession,
  safeNext,
  setSessionCookie,
  type AdminPagesEnv,
  type AdminSession,
} from "../session.ts";
import { ApprovalListPage, ApprovalPage, PAGE_DECIDER } from "./approval.tsx";
import { pageHeaders } from "./headers.ts";
import { MessagePage, ReloadPage } from "./layout.tsx";
import { SignInPage } from "./sign-in.tsx";
import { STYLESHEET } from "./style.ts";

/** Grant tokens look like this; they are an agent's key and never open the admin pages. */
const GRANT_TOKEN_PREFIX = "mcpgw_";
/** The largest form body read: the decision form's note is at most 2000 characters. */
const MAX_FORM_BYTES = 64 * 1024;

type PageContext = Context<AdminPagesEnv>;

function render(c: Context, element: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(html`<!doctype html>${element}`, status);
}

const signedIn = requireSession({ reloadFromThisSite: (c, path) => render(c, <ReloadPage path={path} />) });

/** A form body (application/x-www-form-urlencoded, as the pages post), read up to MAX_FORM_BYTES; undefined when larger. */
async function readForm(c: Context): Promise<URLSearchParams | undefined> {
  const body = c.req.raw.body;
  if (!body) return new URLSearchParams();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

/** One JSON log line per operator action on the pages (never a token). */
function logAction(entry: Record<string, unknown>): void {
  console.log(JSON.stringify({ event: "admin_page", ...entry }));
}

function notFound(c: PageContext, session?: AdminSession) {
  return render(c, <MessagePage title="No such approval" message="There is no approval with this id. It may have been removed after its retention period (7 days)." session={session} />, 404);
}

/**
 * The operator's pages under /admin, server-rendered, with no script: sign-in
 * (the admin token, once, for a session cookie), the pending approvals, and
 * one approval's page with its approve / deny form. Every response carries the
 * page headers (CSP, nosniff, no-referrer, no-store).
 */
export const adminPages = new Hono<AdminPagesEnv>();

adminPages.onError((error, c) => {
  console.error("admin page failed", { path: c.req.path, error: String(error) });
  return render(c, <MessagePage title="Something went wrong" message="The gateway could not complete this request. Reload the page to see where the approval stands, and try again." />, 500);
});

adminPages.get("/", pageHeaders, (c) => c.redirect("/admin/approvals", 303));

adminPages.get("/style.css", pageHeaders, (c) => c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8" }));

adminPages.get("/sign-in", pageHeaders, async (c) => {
  const next = safeNext(c.req.query("next"));
  if (await currentSession(c, c.var.adminToken)) return c.redirect(next, 303);
  return render(c, <SignInPage next={next} />);
});

adminPages.post("/sign-in", pageHeaders, async (c) => {
  const form = await readForm(c);
  if (!form) return tooLarge(c);
  const next = safeNext(form.get("next"));
  const presented = (form.get("token") ?? "").trim();
  if (presented.startsWith(GRANT_TOKEN_PREFIX)) {
    logAction({ action: "sign_in", ok: false, reason: "grant token" });
    return render(c, <SignInPage next={next} error="That is a grant token, an agent's key: it never opens the admin pages. Paste the admin token." />, 401);
  }
  if (presented === "" || !(await isAdminToken(c.var.adminToken, presented))) {
    logAction({ action: "sign_in", ok: false, reason: "wrong token" });
    return render(c, <SignInPage next={next} error="That is not the admin token." />, 401);
  }
  const { value } = await issueSession(c.var.adminToken);
  setSessionCookie(c, value);
  logAction({ action: "sign_in", ok: true });
  return c.redirect(next, 303);
});

adminPages.post("/sign-out", pageHeaders, signedIn, async (c) => {
  const form = await readForm(c);
  if (!form) return tooLarge(c);
  if (!(await isCsrfToken(c.var.adminToken, c.var.session, form.get(CSRF_FIELD)))) return forbidden(c);
  clearSessionCookie(c);
  logAction({ action: "sign_out" });
  return c.redirect("/admin/sign-in", 303);
});

adminPages.get("/approvals", pageHeaders, signedIn, async (c) => {
  const approvals = await new ApprovalService(c.env).list("pending");
  return render(c, <ApprovalListPage approvals={approvals} session={c.var.session} />);
});

adminPages.get("/approvals/:id", pageHeaders, signedIn, async (c) => {
  const approval = await new ApprovalService(c.env).get(c.req.param("id"));
  if (!approval) return notFound(c, c.var.session);
  return render(c, <ApprovalPage approval={approval} session={c.var.session} />);
});

adminPages.post("/approvals/:id", pageHeaders, signedIn, async (c) => {
  const { session } = c.var;
  const form = await readForm(c);
  if (!form) return tooLarge(c);
  if (!(await isCsrfToken(c.var.adminToken, session, form.get(CSRF_FIELD)))) return forbidden(c);
  const decision = form.get("decision");
  if (decision !== "approve" && decision !== "deny") return badRequest(c, "Choose Approve or Deny.");
  // Browsers send a textarea's line breaks as CRLF.
  const text = (form.get("note") ?? "").replace(/\r\n?/g, "\n").trim();
  const note = text === "" ? undefined : text;
  const input = DecisionInputSchema.safeParse({ ...(note === undefined ? {} : { note }), by: PAGE_DECIDER });
  if (!input.success) return badRequest(c, "The note is too long: at most 2000 characters.");

  const id = c.req.param("id");
  const outcome = await new ApprovalService(c.env).decide(id, decision, { ...input.data, by: PAGE_DECIDER });
  logAction({ action: decision, approval: id, ok: outcome.ok, ...(outcome.approval ? { status: outcome.approval.status } : {}) });
  if (outcome.ok) return c.redirect(`/admin/approvals/${id}`, 303);
  if (!outcome.approval) return notFound(c, session);
  const notice = `Your ${decision === "approve" ? "approval" : "denial"} was not recorded: this approval is ${outcome.approval.status}, no longer pending.`;
  return render(c, <ApprovalPage approval={outcome.approval} session={session} notice={notice} />, 409);
});

function forbidden(c: PageContext) {
  return render(
    c,
    <MessagePage title="Form refused" message="This form did not come from a page of this session (missing or wrong CSRF token). Reload the page and try again." session={c.var.session} />,
    403,
  );
}

function tooLarge(c: Context) {
  return render(c, <MessagePage title="Too large" message={`A form of these pages is at most ${MAX_FORM_BYTES / 1024} KiB.`} />, 413);
}

function badRequest(c: PageContext, message: string) {
  return render(c, <MessagePage title="Bad request" message={message} session={c.var.session} />, 400);
}
