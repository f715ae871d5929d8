/**
 * Failure control for rollback tests: a `tools/call` carrying the header
 * `x-sandbox-fail-call: <message>` is answered with the JSON-RPC error the
 * real Iterable server gives when the Iterable API cannot be reached
 * (-32603 "Iterable network error: …"), without running the tool.
 */
export const FAIL_HEADER = "x-sandbox-fail-call";

export async function failIfAsked(request: Request): Promise<Response | undefined> {
  const message = request.headers.get(FAIL_HEADER);
  if (message === null || request.method !== "POST") return undefined;
  const body = (await request.clone().json().catch(() => undefined)) as { id?: unknown; method?: unknown } | undefined;
  if (body?.method !== "tools/call") return undefined;
  return Response.json({ jsonrpc: "2.0", id: body.id, error: { code: -32603, message: `Iterable network error: ${message}` } });
}
