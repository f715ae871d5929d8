import { code, slackUrl } from "../approval-index/webhook.ts";
import { clipLine } from "../text/clip.ts";
import type { PendingChange } from "./types.ts";

/** The outbox key (and delivery id) of one change's notice: one per tool and definition. */
export function changeKey(server: string, name: string, hash: string): string {
  return `tool.${server}.${name}.${hash.slice(0, 16)}`;
}

const NAME_CHARS = 64;

/**
 * The webhook's body for a changed or new tool: `{"type": "tool.changed",
 * "change": {server, tool, kind, hash, previousHash, firstSeen},
 * "reviewUrl", "text"}`. The definitions themselves stay out (a server
 * chooses them, and the review page shows them whole): the body's size does
 * not depend on them.
 */
export function changePayload(change: PendingChange, reviewUrl: string): string {
  const what = change.kind === "new" ? "New tool" : "Tool definition changed";
  const text = `<${slackUrl(reviewUrl)}|${what}>: ${code(clipLine(change.name, NAME_CHARS))} on ${code(change.server)} is hidden and refused until an operator reviews it`;
  return JSON.stringify({
    type: "tool.changed",
    change: {
      server: change.server,
      tool: clipLine(change.name, NAME_CHARS),
      kind: change.kind,
      hash: change.hash,
      previousHash: change.pinned?.hash ?? null,
      firstSeen: change.firstSeen,
    },
    reviewUrl,
    text,
  });
}

