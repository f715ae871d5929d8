import type { Child } from "hono/jsx";
import { visible } from "../../admin/pages/display.ts";
import type { ConsentDescription } from "@cloudflare/workers-oauth-provider";

/** Where the sign-in pages' stylesheet is served: the console's, outside /admin (which may not exist). */
export const OAUTH_STYLESHEET_PATH = "/oauth/style.css";

/** Every sign-in page: the console's stylesheet, no script, no navigation. */
export function SignInLayout({ title, children }: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} · mcp-policy-gateway`}</title>
        <link rel="stylesheet" href={OAUTH_STYLESHEET_PATH} />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <div class="bar">
            <span class="brand">mcp-policy-gateway · sign in</span>
          </div>
        </header>
        <main id="main">{children}</main>
      </body>
    </html>
  );
}

/** A page that only says what went wrong. */
export function SignInMessagePage({ title, message }: { title: string; message: string }) {
  return (
    <SignInLayout title={title}>
      <h1>{title}</h1>
      <p>{message}</p>
    </SignInLayout>
  );
}

/**
 * An authorization request refused before the consent screen. The app
 * registered itself, so its redirect URI is not trusted (RFC 9700 §4.11): the
 * error is told here, and the URI is text, never a link, so the page cannot
 * be used to send anyone to an address of the app's choosing.
 */
export function RequestRefusedPage({ problem, redirectUri }: { problem: string; redirectUri: string | undefined }) {
  return (
    <SignInLayout title="This sign-in request is not valid">
      <h1>This sign-in request is not valid</h1>
      <p>{visible(problem.replace(/\.$/, ""))}.</p>
      {redirectUri === undefined ? null : (
        <p>
          The app asked for its answer at <span class="mono">{visible(redirectUri)}</span>. You are not sent there: the app registered itself, so
          that address is not verified.
        </p>
      )}
      <p>Start again from your app. If this keeps happening, tell its developers what this page says.</p>
    </SignInLayout>
  );
}

/**
 * Who is asking and where the tokens go, as every step shows it: the app's
 * name (self-asserted: it registered itself), the full redirect URI and its
 * host, and a warning when that is this computer.
 */
export function ClientFacts({ client }: { client: ConsentDescription }) {
  return (
    <>
      <dl class="facts">
        <dt>App</dt>
        <dd>
          <strong>{visible(client.clientName)}</strong>{" "}
          <span class="hint">{client.clientDomain ? `(published by ${client.clientDomain})` : "(the app registered itself: its name is not verified)"}</span>
        </dd>
        <dt>Access goes to</dt>
        <dd>
          <strong>{visible(client.redirectHost)}</strong> <span class="mono hint">{visible(client.redirectUri)}</span>
        </dd>
        <dt>Client id</dt>
        <dd class="mono">{visible(client.clientId)}</dd>
      </dl>
      {client.redirectIsLoopback ? (
        <p class="notice" role="status">
          This sends access to an app on your own computer. Continue only if you just started connecting from it.
        </p>
      ) : null}
    </>
  );
}
