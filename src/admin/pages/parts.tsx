import type { Child } from "hono/jsx";
import type { PolicySummary } from "../manage/policies.ts";
import { relative, utc } from "./display.ts";

/** Small pieces the console's pages share. */

/** A time in UTC, and how long ago or ahead it is. */
export function When({ iso, now = Date.now() }: { iso: string; now?: number }) {
  return (
    <>
      <time datetime={iso}>{utc(iso)}</time> <span class="hint">({relative(iso, now)})</span>
    </>
  );
}

/**
 * A time on one short line, for a table column: the time of day (UTC) when
 * it is today, else the date and minute; the whole time and how long ago in
 * its title.
 */
export function ShortTime({ iso, now = Date.now() }: { iso: string; now?: number }) {
  const today = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return (
    <time class="short" datetime={iso} title={`${utc(iso)} (${relative(iso, now)})`}>
      {today ? iso.slice(11, 19) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`}
    </time>
  );
}

/** How long ago or ahead a time is (`3 min ago`, `in 60 min`), on one line; the whole time (UTC) in its title. */
export function Relative({ iso, now = Date.now() }: { iso: string; now?: number }) {
  return (
    <time class="short" datetime={iso} title={utc(iso)}>
      {relative(iso, now)}
    </time>
  );
}

/** A wide table that scrolls sideways on a narrow screen, reachable by keyboard. */
export function TableScroll({ label, children }: { label: string; children?: Child }) {
  return (
    <div class="table-scroll" role="region" aria-label={label} tabindex={0}>
      {children}
    </div>
  );
}

/** A notice above a page's content: an error (announced at once) or plain information. */
export function Notice({ kind = "info", children }: { kind?: "info" | "error" | "ok"; children?: Child }) {
  return (
    <p class={kind === "info" ? "notice" : `notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

/** A label over its field, with an optional hint tied to the field (aria-describedby). */
export function Field({ id, label, hint, children }: { id: string; label: string; hint?: Child; children?: Child }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** The policy a select offers before the operator chooses, when it exists. */
export const DEFAULT_POLICY_NAME = "recommended";

/** The policy a new grant is bound to, and when it expires: the console's grant form and an operator's OAuth sign-in. */
export function GrantTermsFields({ policies, values, expiresLabel }: { policies: PolicySummary[]; values: { policy: string; expires: string }; expiresLabel: string }) {
  // Never the first name in the list (anyone who can push a policy could choose what sorts first): the
  // operator's own choice, else `recommended` when it exists, else nothing until the operator picks one.
  const chosen = values.policy || (policies.some((policy) => policy.name === DEFAULT_POLICY_NAME) ? DEFAULT_POLICY_NAME : "");
  return (
    <>
      <Field id="policy" label="Policy">
        <select id="policy" name="policy" required>
          <option value="" disabled selected={chosen === ""}>
            Choose a policy
          </option>
          {policies.map((policy) => (
            <option value={policy.name} selected={policy.name === chosen}>
              {policy.valid ? `${policy.name} (version ${policy.version})` : `${policy.name} (invalid: every call is refused)`}
            </option>
          ))}
        </select>
      </Field>
      {/* No placeholder: a greyed "30d" reads as a value, and an empty field means "never". */}
      <Field id="expires" label={expiresLabel} hint="Empty: the grant never expires. Otherwise a duration like 90m, 12h or 30d.">
        <input id="expires" name="expires" type="text" value={values.expires} pattern="[1-9][0-9]{0,5}[mhd]" autocomplete="off" aria-describedby="expires-hint" />
      </Field>
    </>
  );
}

/** Says the form offered the server checkboxes: then none ticked is a grant reaching nothing (refused), not the default. */
export const SERVERS_OFFERED_FIELD = "servers-offered";

/** The servers a form chose: undefined when it offered no choice (the default server), else the ticked ones (perhaps none). */
export function chosenServers(form: URLSearchParams): string[] | undefined {
  return form.has(SERVERS_OFFERED_FIELD) ? form.getAll("servers") : undefined;
}

/**
 * The servers a new grant reaches, as checkboxes (the console's grant form;
 * an operator's OAuth sign-in may use it too): every declared server, the
 * chosen ones checked (the default server when nothing is chosen yet).
 */
export function ServerChoiceFields({ servers, chosen }: { servers: string[]; chosen: string[] }) {
  const checked = chosen.length > 0 ? chosen : servers.slice(0, 1);
  return (
    <fieldset class="servers" aria-describedby="servers-hint">
      <legend>Servers</legend>
      <input type="hidden" name={SERVERS_OFFERED_FIELD} value="1" />
      <p class="hint" id="servers-hint">
        The MCP servers the grant reaches, each at <code>/mcp/&lt;server&gt;</code>. Calls to any other server are refused.
      </p>
      <div class="choices">
        {servers.map((name) => (
          <label class="choice">
            <input type="checkbox" name="servers" value={name} checked={checked.includes(name)} /> <code>{name}</code>
            {name === servers[0] ? <span class="hint"> (default)</span> : null}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** The servers a grant reaches, in one line (a record made before grants named servers reaches the default one). */
export function ServerNames({ servers, defaultServer }: { servers: string[] | undefined; defaultServer: string }) {
  if (servers === undefined) {
    return (
      <>
        <code>{defaultServer}</code> <span class="hint">(the default server)</span>
      </>
    );
  }
  return <>{servers.map((name, index) => (index === 0 ? <code>{name}</code> : <>, <code>{name}</code></>))}</>;
}
