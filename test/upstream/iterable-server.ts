import { generatePromptMessage } from "@iterable/mcp/dist/prompts.js";
import {
  type GetPromptResult,
  type JsonSchemaType,
  type Prompt,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type Tool,
} from "@modelcontextprotocol/server";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/server/validators/cf-worker";

import { fakeIterableResult } from "./iterable-fake-data.ts";
import promptsSnapshot from "./iterable-prompts.json";
import toolsSnapshot from "./iterable-tools.json";

/**
 * A stand-in for the real Iterable MCP server (`@iterable/mcp`, stdio, v1 SDK) with
 * the same advertised surface and the same error behaviour, minus the Iterable API.
 *
 * Like the real server it is built on the low-level `Server`, not `McpServer`:
 * - `tools/list` returns the snapshot's JSON Schemas verbatim (McpServer would
 *   re-derive them from a schema library and could normalise them);
 * - an unknown tool is a JSON-RPC error -32601 `Unknown tool: <name>`, and invalid
 *   arguments are -32602 `Validation error: …`, both thrown as protocol errors
 *   (McpServer would turn them into `isError` tool results).
 *
 * The surface comes from scripts/generate-iterable.mjs, which snapshots the real package.
 */

const SERVER_NAME = "iterable-mcp";

// The JSON modules' inferred types are structural guesses; the snapshots are wire
// data the generator wrote from the real server, so they are typed as such.
const TOOLS = toolsSnapshot.tools as unknown as Tool[];
const PROMPTS = promptsSnapshot.prompts as unknown as Prompt[];
const TOOLS_BY_NAME = new Map(TOOLS.map((tool) => [tool.name, tool]));
const PROMPT_NAMES = new Set(PROMPTS.map((prompt) => prompt.name));

// The same validator in workerd and in Node, so error texts do not depend on where
// the sandbox runs (the SDK's default is Ajv on Node, @cfworker/json-schema on workerd).
const validator = new CfWorkerJsonSchemaValidator();
const argumentCheckers = new Map<string, ReturnType<typeof validator.getValidator>>();

/** A fresh instance per serving unit (one request, or one legacy session), as the SDK requires. */
export function buildIterableServer(): Server {
  const server = new Server(
    { name: SERVER_NAME, version: toolsSnapshot.version },
    { capabilities: { tools: {}, prompts: {} } },
  );

  server.setRequestHandler("tools/list", () => ({ tools: TOOLS }));
  server.setRequestHandler("prompts/list", () => ({ prompts: PROMPTS }));

  server.setRequestHandler("prompts/get", (request) => {
    const { name, arguments: args } = request.params;
    if (!PROMPT_NAMES.has(name)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Unknown prompt: ${name}`);
    }
    // The real package's own function, so the instruction text is byte-identical.
    return generatePromptMessage(name, args ?? {}) as GetPromptResult;
  });

  server.setRequestHandler("tools/call", (request) => {
    const { name, arguments: args = {} } = request.params;
    const tool = TOOLS_BY_NAME.get(name);
    if (tool === undefined) {
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Unknown tool: ${name}`);
    }
    const problem = validationProblem(tool, args);
    if (problem !== undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Validation error: ${problem}`);
    }
    // The real server answers every call with the API response as pretty JSON text.
    return { content: [{ type: "text", text: JSON.stringify(fakeIterableResult(name, args), null, 2) }] };
  });

  return server;
}

/** `undefined` when `args` satisfy the tool's input schema, else a zod-like "path: message". */
function validationProblem(tool: Tool, args: Record<string, unknown>): string | undefined {
  let check = argumentCheckers.get(tool.name);
  if (check === undefined) {
    check = validator.getValidator(tool.inputSchema as JsonSchemaType);
    argumentCheckers.set(tool.name, check);
  }
  const result = check(args);
  return result.valid ? undefined : leafProblem(result.errorMessage ?? "invalid arguments");
}

/**
 * The validator reports the whole chain from the root ("#: Property "x" does not
 * match schema.; #/x: …"); the last entry is the cause. Rewrite its JSON pointer as
 * a dotted path the way the real server's zod messages read (`sort.field: …`).
 */
function leafProblem(errorMessage: string): string {
  const leaf = errorMessage.split("; #").at(-1) ?? errorMessage;
  const match = /^#?\/?([^:]*): (.*)$/s.exec(leaf);
  if (match === null) return leaf;
  const [, pointer = "", message = ""] = match;
  const path = pointer.split("/").filter((part) => part.length > 0);
  const missing = /required property "([^"]+)"/.exec(message);
  if (missing !== null) return `${[...path, missing[1]].join(".")}: Required`;
  return `${path.length > 0 ? path.join(".") : "(root)"}: ${message}`;
}
