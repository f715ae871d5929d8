import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, isJSONRPCMessage } from "./jsonrpc.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import { readBodyWithin } from "../http/body.ts";
import { firstChangedNumber, type ChangedNumber, type PathStep } from "./number-literals.ts";

declare global {
  interface String {
    /** ES2024 (the project's lib is ES2023): false when the string holds a lone surrogate. */
    isWellFormed(): boolean;
  }
}

/** A POST body after it was read once, parsed and validated. */
export type ParsedBody = {
  /** The message(s), exactly as parsed: what the gateway judges is what it forwards. */
  messages: JSONRPCMessage[];
  /** 2025-03-26 allowed a JSON array of messages; it is forwarded as an array again. */
  isBatch: boolean;
};

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads a POST body up to `maxBytes`, then parses and validates it with the
 * MCP SDK's JSON-RPC schema. Counting bytes as they stream in (not trusting
 * Content-Length alone) keeps an oversized body from being buffered whole.
 */
export async function readJsonRpcBody(request: Request, maxBytes: number): Promise<ParsedBody> {
  const text = await readTextWithin(request, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GatewayError(400, ErrorCode.ParseError, "Parse error: body is not valid JSON", String(error));
  }
  const isBatch = Array.isArray(json);
  const candidates: unknown[] = isBatch ? (json as unknown[]) : [json];
  if (candidates.length === 0) {
    throw new GatewayError(400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
  }
  const changed = firstChangedNumber(text);
  const messages = candidates.map((candidate, index) => {
    const where = isBatch ? ` (batch element ${index})` : "";
    if (!isJSONRPCMessage(candidate)) {
      throw new GatewayError(400, ErrorCode.InvalidRequest, `Invalid Request: not a JSON-RPC 2.0 message${where}`);
    }
    const message = candidate as JSONRPCMessage;
    const problem = changedNumberIn(changed, isBatch ? index : undefined) ?? unfaithfulValue(message);
    if (problem !== undefined) {
      const error = new GatewayError(400, ErrorCode.InvalidParams, `Invalid params: ${problem}${where}`);
      // An id that parsing changed is not the id the client waits for: the answer carries null.
      const idChanged = changed?.path[0] === "id";
      if (!isBatch && "id" in message && "method" in message && !idChanged) error.requestId = message.id;
      throw error;
    }
    // Keep the parsed JSON itself: the schema's params are open-ended and its
    // output must not drop fields the upstream expects.
    return message;
  });
  return { messages, isBatch };
}

/** Deeper than any real tool call nests; deeper would only test the stack of whatever reads it next. */
export const MAX_DEPTH = 100;

/** Why a number in this message (the batch element `index`, if a batch) would change on the way, if one would. */
function changedNumberIn(changed: ChangedNumber | undefined, index: number | undefined): string | undefined {
  if (!changed) return undefined;
  const [first, ...rest] = changed.path;
  if (index !== undefined && first !== index) return undefined;
  const where = describePath(index === undefined ? changed.path : rest);
  if (!Number.isFinite(changed.parsed)) return `the number at ${where} is too large to be represented (it would be forwarded as null)`;
  return `the number at ${where} cannot be represented exactly: it would be judged and forwarded as ${String(changed.parsed)} (send it as a string, or with fewer digits)`;
}

/** An object or array met on the walk, with the way back to the message, so a path is spelled out only when something is wrong. */
type Visit = { value: object; depth: number; parent: Visit | undefined; step: PathStep };

/**
 * Why this message cannot be forwarded exactly as it was judged, if it
 * cannot: a string or member name that is not well-formed Unicode (a lone
 * surrogate) has no UTF-8 form, so it cannot be hashed, stored or sent as it
 * was judged; and nesting past MAX_DEPTH. Numbers are checked on the text
 * (firstChangedNumber). Walked without recursion; only objects and arrays
 * are queued, so a long array of numbers or strings allocates nothing.
 */
function unfaithfulValue(message: JSONRPCMessage): string | undefined {
  const pending: Visit[] = [{ value: message, depth: 0, parent: undefined, step: "" }];
  for (let visit = pending.pop(); visit !== undefined; visit = pending.pop()) {
    if (visit.depth >= MAX_DEPTH) return `values are nested more than ${MAX_DEPTH} levels deep`;
    const parent = visit;
    const member = (child: unknown, step: PathStep): string | undefined => {
      if (typeof step === "string" && !step.isWellFormed()) return `the member name at ${describePath([...pathOf(parent), step])} ${NOT_WELL_FORMED}`;
      if (typeof child === "string" && !child.isWellFormed()) return `the string at ${describePath([...pathOf(parent), step])} ${NOT_WELL_FORMED}`;
      if (typeof child === "object" && child !== null) pending.push({ value: child, depth: parent.depth + 1, parent, step });
      return undefined;
    };
    const { value } = visit;
    if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) {
        const problem = member(value[index], index);
        if (problem !== undefined) return problem;
      }
    } else {
      for (const key of Object.keys(value)) {
        const problem = member((value as Record<string, unknown>)[key], key);
        if (problem !== undefined) return problem;
      }
    }
  }
  return undefined;
}

const NOT_WELL_FORMED = "is not well-formed Unicode (it holds a lone surrogate)";

function pathOf(visit: Visit): PathStep[] {
  const path: PathStep[] = [];
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) path.push(at.step);
  return path.reverse();
}

/** Agents choose member names: each is cut to this many characters in a message, and the whole path to MAX_PATH_CHARS. */
const MAX_STEP_CHARS = 64;
const MAX_PATH_CHARS = 300;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A path as an agent would write it in code: `params.arguments.listIds[2]`, `params.arguments["a b"]`. */
function describePath(path: PathStep[]): string {
  let text = "";
  for (const step of path) {
    if (typeof step === "number") text += `[${step}]`;
    else if (step.length <= MAX_STEP_CHARS && IDENTIFIER.test(step)) text += text === "" ? step : `.${step}`;
    // JSON.stringify escapes what cannot be shown (controls, lone surrogates) and quotes.
    else text += `[${JSON.stringify(step.length <= MAX_STEP_CHARS ? step : `${step.slice(0, MAX_STEP_CHARS)}…`)}]`;
    if (text.length > MAX_PATH_CHARS) return `${text.slice(0, MAX_PATH_CHARS)}…`;
  }
  return text === "" ? "the top level" : text;
}

/** The body to send upstream: re-serialised from the parsed messages, never the raw bytes. */
export function serializeBody(body: ParsedBody): string {
  return JSON.stringify(body.isBatch ? body.messages : body.messages[0]);
}

async function readTextWithin(request: Request, maxBytes: number): Promise<string> {
  const bytes = await readBodyWithin(request, maxBytes);
  if (!bytes) throw new GatewayError(413, GatewayErrorCode.TransportError, `Payload Too Large: body exceeds ${maxBytes} bytes`);
  try {
    return decoder.decode(bytes);
  } catch {
    throw new GatewayError(400, ErrorCode.ParseError, "Parse error: body is not valid UTF-8");
  }
}
