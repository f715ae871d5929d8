import type { Context } from "hono";
import { html } from "hono/html";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { readBodyWithin } from "../../http/body.ts";
import { CSRF_FIELD, isCsrfToken, requireSession, type AdminPagesEnv, type AdminSession } from "../session.ts";
import { MessagePage, ReloadPage } from "./layout.tsx";

/**
 * What every page route shares: rendering a page, reading a form (bounded),
 * checking its CSRF token, the error pages, and the one log line per action.
 */
export type PageContext = Context<AdminPagesEnv>;

/** The largest form body read: the decision form's note is at most 2000 characters. */
export const MAX_FORM_BYTES = 64 * 1024;
/** The policy editor's form carries a whole policy document. */
export const MAX_POLICY_FORM_BYTES = 512 * 1024;

export function render(c: Context, element: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(html`<!doctype html>${element}`, status);
}

/** Pages need a signed-in operator (admin token cookie or Cloudflare Access). */
export const signedIn = requireSession({ reloadFromThisSite: (c, path) => render(c, <ReloadPage path={path} />) });

/** A form body (application/x-www-form-urlencoded, as the pages post), read up to `limit` bytes; undefined when larger. */
export async function readForm(c: Context, limit = MAX_FORM_BYTES): Promise<URLSearchParams | undefined> {
  const bytes = await readBodyWithin(c.req.raw, limit);
  return bytes && new URLSearchParams(new TextDecoder().decode(bytes));
}

/**
 * The form of a state-changing POST, once its size and CSRF token are
 * checked; otherwise the response to send (413, 403).
 */
export async function checkedForm(c: PageContext, limit = MAX_FORM_BYTES): Promise<{ form: URLSearchParams } | { refused: Response }> {
  const form = await readForm(c, limit);
  if (!form) return { refused: await tooLarge(c, limit) };
  if (!(await isCsrfToken(c.var.adminToken, c.var.session, form.get(CSRF_FIELD)))) return { refused: await forbidden(c) };
  return { form };
}

/** Text from a textarea: browsers send its line breaks as CRLF. */
export function textareaValue(form: URLSearchParams, name: string): string {
  return (form.get(name) ?? "").replace(/\r\n?/g, "\n");
}

/** One JSON log line per operator action on the pages (never a token). */
export function logAction(entry: Record<string, unknown>): void {
  console.log(JSON.stringify({ event: "admin_page", ...entry }));
}

export function forbidden(c: PageContext) {
  return render(
    c,
    <MessagePage title="Form refused" message="This form did not come from a page of this session (missing or wrong CSRF token). Reload the page and try again." session={c.var.session} />,
    403,
  );
}

export function tooLarge(c: Context, limit = MAX_FORM_BYTES) {
  return render(c, <MessagePage title="Too large" message={`This form is at most ${limit / 1024} KiB.`} />, 413);
}

export function badRequest(c: PageContext, message: string) {
  return render(c, <MessagePage title="Bad request" message={message} session={c.var.session} />, 400);
}

export function pageNotFound(c: PageContext, title: string, message: string, session?: AdminSession) {
  return render(c, <MessagePage title={title} message={message} session={session ?? c.var.session} />, 404);
}
