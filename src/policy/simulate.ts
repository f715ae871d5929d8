import { z } from "zod";
import { toolTags } from "../tools/catalog.ts";
import { decide, type Decision } from "./evaluate.ts";
import { inDocument, policyForServer } from "./for-server.ts";
import type { Policy } from "./schema.ts";

/** What `mcp-gateway policy simulate` prints, as data and as its one line of text. */
export const SimulationSchema = z.object({
  tool: z.string(),
  /** The server the call was simulated on (its section, or the top level, decided); null: none named, the top level decided. */
  server: z.string().nullable(),
  decision: z.enum(["allow", "deny", "invalid_arguments", "approve", "hidden"]),
  /** JSON pointer of the rule that decided. */
  rule: z.string(),
  reason: z.string().nullable(),
  limits: z.array(z.object({ counter: z.string(), window: z.string(), max: z.number(), scope: z.string(), amount: z.number(), rule: z.string() })),
  /** The tool's tags (catalog, plus any given), without "@". */
  tags: z.array(z.string()),
  /** How an approval would be handled, when the call needs one. */
  approval: z.object({ ttlMs: z.number(), holdMs: z.number() }).nullable(),
  text: z.string(),
});
export type Simulation = z.infer<typeof SimulationSchema>;

/**
 * Decides a call against a policy without making it, exactly as the gateway
 * would (the catalog's tags, plus `extraTags` standing in for the upstream's
 * annotations), and describes the decision as `mcp-gateway policy simulate`
 * prints it. On `server`, the policy's section for it decides, if it has one;
 * without a server, the top level.
 */
export function simulate(policy: Policy, tool: string, args: Record<string, unknown>, extraTags: string[] = [], server?: string): Simulation {
  const tags = new Set([...toolTags(tool), ...extraTags]);
  const applied = server === undefined ? { policy, pointerBase: "" } : policyForServer(policy, server);
  const decision: Decision = inDocument(decide(applied.policy, { name: tool, args, tags }), applied.pointerBase);
  const limits = "limits" in decision ? decision.limits.map(({ counter, window, max, scope, amount, rule }) => ({ counter, window, max, scope, amount, rule })) : [];
  const reason = "reason" in decision ? decision.reason : null;
  return {
    tool,
    server: server ?? null,
    decision: decision.decision,
    rule: decision.rule,
    reason,
    limits,
    tags: [...tags],
    approval: decision.decision === "approve" ? decision.approval : null,
    text: simulationText(tool, decision.decision, decision.rule, reason, limits, [...tags]) + sectionsLine(policy, server, applied.pointerBase),
  };
}

/** Which part of a policy with sections decided, so nobody reads the top level's answer as every server's. */
function sectionsLine(policy: Policy, server: string | undefined, pointerBase: string): string {
  const sections = Object.keys(policy.servers ?? {});
  if (sections.length === 0) return "";
  if (server === undefined) return `\nserver: none named, so the top level decided; the sections for ${sections.join(", ")} replace it on those servers (--server)`;
  return pointerBase === "" ? `\nserver: ${server} (no section for it: the top level decided)` : `\nserver: ${server} (its section decided)`;
}

function simulationText(tool: string, decision: Simulation["decision"], rule: string, reason: string | null, limits: Simulation["limits"], tags: string[]): string {
  const detail = reason !== null ? `: ${reason}` : decision === "hidden" ? ": the tool is hidden (absent from tools/list, answered as unknown)" : "";
  const limitLine = limits.length > 0 ? `\nlimits: ${limits.map((l) => `${l.counter} ${l.max}/${l.window} per ${l.scope} (+${l.amount}, ${l.rule})`).join("; ")}` : "";
  const tagLine = tags.length > 0 ? `\ntags: ${tags.map((t) => `@${t}`).join(" ")}` : "";
  return `${decision.toUpperCase()} ${tool} by ${rule || "(no policy)"}${detail}${limitLine}${tagLine}`;
}
