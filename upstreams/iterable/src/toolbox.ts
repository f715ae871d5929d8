import { generatePrompts } from "@iterable/mcp/dist/prompts.js";
import { filterTools } from "@iterable/mcp/dist/tool-filter.js";
import type { CallToolResult, Prompt, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { IterableConfig } from "./config.ts";
import { createIterableTools } from "./iterable-tools.ts";

/** A tool as the package builds it: its listing plus the handler that runs it. */
export type IterableTool = Tool & { handler?: (args: Record<string, unknown>) => Promise<CallToolResult> };

/** What one configuration of the server offers: the tools and prompts it lists, by name for calls. */
export type Toolbox = {
  tools: IterableTool[];
  toolsByName: ReadonlyMap<string, IterableTool>;
  prompts: Prompt[];
  promptNames: ReadonlySet<string>;
};

/**
 * The package's tools are created once per isolate, on its first MCP request
 * (this module is loaded then, see index.ts):
 * - creating them builds every tool's schema, the Worker's largest cost,
 *   which Cloudflare would cap if it ran in the Worker's global scope;
 * - a second `createAllTools` in the same process lists some schemas
 *   differently (`partial_update_catalog_items`, `replace_catalog_items`
 *   gain a nested description), so only the first matches the stdio server.
 * A failure is kept too: building again could not give the first list.
 */
let allTools: Promise<IterableTool[]> | undefined;

/** One filtered view per combination of the three flags, so a request allocates nothing. */
const views = new Map<string, Toolbox>();

export async function toolboxFor(config: IterableConfig): Promise<Toolbox> {
  allTools ??= Promise.resolve().then(createIterableTools);
  const tools = await allTools;
  const key = `${config.allowUserPii}/${config.allowWrites}/${config.allowSends}`;
  let view = views.get(key);
  if (view === undefined) {
    view = toolboxOf(tools, config);
    views.set(key, view);
  }
  return view;
}

/** As `IterableMcpServer.run` does: tools filtered by the flags, prompts only for the tools that read. */
function toolboxOf(all: IterableTool[], config: IterableConfig): Toolbox {
  const tools = filterTools(all, config) as IterableTool[];
  const prompts = generatePrompts(filterTools(all, { ...config, allowWrites: false, allowSends: false }));
  return {
    tools,
    toolsByName: new Map(tools.map((tool) => [tool.name, tool])),
    prompts,
    promptNames: new Set(prompts.map((prompt) => prompt.name)),
  };
}
