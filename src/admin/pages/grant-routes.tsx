import { Hono } from "hono";
import { readConfig } from "../../config.ts";
import { GrantCreateInputSchema, GrantService } from "../manage/grants.ts";
import { PolicyService } from "../manage/policies.ts";
import type { AdminPagesEnv } from "../session.ts";
import { GrantCreatedPage, GrantPage, grantPath, GrantsPage, RevokeGrantPage, type GrantFormValues } from "./grants.tsx";
import { pageHeaders } from "./headers.ts";
import { badRequest, checkedForm, logAction, pageNotFound, render, signedIn, type PageContext } from "./respond.tsx";

/** /admin/grants: list, create (the token shown once), one grant, revoke after a confirmation step. */
export const grantPages = new Hono<AdminPagesEnv>();
grantPages.use("*", pageHeaders, signedIn);

async function listPage(c: PageContext, values?: GrantFormValues, problems?: string[]) {
  const [grants, policies] = await Promise.all([new GrantService(c.env).list(), new PolicyService(c.env).list()]);
  return render(c, <GrantsPage grants={grants} policies={policies} session={c.var.session} values={values} problems={problems} />, problems ? 400 : 200);
}

function noSuchGrant(c: PageContext) {
  return pageNotFound(c, "No such grant", "There is no grant with this id.");
}

grantPages.get("/", (c) => listPage(c));

grantPages.post("/", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  const { form } = checked;
  const values: GrantFormValues = { label: form.get("label") ?? "", policy: form.get("policy") ?? "", expires: (form.get("expires") ?? "").trim() };
  const input = GrantCreateInputSchema.safeParse({ label: values.label, policy: values.policy, ...(values.expires ? { expires: values.expires } : {}) });
  if (!input.success) return listPage(c, values, input.error.issues.map((issue) => `${String(issue.path[0] ?? "form")}: ${issue.message}`));
  const { session } = c.var;
  const created = await new GrantService(c.env).create(input.data, session.identity);
  if (!created.ok) return listPage(c, values, [created.problem]);
  // The token goes to this page only: never to a log, a redirect or a later page.
  logAction({ action: "grant.create", grant: created.grant.id, by: session.identity });
  const mcpUrl = new URL("/mcp", readConfig(c.env).publicUrl ?? c.req.url).href;
  return render(c, <GrantCreatedPage grant={created.grant} token={created.token} mcpUrl={mcpUrl} session={session} />);
});

grantPages.get("/:id", async (c) => {
  const grant = await new GrantService(c.env).get(c.req.param("id"));
  if (!grant) return noSuchGrant(c);
  return render(c, <GrantPage grant={grant} session={c.var.session} notice={c.req.query("revoked") !== undefined && grant.revoked ? "The grant is revoked." : undefined} />);
});

grantPages.get("/:id/revoke", async (c) => {
  const grant = await new GrantService(c.env).get(c.req.param("id"));
  if (!grant) return noSuchGrant(c);
  if (grant.revoked) return c.redirect(grantPath(grant.id), 303);
  return render(c, <RevokeGrantPage grant={grant} session={c.var.session} />);
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
