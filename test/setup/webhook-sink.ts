/**
 * A webhook receiver for the approval webhook tests: a Node HTTP server that
 * records every POST (headers and the body's exact bytes) under its path and
 * answers according to the path, so each test picks, with its own tag, how
 * its receiver behaves:
 *
 * - `POST /ok/<tag>`: 200.
 * - `POST /fail-then-ok/<n>/<tag>`: 500 for the first n requests on that path, then 200.
 * - `POST /down/<tag>`: 503, always.
 * - `POST /by-label`: the path the tests bind as APPROVAL_WEBHOOK_URL. The
 *   approval index's env is fixed for the whole run, so a test cannot give it
 *   a URL of its own; instead, a delivery whose approval's grant label is a
 *   path (`/ok/<tag>`, …) is filed and answered as if posted to that path.
 *   Other labels (other test files' approvals) get 200 and are filed under `/by-label`.
 * - `GET /__received/<path>`: JSON list of what `/<path>` received, in order.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startLoopbackServer } from "./loopback-server.ts";

export type Received = {
  headers: Record<string, string>;
  /** The body as UTF-8 text, and its exact bytes (base64) for checking signatures. */
  body: string;
  bodyBase64: string;
  /** The status the sink answered. */
  status: number;
};

export const BY_LABEL_PATH = "/by-label";

export async function startWebhookSink(): Promise<{ url: string; close: () => Promise<void> }> {
  const received = new Map<string, Received[]>();
  return startLoopbackServer("webhook sink", (request, response) => handle(received, request, response));
}

async function handle(received: Map<string, Received[]>, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? "/", "http://sink").pathname;
  if (request.method === "GET" && path.startsWith("/__received/")) {
    return send(response, 200, JSON.stringify(received.get(path.slice("/__received".length)) ?? []), "application/json");
  }
  if (request.method !== "POST") return send(response, 405, "POST only");

  const bytes = await readBody(request);
  const target = path === BY_LABEL_PATH ? (labelPath(bytes) ?? path) : path;
  const log = received.get(target) ?? [];
  received.set(target, log);
  const status = statusFor(target, log.length);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  log.push({ headers, body: bytes.toString("utf8"), bodyBase64: bytes.toString("base64"), status });
  send(response, status, status === 200 ? "ok" : "receiver failing");
}

/** How the receiver at `path` answers, having already received `before` requests there. */
function statusFor(path: string, before: number): number {
  const [, kind, argument] = path.split("/");
  switch (kind) {
    case "ok":
      return 200;
    case "fail-then-ok":
      return before < Number(argument) ? 500 : 200;
    case "down":
      return 503;
    default:
      return path === BY_LABEL_PATH ? 200 : 404;
  }
}

/** The approval's grant label, when it names a sink path. */
function labelPath(bytes: Buffer): string | undefined {
  try {
    const label = (JSON.parse(bytes.toString("utf8")) as { approval?: { grant?: { label?: unknown } } }).approval?.grant?.label;
    return typeof label === "string" && label.startsWith("/") ? label : undefined;
  } catch {
    return undefined;
  }
}

function send(response: ServerResponse, status: number, body: string, type = "text/plain"): void {
  response.writeHead(status, { "content-type": type }).end(body);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
