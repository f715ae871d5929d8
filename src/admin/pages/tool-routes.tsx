import { Hono } from "hono";
import { readConfig } from "../../config.ts";
import { HASH_PATTERN } from "../../pins/definition.ts";
import { PinService } from "../../pins/service.ts";
import type { AdminPagesEnv } from "../session.ts";
import { clip } from "../../text/clip.ts";
import { visible } from "./display.ts";
import { pageHeaders } from "./headers.ts";
import { badRequest, checkedForm, logAction, pageNotFound, render, signedIn, type PageContext } from "./respond.tsx";
import { ToolPinPage, ToolReviewPage, ToolsPage, ToolsServerPage, toolPath, type PageNotice } from "./tools.tsx";

/** Changes and pins a server's page shows at once. */
const PER_PAGE = 100;
/** A cursor is a tool name; longer than any the gateway keeps a pin or change of is not one. */
const MAX_CURSOR_CHARS = 1000;

/** /admin/tools: the tool definitions awaiting review, one change's diff and its accept form, a server's pins. */
export const toolPages = new Hono<AdminPagesEnv>();
toolPages.use("*", pageHeaders, signedIn);

/** The server named in the path, when it is declared. */
function declared(c: PageContext): string | undefined {
  const name = c.req.param("server") ?? "";
  return readConfig(c.env).servers.has(name) ? name : undefined;
}

const noSuchServer = (c: PageContext) => pageNotFound(c, "No such server", "This gateway declares no server of this name: see the Tools page.");
const noSuchTool = (c: PageContext) => pageNotFound(c, "No such tool", "This server has neither a pin nor a change awaiting review for a tool of this name.");

const cursor = (c: PageContext, name: string) => c.req.query(name)?.slice(0, MAX_CURSOR_CHARS) || undefined;

toolPages.get("/", async (c) => render(c, <ToolsPage servers={await new PinService(c.env).allChanges()} session={c.var.session} />));

toolPages.get("/:server", async (c) => {
  const server = declared(c);
  if (!server) return noSuchServer(c);
  const service = new PinService(c.env);
  const after = cursor(c, "after");
  const [changes, pins] = await Promise.all([service.changes(server, { limit: PER_PAGE, after: cursor(c, "changes-after") }), service.pins(server, { limit: PER_PAGE, after })]);
  return render(
    c,
    <ToolsServerPage
      server={server}
      changes={changes.changes}
      changesNext={changes.next}
      pins={pins.pins}
      pinsNext={pins.next}
      paged={after !== undefined}
      session={c.var.session}
    />,
  );
});

const ACCEPTED: PageNotice = { kind: "ok", text: "Accepted: this definition is the tool's pin now. Agents see the tool again (every instance of the gateway within seconds)." };

type ToolPageOptions = { notice?: PageNotice; status?: 200 | 409; justAccepted?: boolean };

/** The tool's change awaiting review, else its pin (saying it was just accepted when it was), else 404. */
async function toolPage(c: PageContext, server: string, name: string, { notice, status = 200, justAccepted = false }: ToolPageOptions = {}) {
  const service = new PinService(c.env);
  const change = await service.change(server, name);
  if (change) return render(c, <ToolReviewPage change={change} session={c.var.session} notice={notice} />, status);
  const pin = await service.pin(server, name);
  if (!pin) return noSuchTool(c);
  return render(c, <ToolPinPage server={server} pin={pin} session={c.var.session} notice={notice ?? (justAccepted && pin.source === "accepted" ? ACCEPTED : undefined)} />, status);
}

toolPages.get("/:server/:name", async (c) => {
  const server = declared(c);
  if (!server) return noSuchServer(c);
  return toolPage(c, server, c.req.param("name"), { justAccepted: c.req.query("accepted") !== undefined });
});

toolPages.post("/:server/:name/accept", async (c) => {
  const checked = await checkedForm(c);
  if ("refused" in checked) return checked.refused;
  const server = declared(c);
  if (!server) return noSuchServer(c);
  const name = c.req.param("name");
  const hash = checked.form.get("hash") ?? "";
  // The hash the operator reviewed: without it, a definition that changed after the page was shown could be accepted unseen.
  if (!HASH_PATTERN.test(hash)) return badRequest(c, "The form does not say which definition you reviewed: open the tool's review page and accept from there.");
  const by = c.var.session.identity;
  const outcome = await new PinService(c.env).accept(server, name, by, hash);
  logAction({ action: "tool.accept", server, tool: name.slice(0, 200), by, ok: outcome.ok, ...(outcome.ok ? { hash } : { reason: outcome.reason }) });
  if (outcome.ok) return c.redirect(`${toolPath(server, name)}?accepted`, 303);
  switch (outcome.reason) {
    case "stale":
      return toolPage(c, server, name, {
        notice: { kind: "error", text: "Not accepted: the server changed this tool again after you opened the page. This is the definition it serves now: review it, and accept it if it is right." },
        status: 409,
      });
    case "not_found":
      return toolPage(c, server, name, {
        notice: { kind: "error", text: "Nothing was accepted: no change of this tool awaits review any more (someone accepted it, or the server serves its pinned definition again)." },
        status: 409,
      });
    case "too_large":
      return toolPage(c, server, name, { notice: { kind: "error", text: `Not accepted: ${visible(clip(outcome.message, 300))}.` }, status: 409 });
  }
});
