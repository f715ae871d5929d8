import { createMiddleware } from "hono/factory";
import type { GatewayConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { GatewayError, GatewayErrorCode } from "../errors.ts";
import type { GrantRecord } from "../grants/grant.ts";

/** The servers a grant reaches: those its record names, or, for a record that names none (every grant made before), the default one. */
export function serversOf(grant: GrantRecord, config: Pick<GatewayConfig, "servers" | "defaultServer">): string[] {
  return (grant.servers ?? [config.defaultServer.name]).filter((name) => config.servers.has(name));
}

/**
 * Which server a request goes to: `/mcp/<server>` names it; `/mcp` is the
 * grant's view: its one server, or all of them merged (src/servers/merged.ts).
 * A server the grant does not name is refused before anything is read from
 * the body or forwarded.
 */
export function selectServer() {
  return createMiddleware<AppEnv>(async function selectServer(c, next) {
    const { services, grant } = c.var;
    const reachable = serversOf(grant, services.config);
    const named = c.req.param("server");
    let name: string;
    if (named !== undefined) {
      if (!services.servers.has(named)) throw new GatewayError(404, GatewayErrorCode.TransportError, `Not Found: this gateway has no MCP server named "${named.slice(0, 40)}"`);
      if (!reachable.includes(named)) throw new GatewayError(403, GatewayErrorCode.TransportError, `Forbidden: this grant does not reach the server "${named}"; it reaches ${listOf(reachable)}`);
      name = named;
    } else {
      if (reachable.length === 0) throw new GatewayError(403, GatewayErrorCode.TransportError, "Forbidden: this grant reaches none of this gateway's servers");
      if (reachable.length > 1) {
        c.set("merged", reachable.map((each) => services.servers.get(each)!));
        return next();
      }
      name = reachable[0]!;
    }
    c.set("server", services.servers.get(name)!);
    await next();
  });
}

function listOf(names: string[]): string {
  return names.length === 0 ? "no server" : names.map((name) => `"${name}" (/mcp/${name})`).join(", ");
}
