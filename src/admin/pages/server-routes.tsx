import { Hono } from "hono";
import { ServerService, ServerToolQuerySchema } from "../manage/servers.ts";
import type { AdminPagesEnv } from "../session.ts";
import { pageHeaders } from "./headers.ts";
import { pageNotFound, render, signedIn } from "./respond.tsx";
import { ServerPage, ServersPage } from "./servers.tsx";

/** Tools a page of one server shows. */
const TOOLS_PER_PAGE = 100;

/** /admin/servers: the declared servers as the gateway finds them, and one server's tools. */
export const serverPages = new Hono<AdminPagesEnv>();
serverPages.use("*", pageHeaders, signedIn);

serverPages.get("/", async (c) => render(c, <ServersPage servers={await new ServerService(c.env).list()} session={c.var.session} />));

serverPages.get("/:name", async (c) => {
  const cursor = c.req.query("cursor") || undefined;
  const query = ServerToolQuerySchema.safeParse({ limit: TOOLS_PER_PAGE, cursor });
  const page = query.success ? await new ServerService(c.env).tools(c.req.param("name"), query.data) : undefined;
  if (!page) return pageNotFound(c, "No such server", "This gateway declares no server of this name (or the page link is broken): see the Servers page.");
  return render(c, <ServerPage page={page} paged={cursor !== undefined} session={c.var.session} />);
});
