import type { Child } from "hono/jsx";
import { CSRF_FIELD, type AdminSession } from "../session.ts";

type LayoutProps = {
  title: string;
  /** The signed-in session, when there is one: the header then offers sign-out. */
  session?: AdminSession | undefined;
  /** A same-site URL the page loads at once (a meta refresh: the CSP allows no script). */
  refresh?: string | undefined;
  children?: Child;
};

/** Every admin page: its own stylesheet, no script, and a sign-out form when signed in. */
export function Layout({ title, session, refresh, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        {refresh ? <meta http-equiv="refresh" content={`0;url=${refresh}`} /> : null}
        <title>{`${title} · mcp-policy-gateway`}</title>
        <link rel="stylesheet" href="/admin/style.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="/admin/approvals">
            mcp-policy-gateway · admin
          </a>
          {session ? (
            <form method="post" action="/admin/sign-out">
              <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
              <button type="submit" class="link">
                Sign out
              </button>
            </form>
          ) : null}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

/** A page that only says what went wrong (404, 403, 400, 500). */
export function MessagePage({ title, message, session }: { title: string; message: string; session?: AdminSession | undefined }) {
  return (
    <Layout title={title} session={session}>
      <h1>{title}</h1>
      <p>{message}</p>
      <p>
        <a href="/admin/approvals">Pending approvals</a>
      </p>
    </Layout>
  );
}

/**
 * The answer to a link followed from another site: the browser held back the
 * SameSite=Strict session cookie, so the page is loaded once more, from here.
 */
export function ReloadPage({ path }: { path: string }) {
  return (
    <Layout title="Opening" refresh={path}>
      <p>
        Opening <a href={path}>{path}</a>…
      </p>
    </Layout>
  );
}
