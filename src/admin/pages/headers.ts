import { createMiddleware } from "hono/factory";

/**
 * The admin pages load nothing but their own stylesheet: no script at all,
 * no inline style, no frames, forms posting only back to this origin.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  // For browsers that predate frame-ancestors.
  "X-Frame-Options": "DENY",
};

/** Sets the page headers on whatever a page route answers: pages, redirects, errors, the stylesheet. */
export const pageHeaders = createMiddleware(async function pageHeaders(c, next) {
  await next();
  for (const [name, value] of Object.entries(PAGE_HEADERS)) c.res.headers.set(name, value);
});
