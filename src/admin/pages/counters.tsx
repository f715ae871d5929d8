import type { CounterRow, CountersView } from "../manage/counters.ts";
import type { GrantSummary } from "../manage/grants.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Field, Notice, TableScroll } from "./parts.tsx";

export const countersPath = (grantId: string) => `/admin/counters?grant=${encodeURIComponent(grantId)}`;

function resetPath(grantId: string, row: Pick<CounterRow, "counter" | "scope">): string {
  const query = new URLSearchParams({ grant: grantId, counter: row.counter, scope: row.scope });
  return `/admin/counters/reset?${query.toString()}`;
}

function GrantChooser({ grants, chosen }: { grants: GrantSummary[]; chosen: string }) {
  return (
    <form class="filters" method="get" action="/admin/counters">
      <Field id="grant" label="Grant">
        <select id="grant" name="grant">
          {chosen === "" ? <option value="">Choose a grant</option> : null}
          {grants.map((grant) => (
            <option value={grant.id} selected={grant.id === chosen}>
              {`${visible(grant.label)} (${grant.id}, ${grant.status})`}
            </option>
          ))}
        </select>
      </Field>
      <div class="buttons">
        <button type="submit">Show counters</button>
      </div>
    </form>
  );
}

function Usage({ row }: { row: CounterRow }) {
  if (row.used === null) return <span class="hint">per session</span>;
  const full = row.used >= row.max;
  return (
    <span class={full ? "usage full" : "usage"}>
      {row.used} / {row.max}
      {full ? " (reached)" : ""}
    </span>
  );
}

type CountersPageProps = {
  grants: GrantSummary[];
  view?: CountersView | undefined;
  session: AdminSession;
  notice?: string | undefined;
};

/** A grant's limits, each with what is used now against its maximum, and a reset per counter. */
export function CountersPage({ grants, view, session, notice }: CountersPageProps) {
  return (
    <Layout title={view ? `Counters of ${view.grant.label}` : "Counters"} session={session} section="counters">
      <h1>{view ? <>Counters of <span>{visible(view.grant.label)}</span></> : "Counters"}</h1>
      <GrantChooser grants={grants} chosen={view?.grant.id ?? ""} />
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      {view ? <CounterTable view={view} /> : <p>Choose a grant to see its counters, live.</p>}
    </Layout>
  );
}

function CounterTable({ view }: { view: CountersView }) {
  const { grant, policy, counters } = view;
  if (policy.problem) return <Notice kind="error">{policy.problem}</Notice>;
  return (
    <>
      <p>
        Policy <a href={`/admin/policies/${encodeURIComponent(policy.name)}`}>{visible(policy.name)}</a> <span class="mono hint">version {policy.version}</span>.
        Reload the page for the current counts.
      </p>
      {counters.length === 0 ? (
        <p>This policy sets no limits.</p>
      ) : (
        <TableScroll label="Counters">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Counter</th>
                <th scope="col">Scope</th>
                <th scope="col">Window</th>
                <th scope="col">Used now</th>
                <th scope="col">Rule</th>
                <th scope="col">
                  <span class="visually-hidden">Reset</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {counters.map((row) => (
                <tr>
                  <td data-label="Counter">
                    <code>{visible(row.counter)}</code>
                  </td>
                  <td data-label="Scope">{row.scope}</td>
                  <td data-label="Window">
                    {row.window}
                    {row.align === "calendar" ? " (calendar)" : ""}
                  </td>
                  <td data-label="Used now">
                    <Usage row={row} />
                  </td>
                  <td data-label="Rule" class="mono">
                    {row.rule}
                  </td>
                  <td data-label="">
                    {row.scope === "session" ? null : (
                      <a href={resetPath(grant.id, row)} aria-label={`Reset ${row.counter} (${row.scope})`}>
                        Reset…
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {counters.some((row) => row.scope === "global") ? (
        <p class="hint">A global counter is shared by every grant whose policy names it: resetting it resets it for all of them.</p>
      ) : null}
    </>
  );
}

/** The confirmation step before a reset. */
export function ResetCounterPage({ grant, row, session }: { grant: GrantSummary; row: CounterRow; session: AdminSession }) {
  return (
    <Layout title={`Reset ${row.counter}?`} session={session} section="counters">
      <h1>
        Reset <code>{visible(row.counter)}</code>?
      </h1>
      <p>
        Everything counted for <code>{visible(row.counter)}</code> in the {row.scope} scope is forgotten
        {row.scope === "global" ? ", for every grant that shares it" : ` for grant ${visible(grant.label)}`}: used now <Usage row={row} />. Calls the limit
        refused can then go through again. The reset is recorded in the audit trail.
      </p>
      <form class="stack" method="post" action="/admin/counters/reset">
        <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
        <input type="hidden" name="grant" value={grant.id} />
        <input type="hidden" name="counter" value={row.counter} />
        <input type="hidden" name="scope" value={row.scope} />
        <div class="buttons">
          <button type="submit" class="danger">
            Reset counter
          </button>
          <a class="button-link" href={countersPath(grant.id)}>
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}
