import type { ApprovalRecord } from "../../approvals/record.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { prettyArguments, relative, utc, visible } from "./display.ts";
import { Layout } from "./layout.tsx";

/** Who decides on the approval page, as the approval records it. */
export const PAGE_DECIDER = "admin (approval page)";

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

function Status({ status }: { status: ApprovalRecord["status"] }) {
  return <span class={`status status-${status}`}>{status}</span>;
}

function When({ iso, now }: { iso: string; now: number }) {
  return (
    <>
      <time datetime={iso}>{utc(iso)}</time> <span class="hint">({relative(iso, now)})</span>
    </>
  );
}

type ApprovalPageProps = {
  approval: ApprovalRecord;
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
export function ApprovalPage({ approval, session, notice, now = Date.now() }: ApprovalPageProps) {
  const tool = visible(approval.tool);
  return (
    <Layout title={`${approval.status === "pending" ? "Approve" : "Approval of"} ${tool}`} session={session}>
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
        <dt>Grant</dt>
        <dd>
          {visible(approval.grant.label)} <span class="mono hint">{approval.grant.id}</span>
        </dd>
        <dt>Policy</dt>
        <dd>
          {visible(approval.policy.name)} <span class="mono hint">version {approval.policy.version}</span>
        </dd>
        <dt>Status</dt>
        <dd>
          <Status status={approval.status} />
        </dd>
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
      <p class="hint">
        SHA-256 of the canonical arguments: <span class="mono">{approval.argumentsHash}</span>. The approval is good for this tool with exactly these
        arguments under this policy version, once.
      </p>
      {approval.status === "pending" ? <DecisionForm approval={approval} session={session} /> : null}
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

/** The pending approvals, newest first, each linking to its page. */
export function ApprovalListPage({ approvals, session, now = Date.now() }: { approvals: ApprovalRecord[]; session: AdminSession; now?: number }) {
  return (
    <Layout title="Pending approvals" session={session}>
      <h1>Pending approvals</h1>
      {approvals.length === 0 ? (
        <p>Nothing is waiting for a decision.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Tool</th>
              <th>Grant</th>
              <th>Requested</th>
              <th>Expires</th>
            </tr>
          </thead>
          <tbody>
            {approvals.map((approval) => (
              <tr>
                <td>
                  <a href={`/admin/approvals/${approval.id}`}>
                    <code>{visible(approval.tool)}</code>
                  </a>
                </td>
                <td>{visible(approval.grant.label)}</td>
                <td>
                  <When iso={approval.requestedAt} now={now} />
                </td>
                <td>
                  <When iso={approval.expiresAt} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}
