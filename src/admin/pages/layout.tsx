import type { Child } from "hono/jsx";
import { CSRF_FIELD, type AdminSession } from "../session.ts";

/** The console's sections, in the order the navigation lists them. */
export const SECTIONS = [
  { id: "approvals", label: "Approvals", href: "/admin/approvals" },
  { id: "decisions", label: "Decisions", href: "/admin/decisions" },
  { id: "grants", label: "Grants", href: "/admin/grants" },
  { id: "policies", label: "Policies", href: "/admin/policies" },
  { id: "counters", label: "Counters", href: "/admin/counters" },
  { id: "servers", label: "Servers", href: "/admin/servers" },
  { id: "tools", label: "Tools", href: "/admin/tools" },
] as const;
export type Section = (typeof SECTIONS)[number]["id"];

type LayoutProps = {
  title: string;
  /** The signed-in session, when there is one: the header then shows the navigation, who is signed in, and sign-out. */
  session?: AdminSession | undefined;
  /** The section this page belongs to (marked in the navigation). */
  section?: Section | undefined;
  /** A same-site URL the page loads at once (a meta refresh: the CSP allows no script). */
  refresh?: string | undefined;
  /** Reload this page every so many seconds (a list that keeps itself current without script). */
  autoRefreshSeconds?: number | undefined;
  children?: Child;
};

/** Every admin page: its own stylesheet, no script; signed in, the navigation between the console's sections. */
export function Layout({ title, session, section, refresh, autoRefreshSeconds, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        {refresh ? <meta http-equiv="refresh" content={`0;url=${refresh}`} /> : null}
        {autoRefreshSeconds ? <meta http-equiv="refresh" content={String(autoRefreshSeconds)} /> : null}
        <title>{`${title} · mcp-policy-gateway`}</title>
        <link rel="stylesheet" href="/admin/style.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <div class="bar">
            <a class="brand" href="/admin/approvals">
              mcp-policy-gateway · admin
            </a>
            {session ? (
              <div class="who">
                <span class="hint">
                  Signed in as <strong>{session.identity}</strong>
                  {session.via === "access" ? " (Cloudflare Access)" : " (admin token)"}
                </span>
                <form method="post" action="/admin/sign-out">
                  <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
                  <button type="submit" class="link">
                    Sign out
                  </button>
                </form>
              </div>
            ) : null}
          </div>
          {session ? (
            <nav aria-label="Console">
              <ul>
                {SECTIONS.map((item) => (
                  <li>
                    <a href={item.href} aria-current={item.id === section ? "page" : undefined}>
                      {item.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
        </header>
        <main id="main">{children}</main>
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
