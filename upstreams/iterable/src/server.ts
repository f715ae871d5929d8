import mcpPackage from "@iterable/mcp/package.json";
import { generatePromptMessage } from "@iterable/mcp/dist/prompts.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import { runInCall } from "./call-context.ts";
import type { ClientIdentity } from "./client-session.ts";
import type { IterableConfig } from "./config.ts";
import type { Toolbox } from "./toolbox.ts";

/**
 * A server as `IterableMcpServer` is (server.js): the same name, version,
 * capabilities and handlers, with the same answers for unknown tools and
 * prompts and for failing tools. Not that class itself: its constructor
 * registers process signal and error listeners for every instance, and here
 * a new server answers every request.
 */
export function createIterableServer(): Server {
  return new Server({ name: "iterable-mcp", version: mcpPackage.version }, { capabilities: { tools: {}, prompts: {} } });
}

/** Who is calling and with which settings: what the tools need to call Iterable for this request. */
export type RequestScope = { toolbox: Toolbox; config: IterableConfig; identity: ClientIdentity };

export function serveIterable(server: Server, { toolbox, config, identity }: RequestScope): void {
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: toolbox.tools }));
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: toolbox.prompts }));

  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const { name, arguments: args } = request.params;
    if (!toolbox.promptNames.has(name)) throw new McpError(ErrorCode.InvalidRequest, `Unknown prompt: ${name}`);
    return generatePromptMessage(name, args || {});
  });

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args } = request.params;
    const tool = toolbox.toolsByName.get(name);
    if (!tool || typeof tool.handler !== "function") throw new McpError(ErrorCode.MethodNotFound, `Unknown tool: ${name}`);
    const { handler } = tool;
    try {
      return await runInCall({ config, identity, toolName: name }, () => handler(args || {}));
    } catch (error) {
      if (error instanceof McpError) throw error;
      throw new McpError(ErrorCode.InternalError, `Error executing tool ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}
