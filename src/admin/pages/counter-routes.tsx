import { Hono } from "hono";
import { CounterService } from "../manage/counters.ts";
import { GrantService } from "../manage/grants.ts";
import type { AdminPagesEnv } from "../session.ts";
import { countersPath, CountersPage, ResetCounterPage } from "./counters.tsx";
import { pageHeaders } from "./headers.ts";
import { badRequest, checkedForm, logAction, pageNotFound, render, signedIn, type PageContext } from "./respond.tsx";

/** /admin/counters: a grant's counters live, and a reset after a confirmation step. */
export const counterPages = new Hono<AdminPagesEnv>();
counterPages.use("*", pageHeaders, signedIn);

function noSuchGrant(c: PageContext) {
  return pageNotFound(c, "No such grant", "There is no grant with this id.");
}

counterPages.get("/", async (c) => {
  const grantId = c.req.query("grant") ?? "";
  const grants = await new GrantService(c.env).list();
  if (grantId === "") {
    const cursor = c.req.query("cursor") || undefined;
    const overview = await new CounterService(c.env).overview(cursor);
    return render(c, <CountersPage grants={grants} overview={overview} paged={cursor !== undefined} session={c.var.session} />);
  }
  const view = await new CounterService(c.env).forGrant(grantId);
  if (!view) return noSuchGrant(c);
  // After a reset: say which, if it names one of these counters.
  const reset = c.req.query("reset");
  const known = reset !== undefined && view.counters.some((row) => `${row.counter}/${row.scope}` === reset);
  return render(c, <CountersPage grants={grants} view={view} session={c.var.session} notice={known ? `Counter ${reset} was reset.` : undefined} />);
});

counterPages.get("/reset", async (c) => {
  const { grant: grantId = "", counter = "", scope = "" } = c.req.query();
  const view = await new CounterService(c.env).forGrant(grantId);
  if (!view) return noSuchGrant(c);
  const row = view.counters.find((candidate) => candidate.counter === counter && candidate.scope === scope);
  if (!row || row.scope === "session") return pageNotFound(c, "No such counter", `The grant's policy has no ${scope || "such"}-scoped limit on this counter that can be reset.`);
  return render(c, <ResetCounterPage grant={view.grant} row={row} session={c.var.session} />);
});

counterPages.post("/reset", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  const { form } = checked;
  const [grantId, counter, scope] = [form.get("grant") ?? "", form.get("counter") ?? "", form.get("scope") ?? ""];
  const { session } = c.var;
  const outcome = await new CounterService(c.env).reset(grantId, counter, scope, session.identity);
  if (!outcome.ok) return outcome.reason === "not_found" ? noSuchGrant(c) : badRequest(c, outcome.message);
  logAction({ action: "counter.reset", grant: grantId, target: `${counter}/${scope}`, by: session.identity, dropped: outcome.dropped });
  return c.redirect(`${countersPath(grantId)}&reset=${encodeURIComponent(`${counter}/${scope}`)}`, 303);
});
