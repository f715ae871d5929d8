import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { z } from "zod";
import { AuditRecordSchema, type AuditRecord } from "../audit/record.ts";
import { replay, type ChangeClass, type ReplayReport } from "../policy/replay.ts";
import { durationMs, type Policy } from "../policy/schema.ts";
import { validatePolicyText } from "../policy/validate.ts";
import { ADMIN_TOKEN_ENV, printable, type AdminTarget } from "./approval-commands.ts";
import { DEV_ADMIN_FILE } from "./dev-state.ts";
import { UsageError } from "./policy-commands.ts";

/**
 * `mcp-gateway policy replay FILE --grant ID`: the grant's recorded calls,
 * read from the admin API's audit trail, decided again under the policy in
 * FILE (src/policy/replay.ts). Anything that would change, or that the
 * records cannot tell, makes the command exit 1, so it can gate a CI job that
 * is about to push FILE.
 */

const DEFAULT_SINCE = "24h";
/** What one page of the admin API may hold (AuditQuerySchema's maximum). */
const PAGE_SIZE = 1000;
/** A replay reads the whole window into memory: past this, narrow it. */
const MAX_RECORDS = 100_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** `g_` + 9 random bytes in base64url (grants/grant.ts). */
const GRANT_ID_PATTERN = /^g_[A-Za-z0-9_-]{12}$/;
const HOW_TO_REACH = `start the gateway with npm start, or pass --url and set ${ADMIN_TOKEN_ENV}`;

export type ReplayWindow = { since: string; until: string };

export type ReplayResult = ReplayReport & {
  file: string;
  grant: { id: string; label: string | null };
  /** The window read from the audit trail. */
  since: string;
  until: string;
  /** The policies that decided the replayed calls, as the records name them. */
  recordedUnder: Array<{ name: string; version: string | null; calls: number }>;
  /** Whether any call would be decided differently or cannot be told: the exit status. */
  changed: boolean;
};

const AuditPageSchema = z.object({ records: z.array(AuditRecordSchema), cursor: z.string().nullable() });
const ErrorAnswerSchema = z.object({ error: z.string(), message: z.string().optional() });

/** --grant, --since and --until checked before anything is read; every problem here is a usage error. */
export function replayWindow(grant: string, since: string | undefined, until: string | undefined, now = Date.now()): ReplayWindow {
  if (!GRANT_ID_PATTERN.test(grant)) throw new UsageError(`"${printable(grant)}" is not a grant id (g_ and 12 more characters, as grant list shows them)`);
  const from = instant("--since", since ?? DEFAULT_SINCE, now);
  const to = until === undefined ? now : instant("--until", until, now);
  if (from >= to) throw new UsageError(`--since (${new Date(from).toISOString()}) must be before --until (${new Date(to).toISOString()})`);
  return { since: new Date(from).toISOString(), until: new Date(to).toISOString() };
}

/** `30m`, `24h`, `7d` (that long before now) or an ISO time. */
function instant(flag: string, value: string, now: number): number {
  if (/^\d+[smhd]$/.test(value)) return now - durationMs(value);
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new UsageError(`${flag} takes a duration before now (30m, 24h, 7d) or an ISO time (2026-11-25T10:00:00Z), not "${printable(value)}"`);
  return at;
}

/** The candidate, validated as `policy validate` does: problems at their exact JSON paths. */
export function loadCandidate(file: string): Policy {
  const validation = validatePolicyText(readFileSync(file, "utf8"));
  if (!validation.ok) throw new UsageError(`${file} is not a valid policy:\n${validation.problems.map((problem) => `  ${problem}`).join("\n")}`);
  return validation.policy;
}

export async function replayCommand(target: AdminTarget, file: string, candidate: Policy, grant: string, window: ReplayWindow): Promise<ReplayResult> {
  const records = await auditTrail(target, grant, window);
  const report = replay(records, candidate);
  const calls = records.filter((record) => record.kind === "call");
  const recordedUnder = new Map<string, { name: string; version: string | null; calls: number }>();
  for (const { policy } of calls) {
    const key = `${policy.name}\u0000${policy.version}`;
    const seen = recordedUnder.get(key) ?? { ...policy, calls: 0 };
    seen.calls += 1;
    recordedUnder.set(key, seen);
  }
  return {
    file,
    grant: { id: grant, label: calls[0]?.grant.label ?? null },
    ...window,
    ...report,
    recordedUnder: [...recordedUnder.values()],
    changed: report.changes.length > 0,
  };
}

