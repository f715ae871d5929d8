import type { z } from "zod";
import {
  AcceptedSchema,
  ChangesPageSchema,
  MAX_TOOLS_PAGE,
  PendingChangeSchema,
  PinsPageSchema,
  ServerChangesSchema,
  ServerPinsSchema,
  type PendingChangeView,
  type PinRecordView,
} from "../admin/manage/tools.ts";
import { HASH_PATTERN, PINNED_FIELDS } from "../pins/definition.ts";
import { diffJson, diffText, foldUnchanged, sameJson } from "../pins/diff.ts";
import { AdminApiError, adminRequest, operator } from "./admin-client.ts";
import type { AdminTarget } from "./admin-target.ts";
import { CliError, UsageError } from "./errors.ts";
import { columns, glance, plural, printable } from "./text.ts";
import type { CommandInput, Values } from "./usage.ts";

type Accepted = z.infer<typeof AcceptedSchema>;
/** One server's page of changes or pins as the listings print it: `more` tells whether a next page exists (it starts after the last name shown). */
export type ChangesGroup = { server: string; default?: boolean; changes: PendingChangeView[]; more: boolean };
export type PinsGroup = { server: string; default?: boolean; pins: PinRecordView[]; more: boolean };

/** How long a hash is shown in a listing (`tools show` and `accept` print it whole). */
const HASH_CHARS = 12;

/** `mcp-gateway tools changes|show|accept|pins`, through the admin API. */
export async function run(input: CommandInput): Promise<string | undefined> {
  const { command, words, values, need } = input;
  switch (command) {
    case "changes": {
      const query = listQuery(values);
      if (values.server === undefined) {
        const { servers } = await adminRequest(input.admin(), ServerChangesSchema, "GET", `/tools/changes?${query}`);
        return values.json ? JSON.stringify({ servers }, null, 2) : formatChanges(servers);
      }
      const page = await adminRequest(input.admin(), ChangesPageSchema, "GET", `/tools/changes?${query}`);
      return values.json ? JSON.stringify(page, null, 2) : formatChanges([{ server: page.server, changes: page.changes, more: page.next !== null }]);
    }
    case "show": {
      const name = need(words[0], "NAME");
      const change = await findChange(input.admin(), name, values.server);
      return values.json ? JSON.stringify(change, null, 2) : formatChange(change);
    }
    case "accept": {
      const name = need(words[0], "NAME");
      const hash = values.hash;
      if (hash !== undefined && !HASH_PATTERN.test(hash)) throw new UsageError(`--hash takes the change's SHA-256 as tools show prints it (64 lower-case hex characters), not "${printable(hash)}"`);
      const target = input.admin();
      const server = values.server ?? (await findChange(target, name, undefined)).server;
      const by = operator(values.by);
      const accepted = await acceptChange(target, server, name, { ...(hash !== undefined ? { hash } : {}), by });
      return values.json ? JSON.stringify(accepted, null, 2) : formatAccepted(server, accepted, by);
    }
    case "pins": {
      const query = listQuery(values);
      if (values.server === undefined) {
        const { servers } = await adminRequest(input.admin(), ServerPinsSchema, "GET", `/tools/pins?${query}`);
        return values.json ? JSON.stringify({ servers }, null, 2) : formatPins(servers);
      }
      const page = await adminRequest(input.admin(), PinsPageSchema, "GET", `/tools/pins?${query}`);
      return values.json ? JSON.stringify(page, null, 2) : formatPins([{ server: page.server, pins: page.pins, more: page.next !== null }]);
    }
    default:
      throw new UsageError(`unknown command: tools ${command ?? ""}`.trimEnd());
  }
}

/** The listings' query: --server, --limit (1 to 200) and --cursor (with --server only), checked before anything is sent. */
export function listQuery(values: Pick<Values, "server" | "limit" | "cursor">): URLSearchParams {
  const query = new URLSearchParams();
  if (values.server !== undefined) query.set("server", values.server);
  if (values.limit !== undefined) {
    const limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > MAX_TOOLS_PAGE) throw new UsageError(`--limit takes a number from 1 to ${MAX_TOOLS_PAGE}, not "${printable(values.limit)}"`);
    query.set("limit", String(limit));
  }
  if (values.cursor !== undefined) {
    if (values.server === undefined) throw new UsageError("--cursor continues one server's listing: give --server too");
    query.set("cursor", values.cursor);
  }
  return query;
}

const toolPath = (server: string, name: string) => `${encodeURIComponent(server)}/${encodeURIComponent(name)}`;

/**
 * A tool's change awaiting review: on --server's server, or, without one,
 * on whichever declared server has a change of that name (asked of each);
 * when several have one, the operator says which.
 */
