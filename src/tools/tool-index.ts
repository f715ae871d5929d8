import { Validator, type Schema } from "@cfworker/json-schema";
import { describeProblems, type ArgumentProblem } from "./argument-problems.ts";
import { toolTags, type Tagger } from "./catalog.ts";
import { canonicalDefinition, definitionOf, hashText } from "../pins/definition.ts";
import type { MessageSummary } from "../mcp/json-scan.ts";

/**
 * A tool as the upstream listed it, read leniently: a valid JSON Schema the
 * SDK's stricter Tool schema rejects must not stop the gateway from knowing
 * (and filtering) the tool. Only the name is required.
 */
export type ListedTool = { name: string; annotations?: unknown; inputSchema?: unknown; [field: string]: unknown };

export type ToolInfo = {
  name: string;
  tags: ReadonlySet<string>;
  /** SHA-256 of its pinned fields' canonical text (src/pins/definition.ts), and that text. */
  hash: string;
  definition: string;
  /** Undefined when the arguments fit the tool's inputSchema, else what is wrong (with and without their values). */
  validate: (args: Record<string, unknown>) => ArgumentProblem | undefined;
};

/** The tools of a tools/list result, or undefined when `tools` is not a list; entries without a name are dropped. */
export function readListedTools(tools: unknown): ListedTool[] | undefined {
  if (!Array.isArray(tools)) return undefined;
  return tools.filter(
    (tool): tool is ListedTool => typeof tool === "object" && tool !== null && typeof (tool as { name?: unknown }).name === "string",
  );
}

/** What the policy reads of a tool's annotations: only booleans count. */
export function annotationsOf(tool: ListedTool): { readOnlyHint?: boolean; destructiveHint?: boolean } {
  const annotations = tool.annotations;
  if (typeof annotations !== "object" || annotations === null) return {};
  const { readOnlyHint, destructiveHint } = annotations as Record<string, unknown>;
  return {
    ...(typeof readOnlyHint === "boolean" ? { readOnlyHint } : {}),
    ...(typeof destructiveHint === "boolean" ? { destructiveHint } : {}),
  };
}

// @cfworker/json-schema interprets schemas without generating code, which
// Workers forbid (no eval / new Function). It stops at the first failing
// keyword (short-circuit): reporting every error costs time and memory in
// proportion to what the agent sent (600 ms for 50,000 wrong array items,
// and a stack overflow past a few hundred thousand).
const DRAFT = "2020-12";
const SHORT_CIRCUIT = true;

/** What filtering a tools/list answer made: its output (undefined: unchanged), the tools it recorded, and whether it was the whole list. */
type Filtered = { output: string | undefined; infos: ToolInfo[]; complete: boolean };
/** A filtered answer kept for reuse: its text and output without the id, and the answer's summary (its id is the request's). */
type KeptAnswer = Filtered & { input: string; summary: MessageSummary };

type Entry = { info: ToolInfo; recordedAt: number };

/**
 * The upstream's tools as it last advertised them in `tools/list`: their tags
 * (catalog and annotations) and argument validators. Filled from every
 * `tools/list` answer the gateway relays, so judging a call costs no extra
 * upstream request once an agent has listed tools in this isolate. Every
 * entry, and the knowledge that a tool does not exist, expires after the TTL,
 * so changed annotations or schemas are picked up.
 */
export class ToolIndex {
  #tools = new Map<string, Entry>();
  /** Filtered answers by view, for reuseAnswer. */
  #answers = new Map<string, KeptAnswer>();
  /** When the complete list (all pages) was last recorded. */
  #listedAt = Number.NEGATIVE_INFINITY;
  #ttlMs: number;
  #tags: Tagger;

  /** `tags`: the tags of this server's tools (the Iterable catalog, or the tools' own annotations). */
  constructor(ttlMs: number, tags: Tagger = toolTags) {
    this.#ttlMs = ttlMs;
    this.#tags = tags;
  }

  /** Records one page of a `tools/list` answer; what is known of each of its tools, in order. */
  record(tools: ListedTool[], now = Date.now()): ToolInfo[] {
    return tools.map((tool) => {
      const info = describe(tool, this.#tags);
      this.#tools.set(tool.name, { info, recordedAt: now });
      return info;
    });
  }

  /** Replaces everything with a complete list (all pages). */
  replace(tools: ListedTool[], now = Date.now()): ToolInfo[] {
    this.#tools = new Map();
    const infos = this.record(tools, now);
    this.#listedAt = now;
    return infos;
  }

  /**
   * A filtered answer made earlier from the same upstream answer for the same
   * view (`viewKey`), its request id put back; undefined when there is none.
   * The answer's text must be the same but for its id, which must end it as
   * `,"id":<id>}` (how MCP SDKs write it). Reusing it records its tools again,
   * as filtering it anew would.
   */
  reuseAnswer(viewKey: string, data: string, requestId: string | number, now = Date.now()): (Filtered & { summary: MessageSummary }) | undefined {
    const suffix = idSuffix(requestId);
    const entry = this.#answers.get(viewKey);
    if (!entry || entry.input.length !== data.length - suffix.length || !data.endsWith(suffix) || data.slice(0, -suffix.length) !== entry.input) return undefined;
    this.#recordInfos(entry, now);
    const output = entry.output === undefined ? undefined : entry.output + suffix;
    return { output, infos: entry.infos, complete: entry.complete, summary: { ...entry.summary, id: requestId } };
  }

