import type { GrantStatus, GrantSummary } from "../manage/grants.ts";
import type { PolicySummary } from "../manage/policies.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Field, Notice, TableScroll, When } from "./parts.tsx";

export const grantPath = (id: string) => `/admin/grants/${encodeURIComponent(id)}`;

function GrantStatusBadge({ status }: { status: GrantStatus }) {
  return <span class={`status grant-${status}`}>{status}</span>;
}

function Expiry({ grant, now }: { grant: GrantSummary; now: number }) {
  return grant.expiresAt ? <When iso={grant.expiresAt} now={now} /> : <span class="hint">never</span>;
}

export type GrantFormValues = { label: string; policy: string; expires: string };

type GrantsPageProps = {
  grants: GrantSummary[];
  policies: PolicySummary[];
  session: AdminSession;
  /** What the create form holds (after a refused attempt) and why it was refused. */
  values?: GrantFormValues | undefined;
  problems?: string[] | undefined;
  now?: number;
};

/** Every grant with how it stands, and the form that creates one. */
export function GrantsPage({ grants, policies, session, values = { label: "", policy: "", expires: "" }, problems = [], now = Date.now() }: GrantsPageProps) {
  return (
    <Layout title="Grants" session={session} section="grants">
      <h1>Grants</h1>
      <p>
        <a href="#create">Create a grant</a>
      </p>
      {grants.length === 0 ? (
        <p>No grant exists yet.</p>
      ) : (
        <TableScroll label="Grants">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Label</th>
                <th scope="col">Status</th>
                <th scope="col">Policy</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {grants.map((grant) => (
                <tr>
                  <td data-label="Label">
                    <a href={grantPath(grant.id)}>{visible(grant.label)}</a> <span class="mono hint">{grant.id}</span>
                  </td>
                  <td data-label="Status">
                    <GrantStatusBadge status={grant.status} />
                  </td>
                  <td data-label="Policy">{visible(grant.policy)}</td>
                  <td data-label="Created">
                    <When iso={grant.createdAt} now={now} />
                  </td>
                  <td data-label="Expires">
                    <Expiry grant={grant} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <h2 id="create">Create a grant</h2>
      {problems.length > 0 ? (
        <Notice kind="error">
          The grant was not created: {problems.join("; ")}.
        </Notice>
      ) : null}
      {policies.length === 0 ? (
        <p>
          There is no policy to bind a grant to yet: <a href="/admin/policies/editor">push one</a> first.
        </p>
      ) : (
        <form class="stack" method="post" action="/admin/grants" aria-labelledby="create">
          <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
          <Field id="label" label="Label" hint="Who or what the grant is for, as lists and the audit trail show it.">
            <input id="label" name="label" type="text" required maxlength={200} value={values.label} autocomplete="off" aria-describedby="label-hint" />
          </Field>
          <Field id="policy" label="Policy">
            <select id="policy" name="policy" required>
              {policies.map((policy) => (
                <option value={policy.name} selected={policy.name === values.policy}>
                  {policy.valid ? `${policy.name} (version ${policy.version})` : `${policy.name} (invalid: every call is refused)`}
                </option>
              ))}
            </select>
          </Field>
          <Field id="expires" label="Expires after" hint="A duration like 90m, 12h or 30d; leave it empty for a grant that does not expire.">
            <input id="expires" name="expires" type="text" value={values.expires} placeholder="30d" pattern="[1-9][0-9]{0,5}[mhd]" autocomplete="off" aria-describedby="expires-hint" />
          </Field>
          <div class="buttons">
            <button type="submit" class="primary">
              Create grant
            </button>
          </div>
        </form>
      )}
    </Layout>
  );
}

/** The answer to creating a grant: the only place its token is ever shown. */
export function GrantCreatedPage({ grant, token, mcpUrl, session, now = Date.now() }: { grant: GrantSummary; token: string; mcpUrl: string; session: AdminSession; now?: number }) {
  return (
    <Layout title={`Grant ${grant.label} created`} session={session} section="grants">
      <h1>Grant created</h1>
      <Notice kind="ok">
        Copy the token now. This is the only time it is shown: the gateway keeps only its SHA-256, and this page cannot be opened again.
      </Notice>
      <h2 id="token-heading">Token</h2>
      <pre aria-labelledby="token-heading">
        <code id="new-token">{token}</code>
      </pre>
      <p class="hint">
        The agent sends it to <code>{mcpUrl}</code> as <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <GrantFacts grant={grant} now={now} />
      <p>
        <a href={grantPath(grant.id)}>The grant's page</a> · <a href="/admin/grants">All grants</a>
      </p>
    </Layout>
  );
}

function GrantFacts({ grant, now }: { grant: GrantSummary; now: number }) {
  return (
    <dl class="facts">
      <dt>Label</dt>
      <dd>{visible(grant.label)}</dd>
      <dt>Grant</dt>
      <dd class="mono">{grant.id}</dd>
      <dt>Status</dt>
      <dd>
        <GrantStatusBadge status={grant.status} />
      </dd>
      <dt>Policy</dt>
      <dd>
        <a href={`/admin/policies/${encodeURIComponent(grant.policy)}`}>{visible(grant.policy)}</a>
      </dd>
      <dt>Created</dt>
      <dd>
        <When iso={grant.createdAt} now={now} />
      </dd>
      <dt>Expires</dt>
      <dd>
        <Expiry grant={grant} now={now} />
      </dd>
    </dl>
  );
}

/** One grant: how it stands, its counters and decisions, and (unless revoked) the way to revoke it. */
export function GrantPage({ grant, session, notice, now = Date.now() }: { grant: GrantSummary; session: AdminSession; notice?: string | undefined; now?: number }) {
  return (
    <Layout title={`Grant ${grant.label}`} session={session} section="grants">
      <h1>
        Grant <span>{visible(grant.label)}</span>
      </h1>
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      <GrantFacts grant={grant} now={now} />
      <ul class="actions">
        <li>
          <a href={`/admin/counters?grant=${encodeURIComponent(grant.id)}`}>Counters</a>
        </li>
        <li>
          <a href={`/admin/decisions?grant=${encodeURIComponent(grant.id)}`}>Decisions</a>
        </li>
        {grant.revoked ? null : (
          <li>
            <a class="danger-link" href={`${grantPath(grant.id)}/revoke`}>
              Revoke…
            </a>
          </li>
        )}
      </ul>
    </Layout>
  );
}

/** The confirmation step before a revocation. */
export function RevokeGrantPage({ grant, session, now = Date.now() }: { grant: GrantSummary; session: AdminSession; now?: number }) {
  return (
    <Layout title={`Revoke ${grant.label}?`} session={session} section="grants">
      <h1>
        Revoke grant <span>{visible(grant.label)}</span>?
      </h1>
      <p>
        Every agent using this grant's token is refused (HTTP 401) as soon as the gateway's caches let go of it, within a minute. A revoked grant cannot be
        restored: create a new one instead.
      </p>
      <GrantFacts grant={grant} now={now} />
      <form class="stack" method="post" action={`${grantPath(grant.id)}/revoke`}>
        <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
        <input type="hidden" name="confirm" value="revoke" />
        <div class="buttons">
          <button type="submit" class="danger">
            Revoke grant
          </button>
          <a class="button-link" href={grantPath(grant.id)}>
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}