async function findChange(target: AdminTarget, name: string, server: string | undefined): Promise<PendingChangeView> {
  if (server !== undefined) return adminRequest(target, PendingChangeSchema, "GET", `/tools/changes/${toolPath(server, name)}`);
  const { servers } = await adminRequest(target, ServerPinsSchema, "GET", "/tools/pins?limit=1");
  const found = await Promise.all(servers.map(({ server: each }) => adminRequest(target, PendingChangeSchema, "GET", `/tools/changes/${toolPath(each, name)}`).catch(notAwaiting)));
  const changes = found.filter((change) => change !== undefined);
  return chooseChange(name, servers.map((group) => group.server), changes);
}

/** A 404 of the admin API (no change of that tool there) is an answer; anything else is a failure. */
function notAwaiting(error: unknown): undefined {
  if (error instanceof AdminApiError && error.status === 404 && error.answer?.error === "not_found") return undefined;
  throw error;
}

/** The one change of `name` among the servers' (none or several: the operator is told what to do). */
export function chooseChange(name: string, servers: string[], changes: PendingChangeView[]): PendingChangeView {
  const [only, ...others] = changes;
  if (!only) throw new CliError(`no change of tool ${printable(name)} awaits review on ${servers.length === 1 ? "the gateway's server" : "any of the gateway's servers"} (${servers.map(printable).join(", ")}): mcp-gateway tools changes lists them`);
  if (others.length > 0) throw new UsageError(`tool ${printable(name)} awaits review on ${changes.map((change) => printable(change.server)).join(" and ")}: say which with --server`);
  return only;
}

async function acceptChange(target: AdminTarget, server: string, name: string, body: { hash?: string; by: string }): Promise<Accepted> {
  try {
    return await adminRequest(target, AcceptedSchema, "POST", `/tools/changes/${toolPath(server, name)}/accept`, body);
  } catch (error) {
    if (!(error instanceof AdminApiError)) throw error;
    const said = printable(error.answer?.message ?? error.message);
    if (error.status === 409) throw new CliError(`nothing accepted: ${said}\n  mcp-gateway tools show ${printable(name)} --server ${printable(server)} shows it as it is now`);
    if (error.status === 422) throw new CliError(`nothing accepted: ${said}`);
    throw error;
  }
}

/** Which pinned fields differ, in a few words: `description, inputSchema (+bcc, +notes)`. */
export function differences(change: PendingChangeView): string {
  if (change.definition === null) return `its definition (${change.bytes} bytes) is larger than the gateway keeps: it cannot be accepted`;
  if (change.pinned === null) return "a new tool (no pin)";
  const before = change.pinned.definition;
  if (before === undefined) return "its pinned definition was not sent";
  const fields = PINNED_FIELDS.filter((field) => !sameJson(before[field], change.definition![field]));
  if (fields.length === 0) return "nothing the gateway pins";
  return fields.map((field) => (field === "inputSchema" || field === "outputSchema" ? `${field}${argumentChanges(before[field], change.definition![field])}` : field)).join(", ");
}

/** Arguments added (+), removed (-) or changed (~) between two JSON Schemas' `properties`. */
function argumentChanges(before: unknown, after: unknown): string {
  const properties = (schema: unknown): Record<string, unknown> => {
    const value = typeof schema === "object" && schema !== null ? (schema as Record<string, unknown>).properties : undefined;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  };
  const [a, b] = [properties(before), properties(after)];
  const marks = [
    ...Object.keys(b).filter((key) => !Object.hasOwn(a, key)).map((key) => `+${key}`),
    ...Object.keys(a).filter((key) => !Object.hasOwn(b, key)).map((key) => `-${key}`),
    ...Object.keys(a).filter((key) => Object.hasOwn(b, key) && !sameJson(a[key], b[key])).map((key) => `~${key}`),
  ];
  return marks.length === 0 ? "" : ` (${glance(marks.slice(0, 10).join(", ") + (marks.length > 10 ? `, ${marks.length - 10} more` : ""), 120)})`;
}

const serverHead = (group: { server: string; default?: boolean }) => `${printable(group.server)}${group.default ? " (default)" : ""}`;

/** `tools changes`: per server, one line per tool awaiting review, and how to see more, review one and accept it. */
export function formatChanges(groups: ChangesGroup[]): string {
  const lines: string[] = [];
  for (const group of groups) {
    const count = group.more ? `${group.changes.length}+ changes` : plural(group.changes.length, "change");
    if (group.changes.length === 0) {
      lines.push(`${serverHead(group)}: no changes awaiting review`);
      continue;
    }
    lines.push(`${serverHead(group)}: ${count} awaiting review`);
    const rows = group.changes.map((change) => [
      glance(change.name, 48),
      change.kind,
      change.firstSeen,
      change.lastSeen,
      change.hash.slice(0, HASH_CHARS),
      differences(change),
    ]);
    lines.push(...columns([["TOOL", "KIND", "FIRST SEEN", "LAST SEEN", "HASH", "WHAT DIFFERS"], ...rows]).map((line) => `  ${line}`));
    const last = group.changes.at(-1);
    if (group.more && last) lines.push(`  more: mcp-gateway tools changes --server ${printable(group.server)} --cursor ${shellWord(last.name)}`);
  }
  if (groups.some((group) => group.changes.length > 0)) lines.push("review one: mcp-gateway tools show NAME --server S (it ends with the command that accepts it)");
  return lines.join("\n");
}

