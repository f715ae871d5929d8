import { once } from "node:events";
import { z } from "zod";
import { AuditRecordSchema, type AuditRecord } from "../audit/record.ts";
import { adminLines, adminRequest } from "./admin-client.ts";
import { UsageError } from "./errors.ts";
import { timeWindow } from "./instants.ts";
import { SERVER_NAME_PATTERN, SERVER_NAME_RULE } from "../servers/registry.ts";
import { columns, glance, printable } from "./text.ts";
import { GRANT_ID_PATTERN, type CommandInput, type Values } from "./usage.ts";

/**
 * `mcp-gateway audit`: the audit trail, every grant's merged or one grant's
 * (--grant), newest first, filtered by --since/--until, --decision (or
 * `admin`, operators' actions), --tool and --server (records from before
 * servers were named count as the default server's). For a person, one page (--limit,
 * default 50) and the command for the next; for a program (--json), every
 * matching record as one JSON line each, streamed as the gateway reads them
 * (the admin API's NDJSON), so `| jq` and `> trail.ndjson` work on any window.
 */

const DEFAULT_PAGE = 50;
/** The admin API's largest page (AuditQuerySchema). */
const MAX_PAGE = 1000;

const AuditPageSchema = z.object({ records: z.array(AuditRecordSchema), cursor: z.string().nullable() });
/** A streamed record is passed on as the gateway wrote it, fields this CLI does not know included. */
const StreamedRecordSchema = z.looseObject({ kind: z.string(), id: z.string(), time: z.string() });

export async function run(input: CommandInput): Promise<string | undefined> {
  const { words, values } = input;
  if (words.length > 0) throw new UsageError(`audit takes flags only, not "${printable(words.join(" "))}"`);
  if (values.grant !== undefined && !GRANT_ID_PATTERN.test(values.grant)) throw new UsageError(`"${printable(values.grant)}" is not a grant id (g_ and 12 more characters, as grant list shows them)`);
  const limit = values.limit === undefined ? undefined : count(values.limit, values.json ? Number.MAX_SAFE_INTEGER : MAX_PAGE);
  const path = values.grant === undefined ? "/audit" : `/grants/${values.grant}/audit`;
  const filters = new URLSearchParams({
    ...timeWindow(values.since, values.until),
    ...(values.decision !== undefined ? { decision: values.decision } : {}),
    ...(values.tool !== undefined ? { tool: values.tool } : {}),
    ...(values.server !== undefined ? { server: serverName(values.server) } : {}),
    ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
  });

  if (values.json) {
    filters.set("limit", String(Math.min(limit ?? MAX_PAGE, MAX_PAGE)));
    let written = 0;
    for await (const record of adminLines(input.admin(), StreamedRecordSchema, `${path}?${filters}`)) {
      if (written++ >= (limit ?? Number.POSITIVE_INFINITY)) break;
      // A terminal or pipe that reads slowly is waited for: the trail is never held in memory.
      if (!process.stdout.write(`${JSON.stringify(record)}\n`)) await once(process.stdout, "drain");
    }
    return undefined;
  }
  filters.set("limit", String(limit ?? DEFAULT_PAGE));
  const page = await adminRequest(input.admin(), AuditPageSchema, "GET", `${path}?${filters}`);
  return formatPage(page.records, page.cursor, values);
}

function serverName(text: string): string {
  if (!SERVER_NAME_PATTERN.test(text)) throw new UsageError(`--server: "${printable(text)}" is not a server name (${SERVER_NAME_RULE})`);
  return text;
}

function count(text: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) throw new UsageError(`--limit takes a number from 1 to ${max}, not "${printable(text)}"`);
  return value;
}

/** One line per record, and the command that shows the next page. */
export function formatPage(records: AuditRecord[], cursor: string | null, values: Values): string {
  if (records.length === 0) return cursor === null ? "no records" : `no records on this page\n${more(cursor, values)}`;
  const rows = records.map((record) =>
    record.kind === "call"
      ? [record.time, record.decision, `${record.server === undefined ? "" : `${printable(record.server)}/`}${printable(record.tool)}`, `grant="${glance(record.grant.label, 40)}"`, glance(`${record.rule || "(no rule)"}${record.reason ? `: ${record.reason}` : ""}`, 100)]
      : [record.time, "admin", record.action, record.grant ? `grant="${glance(record.grant.label, 40)}"` : "-", `by ${glance(record.by, 60)}, target ${glance(record.target, 60)}`],
  );
  const lines = columns(rows);
  if (cursor !== null) lines.push(more(cursor, values));
  return lines.join("\n");
}

/** The same command with the next page's cursor, to paste. */
function more(cursor: string, values: Values): string {
  const flags = (["grant", "since", "until", "decision", "tool", "server", "limit", "port", "url"] as const)
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => `--${flag} ${shellWord(String(values[flag]))}`);
  return `more: mcp-gateway audit ${[...flags, `--cursor ${cursor}`].join(" ")}`;
}

function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${printable(text).replaceAll("'", `'\\''`)}'`;
}
