import type { Decision } from "./evaluate.ts";
import type { Policy } from "./schema.ts";

/** The policy that applies to one server's tools, and where its rules sit in the document (prefix of every rule pointer). */
export type ServerPolicy = { policy: Policy; pointerBase: string };

/**
 * The policy for calls to `serverName`: its section when the policy has one
 * (which replaces the top level whole: nothing is merged, so what applies is
 * readable in one place), else the top level. Pure; decide() and isListed()
 * take the result unchanged.
 */
export function policyForServer(policy: Policy, serverName: string): ServerPolicy {
  // The name may come from a request or a command line: only the policy's own keys count.
  const section = policy.servers !== undefined && Object.hasOwn(policy.servers, serverName) ? policy.servers[serverName] : undefined;
  if (!section) return { policy, pointerBase: "" };
  return { policy: { version: policy.version, ...section }, pointerBase: `/servers/${escapePointer(serverName)}` };
}

/** A decision made on a section, its pointers made to point into the whole document (`/servers/crm/tools/send_x/action`). */
export function inDocument(decision: Decision, pointerBase: string): Decision {
  if (pointerBase === "") return decision;
  const rule = `${pointerBase}${decision.rule}`;
  if (decision.decision === "allow" || decision.decision === "approve") {
    return { ...decision, rule, limits: decision.limits.map((limit) => ({ ...limit, rule: `${pointerBase}${limit.rule}` })) };
  }
  return { ...decision, rule };
}

/** RFC 6901: "~" and "/" inside a key (server names have neither; a pointer must stay one whatever it is given). */
function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
