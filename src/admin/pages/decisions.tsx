import { CALL_DECISIONS, type AdminRecord, type AuditRecord } from "../../audit/record.ts";
import type { GrantSummary } from "../manage/grants.ts";
import type { AdminSession } from "../session.ts";
import { prettyArguments, visible } from "./display.ts";
import { grantPath } from "./grants.tsx";
import { Layout } from "./layout.tsx";
import { Field, Notice, ShortTime, TableScroll, When } from "./parts.tsx";
import { shortReason } from "./short-reason.ts";
import { toolPath, toolsServerPath } from "./tools.tsx";

const approvalPath = (id: string) => `/admin/approvals/${encodeURIComponent(id)}`;

/** The list's filters; `server` "" or absent: every server. */
export type DecisionFilters = { grant: string; decision: string; tool: string; server?: string };

/** Where a record is kept: its grant's object, or the gateway-wide one for actions on no grant. */
export function recordObject(record: AuditRecord): string {
  return record.grant?.id ?? "global";
}

export function recordPath(record: AuditRecord): string {
  return `/admin/decisions/${encodeURIComponent(recordObject(record))}/${encodeURIComponent(record.id)}`;
}

/** The list's URL with these filters (and a cursor, for the next page). */
export function decisionsPath(filters: DecisionFilters, cursor?: string): string {
  const query = new URLSearchParams();
  if (filters.grant) query.set("grant", filters.grant);
  if (filters.decision) query.set("decision", filters.decision);
  if (filters.tool) query.set("tool", filters.tool);
  if (filters.server) query.set("server", filters.server);
  if (cursor) query.set("cursor", cursor);
  const search = query.toString();
  return `/admin/decisions${search ? `?${search}` : ""}`;
}

function DecisionBadge({ record }: { record: AuditRecord }) {
  const decision = record.kind === "call" ? record.decision : "admin";
  const tone = ["allow", "approved"].includes(decision) ? "ok" : decision === "approval_required" ? "warn" : decision === "admin" ? "muted" : "bad";
  return <span class={`status tone-${tone}`}>{decision}</span>;
}

/** What the record is about, in one cell: the tool, or the operator's action and its target. */
function Subject({ record }: { record: AuditRecord }) {
  if (record.kind === "call") return <code>{visible(record.tool)}</code>;
  return (
    <>
      <code>{record.action}</code> <Target record={record} />
    </>
  );
}

/** What an operator acted on, linked to its page where it has one. */
function Target({ record }: { record: AdminRecord }) {
  const target = <span class="mono">{visible(record.target)}</span>;
  const href = targetPath(record);
  return href ? <a href={href}>{target}</a> : <span class="hint">{target}</span>;
}

function targetPath(record: AdminRecord): string | undefined {
  if (record.action === "approval.approve" || record.action === "approval.deny") return approvalPath(record.target);
  if (record.action === "grant.create" || record.action === "grant.revoke") return grantPath(record.target);
  if (record.action === "oauth.revoke" && record.grant) return grantPath(record.grant.id);
  if (record.action === "policy.push") return `/admin/policies/${encodeURIComponent(record.target)}`;
  if (record.action === "counter.reset" && typeof record.detail.grant === "string") return `/admin/counters?grant=${encodeURIComponent(record.detail.grant)}`;
  if (record.action === "tool.accept" && typeof record.detail.server === "string" && typeof record.detail.tool === "string") return toolPath(record.detail.server, record.detail.tool);
  if (record.action === "tool.pin") return toolsServerPath(record.target);
  return undefined;
}

/** The reason in a few words, and the approval it concerns as a link; the record's page has the agent's whole text. */
function Reason({ record, defaultServer }: { record: AuditRecord; defaultServer: string }) {
  if (record.kind === "admin") return <>by {visible(record.by)}</>;
  return (
    <>
      {visible(shortReason(record))}
      {record.approval ? (
        <>
          {" "}
          <a href={approvalPath(record.approval)} class="hint">
            approval
          </a>
        </>
      ) : null}
      {record.decision === "definition_changed" ? (
        <>
          {" "}
          <a href={toolPath(record.server ?? defaultServer, record.tool)} class="hint">
            review
          </a>
        </>
      ) : null}
    </>
  );
}

