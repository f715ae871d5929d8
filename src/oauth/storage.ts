import { OAuthAuthorizationServer } from "@cloudflare/workers-oauth-provider";
import type { Bindings } from "../env.ts";

/**
 * Storage helpers (listing and revoking a grant's sign-ins, looking clients
 * up) for the console and the gateway's own checks: those read and write
 * OAUTH_KV only and never use the issuer, so one fixed placeholder instance
 * serves every origin.
 */
let storage: OAuthAuthorizationServer<Bindings> | undefined;

export function oauthStorage(env: Bindings) {
  storage ??= new OAuthAuthorizationServer<Bindings>({ issuer: "https://oauth-storage.invalid", resources: ["https://oauth-storage.invalid/mcp"] });
  return storage.getOAuthApi(env);
}
