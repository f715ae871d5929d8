import { Hono } from "hono";
import type { AppEnv } from "../env.ts";

/**
 * What an OAuth-speaking client is told. On a 401, mcp-remote and the MCP
 * Inspector look for OAuth metadata, then try dynamic client registration at
 * POST /register and print that answer's body verbatim: so the body says how
 * to connect instead. (Kept free of the words mcp-remote reads as "try the
 * SSE transport": 404, 405, Not Found, Method Not Allowed.)
 */
export const GRANT_TOKEN_HINT =
  "This MCP gateway signs agents in with a grant token, not OAuth: send it as the header 'Authorization: Bearer mcpgw_...'. " +
  "mcp-remote: npx mcp-remote https://<gateway>/mcp --header 'Authorization: Bearer mcpgw_...'. " +
  "MCP Inspector CLI: npx @modelcontextprotocol/inspector --cli https://<gateway>/mcp --header 'Authorization: Bearer mcpgw_...' --method tools/list. " +
  "The gateway's operator creates grant tokens with: npx mcp-gateway grant create --label <name> --policy <policy>.";

const METADATA_PATHS = [
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/*",
  "/.well-known/oauth-authorization-server",
  "/.well-known/oauth-authorization-server/*",
  "/.well-known/openid-configuration",
  "/.well-known/openid-configuration/*",
  "/mcp/.well-known/openid-configuration",
];

export const oauthNotice = new Hono<AppEnv>();

// No metadata: clients then fall back to their defaults, which lead to /register.
for (const path of METADATA_PATHS) {
  oauthNotice.get(path, (c) => c.json({ error: "oauth_not_supported", error_description: GRANT_TOKEN_HINT }, 404));
}

// RFC 7591's error answer: both clients show error_description to the user.
oauthNotice.post("/register", (c) => c.json({ error: "invalid_client_metadata", error_description: GRANT_TOKEN_HINT }, 400));
