/**
 * The package's 118 tools, bound to one Iterable API client. Loading this
 * module and calling createIterableTools are the Worker's expensive steps
 * (every tool's zod schema and its JSON Schema): both happen on an isolate's
 * first MCP request, see index.ts and toolbox.ts.
 */
import { DEFAULT_USER_AGENT, IterableClient } from "@iterable/api";
import { HEADER_CLIENT, HEADER_SESSION_ID, HEADER_TOOL, HEADER_USER_AGENT } from "@iterable/mcp/dist/http-headers.js";
import { createAllTools } from "@iterable/mcp/dist/tools/index.js";
import mcpPackage from "@iterable/mcp/package.json";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { currentCall } from "./call-context.ts";
import { DEFAULT_BASE_URL } from "./config.ts";

/**
 * Every tool of the package, unfiltered. The client is created without a key:
 * each request to Iterable takes the key and base URL of the call it belongs
 * to (so one isolate can serve any configuration), and one made outside a
 * call is refused before it leaves.
 */
export function createIterableTools(): Tool[] {
  const client = new IterableClient({ apiKey: "", baseUrl: DEFAULT_BASE_URL });
  client.client.interceptors.request.use((request) => {
    const call = currentCall();
    if (call === undefined) throw new Error("Iterable API request outside a tool call: refused");
    const { config, identity, toolName } = call;
    request.baseURL = config.baseUrl;
    // The headers `IterableMcpServer` adds to every request, built the same way (server.js, setupHttpInterceptors).
    const userAgent = [
      `iterable-mcp/${mcpPackage.version}`,
      DEFAULT_USER_AGENT,
      `(node=${process.versions.node}; os=${process.platform}; client=${identity.clientName})`,
    ].join(" ");
    request.headers.set("Api-Key", config.apiKey);
    request.headers.set(HEADER_CLIENT, identity.clientName);
    request.headers.set(HEADER_SESSION_ID, identity.sessionId);
    request.headers.set(HEADER_TOOL, toolName);
    request.headers.set(HEADER_USER_AGENT, userAgent);
    return request;
  });
  return createAllTools(client);
}
