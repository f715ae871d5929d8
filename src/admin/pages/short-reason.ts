import type { CallRecord } from "../../audit/record.ts";
import { clip } from "../../text/clip.ts";

/** Characters of a reason a row of the decisions list shows; the record's page has it whole. */
export const SHORT_REASON_CHARS = 120;

/**
 * A call's reason as an operator scans a list: what happened, in a few
 * words. The record keeps the agent's whole text, which repeats the approval
 * id, its page's URL and what the agent should do next (src/approvals/call.ts
 * approvalReason); the list links the approval instead.
 */
export function shortReason(record: Pick<CallRecord, "decision" | "reason" | "rule" | "approval">): string {
  const reason = record.reason ?? "";
  if (record.approval) {
    if (record.decision === "approved") return "approved by an operator; sent once";
    if (/^the agent went away/.test(reason)) return "the agent went away while its call was held; not sent";
    if (/^approval \S+ is pending/.test(reason)) return "waiting for a human's approval";
    if (/^approval \S+ expired/.test(reason)) return "its approval expired unused; a retry asks again";
    if (/^approval \S+ was used/.test(reason)) return "its approval was used by an identical call; a retry asks again";
    const denied = /^an operator denied approval \S+(?:: ([\s\S]*?)| \(no note given\))\. This call is refused until/.exec(reason);
    if (denied) return clip(denied[1] ? `denied by an operator: ${denied[1]}` : "denied by an operator (no note)", SHORT_REASON_CHARS);
  }
  if (record.decision === "definition_changed") {
    // src/calls/pin-check.ts: the list links the tool's review page.
    if (/^the server changed this tool's definition/.test(reason)) return "definition changed since pinned; awaiting an operator's review";
    if (/^the server added this tool/.test(reason)) return "new tool, not yet reviewed by an operator";
    if (reason === "") return "definition not as pinned; awaiting an operator's review";
  }
  if (reason === "") return record.rule ? `rule ${record.rule}` : "";
  // The first clause, without links: the record's page has the rest.
  const first = reason.replace(/\s*https?:\/\/\S+/g, "").split(/;\s|\.\s/)[0] ?? reason;
  return clip(first.trim(), SHORT_REASON_CHARS);
}
