import { Hono } from "hono";
import type { AuditRecord } from "../../audit/record.ts";
import { AuditService } from "../../audit/service.ts";
import { durationMs } from "../../policy/schema.ts";
import { replay } from "../../policy/replay.ts";
import { GrantService } from "../manage/grants.ts";
import { simulate, type Simulation } from "../../policy/simulate.ts";
import { parseArguments, parsedPolicy, PolicyNameSchema, PolicyService, validateDocument as validateWith, type Validation } from "../manage/policies.ts";
import { readConfig } from "../../config.ts";
import type { AdminPagesEnv } from "../session.ts";
import { pageHeaders } from "./headers.ts";
import { PoliciesPage, PolicyEditorPage, PolicyPage, policyPath, type EditorValues, type SimulateValues } from "./policies.tsx";
import type { ReplayOutcome } from "./replay.tsx";
import { checkedForm, logAction, MAX_POLICY_FORM_BYTES, pageNotFound, render, signedIn, textareaValue, type PageContext } from "./respond.tsx";

/** What the editor starts with when no policy is opened: the smallest valid policy. */
const STARTER_POLICY = `{\n  "version": "1",\n  "default": "deny",\n  "tools": {\n    "@read": {}\n  }\n}\n`;
const DEFAULT_ARGUMENTS = "{}";
const DEFAULT_REPLAY_SINCE = "24h";
/** Records one replay on the page reads at most (the newest); the CLI reads more. */
const MAX_REPLAY_RECORDS = 10_000;

/** /admin/policies: the stored policies, one policy with a simulation. */
export const policyPages = new Hono<AdminPagesEnv>();
policyPages.use("*", pageHeaders, signedIn);

/** /admin/policy-editor: validate, simulate, push, and replay against the trail. */
export const policyEditorPages = new Hono<AdminPagesEnv>();
policyEditorPages.use("*", pageHeaders, signedIn);

policyPages.get("/", async (c) => render(c, <PoliciesPage policies={await new PolicyService(c.env).list()} session={c.var.session} />));

policyPages.get("/:name", async (c) => {
  const name = c.req.param("name");
  const policy = await new PolicyService(c.env).get(name);
  if (!policy) return pageNotFound(c, "No such policy", "No policy is stored under this name.");
  const grants = (await new GrantService(c.env).list()).filter((grant) => grant.policy === name);
  const tool = (c.req.query("tool") ?? "").trim();
  const values: SimulateValues = { tool, arguments: c.req.query("arguments") ?? DEFAULT_ARGUMENTS };
  const pushed = c.req.query("pushed");
  const notice = pushed !== undefined && pushed === policy.version ? `Pushed: version ${pushed} is stored under this name.` : undefined;
  const props = { policy, grants, session: c.var.session, values, notice };
  if (tool === "") return render(c, <PolicyPage {...props} />);
  const outcome = simulated(policy.text, tool, values.arguments, readConfig(c.env).defaultServer.name);
  return "problem" in outcome ? render(c, <PolicyPage {...props} problem={outcome.problem} />, 400) : render(c, <PolicyPage {...props} simulation={outcome.simulation} />);
});

policyEditorPages.get("/", async (c) => {
  const name = c.req.query("name") ?? "";
  const [stored, grants] = await Promise.all([name ? new PolicyService(c.env).get(name) : undefined, new GrantService(c.env).list()]);
  if (name && !stored) return pageNotFound(c, "No such policy", "No policy is stored under this name.");
  const values: EditorValues = { name, policy: stored ? stored.text : STARTER_POLICY, tool: "", arguments: DEFAULT_ARGUMENTS, grant: "", since: DEFAULT_REPLAY_SINCE };
  return render(c, <PolicyEditorPage values={values} grants={grants} session={c.var.session} />);
});

type EditorOutcome = { validation?: Validation; simulation?: Simulation; problem?: string; replay?: { outcome?: ReplayOutcome; problem?: string } };

