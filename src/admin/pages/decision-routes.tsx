import { Hono } from "hono";
import { AuditQuerySchema, type AuditRecord } from "../../audit/record.ts";
import { AuditService, GATEWAY_AUDIT_OBJECT } from "../../audit/service.ts";
import { readConfig } from "../../config.ts";
import { GrantService } from "../manage/grants.ts";
import type { AdminPagesEnv } from "../session.ts";
import { DecisionRecordPage, DecisionsPage, type DecisionFilters } from "./decisions.tsx";
import { pageHeaders } from "./headers.ts";
import { pageNotFound, render, signedIn } from "./respond.tsx";

/** Records per page of the list. */
const PAGE_SIZE = 50;
/** A grant id or "global": the names of the objects that keep audit records. */
const OBJECT_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * `aud_` + the record's time in ms, base36, 9 digits (src/audit/writer.ts newAuditId), then the
 * sequence within that millisecond (4 digits; ids written before it had none), then random.
 */
const AUDIT_ID = /^aud_([0-9a-z]{9})(?:[0-9a-z]{4})?[A-Za-z0-9_-]{11}$/;

/** /admin/decisions: the audit trail, and one record. */
export const decisionPages = new Hono<AdminPagesEnv>();
decisionPages.use("*", pageHeaders, signedIn);

decisionPages.get("/", async (c) => {
  const filters: DecisionFilters = {
    grant: c.req.query("grant") ?? "",
    decision: c.req.query("decision") ?? "",
    tool: (c.req.query("tool") ?? "").trim(),
    server: c.req.query("server") ?? "",
  };
  const cursor = c.req.query("cursor") || undefined;
  const grants = await new GrantService(c.env).list();
  const servers = [...readConfig(c.env).servers.keys()];
  const query = AuditQuerySchema.safeParse({ decision: filters.decision || undefined, tool: filters.tool || undefined, server: filters.server || undefined, cursor, limit: PAGE_SIZE });
  const props = { filters, grants, servers, session: c.var.session, paged: cursor !== undefined };
  if (!query.success || (filters.grant !== "" && !OBJECT_NAME.test(filters.grant)) || (filters.server && !servers.includes(filters.server))) {
    return render(
      c,
      <DecisionsPage {...props} records={[]} cursor={null} problem="These filters are not valid: choose a decision and a server from the lists, and a tool name of at most 200 characters." />,
      400,
    );
  }
  const audit = new AuditService(c.env);
  const page = filters.grant ? await audit.grantPage(filters.grant, query.data) : await audit.allPage(query.data);
  return render(c, <DecisionsPage {...props} records={page.records} cursor={page.cursor} />);
});

/**
 * One record, by the object that keeps it and its id. Nothing is added to
 * the Durable Object for this: an audit id begins with its record's time (ms),
 * so the record is the one with that id among the object's records of that
 * very millisecond, one filtered page (since = until = that time).
 */
decisionPages.get("/:object/:id", async (c) => {
  const object = c.req.param("object");
  const id = c.req.param("id");
  const record = await findRecord(c.env, object, id);
  if (!record) return pageNotFound(c, "No such record", "There is no audit record with this id here. Records are kept for AUDIT_RETENTION_DAYS (7 days by default).");
  return render(c, <DecisionRecordPage record={record} defaultServer={readConfig(c.env).defaultServer.name} session={c.var.session} />);
});

async function findRecord(env: AdminPagesEnv["Bindings"], object: string, id: string): Promise<AuditRecord | undefined> {
  const time = AUDIT_ID.exec(id)?.[1];
  if (time === undefined || !OBJECT_NAME.test(object)) return undefined;
  // Only objects that exist: a grant's (listed in GRANTS) or the gateway-wide one.
  if (object !== GATEWAY_AUDIT_OBJECT && !(await new GrantService(env).get(object))) return undefined;
  const at = new Date(parseInt(time, 36));
  if (Number.isNaN(at.getTime())) return undefined;
  const iso = at.toISOString();
  const page = await new AuditService(env).grantPage(object, { since: iso, until: iso, limit: 1000 });
  return page.records.find((record) => record.id === id);
}