  /**
   * Keeps a filtered answer for reuseAnswer (small ones only: a view's last,
   * for at most MAX_VIEWS views); `output` undefined: the answer passed unchanged.
   */
  keepAnswer(viewKey: string, data: string, requestId: string | number, { output, infos, complete, summary }: Filtered & { summary: MessageSummary }): void {
    const suffix = idSuffix(requestId);
    if (data.length > MAX_KEPT_ANSWER_CHARS || !data.endsWith(suffix) || (output !== undefined && !output.endsWith(suffix))) return;
    if (!this.#answers.has(viewKey) && this.#answers.size >= MAX_VIEWS) this.#answers.delete(this.#answers.keys().next().value!);
    this.#answers.set(viewKey, { input: data.slice(0, -suffix.length), output: output?.slice(0, -suffix.length), infos, complete, summary });
  }

  #recordInfos({ infos, complete }: KeptAnswer, now: number): void {
    if (complete) this.#tools = new Map();
    for (const info of infos) this.#tools.set(info.name, { info, recordedAt: now });
    if (complete) this.#listedAt = now;
  }

  /** Every tool of the complete list, when it is fresh. */
  tools(now = Date.now()): ToolInfo[] | undefined {
    return now - this.#listedAt < this.#ttlMs ? [...this.#tools.values()].map((entry) => entry.info) : undefined;
  }

  /** Marks everything stale (the server said its tools changed): the next call lists them again. */
  invalidate(): void {
    this.#listedAt = Number.NEGATIVE_INFINITY;
    for (const entry of this.#tools.values()) entry.recordedAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * Loads the complete list. Calls that find the index stale together each
   * fetch it: workerd cancels a request that awaits a promise settled by
   * another request's I/O, so a shared fetch would hang the others.
   */
  async load(fetchAll: () => Promise<ListedTool[]>): Promise<ToolInfo[]> {
    return this.replace(await fetchAll());
  }

  /** Every tool's name, when the complete list is fresh (undefined when it must be listed again). */
  names(now = Date.now()): string[] | undefined {
    return now - this.#listedAt < this.#ttlMs ? [...this.#tools.keys()] : undefined;
  }

  /**
   * What is known of a tool, and whether it can be trusted: a fresh entry, or
   * a fresh complete list without it (the tool does not exist).
   */
  lookup(name: string, now = Date.now()): { fresh: boolean; tool: ToolInfo | undefined } {
    const entry = this.#tools.get(name);
    if (entry) return { fresh: now - entry.recordedAt < this.#ttlMs, tool: entry.info };
    return { fresh: now - this.#listedAt < this.#ttlMs, tool: undefined };
  }
}

/** Views whose last filtered answer is kept, and the largest answer kept (larger lists are filtered every time). */
const MAX_VIEWS = 32;
const MAX_KEPT_ANSWER_CHARS = 1024 * 1024;

function idSuffix(requestId: string | number): string {
  return `,"id":${JSON.stringify(requestId)}}`;
}

const UNUSABLE_SCHEMA = "the tool's inputSchema, as the upstream advertised it, cannot be used to check the arguments";

/**
 * What is known of a listed tool. Its definition's canonical text and hash
 * are worked out when first asked for (pins judge it, or a report carries
 * it), not for every tool of every list: a policy with pinning off never pays
 * for them, and a list reused (reuseAnswer) keeps them. A class, so that the
 * lazy parts cost nothing per tool until asked for.
 */
class ListedToolInfo implements ToolInfo {
  readonly name: string;
  readonly tags: ReadonlySet<string>;
  #tool: ListedTool;
  #definition: string | undefined;
  #hash: string | undefined;
  #validate: ToolInfo["validate"] | undefined;

  constructor(tool: ListedTool, tags: Tagger) {
    this.name = tool.name;
    this.tags = tags(tool.name, annotationsOf(tool));
    this.#tool = tool;
  }

  get definition(): string {
    this.#definition ??= canonicalDefinition(definitionOf(this.#tool));
    return this.#definition;
  }

  get hash(): string {
    this.#hash ??= hashText(this.definition);
    return this.#hash;
  }

  validate(args: Record<string, unknown>): ArgumentProblem | undefined {
    this.#validate ??= validatorOf(this.#tool.name, this.#tool.inputSchema);
    return this.#validate(args);
  }
}

function describe(tool: ListedTool, tags: Tagger): ToolInfo {
  return new ListedToolInfo(tool, tags);
}

/** Checks arguments against an inputSchema (a listed tool's, or its pin's), compiled on first use. */
export function validatorOf(name: string, inputSchema: unknown): ToolInfo["validate"] {
  let validator: Validator | undefined;
  return (args) => {
      try {
        validator ??= new Validator((inputSchema ?? { type: "object" }) as Schema, DRAFT, SHORT_CIRCUIT);
        const result = validator.validate(args);
        return result.valid ? undefined : describeProblems(result.errors);
      } catch (error) {
        // Fail closed: arguments that cannot be checked are not forwarded.
        console.error("tool inputSchema unusable", { tool: name, error: String(error) });
        return { detail: UNUSABLE_SCHEMA, valueFree: UNUSABLE_SCHEMA };
      }
  };
}
