import { OVERVIEW_GRANTS_PER_PAGE, type CounterRow, type CountersOverview, type CountersView } from "../manage/counters.ts";
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
  /** Without a grant chosen: every active grant's use against its limits. */
  overview?: CountersOverview | undefined;
  /** This overview page continues an earlier one. */
  paged?: boolean;
  session: AdminSession;
  notice?: string | undefined;
};

/** A grant's limits, each with what is used now against its maximum, and a reset per counter; without a grant, every grant's, nearest the limit first. */
export function CountersPage({ grants, view, overview, paged = false, session, notice }: CountersPageProps) {
  return (
    <Layout title={view ? `Counters of ${view.grant.label}` : "Counters"} session={session} section="counters">
      <h1>{view ? <>Counters of <span>{visible(view.grant.label)}</span></> : "Counters"}</h1>
      <GrantChooser grants={grants} chosen={view?.grant.id ?? ""} />
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      {view ? <CounterTable view={view} /> : overview ? <Overview overview={overview} paged={paged} /> : null}
    </Layout>
  );
}

/** `7 / 10 (70 %)`, marked once reached. */
function Share({ row }: { row: CounterRow }) {
  const used = row.used ?? 0;
  return (
    <span class={used >= row.max ? "usage full" : "usage"}>
      {used} / {row.max} <span class="hint">({Math.min(999, Math.round((used / row.max) * 100))} %)</span>
      {used >= row.max ? " reached" : ""}
    </span>
  );
}

function Overview({ overview, paged }: { overview: CountersOverview; paged: boolean }) {
  const { rows, global, problems, cursor } = overview;
  return (
    <>
      <h2 id="nearest">Every grant, nearest its limit first</h2>
      <p class="hint">
        The active grants' limits, live: {overview.grants} grant{overview.grants === 1 ? "" : "s"} on this page
        {overview.withoutLimits > 0 ? `, ${overview.withoutLimits} of them with no limit to show` : ""}
        {overview.inactive > 0 ? `; ${overview.inactive} revoked or expired left out` : ""}. Each page reads {OVERVIEW_GRANTS_PER_PAGE} grants' counters (one
        request to each grant's counter, one to the global ones); per-session limits are on a grant's own page.
      </p>
      {problems.map(({ grant, problem }) => (
        <Notice kind="error">
          <a href={countersPath(grant.id)}>{visible(grant.label)}</a>: {visible(problem)}
        </Notice>
      ))}
      {rows.length === 0 ? (
        <p>No grant on this page has a limit of its own.</p>
      ) : (
        <TableScroll label="Every grant's counters">
          <table class="cards" aria-labelledby="nearest">
            <thead>
              <tr>
                <th scope="col">Grant</th>
                <th scope="col">Counter</th>
                <th scope="col">Window</th>
                <th scope="col">Used now</th>
                <th scope="col">Policy</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr>
                  <td data-label="Grant">
                    <a href={countersPath(row.grant.id)}>{visible(row.grant.label)}</a>
                  </td>
                  <td data-label="Counter">
                    <code>{visible(row.counter)}</code>
                  </td>
                  <td data-label="Window">
                    {row.window}
                    {row.align === "calendar" ? " (calendar)" : ""}
                  </td>
                  <td data-label="Used now">
                    <Share row={row} />
                  </td>
                  <td data-label="Policy">
                    <a href={`/admin/policies/${encodeURIComponent(row.policy)}`}>{visible(row.policy)}</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {global.length > 0 ? (
        <>
          <h2 id="global">Shared by every grant (global)</h2>
          <TableScroll label="Global counters">
            <table class="cards" aria-labelledby="global">
              <thead>
                <tr>
                  <th scope="col">Counter</th>
                  <th scope="col">Window</th>
                  <th scope="col">Used now</th>
                  <th scope="col">Policies</th>
                </tr>
              </thead>
              <tbody>
                {global.map((row) => (
                  <tr>
                    <td data-label="Counter">
                      <code>{visible(row.counter)}</code>
                    </td>
                    <td data-label="Window">
                      {row.window}
                      {row.align === "calendar" ? " (calendar)" : ""}
                    </td>
                    <td data-label="Used now">
                      <Share row={row} />
                    </td>
                    <td data-label="Policies">{row.policies.map((name) => visible(name)).join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        </>
      ) : null}
      <p class="pager">
        {paged ? <a href="/admin/counters">First grants</a> : null}
        {cursor ? (
          <a href={`/admin/counters?cursor=${encodeURIComponent(cursor)}`} rel="next">
            Next {OVERVIEW_GRANTS_PER_PAGE} grants
          </a>
        ) : null}
      </p>
    </>
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
