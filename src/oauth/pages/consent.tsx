import type { ConsentDescription } from "@cloudflare/workers-oauth-provider";
import { visible } from "../../admin/pages/display.ts";
import { When } from "../../admin/pages/parts.tsx";
import type { Claims } from "../flow.ts";
import { listed, plural, type PolicyOverview } from "../policy-overview.ts";
import { ClientFacts, SignInLayout } from "./layout.tsx";
import { Hidden, type FormBase } from "./sign-in.tsx";

/** The grant the app is about to act as: an existing one (a grant token proved it) or one the operator is about to create. */
export type ConsentGrant = {
  kind: "existing" | "new";
  label: string;
  /** Known for an existing grant. */
  id?: string | undefined;
  policy: string;
  /** An existing grant's expiry (ISO), or the duration the operator chose for a new one; null: never. */
  expires: { at: string } | { after: string } | null;
  /** Who creates a new grant. */
  by?: string | undefined;
  /** The servers it reaches, shown when the gateway declares several. */
  servers?: string[] | undefined;
};

type ConsentProps = {
  client: ConsentDescription;
  base: FormBase;
  claims: Claims;
  grant: ConsentGrant;
  /** What the policy allows and hides, or why it cannot be read (then every call is refused). */
  policy: PolicyOverview | { problem: string };
  /** The resource the app's token will be bound to (RFC 8707), shown with the servers. */
  resource?: string | undefined;
  now?: number;
};

/**
 * The last step: who is asking, where its tokens go, which grant it will act
 * as, and what that grant's policy allows and hides; Allow or Deny.
 */
export function ConsentPage({ client, base, claims, grant, policy, resource, now = Date.now() }: ConsentProps) {
  return (
    <SignInLayout title={`Allow ${client.clientName}?`}>
      <h1>
        Allow <span>{visible(client.clientName)}</span> to use this gateway?
      </h1>
      <p>
        {grant.kind === "new" ? "With a new grant" : <>As the grant <strong>{visible(grant.label)}</strong></>}, under the policy <strong>{visible(grant.policy)}</strong>,
        whose rules are summarised below.
      </p>
      <ClientFacts client={client} />
      <h2>The grant</h2>
      <dl class="facts">
        <dt>Grant</dt>
        <dd>
          {grant.kind === "new" ? (
            <>
              A new grant labelled <strong>{visible(grant.label)}</strong>, created by <strong>{grant.by ?? ""}</strong> when you allow
            </>
          ) : (
            <>
              <strong>{visible(grant.label)}</strong> <span class="mono hint">{grant.id ?? ""}</span>
            </>
          )}
        </dd>
        <dt>Policy</dt>
        <dd>
          <strong>{visible(grant.policy)}</strong>
          {"version" in policy && policy.version ? <span class="hint"> (version {policy.version})</span> : null}
        </dd>
        <dt>Expires</dt>
        <dd>{grant.expires === null ? <span class="hint">never</span> : "at" in grant.expires ? <When iso={grant.expires.at} now={now} /> : `${grant.expires.after} after it is created`}</dd>
        {grant.servers ? (
          <>
            <dt>Servers</dt>
            <dd class="mono">{grant.servers.length === 0 ? <span class="hint">none</span> : grant.servers.join(", ")}</dd>
            <dt>The app's token</dt>
            <dd>
              works at <span class="mono">{resource ?? ""}</span> only
            </dd>
          </>
        ) : null}
      </dl>
      <h2>What the policy allows and hides</h2>
      <PolicyFacts policy={policy} />
      <p class="hint">
        The app gets its own token, which acts as this grant until it expires or is revoked: every call it makes is judged by this policy and counted with
        the grant's other calls. An operator can revoke it in the gateway's console.
      </p>
      <form class="decide" method="post" action={base.action}>
        <Hidden base={base} step="consent" claims={claims} />
        <div class="buttons">
          <button type="submit" name="decision" value="approve" class="approve">
            Allow
          </button>
          <button type="submit" name="decision" value="deny" class="deny">
            Deny
          </button>
        </div>
      </form>
    </SignInLayout>
  );
}

function PolicyFacts({ policy }: { policy: PolicyOverview | { problem: string } }) {
  if ("problem" in policy) {
    return (
      <p class="notice error" role="alert">
        This policy cannot be used ({policy.problem}): every call the app makes will be refused until it is fixed.
      </p>
    );
  }
  const { tools } = policy;
  return (
    <>
      <ul class="plain">
        <li>
          A tool no rule names is <strong>{policy.default === "allow" ? "allowed" : "refused"}</strong>.
        </li>
        {policy.mode === "monitor" ? (
          <li>
            <strong>Monitor mode:</strong> nothing below is enforced. Calls the rules would refuse or send to a human are logged and still go through
            (hidden tools stay out of the app's tool list).
          </li>
        ) : null}
        {policy.hidden.length > 0 ? (
          <li>
            Hidden from the app: <code>{policy.hidden.map((pattern) => visible(pattern)).join(", ")}</code>
          </li>
        ) : null}
        {policy.rules.map((rule) => (
          <li>
            <code>{visible(rule.pattern)}</code>: {visible(rule.text)}
          </li>
        ))}
        {policy.allTools.map((limit) => (
          <li>Every call: {limit}</li>
        ))}
      </ul>
      <p>{offeredText(tools)}</p>
      <ToolList title="Allowed" names={tools.allowed} />
      <ToolList title="Need a human's approval" names={tools.approval} />
      <ToolList title="Allowed or refused by their arguments" names={tools.conditional} />
      <ToolList title="Listed, but every call refused" names={tools.refused} />
      <ToolList title="Hidden and refused" names={tools.hidden} />
    </>
  );
}

/** `Of the 118 tools …, the app is offered 41: 40 allowed and 1 listed but refused on every call; 77 tools are hidden and refused.` */
function offeredText(tools: PolicyOverview["tools"]): string {
  const kinds: Array<[number, string]> = [
    [tools.allowed.length, "allowed"],
    [tools.approval.length, "only with a human's approval"],
    [tools.conditional.length, "depending on their arguments"],
    [tools.refused.length, "listed but refused on every call"],
  ];
  const offered = kinds.reduce((sum, [count]) => sum + count, 0);
  const parts = listed(kinds.filter(([count]) => count > 0).map(([count, what]) => `${count} ${what}`));
  const hidden = `${plural(tools.hidden.length, "tool")} ${tools.hidden.length === 1 ? "is" : "are"} hidden and refused`;
  return `Of the ${offered + tools.hidden.length} tools of the Iterable MCP server, the app is offered ${offered === 0 ? "none" : `${offered}: ${parts}`}; ${hidden}.`;
}

function ToolList({ title, names }: { title: string; names: string[] }) {
  if (names.length === 0) return null;
  return (
    <details>
      <summary>
        {title} ({names.length})
      </summary>
      <p class="mono">{names.join(", ")}</p>
    </details>
  );
}
