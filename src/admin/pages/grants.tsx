import type { GrantStatus, GrantSummary } from "../manage/grants.ts";
import type { OAuthSignIn } from "../manage/oauth-clients.ts";
import type { PolicySummary } from "../manage/policies.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Field, GrantTermsFields, Notice, ServerChoiceFields, ServerNames, TableScroll, When } from "./parts.tsx";

export const grantPath = (id: string) => `/admin/grants/${encodeURIComponent(id)}`;

function GrantStatusBadge({ status }: { status: GrantStatus }) {
  return <span class={`status grant-${status}`}>{status}</span>;
}

function Expiry({ grant, now }: { grant: GrantSummary; now: number }) {
  return grant.expiresAt ? <When iso={grant.expiresAt} now={now} /> : <span class="hint">never</span>;
}

export type GrantFormValues = { label: string; policy: string; expires: string; servers: string[] };

type GrantsPageProps = {
  grants: GrantSummary[];
  policies: PolicySummary[];
  /** The declared servers' names, the default first. */
  servers: string[];
  session: AdminSession;
  /** What the create form holds (after a refused attempt) and why it was refused. */
  values?: GrantFormValues | undefined;
  problems?: string[] | undefined;
  now?: number;
};

/** Every grant with how it stands, and the form that creates one. */
export function GrantsPage({ grants, policies, servers, session, values = { label: "", policy: "", expires: "", servers: [] }, problems = [], now = Date.now() }: GrantsPageProps) {
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
                <th scope="col">Servers</th>
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
                  <td data-label="Servers">
                    <ServerNames servers={grant.servers} defaultServer={servers[0] ?? ""} />
                  </td>
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
          <GrantTermsFields policies={policies} values={values} expiresLabel="Expires after" />
          <ServerChoiceFields servers={servers} chosen={values.servers} />
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
export function GrantCreatedPage({ grant, token, mcpUrl, defaultServer, session, now = Date.now() }: { grant: GrantSummary; token: string; mcpUrl: string; defaultServer: string; session: AdminSession; now?: number }) {
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
        The agent sends it to <code>{mcpUrl}</code> as <code>Authorization: Bearer &lt;token&gt;</code>
        {(grant.servers?.length ?? 1) > 1 ? (
          <>
            , or to one server's own URL: {(grant.servers ?? []).map((name, index) => (
              <>
                {index > 0 ? ", " : ""}
                <code>{`${mcpUrl}/${name}`}</code>
              </>
            ))}
          </>
        ) : null}
        .
      </p>
      <GrantFacts grant={grant} defaultServer={defaultServer} now={now} />
      <p>
        <a href={grantPath(grant.id)}>The grant's page</a> · <a href="/admin/grants">All grants</a>
      </p>
    </Layout>
  );
}

/** When and by whom a grant was revoked, as its audit trail says; null when the trail does not say. */
export type Revocation = { at: string; by: string } | null;

