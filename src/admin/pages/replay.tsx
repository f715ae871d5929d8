import type { GrantSummary } from "../manage/grants.ts";
import type { ReplayReport } from "../../policy/replay.ts";
import { visible } from "./display.ts";
import { Field, Notice, TableScroll, When } from "./parts.tsx";

/**
 * "Replay against the trail", on the policy editor: a grant's recorded calls
 * decided again under the document in the editor (src/policy/replay.ts), to
 * see what it would change before pushing it. Its fields sit apart from the
 * editor's form but belong to it (the `form` attribute), so the candidate is
 * always the document being edited; the route (policy-routes.tsx, action
 * "replay") reads the grant's records with AuditService and renders the report.
 */
export const EDITOR_FORM_ID = "policy-form";
/** Changes listed on the page; the counts cover them all. */
const MAX_SHOWN_CHANGES = 200;

export type ReplayValues = { grant: string; since: string };

export type ReplayOutcome = {
  grant: GrantSummary;
  since: string;
  report: ReplayReport;
  /** The window held more records than one replay reads: only the newest were replayed. */
  truncated: boolean;
};

type ReplaySectionProps = {
  grants: GrantSummary[];
  values: ReplayValues;
  outcome?: ReplayOutcome | undefined;
  problem?: string | undefined;
};

export function ReplaySection({ grants, values, outcome, problem }: ReplaySectionProps) {
  return (
    <section class="replay" aria-labelledby="replay-heading">
      <h2 id="replay-heading">Replay against the trail</h2>
      <p class="hint">
        Decide a grant's recorded calls again under the policy above, to see what it would have done differently. Nothing is sent and nothing is
        stored.
      </p>
      {grants.length === 0 ? (
        <p>No grant exists yet, so there is no trail to replay.</p>
      ) : (
        <div class="filters">
          <Field id="replay-grant" label="Grant">
            <select id="replay-grant" name="grant" form={EDITOR_FORM_ID}>
              {/* Nothing is chosen for the operator: the newest grant may well be a revoked one. */}
              <option value="" selected={!grants.some((grant) => grant.id === values.grant)}>
                Choose a grant
              </option>
              {grants.map((grant) => (
                <option value={grant.id} selected={grant.id === values.grant}>
                  {`${visible(grant.label)} (${grant.id}${grant.status === "active" ? "" : `, ${grant.status}`})`}
                </option>
              ))}
            </select>
          </Field>
          <Field id="replay-since" label="Since" hint="A duration before now (30m, 24h, 7d) or a time (2026-11-25T10:00:00Z).">
            <input id="replay-since" name="since" type="text" value={values.since} form={EDITOR_FORM_ID} autocomplete="off" aria-describedby="replay-since-hint" />
          </Field>
          <div class="buttons">
            <button type="submit" form={EDITOR_FORM_ID} name="action" value="replay">
              Replay
            </button>
          </div>
        </div>
      )}
      {problem ? <Notice kind="error">{problem}</Notice> : null}
      {outcome ? <ReplayReportView outcome={outcome} /> : null}
    </section>
  );
}

function ReplayReportView({ outcome }: { outcome: ReplayOutcome }) {
  const { report, grant } = outcome;
  const counts = Object.entries(report.counts);
  const shown = report.changes.slice(-MAX_SHOWN_CHANGES);
  return (
    <div class="result" id="replay-report">
      <p>
        {report.calls === 0 ? (
          <>No call of {visible(grant.label)} is on record since {visible(outcome.since)}.</>
        ) : (
          <>
            {report.calls} call{report.calls === 1 ? "" : "s"} of {visible(grant.label)} replayed
            {report.first && report.last ? (
              <>
                , from <When iso={report.first} /> to <When iso={report.last} />
              </>
            ) : null}
            : {report.changes.length === 0 ? "the candidate decides every one as the record does." : `${report.changes.length} would change or cannot be told.`}
          </>
        )}
      </p>
      {outcome.truncated ? <Notice kind="error">The window holds more records than one replay reads: only the newest were replayed. Narrow it with Since.</Notice> : null}
      {counts.length > 0 ? (
        <TableScroll label="Replay counts">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Change</th>
                <th scope="col">Calls</th>
              </tr>
            </thead>
            <tbody>
              {counts.map(([change, count]) => (
                <tr>
                  <td data-label="Change">{change}</td>
                  <td data-label="Calls">{count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {shown.length > 0 ? (
        <TableScroll label="Calls that change">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tool</th>
                <th scope="col">Change</th>
                <th scope="col">Rule</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((change) => (
                <tr>
                  <td data-label="Time">
                    <a href={`/admin/decisions/${encodeURIComponent(grant.id)}/${encodeURIComponent(change.id)}`}>
                      <When iso={change.time} />
                    </a>
                  </td>
                  <td data-label="Tool">
                    <code>{visible(change.tool)}</code>
                  </td>
                  <td data-label="Change">
                    {change.change}{" "}
                    <span class="hint">
                      ({change.recorded} → {change.candidate ?? "?"})
                    </span>
                  </td>
                  <td data-label="Rule" class="mono">
                    {change.rule}
                  </td>
                  <td data-label="Reason" class="reason">
                    {visible(change.reason)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {report.changes.length > shown.length ? <p class="hint">The {shown.length} newest of {report.changes.length} changes are listed.</p> : null}
      {report.notes.length > 0 ? (
        <ul class="plain hint">
          {report.notes.map((note) => (
            <li>{note}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
