import type { GrantRecord } from "../grants/grant.ts";
import { isListed } from "../policy/evaluate.ts";
import { policyForServer } from "../policy/for-server.ts";
import type { ServerRuntime, Services } from "../services.ts";
import type { ToolFilter } from "../calls/tool-list.ts";

/**
 * What a grant sees of a server's tools, and whether its lists are shown to
 * the server's pins (not with `"pinning": "off"`). `key` names the view:
 * equal keys show the same tools of the same list (the policy's name and
 * version, and the pins' version where they count), so a list filtered once
 * can be reused; undefined when it cannot be named (no policy, pins unread).
 */
export type Visibility = { show: ToolFilter; reportsToPins: boolean; key: string | undefined };

/**
 * Whether `tools/list` shows a tool of this server to this grant: by the
 * policy's section for the server, and nothing without a usable policy;
 * under `"pinning": "enforce"` (the default) only tools whose definition is
 * the one pinned (or, before the server's first complete list, any: they are
 * pinned as first seen). Pins that cannot be read show nothing.
 */
export async function toolVisibility(services: Services, grant: GrantRecord, runtime: ServerRuntime): Promise<Visibility> {
  const { policy } = await services.policies.get(grant.policy);
  const applied = policy ? policyForServer(policy.policy, runtime.server.name).policy : undefined;
  const reportsToPins = applied !== undefined && applied.pinning !== "off";
  const policyKey = policy ? `${policy.name}@${policy.version}` : undefined;
  if (applied?.pinning !== "enforce") return { show: (tool) => isListed(applied, tool.name, tool.tags), reportsToPins, key: policyKey };
  const pins = await runtime.pins.view(services.pinObjects);
  const show: ToolFilter = (tool) => {
    const state = pins.state(tool);
    return (state === "pinned" || state === "first_use") && isListed(applied, tool.name, tool.tags);
  };
  return { show, reportsToPins, key: pins.version === undefined ? undefined : `${policyKey}|pins ${pins.version}` };
}
