/**
 * Large-answer control for proxy benchmarks: a `tools/list` POST carrying the
 * header `x-sandbox-tools-list-bytes: N` (N up to 64 MiB) is answered by the
 * sandbox itself with one SSE event, `event: message\ndata: <json>\n\n`, whose
 * JSON-RPC result lists the real Iterable tools followed by padding tools
 * `pad_0`, `pad_1`, … until the event's data is N bytes (or the real tools
 * alone, when N is smaller than they are). The body is written in 16 KiB
 * chunks, so a proxy receives the one event in many pieces, as it would from a
 * real server streaming a big answer.
 */
import toolsSnapshot from "./iterable-tools.json";

export const TOOLS_LIST_BYTES_HEADER = "x-sandbox-tools-list-bytes";
export const MAX_TOOLS_LIST_BYTES = 64 * 1024 * 1024;
export const CHUNK_BYTES = 16 * 1024;

// About the size of one real Iterable tool (144 KB for 118 tools), so the padded
// list has as many tools per byte as the real one.
const PAD_DESCRIPTION_CHARS = 1024;
const FILLER = "Padding tool of the sandbox upstream, listed only to make a large tools/list answer. ";
const REAL_TOOLS_JSON = toolsSnapshot.tools.map((tool) => JSON.stringify(tool)).join(",");

export async function answerBigToolListIfAsked(request: Request): Promise<Response | undefined> {
  const asked = request.headers.get(TOOLS_LIST_BYTES_HEADER);
  if (asked === null || request.method !== "POST") return undefined;
  const size = Number(asked);
  if (!Number.isSafeInteger(size) || size <= 0) return undefined;
  const body = (await request.clone().json().catch(() => undefined)) as { id?: unknown; method?: unknown } | undefined;
  if (body?.method !== "tools/list" || (typeof body.id !== "string" && typeof body.id !== "number")) return undefined;

  const data = toolListJson(body.id, Math.min(size, MAX_TOOLS_LIST_BYTES));
  const bytes = new TextEncoder().encode(`event: message\ndata: ${data}\n\n`);
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(bytes.slice(offset, offset + CHUNK_BYTES));
      offset += CHUNK_BYTES;
      if (offset >= bytes.length) controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** The JSON-RPC answer, `targetBytes` long when the real tools leave room for padding (all ASCII, so chars are bytes). */
function toolListJson(id: string | number, targetBytes: number): string {
  const head = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":[${REAL_TOOLS_JSON}`;
  const tail = "]}}";
  const parts = [head];
  let length = head.length + tail.length;
  const description = FILLER.repeat(Math.ceil(PAD_DESCRIPTION_CHARS / FILLER.length)).slice(0, PAD_DESCRIPTION_CHARS);
  const padTool = (index: number, chars: number) =>
    `,{"name":"pad_${index}","description":"${description.slice(0, chars)}","inputSchema":{"type":"object"}}`;
  for (let index = 0; ; index++) {
    const full = padTool(index, PAD_DESCRIPTION_CHARS);
    const room = targetBytes - length;
    if (room >= full.length) {
      parts.push(full);
      length += full.length;
      continue;
    }
    // The last tool's description takes what is left, so the data is exactly the target.
    const shortest = padTool(index, 0).length;
    if (room >= shortest) {
      parts.push(padTool(index, room - shortest));
      length += room;
    }
    break;
  }
  parts.push(tail);
  return parts.join("");
}
