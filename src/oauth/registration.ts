import type { ClientRegistrationCallbackOptions, ClientRegistrationCallbackResult } from "@cloudflare/workers-oauth-provider";
import { z } from "zod";
import { readBodyWithin } from "../http/body.ts";
import { countAgainst, THROTTLES } from "../http/throttle.ts";

/**
 * Dynamic client registration (RFC 7591) stays open, as MCP clients need it,
 * but what a stranger can make the gateway keep is bounded:
 *
 * - every field the library stores is capped (REGISTRATION_LIMITS), and so is
 *   the body, so a client record is a few KiB at most;
 * - each client address may register REGISTRATION_THROTTLE's limit a minute
 *   (src/http/throttle.ts); past it, 429 with Retry-After;
 * - a client that never completes a sign-in is forgotten after a day
 *   (UNUSED_CLIENT_TTL_SECONDS); its first token answer renews it to
 *   CLIENT_TTL_SECONDS (src/oauth/server.ts).
 *
 * The library validates the metadata first (types, redirect URI schemes,
 * grant and response types), then calls vetRegistration before storing
 * anything; a refusal keeps its error shapes and CORS headers.
 */
export const REGISTRATION_LIMITS = {
  bodyBytes: 16 * 1024,
  clientNameChars: 100,
  redirectUris: 5,
  uriChars: 2048,
  contacts: 5,
  contactChars: 320,
  /** `client_name#ja`, `tos_uri#fr`: RFC 7591 §2.2 variants, which the library keeps too. */
  localizedVariants: 10,
  languageTagChars: 35,
  /** grant_types, response_types: the library accepts only the ones it supports, possibly repeated. */
  typeEntries: 5,
  typeChars: 64,
} as const;

/** A client that never completes a sign-in is forgotten after this long. */
export const UNUSED_CLIENT_TTL_SECONDS = 86_400;
/** A client that has: the library's default, renewed while the client keeps using its tokens. */
export const CLIENT_TTL_SECONDS = 90 * 86_400;

const L = REGISTRATION_LIMITS;
const uri = z.string().max(L.uriChars, `at most ${L.uriChars} characters`);
const name = z.string().max(L.clientNameChars, `at most ${L.clientNameChars} characters`);
const types = z.array(z.string().max(L.typeChars, `at most ${L.typeChars} characters each`)).max(L.typeEntries, `at most ${L.typeEntries} entries`);

/** The fields the library stores, bounded (their types and meaning are the library's to check). */
const StoredFieldsSchema = z
  .object({
    client_name: name,
    redirect_uris: z.array(uri).max(L.redirectUris, `at most ${L.redirectUris} redirect URIs`),
    client_uri: uri,
    logo_uri: uri,
    policy_uri: uri,
    tos_uri: uri,
    jwks_uri: uri,
    contacts: z.array(z.string().max(L.contactChars, `at most ${L.contactChars} characters each`)).max(L.contacts, `at most ${L.contacts} contacts`),
    grant_types: types,
    response_types: types,
    token_endpoint_auth_method: z.string().max(L.typeChars, `at most ${L.typeChars} characters`),
  })
  .partial()
  .loose();

/** The localized variants the library keeps (`<field>#<language tag>`), as RFC 7591 §2.2 names them. */
const LOCALIZED: ReadonlyMap<string, z.ZodString> = new Map([
  ["client_name", name],
  ["client_uri", uri],
  ["logo_uri", uri],
  ["policy_uri", uri],
  ["tos_uri", uri],
]);

/** Why a registration's fields are refused, or undefined when every stored field is within bounds. */
function registrationProblem(metadata: Record<string, unknown>): string | undefined {
  const parsed = StoredFieldsSchema.safeParse(metadata);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  let variants = 0;
  for (const [key, value] of Object.entries(metadata)) {
    const hash = key.indexOf("#");
    const field = hash > 0 ? LOCALIZED.get(key.slice(0, hash)) : undefined;
    if (!field) continue;
    variants += 1;
    if (variants > L.localizedVariants) return `at most ${L.localizedVariants} localized fields`;
    if (key.length - hash - 1 > L.languageTagChars) return `${key.slice(0, hash)}#…: a language tag is at most ${L.languageTagChars} characters`;
    const checked = field.safeParse(value);
    if (!checked.success) return `${key}: ${checked.error.issues[0]?.message ?? "invalid"}`;
  }
  return undefined;
}

/**
 * The library's registration callback for one environment (the throttle's
 * binding is in it): bounded fields (400 invalid_client_metadata), a bounded
 * body (413), then the throttle, which counts only registrations about to be
 * stored (429; the route adds Retry-After, which a callback cannot set).
 */
export function vetRegistration(env: object) {
  return async function vet({ clientMetadata, request }: ClientRegistrationCallbackOptions): Promise<ClientRegistrationCallbackResult | undefined> {
    const problem = registrationProblem(clientMetadata);
    if (problem) return { code: "invalid_client_metadata", description: problem.slice(0, 200) };
    if (!(await readBodyWithin(request, L.bodyBytes))) {
      return { code: "invalid_request", status: 413, description: `Request payload too large, must be at most ${L.bodyBytes / 1024} KiB` };
    }
    const throttle = await countAgainst(env, "REGISTRATION_THROTTLE", request, "register");
    if (throttle.throttled) {
      return { code: "temporarily_unavailable", status: 429, description: `Too many registrations from this address: try again in ${throttle.retryAfterSeconds} s` };
    }
    return undefined;
  };
}

/** The registration endpoint's answer, with Retry-After on the throttle's 429 (the library already exposes the header to browsers). */
export function withRetryAfter(response: Response): Response {
  if (response.status !== 429 || response.headers.has("retry-after")) return response;
  const answer = new Response(response.body, response);
  answer.headers.set("Retry-After", String(THROTTLES.REGISTRATION_THROTTLE.periodSeconds));
  return answer;
}
