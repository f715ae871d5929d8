import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import type { ServerRuntime } from "../services.ts";
import type { PinReporter } from "./types.ts";

/** A reporter for one request and server: the report runs after the answer (waitUntil). */
export function pinReporter(c: Context<AppEnv>, runtime: ServerRuntime): PinReporter {
  const { services } = c.var;
  // Made for every call, used by few (those that list tools): the URL is worked out only when reporting.
  return (tools, complete) => {
    const reviewUrl = new URL("/admin/tools", services.config.publicUrl ?? new URL(c.req.url).origin).href;
    c.executionCtx.waitUntil(runtime.pins.report(services.pinObjects, tools, complete, reviewUrl));
  };
}