/** The server a call went to: the record's, or, for a record from before servers were named, the default server. */
function ServerCell({ record, defaultServer }: { record: AuditRecord; defaultServer: string }) {
  if (record.kind !== "call") return <span class="hint">-</span>;
  return <code>{visible(record.server ?? defaultServer)}</code>;
}

type DecisionsPageProps = {
  records: AuditRecord[];
  cursor: string | null;
  filters: DecisionFilters;
  grants: GrantSummary[];
  /** The declared servers' names, the default first. */
  servers: string[];
  session: AdminSession;
  /** Not the first page: offer a way back to the newest records. */
  paged: boolean;
  problem?: string | undefined;
  now?: number;
};

/** The recent audit trail, newest first, filtered by grant, decision, tool and server (a GET form), paged with the cursor. */
export function DecisionsPage({ records, cursor, filters, grants, servers, session, paged, problem, now = Date.now() }: DecisionsPageProps) {
  const defaultServer = servers[0] ?? "";
  return (
    <Layout title="Decisions" session={session} section="decisions">
      <h1>Decisions</h1>
      <p class="hint">Every tools/call decision and every operator action, newest first. Open a row for the whole record.</p>
      <form class="filters" method="get" action="/admin/decisions">
        <Field id="grant" label="Grant">
          <select id="grant" name="grant">
            <option value="">All grants</option>
            {grants.map((grant) => (
              <option value={grant.id} selected={grant.id === filters.grant}>
                {`${visible(grant.label)} (${grant.id})`}
              </option>
            ))}
          </select>
        </Field>
        <Field id="decision" label="Decision">
          <select id="decision" name="decision">
            <option value="">Any</option>
            {[...CALL_DECISIONS, "admin"].map((decision) => (
              <option value={decision} selected={decision === filters.decision}>
                {decision === "admin" ? "admin (operator actions)" : decision}
              </option>
            ))}
          </select>
        </Field>
        <Field id="tool" label="Tool">
          <input id="tool" name="tool" type="text" value={filters.tool} placeholder="any tool" autocomplete="off" maxlength={200} />
        </Field>
        <Field id="server" label="Server">
          <select id="server" name="server">
            <option value="">All servers</option>
            {servers.map((name) => (
              <option value={name} selected={name === filters.server}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <div class="buttons">
          <button type="submit">Filter</button>
          <a class="button-link" href="/admin/decisions">
            Clear
          </a>
        </div>
      </form>
      {problem ? <Notice kind="error">{problem}</Notice> : null}
      {records.length === 0 ? (
        <p>No record matches{paged ? " on this page" : ""}.</p>
      ) : (
        <TableScroll label="Decisions">
          <table class="records cards">
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Decision</th>
                <th scope="col">Server</th>
                <th scope="col">Tool or action</th>
                <th scope="col">Grant</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {records.map((record) => (
                <tr>
                  <td data-label="Time" class="time">
                    <a href={recordPath(record)}>
                      <ShortTime iso={record.time} now={now} />
                    </a>
                  </td>
                  <td data-label="Decision">
                    <DecisionBadge record={record} />
                  </td>
                  <td data-label="Server" class="server">
                    <ServerCell record={record} defaultServer={defaultServer} />
                  </td>
                  <td data-label="Tool or action">
                    <Subject record={record} />
                  </td>
                  <td data-label="Grant">{record.grant ? <a href={grantPath(record.grant.id)}>{visible(record.grant.label)}</a> : <span class="hint">gateway</span>}</td>
                  <td data-label="Reason" class="reason">
                    <Reason record={record} defaultServer={defaultServer} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <p class="pager">
        {paged ? <a href={decisionsPath(filters)}>Newest</a> : null}
        {cursor ? (
          <a href={decisionsPath(filters, cursor)} rel="next">
            Older records
          </a>
        ) : null}
      </p>
    </Layout>
  );
}

/** One record, whole: its facts, and the record itself as JSON. */
export function DecisionRecordPage({ record, defaultServer, session, now = Date.now() }: { record: AuditRecord; defaultServer: string; session: AdminSession; now?: number }) {
  return (
    <Layout title={record.kind === "call" ? `Decision on ${record.tool}` : `Operator action ${record.action}`} session={session} section="decisions">
      <h1>
        {record.kind === "call" ? "Decision on " : "Operator action "}
        <code>{record.kind === "call" ? visible(record.tool) : record.action}</code>
      </h1>
      <dl class="facts">
        <dt>Time</dt>
        <dd>
          <When iso={record.time} now={now} />
        </dd>
        <dt>Decision</dt>
        <dd>
          <DecisionBadge record={record} />
        </dd>
        <dt>Grant</dt>
        <dd>
          {record.grant ? (
            <>
              <a href={`/admin/grants/${encodeURIComponent(record.grant.id)}`}>{visible(record.grant.label)}</a> <span class="mono hint">{record.grant.id}</span>
            </>
          ) : (
            <span class="hint">none (gateway-wide)</span>
          )}
        </dd>
        {record.kind === "call" ? (
          <>
            <dt>Server</dt>
            <dd>
              <a href={`/admin/servers/${encodeURIComponent(record.server ?? defaultServer)}`}>
                <code>{visible(record.server ?? defaultServer)}</code>
              </a>
            </dd>
            <dt>Rule</dt>
            <dd class="mono">{record.rule || "(none)"}</dd>
            <dt>Reason</dt>
            <dd>
              {record.reason ? visible(record.reason) : <span class="hint">none</span>}
              {record.decision === "definition_changed" ? (
                <>
                  {" "}
                  <a href={toolPath(record.server ?? defaultServer, record.tool)}>Review the tool</a>
                </>
              ) : null}
            </dd>
            {record.approval ? (
              <>
                <dt>Approval</dt>
                <dd>
                  <a href={approvalPath(record.approval)} class="mono">
                    {record.approval}
                  </a>
                </dd>
              </>
            ) : null}
            <dt>Policy</dt>
            <dd>
              {visible(record.policy.name)} <span class="mono hint">{record.policy.version ? `version ${record.policy.version}` : "no version"}</span>
            </dd>
            <dt>Upstream</dt>
            <dd>{record.upstream ? `HTTP ${record.upstream.status ?? "none"} in ${record.upstream.latencyMs} ms` : "not sent"}</dd>
            <dt>Signed in with</dt>
            <dd>
              {record.auth === "oauth" ? (
                <>
                  an OAuth access token <span class="mono hint">client {visible(record.oauthClientId ?? "unknown")}</span>
                </>
              ) : record.auth === "grant_token" ? (
                "the grant token"
              ) : (
                <span class="hint">not recorded</span>
              )}
            </dd>
          </>
        ) : (
          <>
            <dt>By</dt>
            <dd>{visible(record.by)}</dd>
            <dt>Target</dt>
            <dd>
              <Target record={record} />
            </dd>
          </>
        )}
        <dt>Record</dt>
        <dd class="mono">{record.id}</dd>
      </dl>
      <h2>The record</h2>
      <pre>
        <code>{prettyArguments(record as unknown as Record<string, unknown>)}</code>
      </pre>
      <p>
        <a href={decisionsPath({ grant: record.grant?.id ?? "", decision: "", tool: "" })}>{record.grant ? "This grant's decisions" : "All decisions"}</a>
        {record.kind === "call" && record.grant ? (
          <>
            {" · "}
            <a href={decisionsPath({ grant: record.grant.id, decision: "", tool: record.tool, ...(record.server === undefined ? {} : { server: record.server }) })}>its decisions on {visible(record.tool)}</a>
          </>
        ) : null}
      </p>
    </Layout>
  );
}
