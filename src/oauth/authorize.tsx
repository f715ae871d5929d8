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
import { readConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { grantProblem, TOKEN_PATTERN, type GrantRecord } from "../grants/grant.ts";
import { countAgainst } from "../http/throttle.ts";
import { serversOf } from "../servers/select.ts";
import { servicesFor } from "../services.ts";
import { checkedFlow, endFlow, openClaims, sealClaims, startFlow, type Flow } from "./flow.ts";
import { readGrant } from "./grant-lookup.ts";
import { ConsentPage, type ConsentGrant } from "./pages/consent.tsx";
import { RequestRefusedPage, SignInMessagePage } from "./pages/layout.tsx";
import { PolicyChoicePage, SignInPage, type FormBase, type NewGrantValues, type OperatorDoor, type ServerChoice } from "./pages/sign-in.tsx";
import { policyOverview, type PolicyOverview } from "./policy-overview.ts";
import { policyForServer } from "../policy/for-server.ts";
import type { Policy } from "../policy/schema.ts";
import { AUTHORIZE_PATH, oauthSiteFor, resourceByUrl, type OAuthProps, type OAuthSite } from "./server.ts";

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
 *    choose the policy (and expiry) of a new grant labelled with the app's name,
 *    and, when the gateway declares several servers, the servers it reaches.
 * 3. The consent screen: the app's name, its redirect URI, the grant, and what
 *    its policy allows and hides; Allow or Deny.
 *
 * The app signs in for one resource (RFC 8707): `/mcp`, the grant's view, or
 * `/mcp/<server>`, one server, and its tokens work there only. A sign-in for a
 * server needs a grant that reaches it: an existing grant keeps its servers
 * and is refused on the page when it does not; a new grant must name it (the
 * operator's checkbox for it is checked and required).
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
type Parsed = { site: OAuthSite; api: OAuthHelpers; request: AuthRequest; client: ConsentDescription } | { response: Response | Promise<Response> };

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
  return { site, api, request, client: await api.describeConsent(request) };
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

/** The declared servers, in order, when there are several: the pages then offer or show them. A single-server gateway's pages name none. */
function declaredServers(c: Ctx): string[] | undefined {
  const names = [...readConfig(c.env).servers.keys()];
  return names.length > 1 ? names : undefined;
}

/** The server a request's resource is (`/mcp/<server>`), or undefined for `/mcp`, the grant's view. */
function requestedServer(site: OAuthSite, request: AuthRequest): string | undefined {
  return resourceByUrl(site, typeof request.resource === "string" ? request.resource : undefined)?.server;
}

/** Why `servers` cannot serve a sign-in for `request`'s resource, or undefined when they can. */
function serverMissing(site: OAuthSite, request: AuthRequest, servers: readonly string[], whose: string): string | undefined {
  const server = requestedServer(site, request);
  if (server === undefined || servers.includes(server)) return undefined;
  const reached = servers.length === 0 ? "none of this gateway's servers" : servers.map((name) => `"${name}"`).join(", ");
  return `The app asked to connect to the server "${server}" (${request.resource}), and ${whose} does not reach it: it reaches ${reached}.`;
}

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

type Step = { site: OAuthSite; api: OAuthHelpers; request: AuthRequest; client: ConsentDescription; flow: Flow; form: URLSearchParams; handle: string };

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
  const { site, request, client, flow, handle, form } = step;
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
  // A right token for a grant that cannot serve this sign-in: said on the page, and not counted as a wrong token.
  const reached = serversOf(grant, readConfig(c.env));
  const missing = serverMissing(site, request, reached, "that grant");
  if (missing) {
    log({ step: "grant_token", client: request.clientId, grant: grant.id, ok: false, reason: "server not reached" });
    const error = `${missing} Ask an operator for a grant that reaches it, or connect the app to this gateway's /mcp instead.`;
    return page(c, <SignInPage client={client} base={base} operator={await operatorDoor(c)} error={error} />, 403, { redirectUri: request.redirectUri });
  }
  log({ step: "grant_token", client: request.clientId, grant: grant.id, ok: true });
  const lookup = await policies.get(grant.policy);
  const overview = lookup.policy ? policyOverview(lookup.policy.name, lookup.policy.version, catalogSection(c, lookup.policy.policy)) : { problem: lookup.problem };
  const claims = await sealClaims(c, flow, handle, { kind: "existing", grant: grant.id });
  const shown: ConsentGrant = {
    kind: "existing",
    label: grant.label,
    id: grant.id,
    policy: grant.policy,
    expires: grant.expiresAt === null ? null : { at: grant.expiresAt },
    ...(declaredServers(c) ? { servers: reached } : {}),
  };
  return page(c, <ConsentPage client={client} base={base} claims={claims} grant={shown} policy={overview} resource={request.resource} />, 200, { redirectUri: request.redirectUri });
}

/** Step 2, an operator: signed in (admin token or Access), then the policy of the new grant. */
async function operatorStep(c: Ctx, step: Step) {
  const { site, request, client, flow, handle, form } = step;
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
  const servers = serverChoice(c, site, request);
  return page(c, <PolicyChoicePage client={client} base={base} claims={claims} by={by} label={labelFor(client)} policies={policies} servers={servers} />, 200, {
    redirectUri: request.redirectUri,
  });
}

/**
 * The servers a new grant may reach, when the gateway declares several: every
 * declared one (an operator may give any); the requested resource's server
 * checked and required, or for `/mcp` the default server checked.
 */
function serverChoice(c: Ctx, site: OAuthSite, request: AuthRequest, chosen?: string[]): ServerChoice | undefined {
  const declared = declaredServers(c);
  if (!declared) return undefined;
  const required = requestedServer(site, request);
  return { declared, required, chosen: chosen ?? [required ?? readConfig(c.env).defaultServer.name] };
}

/** The servers the operator checked, in the order the gateway declares them, or what is wrong with them. */
function chosenServers(choice: ServerChoice, form: URLSearchParams): { servers: string[] } | { problem: string; servers: string[] } {
  const checked = new Set(form.getAll("servers"));
  const servers = choice.declared.filter((name) => checked.has(name));
  const unknown = [...checked].filter((name) => !choice.declared.includes(name));
  if (unknown.length > 0) return { problem: `there is no server named ${unknown.slice(0, 3).map((name) => `"${name.slice(0, 40)}"`).join(", ")}`, servers };
  if (servers.length === 0) return { problem: "choose at least one server", servers };
  if (choice.required !== undefined && !servers.includes(choice.required)) return { problem: `the app connects to the server "${choice.required}": the grant must reach it`, servers };
  return { servers };
}

/** Step 2b: the operator's choice of policy (and servers), checked; then the consent screen for the grant about to be created. */
async function policyStep(c: Ctx, step: Step) {
  const { site, request, client, flow, handle, form } = step;
  const base = formBase(c, flow, handle);
  const operator = await openClaims(c, flow, handle, form, ["kind", "by"]);
  if (!operator || operator.kind !== "operator") return sealsRefused(c);
  const values: NewGrantValues = { policy: form.get("policy") ?? "", expires: (form.get("expires") ?? "").trim() };
  const label = labelFor(client);
  const service = new PolicyService(c.env);
  const choice = serverChoice(c, site, request);
  const chosen = choice ? chosenServers(choice, form) : undefined;
  const again = async (problems: string[]) => {
    const claims = await sealClaims(c, flow, handle, { kind: "operator", by: operator.by });
    const policies = await service.list();
    const servers = choice && chosen ? { ...choice, chosen: chosen.servers } : undefined;
    return page(
      c,
      <PolicyChoicePage client={client} base={base} claims={claims} by={operator.by} label={label} policies={policies} values={values} problems={problems} servers={servers} />,
      400,
      { redirectUri: request.redirectUri },
    );
  };
  if (chosen && "problem" in chosen) return again([`servers: ${chosen.problem}`]);
  const input = GrantCreateInputSchema.safeParse({ label, policy: values.policy, ...(values.expires ? { expires: values.expires } : {}), ...(chosen ? { servers: chosen.servers } : {}) });
  if (!input.success) return again(input.error.issues.map((issue) => `${String(issue.path[0] ?? "form")}: ${issue.message}`));
  const stored = await service.get(values.policy);
  if (!stored) return again([`there is no policy named "${values.policy}"`]);
  const parsedDocument = parsedPolicy(stored.text);
  const overview = parsedDocument ? policyOverview(stored.name, stored.version, catalogSection(c, parsedDocument)) : { problem: stored.problems.join("; ") || "it is not a valid policy" };
  // Sealed with the rest: the consent screen's Allow creates the grant with exactly these servers ("": the default, one server).
  const servers = chosen?.servers.join(",") ?? "";
  const claims = await sealClaims(c, flow, handle, { kind: "new", by: operator.by, policy: values.policy, expires: values.expires, servers });
  const shown: ConsentGrant = {
    kind: "new",
    label,
    policy: values.policy,
    expires: values.expires ? { after: values.expires } : null,
    by: operator.by,
    ...(chosen ? { servers: chosen.servers } : {}),
  };
  return page(c, <ConsentPage client={client} base={base} claims={claims} grant={shown} policy={overview} resource={request.resource} />, 200, { redirectUri: request.redirectUri });
}

/** Step 4, Allow: the transaction is consumed, the grant found or created, the authorization completed. */
async function approveStep(c: Ctx, step: Step) {
  const { site, api, flow, handle, form } = step;
  const existing = form.get("kind") === "existing" ? await openClaims(c, flow, handle, form, ["kind", "grant"]) : undefined;
  const created = form.get("kind") === "new" ? await openClaims(c, flow, handle, form, ["kind", "by", "policy", "expires", "servers"]) : undefined;
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
    // The resource is the stored request's, which the URL cannot change after the consent screen.
    const missing = serverMissing(site, request, serversOf(found, readConfig(c.env)), "the grant");
    if (missing) return message(c, 403, "The grant does not reach this server", `${missing} Start again from your app.`);
    grant = found;
    metadata = { via: "grant_token", clientName: client.clientName };
  } else if (created) {
    const { by, policy, expires } = created;
    const servers = created.servers === "" ? undefined : created.servers.split(",");
    const missing = serverMissing(site, request, servers ?? [readConfig(c.env).defaultServer.name], "the new grant");
    if (missing) return message(c, 400, "The grant was not created", `${missing} Start again from your app.`);
    const outcome = await new GrantService(c.env).create({ label: labelFor(client), policy, ...(expires ? { expires } : {}), ...(servers ? { servers } : {}) }, by, Date.now(), {
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
  log({ step: "allow", client: request.clientId, grant: grant.id, via: metadata.via, resource: request.resource, ...(metadata.by ? { by: metadata.by } : {}) });
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

/** The overview reads the policy against the Iterable catalog: the part of it that applies to the default server, the Iterable one. */
function catalogSection(c: Context<AppEnv>, policy: Policy): Policy {
  return policyForServer(policy, readConfig(c.env).defaultServer.name).policy;
}
