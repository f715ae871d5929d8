/**
 * The upstream's own credential check, so tests can prove the gateway injects the
 * upstream credential (from its Worker secret) and never forwards the agent's token.
 *
 * Iterable authenticates with an `Api-Key` header. When the sandbox's
 * `SANDBOX_API_KEY` var/secret is unset the check is off, so the sandbox also
 * works standalone (smoke scripts, `wrangler dev` without secrets).
 */
export const API_KEY_HEADER = "Api-Key";

/** A 401 response when the key is required and missing or wrong; `undefined` when the request may pass. */
export function rejectWithoutApiKey(request: Request, expectedKey: string | undefined): Response | undefined {
  if (expectedKey === undefined || expectedKey === "") return undefined;
  if (request.headers.get(API_KEY_HEADER) === expectedKey) return undefined;
  return Response.json(
    { jsonrpc: "2.0", error: { code: -32000, message: `Unauthorized: missing or invalid ${API_KEY_HEADER} header` }, id: null },
    { status: 401 },
  );
}
