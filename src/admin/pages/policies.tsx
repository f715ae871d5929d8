import type { GrantSummary } from "../manage/grants.ts";
import type { Simulation } from "../../policy/simulate.ts";
import { POLICY_NAME_RULE, type PolicySummary, type StoredPolicy, type Validation } from "../manage/policies.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Field, Notice, TableScroll } from "./parts.tsx";
import { EDITOR_FORM_ID, ReplaySection, type ReplayOutcome, type ReplayValues } from "./replay.tsx";

export const policyPath = (name: string) => `/admin/policies/${encodeURIComponent(name)}`;
export const editorPath = (name?: string) => `/admin/policy-editor${name ? `?name=${encodeURIComponent(name)}` : ""}`;

/** The stored policies with their versions. */
export function PoliciesPage({ policies, session }: { policies: PolicySummary[]; session: AdminSession }) {
  return (
    <Layout title="Policies" session={session} section="policies">
      <h1>Policies</h1>
      <p>
        <a href={editorPath()}>Write, check or push a policy</a>
      </p>
      {policies.length === 0 ? (
        <p>No policy is stored yet.</p>
      ) : (
        <TableScroll label="Policies">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {policies.map((policy) => (
                <tr>
                  <td data-label="Name">
                    <a href={policyPath(policy.name)}>{visible(policy.name)}</a>
                    {policy.pushable ? null : <span class="status tone-warn"> old name: takes no new version</span>}
                  </td>
                  <td data-label="Version" class="mono">{policy.valid ? policy.version : <span class="status tone-bad">invalid</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </Layout>
  );
}

/** Each problem at its JSON path, as `mcp-gateway policy validate` prints them. */
export function Problems({ problems }: { problems: string[] }) {
  return (
    <ul class="problems">
      {problems.map((problem) => {
        const at = problem.indexOf(": ");
        return at < 0 ? (
          <li>{visible(problem)}</li>
        ) : (
          <li>
            <code class="path">{visible(problem.slice(0, at))}</code> {visible(problem.slice(at + 2))}
          </li>
        );
      })}
    </ul>
  );
}

export type SimulateValues = { tool: string; arguments: string };

/** The decision a call would get, as `mcp-gateway policy simulate` shows it. */
export function SimulationResult({ simulation }: { simulation: Simulation }) {
  const tone = simulation.decision === "allow" ? "ok" : simulation.decision === "approve" ? "warn" : "bad";
  return (
    <section class="result" aria-labelledby="simulation-heading">
      <h2 id="simulation-heading">
        Decision: <span class={`status tone-${tone}`}>{simulation.decision}</span>
      </h2>
      <dl class="facts">
        <dt>Tool</dt>
        <dd>
          <code>{visible(simulation.tool)}</code>
        </dd>
        <dt>Rule</dt>
        <dd class="mono">{simulation.rule || "(no policy)"}</dd>
        <dt>Reason</dt>
        <dd>{simulation.reason ? visible(simulation.reason) : <span class="hint">none</span>}</dd>
        <dt>Limits</dt>
        <dd>
          {simulation.limits.length === 0 ? (
            <span class="hint">none</span>
          ) : (
            <ul class="plain">
              {simulation.limits.map((limit) => (
                <li>
                  <code>{visible(limit.counter)}</code> {limit.max} per {limit.window} per {limit.scope} (this call counts {limit.amount}; <span class="mono">{limit.rule}</span>)
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Tags</dt>
        <dd>{simulation.tags.length === 0 ? <span class="hint">none</span> : simulation.tags.map((tag) => `@${tag}`).join(" ")}</dd>
      </dl>
      <pre class="wrap" aria-label="As mcp-gateway policy simulate prints it">
        <code>{visible(simulation.text, { lines: true })}</code>
      </pre>
    </section>
  );
}

function SimulateFields({ values }: { values: SimulateValues }) {
  return (
    <>
      <Field id="tool" label="Tool" hint="The tool's name, as the agent calls it: send_campaign, get_lists.">
        <input id="tool" name="tool" type="text" value={values.tool} autocomplete="off" maxlength={200} aria-describedby="tool-hint" />
      </Field>
      <Field id="arguments" label="Arguments (a JSON object)">
        <textarea id="arguments" name="arguments" class="code" rows={4} spellcheck={false}>
          {values.arguments}
        </textarea>
      </Field>
    </>
  );
}

type PolicyPageProps = {
  policy: StoredPolicy;
  grants: GrantSummary[];
  session: AdminSession;
  values: SimulateValues;
  simulation?: Simulation | undefined;
  problem?: string | undefined;
  notice?: string | undefined;
};

/** One stored policy: pretty JSON, its version, the grants bound to it, and a call to simulate against it. */
export function PolicyPage({ policy, grants, session, values, simulation, problem, notice }: PolicyPageProps) {
  return (
    <Layout title={`Policy ${policy.name}`} session={session} section="policies">
      <h1>
        Policy <code>{visible(policy.name)}</code>
      </h1>
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      <dl class="facts">
        <dt>Version</dt>
        <dd class="mono">{policy.version ?? "none (invalid)"}</dd>
        <dt>Grants</dt>
        <dd>
          {grants.length === 0 ? (
            <span class="hint">none</span>
          ) : (
            grants.map((grant, index) => (
              <>
                {index > 0 ? ", " : ""}
                <a href={`/admin/grants/${encodeURIComponent(grant.id)}`}>{visible(grant.label)}</a>
              </>
            ))
          )}
        </dd>
      </dl>
      {policy.valid ? null : (
        <>
          <Notice kind="error">This stored document is not a valid policy: grants bound to it refuse every call.</Notice>
          <Problems problems={policy.problems} />
        </>
      )}
      {policy.pushable ? (
        <p>
          <a href={editorPath(policy.name)}>Edit and push a new version</a>
        </p>
      ) : (
        <Notice kind="info">
          This name was stored before policy names were restricted ({POLICY_NAME_RULE}). Its grants keep working on it, but no new version can be pushed under
          it: push the document under a new name and move the grants to it.
        </Notice>
      )}
      <h2>Document</h2>
      <pre>
        <code>{visible(prettyText(policy.text), { lines: true })}</code>
      </pre>
      {policy.valid ? (
        <>
          <h2 id="simulate">Simulate a call</h2>
          <form class="stack" method="get" action={`${policyPath(policy.name)}#simulate`} aria-labelledby="simulate">
            <SimulateFields values={values} />
            <div class="buttons">
              <button type="submit">Simulate</button>
            </div>
          </form>
          {problem ? <Notice kind="error">{problem}</Notice> : null}
          {simulation ? <SimulationResult simulation={simulation} /> : null}
        </>
      ) : null}
    </Layout>
  );
}

function prettyText(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export type EditorValues = SimulateValues & ReplayValues & { name: string; policy: string };

type EditorPageProps = {
  values: EditorValues;
  session: AdminSession;
  /** The grants whose trail can be replayed. */
  grants: GrantSummary[];
  /** After Validate (or a refused Push): the outcome. */
  validation?: Validation | undefined;
  simulation?: Simulation | undefined;
  problem?: string | undefined;
  replay?: { outcome?: ReplayOutcome | undefined; problem?: string | undefined } | undefined;
};

/**
 * The policy editor: paste or edit a document, validate it (each problem at
 * its JSON path), simulate a call against it, push it as a new version under
 * a name. Every action is one button of the same form, so the document is
 * never lost between them.
 */
export function PolicyEditorPage({ values, session, grants, validation, simulation, problem, replay }: EditorPageProps) {
  return (
    <Layout title="Policy editor" session={session} section="policies">
      <h1>Policy editor</h1>
      <p class="hint">
        Validate checks the document as the gateway would; Simulate decides a call against it without making it; Push stores it as the new version of the
        name (validated first; in force everywhere within a minute) and is audited.
      </p>
      {problem ? <Notice kind="error">{problem}</Notice> : null}
      {validation ? (
        validation.ok ? (
          <>
            <Notice kind="ok">
              Valid: version <span class="mono">{validation.version}</span>.
            </Notice>
            {validation.warnings.length > 0 ? (
              <>
                <Notice>{validation.warnings.length === 1 ? "1 warning" : `${validation.warnings.length} warnings`} (the policy is valid; check these are meant):</Notice>
                <Problems problems={validation.warnings} />
              </>
            ) : null}
          </>
        ) : (
          <>
            <Notice kind="error">Not a valid policy ({validation.problems.length === 1 ? "1 problem" : `${validation.problems.length} problems`}):</Notice>
            <Problems problems={validation.problems} />
          </>
        )
      ) : null}
      {simulation ? <SimulationResult simulation={simulation} /> : null}
      <form class="stack editor" id={EDITOR_FORM_ID} method="post" action="/admin/policy-editor">
        <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
        <Field id="name" label="Name" hint="The name grants refer to. Pushing replaces what is stored under it.">
          <input id="name" name="name" type="text" value={values.name} pattern="[a-z][a-z0-9_\-]{0,63}" maxlength={64} autocomplete="off" aria-describedby="name-hint" />
        </Field>
        <Field id="policy" label="Policy (JSON)">
          <textarea id="policy" name="policy" class="code" rows={18} spellcheck={false} required>
            {values.policy}
          </textarea>
        </Field>
        <fieldset>
          <legend>A call to simulate</legend>
          <SimulateFields values={values} />
        </fieldset>
        <div class="buttons wrap">
          <button type="submit" name="action" value="validate">
            Validate
          </button>
          <button type="submit" name="action" value="simulate">
            Simulate
          </button>
          <button type="submit" name="action" value="push" class="primary">
            Push as a new version
          </button>
        </div>
      </form>
      <ReplaySection grants={grants} values={values} outcome={replay?.outcome} problem={replay?.problem} />
    </Layout>
  );
}
