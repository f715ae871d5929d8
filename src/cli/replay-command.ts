import { z } from "zod";
import { AuditRecordSchema, type AuditRecord } from "../audit/record.ts";
import { replay, type ChangeClass, type ReplayReport } from "../policy/replay.ts";
import { SERVER_NAME_PATTERN, SERVER_NAME_RULE } from "../servers/registry.ts";
import type { Policy } from "../policy/schema.ts";
import { adminRequest } from "./admin-client.ts";
import type { AdminTarget } from "./admin-target.ts";
import { CliError, UsageError } from "./errors.ts";
import { instant } from "./instants.ts";
import { loadPolicyFile } from "./policy-file.ts";
import { plural, printable } from "./text.ts";
import { GRANT_ID_PATTERN, type CommandInput } from "./usage.ts";

/**
 * `mcp-gateway policy replay FILE --grant ID [--server S]`: the grant's
 * recorded calls (to server S only, with --server), read from the admin API's
 * audit trail, decided again under the policy in FILE (src/policy/replay.ts),
 * each under the section for the server it went to. Anything that would change, or that the
 * records cannot tell, makes the command exit 1, so it can gate a CI job that
 * is about to push FILE.
 */

const DEFAULT_SINCE = "24h";
/** What one page of the admin API may hold (AuditQuerySchema's maximum). */
const PAGE_SIZE = 1000;
/** A replay reads the whole window into memory: past this, narrow it. */
const MAX_RECORDS = 100_000;

export async function run(input: CommandInput): Promise<string> {
  const { words, values, need } = input;
  const file = need(words[0], "FILE");
  const grant = need(values.grant, "--grant");
  const window = replayWindow(grant, values.since, values.until);
  const candidate = loadCandidate(file);
  const server = values.server;
  if (server !== undefined && !SERVER_NAME_PATTERN.test(server)) throw new UsageError(`"${printable(server)}" is not a server name (${SERVER_NAME_RULE})`);
  const result = await replayCommand(input.admin(), file, candidate, grant, window, server);
  // Anything that would change (or cannot be told) fails the command: a CI gate for pushing FILE.
  if (result.changed) process.exitCode = 1;
  return values.json ? JSON.stringify(result, null, 2) : formatReplay(result);
}

export type ReplayWindow = { since: string; until: string };

export type ReplayResult = ReplayReport & {
  file: string;
  grant: { id: string; label: string | null };
  /** The server whose calls were replayed; null: every server's, each under its own section. */
  server: string | null;
  /** The window read from the audit trail. */
  since: string;
  until: string;
  /** The policies that decided the replayed calls, as the records name them. */
  recordedUnder: Array<{ name: string; version: string | null; calls: number }>;
  /** Whether any call would be decided differently or cannot be told: the exit status. */
  changed: boolean;
};

const AuditPageSchema = z.object({ records: z.array(AuditRecordSchema), cursor: z.string().nullable() });

/** --grant, --since and --until checked before anything is read; every problem here is a usage error. */
export function replayWindow(grant: string, since: string | undefined, until: string | undefined, now = Date.now()): ReplayWindow {
  if (!GRANT_ID_PATTERN.test(grant)) throw new UsageError(`"${printable(grant)}" is not a grant id (g_ and 12 more characters, as grant list shows them)`);
  const from = instant("--since", since ?? DEFAULT_SINCE, now);
  const to = until === undefined ? now : instant("--until", until, now);
  if (from >= to) throw new UsageError(`--since (${new Date(from).toISOString()}) must be before --until (${new Date(to).toISOString()})`);
  return { since: new Date(from).toISOString(), until: new Date(to).toISOString() };
}

/** The candidate, validated as `policy validate` does: problems at their exact JSON paths. */
export function loadCandidate(file: string): Policy {
  return loadPolicyFile(file).policy;
}

export async function replayCommand(target: AdminTarget, file: string, candidate: Policy, grant: string, window: ReplayWindow, server?: string): Promise<ReplayResult> {
  const records = await auditTrail(target, grant, window, server);
  const report = replay(records, candidate, { server });
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
    server: server ?? null,
    ...window,
    ...report,
    recordedUnder: [...recordedUnder.values()],
    changed: report.changes.length > 0,
  };
}

/** The counts, then one line per call that would change (or cannot be told), then the notes. */
export function formatReplay(result: ReplayResult): string {
  const grant = (result.grant.label === null ? result.grant.id : `"${printable(result.grant.label)}" (${result.grant.id})`) + (result.server === null ? "" : ` on server ${result.server}`);
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

/** Every record of the grant in the window, page after page (the API answers newest first). */
async function auditTrail(target: AdminTarget, grant: string, window: ReplayWindow, server: string | undefined): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ since: window.since, until: window.until, limit: String(PAGE_SIZE), ...(server ? { server } : {}), ...(cursor ? { cursor } : {}) });
    const page = await adminRequest(target, AuditPageSchema, "GET", `/grants/${grant}/audit?${query}`);
    records.push(...page.records);
    if (records.length > MAX_RECORDS) throw new CliError(`more than ${MAX_RECORDS} records from ${window.since} to ${window.until}: narrow the window with --since and --until`);
    cursor = page.cursor;
  } while (cursor !== null);
  return records;
}