policyEditorPages.post("/", async (c) => {
  const checked = await checkedForm(c, MAX_POLICY_FORM_BYTES);
  if ("refused" in checked) return checked.refused;
  const { form } = checked;
  const values: EditorValues = {
    name: (form.get("name") ?? "").trim(),
    policy: textareaValue(form, "policy"),
    tool: (form.get("tool") ?? "").trim(),
    arguments: textareaValue(form, "arguments"),
    grant: form.get("grant") ?? "",
    since: (form.get("since") ?? "").trim() || DEFAULT_REPLAY_SINCE,
  };
  const grants = await new GrantService(c.env).list();
  const config = readConfig(c.env);
  const validateDocument = (document: unknown) => validateWith(document, { servers: config.servers.keys() });
  const editor = (outcome: EditorOutcome, status: 200 | 400 = 200) => render(c, <PolicyEditorPage values={values} grants={grants} session={c.var.session} {...outcome} />, status);

  switch (form.get("action")) {
    case "validate": {
      const validation = await validateDocument(values.policy);
      return editor({ validation }, validation.ok ? 200 : 400);
    }
    case "simulate": {
      if (values.tool === "") return editor({ problem: "Name the tool of the call to simulate." }, 400);
      const validation = await validateDocument(values.policy);
      if (!validation.ok) return editor({ validation }, 400);
      const outcome = simulated(values.policy, values.tool, values.arguments, config.defaultServer.name);
      return "problem" in outcome ? editor({ problem: outcome.problem }, 400) : editor({ simulation: outcome.simulation });
    }
    case "push":
      return push(c, values, editor);
    case "replay": {
      const validation = await validateDocument(values.policy);
      if (!validation.ok) return editor({ validation }, 400);
      const outcome = await replayed(c, values);
      return "problem" in outcome ? editor({ replay: { problem: outcome.problem } }, 400) : editor({ replay: { outcome } });
    }
    default:
      return editor({ problem: "Choose Validate, Simulate, Push or Replay." }, 400);
  }
});

async function push(c: PageContext, values: EditorValues, editor: (outcome: EditorOutcome, status: 200 | 400) => Response | Promise<Response>) {
  const name = PolicyNameSchema.safeParse(values.name);
  if (!name.success) return editor({ problem: `Name the policy to push: ${name.error.issues[0]?.message ?? "not a valid name"}.` }, 400);
  const { session } = c.var;
  const validation = await new PolicyService(c.env).push(name.data, values.policy, session.identity);
  if (!validation.ok) return editor({ validation }, 400);
  logAction({ action: "policy.push", policy: name.data, version: validation.version, by: session.identity });
  return c.redirect(`${policyPath(name.data)}?pushed=${validation.version}`, 303);
}

/** A call to the default server, decided by the policy's section for it (the API's simulate takes any server). */
function simulated(text: string, tool: string, argumentsText: string, server: string): { simulation: Simulation } | { problem: string } {
  const policy = parsedPolicy(text);
  if (!policy) return { problem: "The policy is not valid: validate it to see why." };
  const parsed = parseArguments(argumentsText);
  if ("problem" in parsed) return { problem: `Not simulated: ${parsed.problem}.` };
  return { simulation: simulate(policy, tool, parsed.args, [], server) };
}

/** The grant's calls since the chosen time, from its audit trail, decided again under the editor's policy. */
async function replayed(c: PageContext, values: EditorValues): Promise<ReplayOutcome | { problem: string }> {
  const policy = parsedPolicy(values.policy);
  if (!policy) return { problem: "The policy is not valid: validate it to see why." };
  const grant = await new GrantService(c.env).get(values.grant);
  if (!grant) return { problem: "Choose a grant whose trail to replay." };
  const since = sinceTime(values.since);
  if (since === undefined) return { problem: `Since takes a duration before now (30m, 24h, 7d) or a time (2026-11-25T10:00:00Z), not "${values.since}".` };
  const records: AuditRecord[] = [];
  for await (const record of new AuditService(c.env).all(grant.id, { since, limit: 1000 }, MAX_REPLAY_RECORDS + 1)) records.push(record);
  const truncated = records.length > MAX_REPLAY_RECORDS;
  return { grant, since, report: replay(records.slice(0, MAX_REPLAY_RECORDS), policy), truncated };
}

function sinceTime(text: string, now = Date.now()): string | undefined {
  if (/^\d{1,6}[smhd]$/.test(text)) return new Date(now - durationMs(text)).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : new Date(at).toISOString();
}
