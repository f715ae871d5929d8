/**
 * Pagination control: a `tools/list` POST to the Iterable-shaped `/mcp` carrying
 * the header `x-sandbox-page-size: N` (1 to 1,000) is answered by the sandbox
 * itself, as JSON, with N of the real Iterable tools per page, in the snapshot's
 * order. Every page but the last carries a `nextCursor` (opaque to clients, as
 * the specification wants); a cursor the sandbox did not issue is refused with
 * -32602 `Invalid cursor`, so a proxy that alters a cursor on its way through
 * gets an error instead of a page. The real server lists everything at once:
 * this exists so a proxy's paging (filtering later pages, following cursors) can
 * be tested. A 2026-07-28 request (the `_meta` envelope) gets `resultType`.
 */
import toolsSnapshot from "./iterable-tools.json";

export const PAGE_SIZE_HEADER = "x-sandbox-page-size";
export const MAX_PAGE_SIZE = 1000;

const TOOLS = toolsSnapshot.tools;
const CURSOR_PREFIX = "sandbox-page:";
const STATELESS_VERSION_KEY = "io.modelcontextprotocol/protocolVersion";

type ListRequest = { id?: unknown; method?: unknown; params?: { cursor?: unknown; _meta?: Record<string, unknown> } };

export async function answerPagedToolListIfAsked(request: Request): Promise<Response | undefined> {
  const asked = request.headers.get(PAGE_SIZE_HEADER);
  if (asked === null || request.method !== "POST") return undefined;
  const size = Number(asked);
  if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_PAGE_SIZE) return undefined;
  const body = (await request.clone().json().catch(() => undefined)) as ListRequest | undefined;
  if (body?.method !== "tools/list" || (typeof body.id !== "string" && typeof body.id !== "number")) return undefined;

  const cursor = body.params?.cursor;
  const offset = cursor === undefined ? 0 : offsetOf(cursor);
  if (offset === undefined) return Response.json({ jsonrpc: "2.0", id: body.id, error: { code: -32602, message: "Invalid cursor" } });
  const end = offset + size;
  const stateless = body.params?._meta !== undefined && Object.hasOwn(body.params._meta, STATELESS_VERSION_KEY);
  const result = {
    ...(stateless ? { resultType: "complete" } : {}),
    tools: TOOLS.slice(offset, end),
    ...(end < TOOLS.length ? { nextCursor: cursorFor(end) } : {}),
  };
  return Response.json({ jsonrpc: "2.0", id: body.id, result });
}

/** An offset, marked and base64-encoded so it reads as the opaque token a client must pass back as is. */
function cursorFor(offset: number): string {
  return btoa(`${CURSOR_PREFIX}${offset}`);
}

/** The offset a cursor of ours stands for, or undefined for any other value. */
function offsetOf(cursor: unknown): number | undefined {
  if (typeof cursor !== "string") return undefined;
  let decoded: string;
  try {
    decoded = atob(cursor);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith(CURSOR_PREFIX) || cursorFor(Number(decoded.slice(CURSOR_PREFIX.length))) !== cursor) return undefined;
  const offset = Number(decoded.slice(CURSOR_PREFIX.length));
  return Number.isSafeInteger(offset) && offset > 0 && offset < TOOLS.length ? offset : undefined;
}
