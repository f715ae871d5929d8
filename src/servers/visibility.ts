import type { GrantRecord } from "../grants/grant.ts";
import { isListed } from "../policy/evaluate.ts";
import { policyForServer } from "../policy/for-server.ts";
import type { ServerRuntime, Services } from "../services.ts";
import { annotationsOf, type ListedTool } from "../tools/tool-index.ts";

/** Whether `tools/list` shows a tool of this server to this grant: by the policy's section for the server, and nothing without a usable policy. */
export async function toolVisibility(services: Services, grant: GrantRecord, runtime: ServerRuntime): Promise<(tool: ListedTool) => boolean> {
  const { policy } = await services.policies.get(grant.policy);
  const applied = policy ? policyForServer(policy.policy, runtime.server.name).policy : undefined;
  return (tool) => isListed(applied, tool.name, runtime.server.tags(tool.name, annotationsOf(tool)));
}