/** `tools show`: the change, field by field against its pin (the description as a text diff, the rest as JSON pointers), and the command that accepts exactly it. */
export function formatChange(change: PendingChangeView): string {
  const { pinned, definition } = change;
  const lines = [
    `${printable(change.name)} on ${printable(change.server)}: ${change.kind === "new" ? "a new tool (no pin)" : "its definition differs from its pin"}, awaiting review`,
    `  hash:       ${change.hash} (${change.bytes} bytes)`,
    `  seen:       ${change.firstSeen} to ${change.lastSeen}`,
  ];
  if (pinned) lines.push(`  pinned:     ${pinned.hash} (${pinned.source}, by ${printable(pinned.pinnedBy)} at ${pinned.pinnedAt})`);
  if (definition === null) {
    lines.push(`  its definition is larger than the gateway keeps: it stays refused and cannot be accepted`);
    return lines.join("\n");
  }
  if (pinned === null || pinned.definition === undefined) {
    lines.push("  definition:", ...indent(JSON.stringify(definition, null, 2), "    "));
  } else {
    for (const field of PINNED_FIELDS) {
      const before = pinned.definition[field];
      const after = definition[field];
      if (sameJson(before, after)) continue;
      lines.push(`  ${field}:`, ...fieldDiff(before, after));
    }
  }
  lines.push(`accept it: mcp-gateway tools accept ${shellWord(change.name)} --server ${printable(change.server)} --hash ${change.hash}`);
  return lines.join("\n");
}

/** A text field (description, title) line by line; anything else as JSON pointers, `+` added, `-` removed, `~` changed. */
function fieldDiff(before: unknown, after: unknown): string[] {
  if ((typeof before === "string" || before === undefined) && (typeof after === "string" || after === undefined) && (before ?? after) !== undefined) {
    const diff = diffText(before ?? "", after ?? "");
    return foldUnchanged(diff.lines).map((line) => (line.kind === "skipped" ? `      … ${plural(line.count, "unchanged line")}` : `    ${line.kind === "added" ? "+" : line.kind === "removed" ? "-" : " "} ${printable(line.text)}`));
  }
  const { entries, more } = diffJson(before, after);
  const shown = (value: unknown) => (value === undefined ? "(absent)" : printable(JSON.stringify(value)));
  const lines = entries.map((entry) => {
    const path = printable(entry.path || "(whole)");
    if (entry.kind === "added") return `    + ${path}: ${shown(entry.after)}`;
    if (entry.kind === "removed") return `    - ${path}: ${shown(entry.before)}`;
    return `    ~ ${path}: ${shown(entry.before)} → ${shown(entry.after)}`;
  });
  if (more > 0) lines.push(`    … and ${more} more`);
  return lines;
}

/** `tools accept`: what is pinned now and what it replaced. */
export function formatAccepted(server: string, accepted: Accepted, by: string): string {
  const { pin, previous } = accepted;
  return [
    `accepted ${printable(pin.name)} on ${printable(server)}, recorded as by ${printable(by)}: agents see it again as now served, and its calls are checked against it`,
    `  pinned:   ${pin.hash}`,
    `  replaces: ${previous ? `${previous.hash} (${previous.source})` : "nothing (it was a new tool)"}`,
  ].join("\n");
}

/** `tools pins`: per server, one line per pinned tool, and how to see more. */
export function formatPins(groups: PinsGroup[]): string {
  const lines: string[] = [];
  for (const group of groups) {
    if (group.pins.length === 0) {
      lines.push(`${serverHead(group)}: no pins yet (a server without a catalog is pinned on its first complete tool list)`);
      continue;
    }
    lines.push(`${serverHead(group)}:`);
    const rows = group.pins.map((pin) => [glance(pin.name, 48), pin.source, glance(pin.pinnedBy, 40), pin.pinnedAt, pin.hash.slice(0, HASH_CHARS)]);
    lines.push(...columns([["TOOL", "SOURCE", "PINNED BY", "PINNED AT", "HASH"], ...rows]).map((line) => `  ${line}`));
    const last = group.pins.at(-1);
    if (group.more && last) lines.push(`  more: mcp-gateway tools pins --server ${printable(group.server)} --cursor ${shellWord(last.name)}`);
  }
  return lines.join("\n");
}

/** A tool name as a shell word: as is when it is plain, else single-quoted (a server chooses its tools' names). */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_.:@%+=,-]+$/.test(text) ? text : `'${printable(text).replaceAll("'", "'\\''")}'`;
}

function indent(text: string, prefix: string): string[] {
  return text.split("\n").map((line) => `${prefix}${printable(line)}`);
}
