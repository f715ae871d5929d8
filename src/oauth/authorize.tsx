import { AuthorizationError, CimdFetchError, type AuthRequest, type ConsentDescription, type OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import type { Context } from "hono";
import { Hono } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { GrantCreateInputSchema, GrantService } from "../admin/manage/grants.ts";
import { ACCESS_JWT_HEADER, accessSettings, verifyAccessJwt } from "../admin/manage/access.ts";
import type { SignInMetadata } from "../admin/manage/oauth-clients.ts";
import { parsedPolicy, PolicyService } from "../admin/manage/policies.ts";
import { CONTENT_SECURITY_POLICY, PAGE_HEADERS } from "../admin/pages/headers.ts";
import { readForm, render } from "../admin/pages/respond.tsx";
import { MIN_ADMIN_TOKEN_LENGTH } from "../admin/routes.ts";
import { TOKEN_IDENTITY } from "../admin/session.ts";
import { isAdminToken } from "../admin/token.ts";
import type { AppEnv } from "../env.ts";
import { grantProblem, TOKEN_PATTERN, type GrantRecord } from "../grants/grant.ts";
import { countAgainst } from "../http/throttle.ts";
import { servicesFor } from "../services.ts";
import { checkedFlow, endFlow, openClaims, sealClaims, startFlow, type Flow } from "./flow.ts";
import { readGrant } from "./grant-lookup.ts";
import { ConsentPage, type ConsentGrant } from "./pages/consent.tsx";
import { RequestRefusedPage, SignInMessagePage } from "./pages/layout.tsx";
import { PolicyChoicePage, SignInPage, type FormBase, type NewGrantValues, type OperatorDoor } from "./pages/sign-in.tsx";
import { policyOverview, type PolicyOverview } from "./policy-overview.ts";
import { AUTHORIZE_PATH, oauthSiteFor, type OAuthProps } from "./server.ts";

/**
 * The authorize endpoint: the gateway's own pages, server-rendered with the
 * console's CSP (no script), between the library's request parsing and its
 * completion. Four steps, each a page:
 *
 * 1. GET: the request is validated (client, exact redirect URI, resource,
 *    PKCE with S256, which the gateway requires of every client), a consent
 *    transaction is begun (the library's handle, bound to this browser), and
 *    the person chooses: a grant token an operator gave them, or signing in
 *    as an operator (the admin token, or Cloudflare Access). A request that
 *    fails validation is refused on this page, never redirected to the app.
 * 2. A grant token: the consent screen for that grant. An operator: a page to
 *    choose the policy (and expiry) of a new grant labelled with the app's name.
 * 3. The consent screen: the app's name, its redirect URI, the grant, and what
 *    its policy allows and hides; Allow or Deny.
 * 4. Allow: the consent transaction is consumed (once, in this browser), a new
 *    grant is created if the operator asked for one (audited as grant.create,
 *    by the operator), and the library completes the authorization with the
 *    grant's id as user id and `{grantId}` as props, then the browser goes back
 *    to the app with the code. Deny: back to the app with access_denied.
 *
 * Every POST carries the flow's CSRF token (src/oauth/flow.ts); what a step
 * established reaches the next one sealed with the consent handle. Nothing
 * secret is logged: one JSON line per step with the client and the grant.
 */
export const authorizePages = new Hono<AppEnv>();

type Ctx = Context<AppEnv>;

// A bug or an outage (KV failing), not the person's doing: a page that says so, details in the log only.
authorizePages.onError((error, c) => {
  console.error("authorize page failed", { error: String(error) });
  return message(c, 500, "Something went wrong", "The gateway could not complete this step. Start again from your app in a moment.");
});

/** Where tokens go: the page's forms may submit there (Chromium applies form-action to the redirect that follows a POST). */
function pageHeaders(redirectUri: string | undefined): Record<string, string> {
  const origin = redirectUri === undefined ? "null" : safeOrigin(redirectUri);
  const csp = origin === "null" ? CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY.replace("form-action 'self'", `form-action 'self' ${origin}`);
  return { ...PAGE_HEADERS, "Content-Security-Policy": csp };
}

function safeOrigin(uri: string): string {
  try {
    const origin = new URL(uri).origin;
    return /^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(origin) ? origin : "null";
  } catch {
    return "null";
  }
}

async function page(c: Ctx, element: JSX.Element, status: ContentfulStatusCode = 200, options: { redirectUri?: string | undefined; cookies?: Headers } = {}) {
  const response = await render(c, element, status);
  for (const [name, value] of Object.entries(pageHeaders(options.redirectUri))) response.headers.set(name, value);
  for (const cookie of options.cookies?.getSetCookie() ?? []) response.headers.append("Set-Cookie", cookie);
  return response;
}

function message(c: Ctx, status: ContentfulStatusCode, title: string, text: string) {
  return page(c, <SignInMessagePage title={title} message={text} />, status);
}

/** A redirect back to the app (code, or an error), with the cookies to set or clear; the flow ends. */
function redirectToClient(c: Ctx, location: string, cookies?: Headers): Response {
  endFlow(c);
  for (const cookie of cookies?.getSetCookie() ?? []) c.header("Set-Cookie", cookie, { append: true });
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  return c.redirect(location, 302);
}

function log(entry: Record<string, unknown>): void {
  console.log(JSON.stringify({ event: "oauth_authorize", ...entry }));
}

/** The request being authorized, from the URL (every step posts back to the same URL), or the answer that ends it here. */
type Parsed = { api: OAuthHelpers; request: AuthRequest; client: ConsentDescription } | { response: Response | Promise<Response> };

async function parse(c: Ctx): Promise<Parsed> {
  const site = oauthSiteFor(c.env, c.req.url);
  if (!site) return { response: message(c, 404, "No sign-in here", "This gateway signs apps in at its public URL only.") };
  const api = site.server.getOAuthApi(c.env);
  let request: AuthRequest;
  try {
    request = await api.parseAuthRequest(c.req.raw);
  } catch (error) {
    // Even where the library would redirect (the redirect URI is one the client registered), the client registered
    // itself and is not trusted (RFC 9700 §4.11): before the person has seen the consent screen, never redirect.
    if (error instanceof AuthorizationError) return { response: refused(c, error.description, error.redirectUri) };
    if (error instanceof CimdFetchError) return { response: message(c, 400, "This app could not be verified", "Its metadata document could not be fetched. Start again from your app.") };
    throw error;
  }
  // OAuth 2.1 and MCP require PKCE of public clients; the gateway requires it of every client, with S256.
  if (!request.codeChallenge || request.codeChallengeMethod !== "S256") return { response: refused(c, "PKCE with code_challenge_method=S256 is required", request.redirectUri) };
  return { api, request, client: await api.describeConsent(request) };
}

/** An authorization request refused before consent: on this page, the redirect URI shown as text. */
function refused(c: Ctx, problem: string, redirectUri: string | undefined) {
  log({ step: "refused", ok: false, reason: problem.slice(0, 200) });
  return page(c, <RequestRefusedPage problem={problem} redirectUri={redirectUri} />, 400);
}

/** The operator door: open when ADMIN_TOKEN is set (as for /admin); with a valid Cloudflare Access token, already signed in. */
async function operatorDoor(c: Ctx): Promise<OperatorDoor> {
  const adminToken = c.env.ADMIN_TOKEN;
  if (!adminToken || adminToken.length < MIN_ADMIN_TOKEN_LENGTH) return { kind: "closed" };
  const settings = accessSettings(c.env);
  const assertion = c.req.header(ACCESS_JWT_HEADER);
  if (settings && assertion) {
    const verified = await verifyAccessJwt(assertion.trim(), settings);
    if (verified.ok) return { kind: "access", email: verified.identity.email };
  }
  return { kind: "token" };
}

const formBase = (c: Ctx, flow: Flow, handle: string): FormBase => ({ action: `${AUTHORIZE_PATH}${new URL(c.req.url).search}`, csrfToken: flow.csrfToken, handle });

/** The label of a grant an operator creates for an app: its name, as grants take it. */
const labelFor = (client: ConsentDescription) => client.clientName.trim().slice(0, 200) || client.clientId.slice(0, 200);

authorizePages.get(AUTHORIZE_PATH, async (c) => {
  const parsed = await parse(c);
  if ("response" in parsed) return parsed.response;
  const { api, request, client } = parsed;
  const consent = await api.beginConsent(request);
  const flow = await startFlow(c);
  log({ step: "start", client: request.clientId });
  return page(c, <SignInPage client={client} base={formBase(c, flow, consent.handle)} operator={await operatorDoor(c)} />, 200, {
    redirectUri: request.redirectUri,
    cookies: consent.headers,
  });
});

authorizePages.post(AUTHORIZE_PATH, async (c) => {
  const parsed = await parse(c);
  if ("response" in parsed) return parsed.response;
  const form = await readForm(c);
  if (!form) return message(c, 413, "Too large", "This form is at most 64 KiB.");
  const flow = await checkedFlow(c, form);
  if (!flow) return message(c, 403, "Form refused", "This form did not come from this sign-in page in this browser, or the sign-in took longer than 10 minutes. Start again from your app.");
  const step = { ...parsed, flow, form, handle: form.get("handle") ?? "" };
  switch (form.get("step")) {
    case "grant":
      return grantStep(c, step);
    case "operator":
      return operatorStep(c, step);
    case "policy":
      return policyStep(c, step);
    case "consent":
      return form.get("decision") === "approve" ? approveStep(c, step) : denyStep(c, step);
    case "deny":
      return denyStep(c, step);
    default:
      return message(c, 400, "Bad request", "Unknown step. Start again from your app.");
  }
});

type Step = { api: OAuthHelpers; request: AuthRequest; client: ConsentDescription; flow: Flow; form: URLSearchParams; handle: string };

function sealsRefused(c: Ctx) {
  return message(c, 403, "Form refused", "This form's content was changed, belongs to another sign-in, or is older than 10 minutes. Start again from your app.");
}

/**
 * A wrong grant token or admin token: counted against the client's address
 * (AUTH_FAILURE_THROTTLE, scope "authorize"); past the limit, a 429 page with
 * Retry-After instead of the form again. A right token never gets here, so it
 * is never counted or slowed.
 */
async function wrongToken(c: Ctx, formAgain: () => Promise<Response>): Promise<Response> {
  const throttle = await countAgainst(c.env, "AUTH_FAILURE_THROTTLE", c.req.raw, "authorize");
  if (!throttle.throttled) return formAgain();
  const response = await message(c, 429, "Too many wrong tokens", `Too many wrong tokens from your address. Try again in ${throttle.retryAfterSeconds} seconds.`);
  response.headers.set("Retry-After", String(throttle.retryAfterSeconds));
  return response;
}

/** Step 2, a grant token: the consent screen for that grant. */
async function grantStep(c: Ctx, step: Step) {
  const { request, client, flow, handle, form } = step;
  const base = formBase(c, flow, handle);
  const signIn = (error: string) => wrongToken(c, async () => page(c, <SignInPage client={client} base={base} operator={await operatorDoor(c)} error={error} />, 401, { redirectUri: request.redirectUri }));
  const token = (form.get("grant_token") ?? "").trim();
  if (!TOKEN_PATTERN.test(token)) {
    log({ step: "grant_token", client: request.clientId, ok: false, reason: "not a grant token" });
    return signIn("That is not a grant token: it begins with mcpgw_ and an operator of this gateway gives it to you.");
  }
  const { grants, policies } = servicesFor(c.env);
  const grant = await grants.findByToken(token);
  const problem = grant ? grantProblem(grant, Date.now()) : "no grant has this token";
  if (!grant || problem) {
    log({ step: "grant_token", client: request.clientId, ok: false, reason: problem });
    return signIn(`That grant token does not work: ${problem}.`);
  }
  log({ step: "grant_token", client: request.clientId, grant: grant.id, ok: true });
  const lookup = await policies.get(grant.policy);
  const overview = lookup.policy ? policyOverview(lookup.policy.name, lookup.policy.version, lookup.policy.policy) : { problem: lookup.problem };
  const claims = await sealClaims(c, flow, handle, { kind: "existing", grant: grant.id });
  const shown: ConsentGrant = { kind: "existing", label: grant.label, id: grant.id, policy: grant.policy, expires: grant.expiresAt === null ? null : { at: grant.expiresAt } };
  return page(c, <ConsentPage client={client} base={base} claims={claims} grant={shown} policy={overview} />, 200, { redirectUri: request.redirectUri });
}

/** Step 2, an operator: signed in (admin token or Access), then the policy of the new grant. */
async function operatorStep(c: Ctx, step: Step) {
  const { request, client, flow, handle, form } = step;
  const base = formBase(c, flow, handle);
  const door = await operatorDoor(c);
  if (door.kind === "closed") return message(c, 404, "No operator sign-in here", "This gateway has no admin token: sign in with a grant token instead.");
  let by: string;
  if (door.kind === "access") {
    by = door.email;
  } else {
    const presented = (form.get("admin_token") ?? "").trim();
    const refused = (error: string) => wrongToken(c, () => page(c, <SignInPage client={client} base={base} operator={door} error={error} />, 401, { redirectUri: request.redirectUri }));
    if (TOKEN_PATTERN.test(presented)) {
      log({ step: "operator", client: request.clientId, ok: false, reason: "grant token" });
      return refused("That is a grant token, an agent's key: use it in the first form. Operators sign in with the admin token.");
    }
    if (presented === "" || !(await isAdminToken(c.env.ADMIN_TOKEN ?? "", presented))) {
      log({ step: "operator", client: request.clientId, ok: false, reason: "wrong token" });
      return refused("That is not the admin token.");
    }
    by = TOKEN_IDENTITY;
  }
  log({ step: "operator", client: request.clientId, by, ok: true });
  const claims = await sealClaims(c, flow, handle, { kind: "operator", by });
  const policies = await new PolicyService(c.env).list();
  return page(c, <PolicyChoicePage client={client} base={base} claims={claims} by={by} label={labelFor(client)} policies={policies} />, 200, { redirectUri: request.redirectUri });
}

/** Step 2b: the operator's choice of policy, checked; then the consent screen for the grant about to be created. */
async function policyStep(c: Ctx, step: Step) {
  const { request, client, flow, handle, form } = step;
  const base = formBase(c, flow, handle);
  const operator = await openClaims(c, flow, handle, form, ["kind", "by"]);
  if (!operator || operator.kind !== "operator") return sealsRefused(c);
  const values: NewGrantValues = { policy: form.get("policy") ?? "", expires: (form.get("expires") ?? "").trim() };
  const label = labelFor(client);
  const service = new PolicyService(c.env);
  const again = async (problems: string[]) => {
    const claims = await sealClaims(c, flow, handle, { kind: "operator", by: operator.by });
    const policies = await service.list();
    return page(c, <PolicyChoicePage client={client} base={base} claims={claims} by={operator.by} label={label} policies={policies} values={values} problems={problems} />, 400, {
      redirectUri: request.redirectUri,
    });
  };
  const input = GrantCreateInputSchema.safeParse({ label, policy: values.policy, ...(values.expires ? { expires: values.expires } : {}) });
  if (!input.success) return again(input.error.issues.map((issue) => `${String(issue.path[0] ?? "form")}: ${issue.message}`));
  const stored = await service.get(values.policy);
  if (!stored) return again([`there is no policy named "${values.policy}"`]);
  const parsedDocument = parsedPolicy(stored.text);
  const overview = parsedDocument ? policyOverview(stored.name, stored.version, parsedDocument) : { problem: stored.problems.join("; ") || "it is not a valid policy" };
  const claims = await sealClaims(c, flow, handle, { kind: "new", by: operator.by, policy: values.policy, expires: values.expires });
  const shown: ConsentGrant = { kind: "new", label, policy: values.policy, expires: values.expires ? { after: values.expires } : null, by: operator.by };
  return page(c, <ConsentPage client={client} base={base} claims={claims} grant={shown} policy={overview} />, 200, { redirectUri: request.redirectUri });
}

/** Step 4, Allow: the transaction is consumed, the grant found or created, the authorization completed. */
async function approveStep(c: Ctx, step: Step) {
  const { api, flow, handle, form } = step;
  const existing = form.get("kind") === "existing" ? await openClaims(c, flow, handle, form, ["kind", "grant"]) : undefined;
  const created = form.get("kind") === "new" ? await openClaims(c, flow, handle, form, ["kind", "by", "policy", "expires"]) : undefined;
  if (!(existing?.kind === "existing" || created?.kind === "new")) return sealsRefused(c);
  let approved;
  try {
    approved = await api.approveConsent(c.req.raw, handle);
  } catch (error) {
    if (error instanceof AuthorizationError) return message(c, 400, "This sign-in cannot go on", `${error.description}.`);
    throw error;
  }
  const { request } = approved;
  // What the app is, from the request the library stored when the page was opened: never from the form.
  const client = await api.describeConsent(request);
  let grant: GrantRecord;
  let metadata: SignInMetadata;
  if (existing) {
    const found = await readGrant(c.env.GRANTS, existing.grant);
    const problem = found ? grantProblem(found, Date.now()) : "it no longer exists";
    if (!found || problem) return message(c, 409, "The grant no longer works", `The grant cannot be used: ${problem}. Ask an operator for a new grant token, and start again from your app.`);
    grant = found;
    metadata = { via: "grant_token", clientName: client.clientName };
  } else if (created) {
    const { by, policy, expires } = created;
    const outcome = await new GrantService(c.env).create({ label: labelFor(client), policy, ...(expires ? { expires } : {}) }, by, Date.now(), {
      oauthClient: request.clientId,
      oauthClientName: client.clientName,
    });
    if (!outcome.ok) return message(c, 400, "The grant was not created", `${outcome.problem}. Start again from your app.`);
    grant = outcome.grant;
    metadata = { via: "operator", by, clientName: client.clientName };
  } else {
    return sealsRefused(c);
  }
  const props: OAuthProps = { grantId: grant.id };
  const { redirectTo } = await api.completeAuthorization({ request, userId: grant.id, metadata, scope: request.scope, props });
  log({ step: "allow", client: request.clientId, grant: grant.id, via: metadata.via, ...(metadata.by ? { by: metadata.by } : {}) });
  return redirectToClient(c, redirectTo, approved.headers);
}

/** Deny (or Cancel): back to the app with access_denied. */
async function denyStep(c: Ctx, step: Step) {
  try {
    const denied = await step.api.denyConsent(c.req.raw, step.handle);
    log({ step: "deny", client: denied.request.clientId });
    return redirectToClient(c, denied.redirectTo, denied.headers);
  } catch (error) {
    if (error instanceof AuthorizationError) return message(c, 400, "This sign-in cannot go on", `${error.description}.`);
    throw error;
  }
}
