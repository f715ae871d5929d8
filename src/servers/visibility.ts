import type { GrantRecord } from "../grants/grant.ts";
import { isListed } from "../policy/evaluate.ts";
import type { ServerRuntime, Services } from "../services.ts";
import { annotationsOf, type ListedTool } from "../tools/tool-index.ts";

/** Whether `tools/list` shows a tool of this server to this grant (nothing, without a usable policy). */
export async function toolVisibility(services: Services, grant: GrantRecord, runtime: ServerRuntime): Promise<(tool: ListedTool) => boolean> {
  const { policy } = await services.policies.get(grant.policy);
  return (tool) => isListed(policy?.policy, tool.name, runtime.server.tags(tool.name, annotationsOf(tool)));
}
