import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import type { ParsedBody } from "./message.ts";
import { isStateless, PROTOCOL_VERSION_META_KEY } from "./revision.ts";

/**
 * Which body field `Mcp-Name` mirrors, per method (2026-07-28 transport spec,
 * plus the tasks extension's `taskId`, as the SDK's own table has it).
 */
const MCP_NAME_SOURCE: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * Refuses a POST whose `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name`
 * headers disagree with its body (HTTP 400, JSON-RPC -32020). Intermediaries
 * route and log on these headers while the upstream executes the body, so a
 * disagreement is an attempt to make the two see different requests. On
 * stateless-revision requests the headers are also required.
 */
export function assertHeadersMatchBody(headers: Headers, body: ParsedBody): void {
  const methodHeader = headers.get("mcp-method");
  const nameHeader = headers.get("mcp-name");
  const versionHeader = headers.get("mcp-protocol-version");
  const [message] = body.messages;
  if (body.isBatch || !message || !("method" in message)) {
    if (methodHeader !== null || nameHeader !== null) {
      throw mismatch("Mcp-Method and Mcp-Name headers are only valid on a single request or notification");
    }
    return;
  }
  const isRequest = "id" in message;
  const params = paramsOf(message);
  const bodyVersion = params?._meta?.[PROTOCOL_VERSION_META_KEY];
  const stateless = isStateless(typeof bodyVersion === "string" ? bodyVersion : undefined) || isStateless(versionHeader ?? undefined);

  if (typeof bodyVersion === "string" && versionHeader !== null && versionHeader !== bodyVersion) {
    throw mismatch(`MCP-Protocol-Version header value '${versionHeader}' does not match body value '${bodyVersion}'`);
  }
  if (stateless && isRequest && versionHeader === null) throw mismatch("MCP-Protocol-Version header is required");

  if (methodHeader !== null) {
    if (methodHeader !== message.method) {
      throw mismatch(`Mcp-Method header value '${methodHeader}' does not match body value '${message.method}'`);
    }
  } else if (stateless && isRequest) {
    throw mismatch("Mcp-Method header is required");
  }

  const nameField = Object.hasOwn(MCP_NAME_SOURCE, message.method) ? MCP_NAME_SOURCE[message.method] : undefined;
  if (nameHeader !== null) {
    if (nameField === undefined) throw mismatch(`Mcp-Name header is not defined for method '${message.method}'`);
    const decoded = decodeHeaderValue(nameHeader, "Mcp-Name");
    const bodyName = params?.[nameField];
    if (decoded !== bodyName) {
      throw mismatch(`Mcp-Name header value '${decoded}' does not match body value '${String(bodyName)}'`);
    }
  } else if (stateless && isRequest && nameField !== undefined) {
    throw mismatch("Mcp-Name header is required");
  }
}

/**
 * Decodes the `=?base64?…?=` sentinel the spec uses for values that are not
 * plain header-safe ASCII.
 */
export function decodeHeaderValue(value: string, header: string): string {
  const sentinel = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(value);
  if (!sentinel) {
    if (!/^[\x20-\x7e\t]*$/.test(value)) throw mismatch(`${header} header contains invalid characters`);
    return value;
  }
  try {
    const bytes = Uint8Array.from(atob(sentinel[1] ?? ""), (char) => char.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw mismatch(`${header} header has an invalid base64 value`);
  }
}

type Params = { _meta?: Record<string, unknown>; [key: string]: unknown };

function paramsOf(message: JSONRPCMessage): Params | undefined {
  const params = "params" in message ? message.params : undefined;
  return params && typeof params === "object" && !Array.isArray(params) ? (params as Params) : undefined;
}

function mismatch(detail: string): GatewayError {
  return new GatewayError(400, GatewayErrorCode.HeaderMismatch, `Header mismatch: ${detail}`);
}
