import type { ConsentDescription } from "@cloudflare/workers-oauth-provider";
import { Field, GrantTermsFields, Notice } from "../../admin/pages/parts.tsx";
import { visible } from "../../admin/pages/display.ts";
import type { PolicySummary as StoredPolicy } from "../../admin/manage/policies.ts";
import { CSRF_FIELD, type Claims } from "../flow.ts";
import { ClientFacts, SignInLayout } from "./layout.tsx";

/** What every form of one sign-in carries: where it posts (the authorize URL, query and all), the CSRF token, the consent handle. */
export type FormBase = { action: string; csrfToken: string; handle: string };

/** The hidden fields every form of the flow carries, plus the sealed claims of the step before. */
export function Hidden({ base, step, claims = {} }: { base: FormBase; step: string; claims?: Claims }) {
  return (
    <>
      <input type="hidden" name={CSRF_FIELD} value={base.csrfToken} />
      <input type="hidden" name="handle" value={base.handle} />
      <input type="hidden" name="step" value={step} />
      {Object.entries(claims).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
    </>
  );
}

/** Declining: back to the app with `access_denied`. */
export function DenyForm({ base, label = "Cancel" }: { base: FormBase; label?: string }) {
  return (
    <form method="post" action={base.action} aria-labelledby="decline">
      <h2 id="decline">Not now</h2>
      <Hidden base={base} step="deny" />
      <p class="hint">The app is told that you declined; nothing is created.</p>
      <div class="buttons">
        <button type="submit" class="deny">
          {label}
        </button>
      </div>
    </form>
  );
}

export type OperatorDoor =
  /** No ADMIN_TOKEN: only grant tokens sign in. */
  | { kind: "closed" }
  | { kind: "token" }
  /** Cloudflare Access already names the operator. */
  | { kind: "access"; email: string };

type SignInProps = { client: ConsentDescription; base: FormBase; operator: OperatorDoor; error?: string | undefined };

/**
 * The first step: the person proves which grant the app may use, with a grant
 * token an operator gave them, or signs in as an operator to create one.
 */
export function SignInPage({ client, base, operator, error }: SignInProps) {
  return (
    <SignInLayout title={`Connect ${client.clientName}`}>
      <h1>
        Connect <span>{visible(client.clientName)}</span> to this gateway
      </h1>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <ClientFacts client={client} />
      <h2 id="with-token">With a grant token</h2>
      <form class="stack" method="post" action={base.action} aria-labelledby="with-token">
        <Hidden base={base} step="grant" />
        <Field id="grant_token" label="Grant token" hint="The mcpgw_… token an operator of this gateway gave you. The app never sees it: it gets its own token, bound to the same grant and policy.">
          <input id="grant_token" name="grant_token" type="password" autocomplete="off" required aria-describedby="grant_token-hint" />
        </Field>
        <div class="buttons">
          <button type="submit" class="primary">
            Continue
          </button>
        </div>
      </form>
      {operator.kind === "closed" ? null : (
        <>
          <h2 id="as-operator">As an operator</h2>
          <form class="stack" method="post" action={base.action} aria-labelledby="as-operator">
            <Hidden base={base} step="operator" />
            {operator.kind === "access" ? (
              <p>
                Signed in with Cloudflare Access as <strong>{operator.email}</strong>.
              </p>
            ) : (
              <Field id="admin_token" label="Admin token" hint="The gateway's ADMIN_TOKEN. You then choose a policy, and a new grant labelled with the app's name is created for it.">
                <input id="admin_token" name="admin_token" type="password" autocomplete="off" required aria-describedby="admin_token-hint" />
              </Field>
            )}
            <div class="buttons">
              <button type="submit">Sign in and choose a policy</button>
            </div>
          </form>
        </>
      )}
      <DenyForm base={base} label="Cancel and tell the app" />
    </SignInLayout>
  );
}

export type NewGrantValues = { policy: string; expires: string };

/** The servers a new grant may reach, offered when the gateway declares several. */
export type ServerChoice = {
  /** Every declared server, in order. */
  declared: string[];
  /** The server the app signs in for (`/mcp/<server>`): the grant must reach it. */
  required: string | undefined;
  /** Checked when the page opens. */
  chosen: string[];
};

type PolicyChoiceProps = {
  client: ConsentDescription;
  base: FormBase;
  /** The operator's sealed claims, carried to the next step. */
  claims: Claims;
  by: string;
  label: string;
  policies: StoredPolicy[];
  values?: NewGrantValues | undefined;
  problems?: string[] | undefined;
  /** Several servers declared: which the grant reaches. Absent, the page names none and the grant reaches the default server. */
  servers?: ServerChoice | undefined;
};

/** The operator's step: which policy the new grant (labelled with the app's name) is bound to, and when it expires. */
export function PolicyChoicePage({ client, base, claims, by, label, policies, values = { policy: "", expires: "" }, problems = [], servers }: PolicyChoiceProps) {
  return (
    <SignInLayout title={`A grant for ${client.clientName}`}>
      <h1>
        A new grant for <span>{visible(client.clientName)}</span>
      </h1>
      <p>
        Signed in as <strong>{by}</strong>. The grant is labelled <strong>{visible(label)}</strong>; the next page shows what its policy allows before
        anything is created.
      </p>
      {problems.length > 0 ? <Notice kind="error">The grant cannot be created: {problems.join("; ")}.</Notice> : null}
      <ClientFacts client={client} />
      {policies.length === 0 ? (
        <p>There is no policy to bind a grant to yet: push one first (the console's Policies, or mcp-gateway policy push).</p>
      ) : (
        <form class="stack" method="post" action={base.action}>
          <Hidden base={base} step="policy" claims={claims} />
          <GrantTermsFields policies={policies} values={values} expiresLabel="Grant expires after" />
          {servers ? <ServerFields choice={servers} /> : null}
          <div class="buttons">
            <button type="submit" class="primary">
              Continue
            </button>
          </div>
        </form>
      )}
      <DenyForm base={base} label="Cancel and tell the app" />
    </SignInLayout>
  );
}

/** One checkbox per declared server; the one the app connects to is checked and required (the form cannot be sent without it). */
function ServerFields({ choice }: { choice: ServerChoice }) {
  return (
    <fieldset aria-describedby="servers-hint">
      <legend>Servers the grant reaches</legend>
      {choice.declared.map((name) => (
        <label>
          <input type="checkbox" name="servers" value={name} checked={choice.chosen.includes(name)} required={name === choice.required} /> <span class="mono">{name}</span>
          {name === choice.required ? <span class="hint"> (the app connects to this server: required)</span> : null}
        </label>
      ))}
      <p class="hint" id="servers-hint">
        {choice.required === undefined
          ? "The app connects to this gateway's /mcp, which serves every server the grant reaches."
          : `The app connects to /mcp/${choice.required}; the grant can reach other servers for its other sign-ins and its grant token.`}
      </p>
    </fieldset>
  );
}
