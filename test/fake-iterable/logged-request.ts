// Apart from server.ts, so Worker-side tests can name the type without loading Node's http types.

/** One request as the fake Iterable API saw it. */
export type LoggedRequest = {
  at: string;
  method: string;
  path: string;
  /** The query string's parameters, repeated ones as arrays. */
  query: Record<string, string | string[]>;
  /** Whether `Api-Key` held the right key (the key itself is never kept). */
  keyValid: boolean;
  /** `Iterable-MCP-Client`, `Iterable-MCP-Session-Id`, `Iterable-MCP-Tool` as sent. */
  client: string | undefined;
  sessionId: string | undefined;
  tool: string | undefined;
  userAgent: string | undefined;
  /** The parsed JSON body, or the start of a body that is not JSON (or too long to keep whole). */
  body: unknown;
  /** What the fake answered. */
  status: number;
};
