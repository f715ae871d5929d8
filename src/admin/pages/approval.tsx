import type { ApprovalPage, ApprovalRecord, ApprovalSummary } from "../../approvals/record.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { argumentSummaries, memberText, type ArgumentSummary } from "./argument-summary.ts";
import { prettyArguments, relative, visible } from "./display.ts";
import { grantPath } from "./grants.tsx";
import { Layout } from "./layout.tsx";
import { Relative, TableScroll, When } from "./parts.tsx";

/** Who decides on the approval page with the admin token, as the approval records it. */
export const PAGE_DECIDER = "admin (approval page)";

/** Who a decision made on the page is recorded as: the Access email, or PAGE_DECIDER for the admin token. */
export function deciderOf(session: AdminSession): string {
  return session.via === "access" ? session.identity : PAGE_DECIDER;
}

const STATUS_TEXT: Record<ApprovalRecord["status"], string> = {
  pending: "Waiting for a decision. Nothing has been sent.",
  approved: "Approved. The next identical call from this grant goes through, once.",
  denied: "Denied. The agent is told so, with the note.",
  expired: "Expired without being used. Nothing was sent; the agent must ask again.",
  consumed: "Approved and used: the call has been sent.",
};

const ARGUMENTS_HEADING: Record<ApprovalRecord["status"], string> = {
  pending: "Arguments, exactly as they will be sent",
  approved: "Arguments, exactly as they will be sent",
  consumed: "Arguments, exactly as they were sent",
  denied: "Arguments (not sent)",
  expired: "Arguments (not sent)",
};

/** Until when an agent's call is held open for this pending approval, if one is now. */
function heldUntil(approval: Pick<ApprovalSummary, "status" | "heldUntil">, now: number): string | undefined {
  return approval.status === "pending" && approval.heldUntil && Date.parse(approval.heldUntil) > now ? approval.heldUntil : undefined;
}

/** `an agent is waiting · 42 s left`: a held call, and how much longer it waits for the decision. */
function Waiting({ until, now }: { until: string; now: number }) {
  return <span class="status tone-warn waiting">agent waiting · {relative(until, now).replace(/^in /, "")} left</span>;
}

function Status({ status }: { status: ApprovalRecord["status"] }) {
  return <span class={`status status-${status}`}>{status}</span>;
}

/** What an approval from before servers were named shows when the page is not told the default server's name. */
const DEFAULT_SERVER = "default";

type ApprovalPageProps = {
  approval: ApprovalRecord;
  /** The server an approval from before servers were named is for. */
  defaultServer?: string;
  session: AdminSession;
  /** Shown above the approval: why a decision did not take (it was no longer pending). */
  notice?: string | undefined;
  now?: number;
};

/**
 * One approval: exactly what the agent wants to do (tool, grant, policy,
 * arguments as they will be sent) and, while it is pending, the form that
 * approves or denies it.
 */
