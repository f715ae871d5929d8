import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import type { ServerRuntime } from "../services.ts";
import type { PinnedTool } from "./pin-cache.ts";

/** Hands what a tool list showed to the server's pins, off the agent's path. */
export type PinReporter = (tools: PinnedTool[], complete: boolean) => void;

/** A reporter for one request and server: the report runs after the answer (waitUntil). */
export function pinReporter(c: Context<AppEnv>, runtime: ServerRuntime): PinReporter {
  const { services } = c.var;
  const reviewUrl = new URL("/admin/tools", services.config.publicUrl ?? new URL(c.req.url).origin).href;
  return (tools, complete) => c.executionCtx.waitUntil(runtime.pins.report(services.pinObjects, tools, complete, reviewUrl));
}
