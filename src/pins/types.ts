import type { ToolDefinition } from "./definition.ts";

/** Where a pin came from. */
export type PinSource =
  /** The shipped catalog's definition of the package version this project depends on (Iterable). */
  | "catalog"
  /** The first definition the gateway saw of a server without a catalog (trust on first use). */
  | "first_use"
  /** An operator reviewed a change and accepted it. */
  | "accepted";

/** What every isolate needs to judge a tool: each pinned tool's hash, and whether the server's first use is over. */
export type PinSnapshot = {
  /** Bumped by every change to the pins or to the changes awaiting review. */
  version: number;
  /**
   * False until the server's pins exist: for a server without a catalog,
   * until the gateway has seen its first complete tool list. Until then a
   * tool without a pin is trusted (and pinned when reported).
   */
  seeded: boolean;
  /** [name, hash] of every pinned tool. */
  pins: Array<[string, string]>;
};

/** A tool as an isolate reports it: its definition's canonical text and hash. */
export type ObservedTool = { name: string; hash: string; definition: string };

export type Observation = {
  server: string;
  /** Tools whose hash differs from their pin, or that have none. */
  tools: ObservedTool[];
  /** Tools seen matching their pin: a change awaiting review for one of them is over (the server went back). */
  matching: string[];
  /** Whether `tools` and `matching` together are the server's complete list (all pages). */
  complete: boolean;
  /** Where an operator reviews changes (for the webhook's link). */
  reviewUrl: string;
};

export type ChangeKind = "changed" | "new";

/** A tool whose definition differs from its pin, or that has none, as an operator reviews it. */
export type PendingChange = {
  server: string;
  name: string;
  kind: ChangeKind;
  hash: string;
  /** The definition now served (null when it is larger than the gateway keeps: it can then not be accepted). */
  definition: ToolDefinition | null;
  /** Its canonical text's size, in bytes. */
  bytes: number;
  firstSeen: string;
  lastSeen: string;
  /** The pin it differs from; null for a new tool. */
  pinned: PinRecord | null;
};

/** One pin, with or without its definition. */
export type PinRecord = {
  name: string;
  hash: string;
  source: PinSource;
  pinnedBy: string;
  pinnedAt: string;
  definition?: ToolDefinition;
};

export type ChangesQuery = { limit: number; after?: string | undefined };
export type ChangesPage = { changes: PendingChange[]; next: string | null };
export type PinsPage = { pins: PinRecord[]; next: string | null };

export type AcceptRequest = {
  server: string;
  name: string;
  /** The hash the operator reviewed: when the tool changed again since, nothing is accepted. */
  hash?: string | undefined;
  by: string;
};

export type AcceptOutcome =
  | { ok: true; pin: PinRecord; previous: { hash: string; source: PinSource } | null }
  | { ok: false; reason: "not_found" | "stale" | "too_large"; message: string };

/** A listed tool as the pins judge it: its name and its definition's hash and canonical text. */
export type PinnedTool = { name: string; hash: string; definition: string };

/** Hands what a tool list showed to the server's pins, off the agent's path (reporter.ts). */
export type PinReporter = (tools: PinnedTool[], complete: boolean) => void;