export function ApprovalPage({ approval, defaultServer = DEFAULT_SERVER, session, notice, now = Date.now() }: ApprovalPageProps) {
  const tool = visible(approval.tool);
  const held = heldUntil(approval, now);
  return (
    <Layout title={`${approval.status === "pending" ? "Approve" : "Approval of"} ${tool}`} session={session} section="approvals">
      <h1>
        {approval.status === "pending" ? "Approve " : "Approval of "}
        <code>{tool}</code>
        {approval.status === "pending" ? "?" : ""}
      </h1>
      {notice ? (
        <p class="notice error" role="alert">
          {notice}
        </p>
      ) : null}
      <p class="notice">
        <Status status={approval.status} /> {STATUS_TEXT[approval.status]}
      </p>
      <dl class="facts">
        <dt>Tool</dt>
        <dd>
          <code>{tool}</code>
        </dd>
        <dt>Server</dt>
        <dd>
          <a href={`/admin/servers/${encodeURIComponent(approval.server ?? defaultServer)}`}>
            <code>{visible(approval.server ?? defaultServer)}</code>
          </a>
        </dd>
        <dt>Grant</dt>
        <dd>
          <a href={grantPath(approval.grant.id)}>{visible(approval.grant.label)}</a> <span class="mono hint">{approval.grant.id}</span>
        </dd>
        <dt>Policy</dt>
        <dd>
          {visible(approval.policy.name)} <span class="mono hint">version {approval.policy.version}</span>
        </dd>
        <dt>Status</dt>
        <dd>
          <Status status={approval.status} />
        </dd>
        {held ? (
          <>
            <dt>Agent</dt>
            <dd>
              <Waiting until={held} now={now} /> Its call is held open for this decision until <When iso={held} now={now} />; after that it is told to retry
              once this is approved.
            </dd>
          </>
        ) : null}
        <dt>Requested</dt>
        <dd>
          <When iso={approval.requestedAt} now={now} />
        </dd>
        <dt>Expires</dt>
        <dd>
          <When iso={approval.expiresAt} now={now} />
        </dd>
        {approval.decidedAt ? (
          <>
            <dt>Decided</dt>
            <dd>
              <When iso={approval.decidedAt} now={now} /> by {visible(approval.decidedBy ?? "unknown")}
            </dd>
            <dt>Note</dt>
            <dd class="note">{approval.note ? visible(approval.note, { lines: true }) : <span class="hint">none</span>}</dd>
          </>
        ) : null}
        <dt>Approval</dt>
        <dd class="mono">{approval.id}</dd>
      </dl>
      <h2>{ARGUMENTS_HEADING[approval.status]}</h2>
      <pre>
        <code>{prettyArguments(approval.arguments)}</code>
      </pre>
      {approval.params === null ? null : (
        <>
          <h2>Also sent with the call</h2>
          <p class="hint">Other parameters of this call, forwarded to the server with the arguments and approved with them.</p>
          <pre>
            <code>{prettyArguments(approval.params)}</code>
          </pre>
        </>
      )}
      <p class="hint">
        SHA-256 of the canonical call: <span class="mono">{approval.argumentsHash}</span>. The approval is good for this tool with exactly these
        {approval.params === null ? " arguments" : " arguments and parameters"} under this policy version, once.
      </p>
      {approval.status === "pending" ? <DecisionForm approval={approval} session={session} /> : null}
      <p>
        <a href={`/admin/decisions?${new URLSearchParams({ grant: approval.grant.id, tool: approval.tool, ...(approval.server === undefined ? {} : { server: approval.server }) })}`}>This grant's decisions on {tool}</a>
      </p>
    </Layout>
  );
}

function DecisionForm({ approval, session }: { approval: ApprovalRecord; session: AdminSession }) {
  return (
    <form class="decide" method="post" action={`/admin/approvals/${approval.id}`}>
      <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
      <label for="note">Note (optional; the agent sees it when denied)</label>
      <textarea id="note" name="note" maxlength={2000}></textarea>
      <div class="buttons">
        <button type="submit" name="decision" value="approve" class="approve">
          Approve
        </button>
        <button type="submit" name="decision" value="deny" class="deny">
          Deny
        </button>
      </div>
    </form>
  );
}

/** How often the list of approvals reloads itself (a meta refresh: the pages run no script). */
export const APPROVALS_REFRESH_SECONDS = 10;

type ApprovalListProps = {
  /** A page of pending approvals, newest first, and the cursor of the next page. */
  pending: ApprovalPage;
  recent?: ApprovalSummary[];
  /** This is a later page of the pending list (the recent ones are on the first). */
  paged?: boolean;
  /** The server an approval from before servers were named is for. */
  defaultServer?: string;
  session: AdminSession;
  now?: number;
};

