import { AsyncLocalStorage } from "node:async_hooks";
import type { ClientIdentity } from "./client-session.ts";
import type { IterableConfig } from "./config.ts";

/**
 * What a running tool's requests to the Iterable API are sent with: the
 * request's configuration (key, base URL) and who is calling which tool.
 * The tools close over one API client built once per isolate, so per-request
 * values reach it here, through async context, as `@iterable/mcp` does with
 * its session context.
 */
export type CallContext = {
  config: IterableConfig;
  identity: ClientIdentity;
  toolName: string;
};

const calls = new AsyncLocalStorage<CallContext>();

export function runInCall<T>(context: CallContext, run: () => Promise<T>): Promise<T> {
  return calls.run(context, run);
}

export function currentCall(): CallContext | undefined {
  return calls.getStore();
}
