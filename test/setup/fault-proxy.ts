/**
 * A misbehaving upstream for fault-injection tests: a Node HTTP proxy in
 * front of the real sandbox MCP server that, on request, breaks the answer
 * to one JSON-RPC method in exactly one way a real upstream can: an error
 * status, a body that is not JSON-RPC, a reset connection, a stream cut in
 * the middle of an event, silence. Everything else passes through unchanged,
 * so clients can initialize and list tools as usual.
 *
 * A request carrying `x-fault: <fault>` gets the fault when its JSON-RPC
 * method is `x-fault-method` (default `tools/call`). Faults that "run" the
 * call first forward it to the sandbox (which logs it), then break the answer;
 * the others never forward it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startLoopbackServer } from "./loopback-server.ts";

export const FAULT_HEADER = "x-fault";
export const FAULT_METHOD_HEADER = "x-fault-method";

type Message = { jsonrpc?: string; id?: unknown; method?: string; result?: unknown; error?: unknown };

export async function startFaultProxy(sandboxOrigin: string): Promise<{ url: string; close: () => Promise<void> }> {
  return startLoopbackServer("fault proxy", (request, response) => handle(sandboxOrigin, request, response));
}

async function handle(origin: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  const message = parse(body) as Message | undefined;
  const fault = request.headers[FAULT_HEADER] as string | undefined;
  const targeted = fault !== undefined && message?.method === ((request.headers[FAULT_METHOD_HEADER] as string | undefined) ?? "tools/call");
  if (!targeted) return pipe(await forward(origin, request, body), response);

  const [kind, argument] = fault.split(":");
  const id = message?.id ?? null;
  switch (kind) {
    // Never forwarded: the upstream refuses or fails before running anything.
    case "refuse-status":
      return send(response, Number(argument), "text/html", "<html><body>refused</body></html>");
    case "error":
      return send(response, 200, "application/json", JSON.stringify({ jsonrpc: "2.0", id, error: { code: Number(argument), message: `fault ${argument}` } }));
    case "reset-before":
      request.socket.destroy();
      return;
    case "hang":
      return; // no answer at all; the gateway's timeout must end the wait
    default:
      break;
  }

  // Forwarded: the upstream ran the request; then its answer breaks.
  const upstream = await forward(origin, request, body);
  const answer = await answerIn(upstream, id);
  switch (kind) {
    case "status": {
      const status = Number(argument);
      response.setHeader("content-type", "text/html");
      if (status >= 300 && status < 400) response.setHeader("location", "https://elsewhere.example/mcp");
      response.writeHead(status).end("<html><body>Bad Gateway</body></html>");
      return;
    }
    case "html":
      return send(response, 200, "text/html", "<html><body>Welcome to nginx!</body></html>");
    case "empty":
      return send(response, 200, "application/json", "");
    case "truncate": {
      const text = JSON.stringify(answer);
      return send(response, 200, "application/json", text.slice(0, Math.floor(text.length / 2)));
    }
    case "wrong-type":
      return send(response, 200, "text/plain", JSON.stringify(answer));
    case "other-id":
      return send(response, 200, "application/json", JSON.stringify({ ...answer, id: "someone-else" }));
    case "error-after":
      return send(response, 200, "application/json", JSON.stringify({ jsonrpc: "2.0", id, error: { code: Number(argument), message: `fault ${argument} after running` } }));
    case "error-null":
      return send(response, 200, "application/json", JSON.stringify({ ...answer, error: null }));
    case "reset-after":
      request.socket.destroy();
      return;
    case "cut-sse":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n`);
      response.write(`event: message\ndata: ${JSON.stringify(answer).slice(0, 20)}`);
      setTimeout(() => request.socket.destroy(), 20);
      return;
    case "end-sse":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.end(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n`);
      return;
    case "tools-bad-schema": {
      // A valid JSON Schema ("properties": {"flag": true}) that the v1 SDK's Tool schema rejects.
      const result = answer.result as { tools: unknown[] };
      const flagged = { name: "flagged_tool", inputSchema: { type: "object", properties: { flag: true } } };
      return send(response, 200, "application/json", JSON.stringify({ ...answer, result: { ...result, tools: [...result.tools, flagged] } }));
    }
    case "tools-unreadable":
      return send(response, 200, "application/json", JSON.stringify({ ...answer, result: { tools: "all of them" } }));
    default:
      return send(response, 500, "text/plain", `unknown fault ${fault}`);
  }
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { "content-type": type }).end(body);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

async function forward(origin: string, request: IncomingMessage, body: Buffer): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || ["host", "content-length", "connection", FAULT_HEADER, FAULT_METHOD_HEADER].includes(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return fetch(new URL(request.url ?? "/", origin), {
    method: request.method,
    headers,
    ...(request.method === "POST" ? { body: new Uint8Array(body) } : {}),
    redirect: "manual",
  });
}

/** The upstream's answer to `id`, from a JSON or SSE body. */
async function answerIn(response: Response, id: unknown): Promise<Message> {
  const text = await response.text();
  const candidates = (response.headers.get("content-type") ?? "").includes("event-stream")
    ? text
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => parse(Buffer.from(line.slice(6))))
    : [parse(Buffer.from(text))];
  const answer = candidates.find((candidate) => (candidate as Message | undefined)?.id === id) as Message | undefined;
  return answer ?? { jsonrpc: "2.0", id, error: { code: -32603, message: "fault proxy: the sandbox did not answer" } };
}

async function pipe(upstream: Response, response: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  upstream.headers.forEach((value, name) => {
    if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) headers[name] = value;
  });
  response.writeHead(upstream.status, headers);
  try {
    if (upstream.body) for await (const chunk of upstream.body) response.write(chunk);
    response.end();
  } catch {
    // The stream ended early (a client closed its GET stream): end ours the same way.
    response.destroy();
  }
}
