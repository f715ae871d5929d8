import { z } from "zod";
import { HASH_PATTERN } from "../../pins/definition.ts";

/**
 * Tool pinning as the admin API answers it and the CLI reads it: the changes
 * awaiting review, the pins, an acceptance. Plain zod and types only, so the
 * CLI (Node) reads the same shapes the Worker declares.
 */

/** A page of changes or pins holds at most this many (src/pins/service.ts MAX_PAGE). */
export const MAX_TOOLS_PAGE = 200;
/** A tool name as the API takes it back (a server may list names longer than the MCP specification's 128). */
export const MAX_TOOL_NAME_CHARS = 1024;
const TOOL_NAME = z.string().min(1).max(MAX_TOOL_NAME_CHARS);

export const HashSchema = z.string().regex(HASH_PATTERN, "a SHA-256, 64 lower-case hex characters");

/** A tool's pinned fields (name, title, description, inputSchema, outputSchema, annotations) as its server served them. */
export const ToolDefinitionSchema = z.looseObject({ name: z.string() });

export const PinSourceSchema = z.enum(["catalog", "first_use", "accepted"]);

export const PinRecordSchema = z.object({
  name: z.string(),
  hash: z.string(),
  /** catalog: the shipped Iterable definitions; first_use: the first the gateway saw; accepted: an operator accepted a change. */
  source: PinSourceSchema,
  pinnedBy: z.string(),
  pinnedAt: z.iso.datetime(),
  /** Present when one pin is read, absent in a listing. */
  definition: ToolDefinitionSchema.optional(),
});

export const PendingChangeSchema = z.object({
  server: z.string(),
  name: z.string(),
  /** changed: it differs from its pin; new: it has none. */
  kind: z.enum(["changed", "new"]),
  hash: z.string(),
  /** The definition now served; null when it is larger than the gateway keeps (it cannot be accepted then). */
  definition: ToolDefinitionSchema.nullable(),
  bytes: z.number().int(),
  firstSeen: z.iso.datetime(),
  lastSeen: z.iso.datetime(),
  /** The pin it differs from, with its definition; null for a new tool. */
  pinned: PinRecordSchema.nullable(),
});

/** One server's page of changes, and where the next starts (a tool name; null when there is none). */
export const ChangesPageSchema = z.object({ server: z.string(), changes: z.array(PendingChangeSchema), next: z.string().nullable() });
/** Every declared server's first page of changes, the default server first. */
export const ServerChangesSchema = z.object({
  servers: z.array(z.object({ server: z.string(), default: z.boolean(), changes: z.array(PendingChangeSchema), more: z.boolean() })),
});

export const PinsPageSchema = z.object({ server: z.string(), pins: z.array(PinRecordSchema), next: z.string().nullable() });
export const ServerPinsSchema = z.object({
  servers: z.array(z.object({ server: z.string(), default: z.boolean(), pins: z.array(PinRecordSchema), more: z.boolean() })),
});

export const AcceptedSchema = z.object({
  /** The new pin, with the definition now served. */
  pin: PinRecordSchema,
  /** The pin it replaced; null for a tool that had none. */
  previous: z.object({ hash: z.string(), source: PinSourceSchema }).nullable(),
});

export const AcceptInputSchema = z.strictObject({
  /** The hash the operator reviewed: when the tool changed again since, nothing is accepted (409). */
  hash: HashSchema.optional(),
});

export const ToolListQuerySchema = z.object({
  /** One declared server; without it, every server's first page. */
  server: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_TOOLS_PAGE).default(50),
  /** The `next` of the previous page (with `server` only). */
  cursor: TOOL_NAME.optional(),
});

export type PendingChangeView = z.infer<typeof PendingChangeSchema>;
export type PinRecordView = z.infer<typeof PinRecordSchema>;