/** The counts, then one line per call that would change (or cannot be told), then the notes. */
export function formatReplay(result: ReplayResult): string {
  const grant = result.grant.label === null ? result.grant.id : `"${printable(result.grant.label)}" (${result.grant.id})`;
  if (result.calls === 0) {
    return `nothing would change: no calls recorded for grant ${grant} from ${result.since} to ${result.until} (is it the grant's id? grant list shows them)`;
  }
  const under = result.recordedUnder.map((p) => `"${printable(p.name)}" version ${p.version ?? "none"}`).join(", ");
  const span = `${plural(result.calls, "call")} of grant ${grant} from ${result.first} to ${result.last}, recorded under ${under}`;
  if (!result.changed) return `nothing would change: ${span}, all decided the same by ${result.file}`;

  const counts = Object.entries(result.counts) as Array<[ChangeClass, number]>;
  const width = (texts: string[]) => Math.max(...texts.map((text) => text.length));
  const classes = width(result.changes.map((c) => c.change));
  const tools = width(result.changes.map((c) => printable(c.tool)));
  const decisions = width(result.changes.map((c) => `${c.recorded} → ${c.candidate ?? "?"}`));
  const lines = result.changes.map((c) =>
    [c.change.padEnd(classes), c.time, printable(c.tool).padEnd(tools), `${c.recorded} → ${c.candidate ?? "?"}`.padEnd(decisions), `${printable(c.rule) || "(no rule)"}${c.reason ? `: ${printable(c.reason)}` : ""}`].join("  "),
  );
  const changed = result.changes.filter((c) => c.change !== "cannot tell").length;
  const unknown = result.changes.length - changed;
  const verdict = [changed > 0 ? `${changed} would change` : "", unknown > 0 ? `${unknown} cannot be told` : ""].filter(Boolean).join(" and ");
  return [
    `replaying ${result.file} over ${span}:`,
    ...counts.map(([change, count]) => `  ${String(count).padStart(width(counts.map(([, n]) => String(n))))}  ${change}`),
    "",
    ...lines,
    "",
    `${verdict}, of ${plural(result.calls, "call")}`,
    ...result.notes.map((note) => `note: ${note}`),
  ].join("\n");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Every record of the grant in the window, page after page (the API answers newest first). */
async function auditTrail(target: AdminTarget, grant: string, window: ReplayWindow): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ since: window.since, until: window.until, limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) });
    const page = AuditPageSchema.safeParse(await adminGet(target, `/admin/api/grants/${grant}/audit?${query}`));
    if (!page.success) throw new Error(`${target.origin} answered with audit records this CLI cannot read: is the CLI older than the gateway?`);
    records.push(...page.data.records);
    if (records.length > MAX_RECORDS) throw new Error(`more than ${MAX_RECORDS} records from ${window.since} to ${window.until}: narrow the window with --since and --until`);
    cursor = page.data.cursor;
  } while (cursor !== null);
  return records;
}

/**
 * One GET on the admin API, failing with what to do about it, in the words of
 * the approvals commands (approval-commands.ts keeps its request helper to
 * itself; this is the read-only part of it).
 */
async function adminGet(target: AdminTarget, path: string): Promise<unknown> {
  const { origin } = target;
  let response: Response;
  try {
    response = await fetch(`${origin}${path}`, {
      headers: { authorization: `Bearer ${target.token}`, accept: "application/json" },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: "error",
    });
  } catch (error) {
    const cause = error instanceof Error ? (error.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : causeOf(error)) : String(error);
    throw new Error(
      target.from === "npm start"
        ? `cannot reach the gateway of npm start at ${origin} (${cause}); is npm start still running? ${HOW_TO_REACH}`
        : `cannot reach the gateway at ${origin} (${cause})`,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok) {
    if (json === undefined) throw new Error(`${origin} answered GET ${path.split("?")[0]} with something that is not JSON: is it the gateway?`);
    return json;
  }
  const answer = ErrorAnswerSchema.safeParse(json).data;
  switch (response.status) {
    case 401:
      throw new Error(
        target.from === "npm start" && target.tokenFromEnv
          ? `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: unset it to use npm start's own token`
          : target.from === "npm start"
            ? `the gateway at ${origin} refused npm start's admin token (${shortPath(DEV_ADMIN_FILE)}): is this the npm start that wrote it? Restart it, or pass --url`
            : `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: it is not the gateway's ADMIN_TOKEN`,
      );
    case 404:
      throw new Error(`${origin} has no admin API: the gateway runs without an ADMIN_TOKEN (set one: wrangler secret put ADMIN_TOKEN), or this is not the gateway's URL`);
    default:
      throw new Error(`the gateway at ${origin} answered ${response.status}${answer?.message ? `: ${printable(answer.message)}` : answer?.error ? `: ${printable(answer.error)}` : ""}`);
  }
}

/** fetch's own message is "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a certificate) is its cause. */
function causeOf(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) return "code" in cause && typeof cause.code === "string" ? `${cause.code}: ${cause.message}` : cause.message;
  return error.message;
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