/** The pending approvals a page at a time (so no flood of them hides the rest), then the recently decided ones. */
export function ApprovalListPage({ pending, recent = [], paged = false, defaultServer = DEFAULT_SERVER, session, now = Date.now() }: ApprovalListProps) {
  const { approvals, cursor } = pending;
  return (
    <Layout title="Pending approvals" session={session} section="approvals" autoRefreshSeconds={paged ? undefined : APPROVALS_REFRESH_SECONDS}>
      <h1>Pending approvals</h1>
      {paged ? (
        <p class="hint">
          Older pending approvals. <a href="/admin/approvals">Back to the newest</a>
        </p>
      ) : (
        <p class="hint">This list reloads itself every {APPROVALS_REFRESH_SECONDS} seconds.</p>
      )}
      {approvals.length === 0 ? <p>{paged ? "No older pending approval." : "Nothing is waiting for a decision."}</p> : <ApprovalTable label="Pending approvals" approvals={approvals} defaultServer={defaultServer} now={now} />}
      {cursor ? (
        <p>
          <a href={`/admin/approvals?cursor=${encodeURIComponent(cursor)}`}>Older pending approvals →</a>
        </p>
      ) : null}
      {paged ? null : (
        <>
          <h2>Recent</h2>
          {recent.length === 0 ? <p class="hint">No approval has been decided, used or expired lately.</p> : <ApprovalTable label="Recent approvals" approvals={recent} defaultServer={defaultServer} now={now} status />}
        </>
      )}
    </Layout>
  );
}

type ApprovalTableProps = { label: string; approvals: ApprovalSummary[]; defaultServer: string; now: number; status?: boolean };

function ApprovalTable({ label, approvals, defaultServer, now, status = false }: ApprovalTableProps) {
  // What sets each row apart is computed from the rows shown together.
  const summaries = argumentSummaries(approvals);
  return (
    <TableScroll label={label}>
      <table class="cards">
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Tool</th>
            <th scope="col">Grant</th>
            <th scope="col">Arguments</th>
            {status ? <th scope="col">Status</th> : null}
            <th scope="col">Requested</th>
            <th scope="col">{status ? "Decided" : "Expires"}</th>
          </tr>
        </thead>
        <tbody>
          {approvals.map((approval) => {
            const held = heldUntil(approval, now);
            return (
              <tr>
                <td data-label="Server" class="server">
                  <code>{visible(approval.server ?? defaultServer)}</code>
                </td>
                <td data-label="Tool">
                  <a href={`/admin/approvals/${approval.id}`}>
                    <code>{visible(approval.tool)}</code>
                  </a>
                  {held ? (
                    <>
                      <br />
                      <Waiting until={held} now={now} />
                    </>
                  ) : null}
                </td>
                <td data-label="Grant">
                  <a href={grantPath(approval.grant.id)}>{visible(approval.grant.label)}</a>
                </td>
                <td data-label="Arguments" class="mono arguments" title={visible(approval.argumentsPreview)}>
                  <ArgumentsSummary summary={summaries.get(approval.id)} bytes={approval.argumentsBytes} />
                </td>
                {status ? (
                  <td data-label="Status">
                    <Status status={approval.status} />
                  </td>
                ) : null}
                <td data-label="Requested">
                  <Relative iso={approval.requestedAt} now={now} />
                </td>
                <td data-label={status ? "Decided" : "Expires"}>
                  {status ? (
                    approval.decidedAt ? (
                      <>
                        <Relative iso={approval.decidedAt} now={now} /> <span class="hint">by {visible(approval.decidedBy ?? "unknown")}</span>
                      </>
                    ) : (
                      <span class="hint">not decided</span>
                    )
                  ) : (
                    <Relative iso={approval.expiresAt} now={now} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}

/** The arguments in one cell: what differs from the other rows first (marked), then the rest; the hash's start when only that tells them apart. */
function ArgumentsSummary({ summary, bytes }: { summary: ArgumentSummary | undefined; bytes: number }) {
  if (!summary) return null;
  const members = [...summary.differing.map((member) => ({ member, differs: true })), ...summary.rest.map((member) => ({ member, differs: false }))];
  if (members.length === 0) return <span class="hint">no arguments</span>;
  return (
    <>
      {members.map(({ member, differs }, index) => (
        <>
          {index > 0 ? ", " : ""}
          {differs ? <mark>{visible(memberText(member))}</mark> : visible(memberText(member))}
        </>
      ))}
      {summary.cut ? <span class="hint"> … ({bytes} bytes)</span> : null}
      {summary.fingerprint ? <span class="hint"> differs further on: sha256 {summary.fingerprint}…</span> : null}
    </>
  );
}
