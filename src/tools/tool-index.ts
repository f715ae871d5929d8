import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import type { JsonSchemaType, JsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { toolTags } from "./catalog.ts";

export type ToolInfo = {
  name: string;
  tags: ReadonlySet<string>;
  /** Undefined when the arguments fit the tool's inputSchema, else what is wrong. */
  validate: (args: Record<string, unknown>) => string | undefined;
};

// @cfworker/json-schema interprets schemas without generating code, which
// Workers forbid (no eval / new Function).
const validators = new CfWorkerJsonSchemaValidator({ shortcircuit: false });

/**
 * The upstream's tools as it last advertised them in `tools/list`: their tags
 * (catalog and annotations) and argument validators. Filled from every
 * `tools/list` answer the gateway relays, so judging a call costs no extra
 * upstream request once an agent has listed tools in this isolate.
 */
export class ToolIndex {
  #tools = new Map<string, ToolInfo>();
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #ttlMs: number;
  #loading: Promise<void> | undefined;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** Records one page of a `tools/list` answer. */
  record(tools: Tool[], now = Date.now()): void {
    for (const tool of tools) this.#tools.set(tool.name, describe(tool));
    this.#refreshedAt = now;
  }

  /** Replaces everything with a complete list (all pages). */
  replace(tools: Tool[], now = Date.now()): void {
    this.#tools.clear();
    this.record(tools, now);
  }

  /** Loads the complete list once, however many calls are waiting for it. */
  async load(fetchAll: () => Promise<Tool[]>): Promise<void> {
    this.#loading ??= fetchAll()
      .then((tools) => this.replace(tools))
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  isFresh(now = Date.now()): boolean {
    return now - this.#refreshedAt < this.#ttlMs;
  }

  get(name: string): ToolInfo | undefined {
    return this.#tools.get(name);
  }
}

function describe(tool: Tool): ToolInfo {
  let validator: JsonSchemaValidator<unknown> | undefined;
  return {
    name: tool.name,
    tags: toolTags(tool.name, tool.annotations),
    validate(args) {
      validator ??= validators.getValidator(tool.inputSchema as JsonSchemaType);
      const result = validator(args);
      return result.valid ? undefined : result.errorMessage;
    },
  };
}