function GrantFacts({ grant, defaultServer, revocation, now }: { grant: GrantSummary; defaultServer: string; revocation?: Revocation | undefined; now: number }) {
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
      {grant.revoked && revocation !== undefined ? (
        <>
          <dt>Revoked</dt>
          <dd>
            {revocation ? (
              <>
                <When iso={revocation.at} now={now} /> by <strong>{visible(revocation.by)}</strong>
              </>
            ) : (
              <span class="hint">
                not in the audit trail: revoked longer ago than it keeps (AUDIT_RETENTION_DAYS), or straight in KV (the CLI's --via-kv), which leaves no record
              </span>
            )}
          </dd>
        </>
      ) : null}
      <dt>Policy</dt>
      <dd>
        <a href={`/admin/policies/${encodeURIComponent(grant.policy)}`}>{visible(grant.policy)}</a>
      </dd>
      <dt>Servers</dt>
      <dd>
        <ServerNames servers={grant.servers} defaultServer={defaultServer} />
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

const signInPath = (grant: GrantSummary, signIn: OAuthSignIn) => `${grantPath(grant.id)}/oauth/${encodeURIComponent(signIn.id)}/revoke`;

type GrantPageProps = {
  grant: GrantSummary;
  clients: OAuthSignIn[];
  defaultServer: string;
  session: AdminSession;
  revocation?: Revocation | undefined;
  notice?: string | undefined;
  now?: number;
};

/** One grant: how it stands, its counters and decisions, its OAuth clients, and (unless revoked) the way to revoke it. */
export function GrantPage({ grant, clients, defaultServer, session, revocation, notice, now = Date.now() }: GrantPageProps) {
  return (
    <Layout title={`Grant ${grant.label}`} session={session} section="grants">
      <h1>
        Grant <span>{visible(grant.label)}</span>
      </h1>
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      <GrantFacts grant={grant} defaultServer={defaultServer} revocation={revocation} now={now} />
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
      <h2 id="oauth-clients">OAuth clients</h2>
      {clients.length === 0 ? (
        <p>No app has signed in to this grant with OAuth.</p>
      ) : (
        <TableScroll label="OAuth clients">
          <table class="cards" aria-labelledby="oauth-clients">
            <thead>
              <tr>
                <th scope="col">App</th>
                <th scope="col">Signed in</th>
                <th scope="col">How</th>
                <th scope="col">Ends</th>
                <th scope="col">Revoke</th>
              </tr>
            </thead>
            <tbody>
              {clients.map((signIn) => (
                <tr>
                  <td data-label="App">
                    {signIn.clientName === null ? <span class="hint">unknown (registration gone)</span> : visible(signIn.clientName)}{" "}
                    <span class="mono hint">{visible(signIn.clientId)}</span>
                    {signIn.redirectUri ? (
                      <>
                        <br />
                        <span class="mono hint">{visible(signIn.redirectUri)}</span>
                      </>
                    ) : null}
                  </td>
                  <td data-label="Signed in">
                    <When iso={signIn.createdAt} now={now} />
                  </td>
                  <td data-label="How">{signIn.via === "operator" ? `grant created by ${signIn.by ?? "an operator"}` : signIn.via === "grant_token" ? "grant token" : "unknown"}</td>
                  <td data-label="Ends">{signIn.expiresAt ? <When iso={signIn.expiresAt} now={now} /> : <span class="hint">never</span>}</td>
                  <td data-label="Revoke">
                    <a class="danger-link" href={signInPath(grant, signIn)} aria-label={`Revoke the sign-in of ${signIn.clientName ?? signIn.clientId}`}>
                      Revoke…
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <p class="hint">
        An app signs in at this gateway's <code>/authorize</code> page with the grant's token, or when an operator creates a grant for it there. Its
        tokens act as this grant; revoking the grant revokes them too.
      </p>
    </Layout>
  );
}

/** The confirmation step before revoking one OAuth client's sign-in to a grant. */
export function RevokeOAuthClientPage({ grant, signIn, session, now = Date.now() }: { grant: GrantSummary; signIn: OAuthSignIn; session: AdminSession; now?: number }) {
  const name = signIn.clientName ?? signIn.clientId;
  return (
    <Layout title={`Revoke ${name}?`} session={session} section="grants">
      <h1>
        Revoke <span>{visible(name)}</span>'s sign-in to <span>{visible(grant.label)}</span>?
      </h1>
      <p>
        The app's access and refresh tokens are deleted: its calls are refused (HTTP 401) as soon as the gateway's caches let go of them, within a
        minute, and it cannot refresh. The grant itself stays as it is; the app can sign in again only through the authorize page.
      </p>
      <dl class="facts">
        <dt>App</dt>
        <dd>
          {visible(name)} <span class="mono hint">{visible(signIn.clientId)}</span>
        </dd>
        <dt>Signed in</dt>
        <dd>
          <When iso={signIn.createdAt} now={now} />
        </dd>
        <dt>Grant</dt>
        <dd>
          {visible(grant.label)} <span class="mono hint">{grant.id}</span>
        </dd>
      </dl>
      <form class="stack" method="post" action={signInPath(grant, signIn)}>
        <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
        <input type="hidden" name="confirm" value="revoke" />
        <div class="buttons">
          <button type="submit" class="danger">
            Revoke sign-in
          </button>
          <a class="button-link" href={grantPath(grant.id)}>
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}

/** The confirmation step before a revocation. */
export function RevokeGrantPage({ grant, defaultServer, session, now = Date.now() }: { grant: GrantSummary; defaultServer: string; session: AdminSession; now?: number }) {
  return (
    <Layout title={`Revoke ${grant.label}?`} session={session} section="grants">
      <h1>
        Revoke grant <span>{visible(grant.label)}</span>?
      </h1>
      <p>
        Every agent using this grant's token, or an OAuth client signed in to it, is refused (HTTP 401) as soon as the gateway's caches let go of it,
        within a minute. A revoked grant cannot be restored: create a new one instead.
      </p>
      <GrantFacts grant={grant} defaultServer={defaultServer} now={now} />
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
