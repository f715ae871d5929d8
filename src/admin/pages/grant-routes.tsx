import { Hono } from "hono";
import { AuditService } from "../../audit/service.ts";
import { readConfig } from "../../config.ts";
import { GrantCreateInputSchema, GrantService } from "../manage/grants.ts";
import { OAuthClientService } from "../manage/oauth-clients.ts";
import { PolicyService } from "../manage/policies.ts";
import type { AdminPagesEnv } from "../session.ts";
import { GrantCreatedPage, GrantPage, grantPath, GrantsPage, RevokeGrantPage, RevokeOAuthClientPage, type GrantFormValues, type Revocation } from "./grants.tsx";
import { pageHeaders } from "./headers.ts";
import { chosenServers } from "./parts.tsx";
import { badRequest, checkedForm, logAction, pageNotFound, render, signedIn, type PageContext } from "./respond.tsx";

/** /admin/grants: list, create (the token shown once), one grant, revoke after a confirmation step. */
export const grantPages = new Hono<AdminPagesEnv>();
grantPages.use("*", pageHeaders, signedIn);

/** The declared servers' names, the default first. */
const serverNames = (c: PageContext) => [...readConfig(c.env).servers.keys()];
const defaultServer = (c: PageContext) => readConfig(c.env).defaultServer.name;

async function listPage(c: PageContext, values?: GrantFormValues, problems?: string[]) {
  const [grants, policies] = await Promise.all([new GrantService(c.env).list(), new PolicyService(c.env).list()]);
  return render(c, <GrantsPage grants={grants} policies={policies} servers={serverNames(c)} session={c.var.session} values={values} problems={problems} />, problems ? 400 : 200);
}

function noSuchGrant(c: PageContext) {
  return pageNotFound(c, "No such grant", "There is no grant with this id.");
}

grantPages.get("/", (c) => listPage(c));

grantPages.post("/", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  const { form } = checked;
  const values: GrantFormValues = { label: form.get("label") ?? "", policy: form.get("policy") ?? "", expires: (form.get("expires") ?? "").trim(), servers: form.getAll("servers") };
  // No box ticked is refused (a grant reaching nothing), not taken for the default server.
  const servers = chosenServers(form);
  const input = GrantCreateInputSchema.safeParse({ label: values.label, policy: values.policy, ...(servers ? { servers } : {}), ...(values.expires ? { expires: values.expires } : {}) });
  if (!input.success) return listPage(c, values, input.error.issues.map((issue) => `${String(issue.path[0] ?? "form")}: ${issue.message}`));
  const { session } = c.var;
  const created = await new GrantService(c.env).create(input.data, session.identity);
  if (!created.ok) return listPage(c, values, [created.problem]);
  // The token goes to this page only: never to a log, a redirect or a later page.
  logAction({ action: "grant.create", grant: created.grant.id, by: session.identity, servers: created.grant.servers });
  const mcpUrl = new URL("/mcp", readConfig(c.env).publicUrl ?? c.req.url).href;
  return render(c, <GrantCreatedPage grant={created.grant} token={created.token} mcpUrl={mcpUrl} defaultServer={defaultServer(c)} session={session} />);
});

function noticeFor(c: PageContext, revoked: boolean): string | undefined {
  if (c.req.query("revoked") !== undefined && revoked) return "The grant is revoked.";
  if (c.req.query("oauth-revoked") !== undefined) return "The OAuth client's sign-in is revoked: its tokens stop working within the gateway's cache time.";
  return undefined;
}

grantPages.get("/:id", async (c) => {
  const id = c.req.param("id");
  const [grant, clients] = await Promise.all([new GrantService(c.env).get(id), new OAuthClientService(c.env).list(id)]);
  if (!grant) return noSuchGrant(c);
  const revocation = grant.revoked ? await revocationOf(c.env, grant.id) : undefined;
  return render(c, <GrantPage grant={grant} clients={clients} defaultServer={defaultServer(c)} session={c.var.session} revocation={revocation} notice={noticeFor(c, grant.revoked)} />);
});

/** Operator actions on a grant read to find its revocation (newest first: it is the last thing done to a grant but for approvals still decided). */
const REVOCATION_LOOKBACK = 100;

/** When and by whom the grant was revoked, from its own audit trail: one bounded page of its operator actions. */
async function revocationOf(env: AdminPagesEnv["Bindings"], grantId: string): Promise<Revocation> {
  const { records } = await new AuditService(env).grantPage(grantId, { decision: "admin", limit: REVOCATION_LOOKBACK });
  const revoked = records.find((record) => record.kind === "admin" && record.action === "grant.revoke");
  return revoked && revoked.kind === "admin" ? { at: revoked.time, by: revoked.by } : null;
}

/** One OAuth client's sign-in to the grant: a confirmation page, then its revocation. */
async function oauthSignIn(c: PageContext) {
  const grant = await new GrantService(c.env).get(c.req.param("id") ?? "");
  const signIn = grant ? await new OAuthClientService(c.env).get(grant.id, c.req.param("signIn") ?? "") : undefined;
  return grant && signIn ? { grant, signIn } : undefined;
}

grantPages.get("/:id/oauth/:signIn/revoke", async (c) => {
  const found = await oauthSignIn(c);
  if (!found) return pageNotFound(c, "No such sign-in", "This grant has no OAuth client signed in under this id: it may have been revoked already.");
  return render(c, <RevokeOAuthClientPage grant={found.grant} signIn={found.signIn} session={c.var.session} />);
});

grantPages.post("/:id/oauth/:signIn/revoke", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  if (checked.form.get("confirm") !== "revoke") return badRequest(c, "Revoking a sign-in takes the confirmation form: open the grant's page and choose Revoke.");
  const found = await oauthSignIn(c);
  if (!found) return pageNotFound(c, "No such sign-in", "This grant has no OAuth client signed in under this id: it may have been revoked already.");
  const { session } = c.var;
  await new OAuthClientService(c.env).revoke(found.grant, found.signIn, session.identity);
  logAction({ action: "oauth.revoke", grant: found.grant.id, client: found.signIn.clientId, by: session.identity });
  return c.redirect(`${grantPath(found.grant.id)}?oauth-revoked`, 303);
});

grantPages.get("/:id/revoke", async (c) => {
  const grant = await new GrantService(c.env).get(c.req.param("id"));
  if (!grant) return noSuchGrant(c);
  if (grant.revoked) return c.redirect(grantPath(grant.id), 303);
  return render(c, <RevokeGrantPage grant={grant} defaultServer={defaultServer(c)} session={c.var.session} />);
});

grantPages.post("/:id/revoke", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  if (checked.form.get("confirm") !== "revoke") return badRequest(c, "Revoking a grant takes the confirmation form: open the grant's page and choose Revoke.");
  const { session } = c.var;
  const outcome = await new GrantService(c.env).revoke(c.req.param("id"), session.identity);
  if (!outcome.ok && outcome.reason === "not_found") return noSuchGrant(c);
  logAction({ action: "grant.revoke", grant: c.req.param("id"), by: session.identity, ok: outcome.ok });
  return c.redirect(`${grantPath(c.req.param("id"))}?revoked`, 303);
});
