import { detectClientName } from "@iterable/mcp/dist/client-detection.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { identityOf, mintSessionId } from "./client-session.ts";
import { readConfig, type IterableWorkerEnv } from "./config.ts";
import type { RequestRecord } from "./request-log.ts";
import { createIterableServer, serveIterable } from "./server.ts";
import { toolboxFor } from "./toolbox.ts";

export type McpRequest = {
  request: Request;
  env: IterableWorkerEnv;
  /** The POST body, already read (and bounded); none for DELETE. */
  body: Uint8Array<ArrayBuffer> | undefined;
  /** The body is an `initialize` request. */
  initialize: boolean;
  record: RequestRecord;
};

/**
 * One request, one server: with the Worker's settings (a ConfigError names
 * what is wrong), a new server and a stateless transport answer it
 * (JSON, not a stream: the package's tools send no progress or
 * notifications), with the tools of this configuration and the caller's
 * identity read from its session id. The answer to `initialize` carries a new
 * session id holding the client's name.
 */
export async function serveMcp({ request, env, body, initialize, record }: McpRequest): Promise<Response> {
  const config = readConfig(env);
  const server = createIterableServer();
  const identity = identityOf(request.headers.get("mcp-session-id"), detectClientName(server));
  record.client = identity.clientName;
  serveIterable(server, { toolbox: await toolboxFor(config), config, identity });
  const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
  await server.connect(transport);
  const response = await transport.handleRequest(new Request(request.url, { method: request.method, headers: request.headers, body: body ?? null }));
  await server.close();
  if (!initialize || !response.ok) return response;

  // The server that answered `initialize` knows the client; its name rides in the session id from now on.
  const session = mintSessionId(detectClientName(server));
  record.client = session.identity.clientName;
  const headers = new Headers(response.headers);
  headers.set("mcp-session-id", session.id);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
