import type { EventStreamOptions } from "../mcp/event-stream.ts";
import type { ServerRuntime, Services } from "../services.ts";
import { toolPinsOf } from "./tool-pins.ts";

/** How often an open agent stream asks whether the server's pins changed. */
export const PIN_WATCH_MS = 3_000;

const LIST_CHANGED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });

/**
 * Tells an agent's open stream when the tools it may see changed because of
 * pins: a change hid a tool, an operator's acceptance restored one. The
 * server's pins object bumps its version on each; the stream reads it every
 * PIN_WATCH_MS (the first read sets where it starts) and, when it moved,
 * sends `notifications/tools/list_changed` and drops this isolate's cached
 * pins so the agent's next tools/list is judged with the new ones.
 */
export function pinWatch(services: Services, runtime: ServerRuntime): EventStreamOptions["watch"] {
  let seen: number | undefined;
  return {
    everyMs: PIN_WATCH_MS,
    check: async () => {
      const version = await toolPinsOf(services.pinObjects, runtime.server).version();
      const moved = seen !== undefined && version !== seen;
      seen = version;
      if (!moved) return undefined;
      runtime.pins.invalidate();
      return LIST_CHANGED;
    },
  };
}

/** The same for a merged stream: one notice when any of its servers' pins moved. */
export function mergedPinWatch(services: Services, runtimes: ServerRuntime[]): EventStreamOptions["watch"] {
  const watches = runtimes.map((runtime) => pinWatch(services, runtime)!);
  return {
    everyMs: PIN_WATCH_MS,
    check: async () => {
      const messages = await Promise.all(watches.map((watch) => watch.check().catch(() => undefined)));
      return messages.find((message) => message !== undefined);
    },
  };
}
