/** What the Worker's one log line says about a request: never the key, never arguments. */
export type RequestRecord = {
  method: string;
  path: string;
  started: number;
  /** The JSON-RPC method of a single message; "(batch)" for a batch. */
  rpc?: string | undefined;
  /** The tool a `tools/call` named. */
  tool?: string | undefined;
  /** The client's name as Iterable is told it. */
  client?: string | undefined;
  /** Why the request failed, when the Worker itself failed it. */
  error?: string | undefined;
};

/** Caller-chosen strings (method, tool, path) are cut to this many characters. */
const MAX_FIELD_CHARS = 128;
const MAX_ERROR_CHARS = 512;

/** One JSON line per request. */
export function logRequest(record: RequestRecord, status: number): void {
  const line = {
    worker: "iterable-mcp",
    method: record.method,
    path: clip(record.path, MAX_FIELD_CHARS),
    rpc: clip(record.rpc, MAX_FIELD_CHARS),
    tool: clip(record.tool, MAX_FIELD_CHARS),
    client: record.client,
    status,
    ms: Date.now() - record.started,
    error: clip(record.error, MAX_ERROR_CHARS),
  };
  if (record.error !== undefined) console.error(JSON.stringify(line));
  else console.log(JSON.stringify(line));
}

function clip(value: string | undefined, max: number): string | undefined {
  return value === undefined || value.length <= max ? value : `${value.slice(0, max)}…`;
}
