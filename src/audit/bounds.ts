import { clip } from "../text/clip.ts";
import type { AdminRecord, AuditRecord, CallRecord } from "./record.ts";

/**
 * What one record may hold, whatever an agent or an OAuth client sent: every
 * string they control is clipped, argument keys are capped, and a record
 * keeps full arguments only while it stays under RECORD_MAX_BYTES. So a
 * record costs at most that in storage, in the log, and in every page or
 * export that carries it.
 */
export const RECORD_MAX_BYTES = 64 * 1024;
/** An identifier-like field an agent or client chose: a label, a session, a client id, a request id. */
export const RECORD_FIELD_CHARS = 256;
/** A reason (it may quote the policy's own reason text). */
export const RECORD_REASON_CHARS = 2048;
/** Argument keys a record lists, and the characters of each. */
export const RECORD_ARGUMENT_KEYS = 100;
const KEY_CHARS = 128;
/** A string inside an operator action's detail (a note, an app's name). */
const DETAIL_CHARS = 2048;
/** The start of arguments too large to keep whole. */
const ARGUMENTS_PREVIEW_CHARS = 1024;

const field = (text: string) => clip(text, RECORD_FIELD_CHARS);

/** The record within its bounds (the same object when nothing had to change is not promised). */
export function boundedRecord(record: AuditRecord): AuditRecord {
  return record.kind === "call" ? boundedCall(record) : boundedAdmin(record);
}

function boundedCall(record: CallRecord): CallRecord {
  const keys = record.argumentKeys.length > RECORD_ARGUMENT_KEYS || record.argumentKeys.some((key) => key.length > KEY_CHARS);
  const bounded: CallRecord = {
    ...record,
    requestId: typeof record.requestId === "string" ? field(record.requestId) : record.requestId,
    grant: { id: record.grant.id, label: field(record.grant.label) },
    ...(record.oauthClientId === undefined ? {} : { oauthClientId: field(record.oauthClientId) }),
    session: record.session === null ? null : field(record.session),
    tool: field(record.tool),
    rule: field(record.rule),
    reason: record.reason === null ? null : clip(record.reason, RECORD_REASON_CHARS),
    policy: { name: field(record.policy.name), version: record.policy.version === null ? null : field(record.policy.version) },
    argumentKeys: keys ? record.argumentKeys.slice(0, RECORD_ARGUMENT_KEYS).map((key) => clip(key, KEY_CHARS)) : record.argumentKeys,
    ...(keys ? { argumentKeyCount: record.argumentKeys.length } : {}),
    argumentsHash: field(record.argumentsHash),
  };
  if (bounded.arguments === undefined) return bounded;
  // Everything else is bounded above; the arguments are kept whole only while the record fits.
  const { arguments: whole, ...rest } = bounded;
  const args = JSON.stringify(whole);
  const argsBytes = utf8Bytes(args);
  if (utf8Bytes(JSON.stringify(rest)) + argsBytes <= RECORD_MAX_BYTES) return bounded;
  return { ...rest, argumentsPreview: clip(args, ARGUMENTS_PREVIEW_CHARS), argumentsBytes: argsBytes };
}

const encoder = new TextEncoder();
const utf8Bytes = (text: string) => encoder.encode(text).byteLength;

function boundedAdmin(record: AdminRecord): AdminRecord {
  return {
    ...record,
    grant: record.grant === null ? null : { id: field(record.grant.id), label: field(record.grant.label) },
    by: field(record.by),
    target: field(record.target),
    detail: boundedDetail(record.detail),
  };
}

/** An operator action's detail: strings clipped, at most 50 members, nothing nested deeper than it was written. */
function boundedDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const clipped = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return clip(value, DETAIL_CHARS);
    if (value === null || typeof value !== "object" || depth > 4) return typeof value === "object" && value !== null ? "…" : value;
    if (Array.isArray(value)) return value.slice(0, 50).map((item) => clipped(item, depth + 1));
    return Object.fromEntries(Object.entries(value).slice(0, 50).map(([key, item]) => [clip(key, KEY_CHARS), clipped(item, depth + 1)]));
  };
  return clipped(detail, 0) as Record<string, unknown>;
}
