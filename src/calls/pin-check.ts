import type { Policy } from "../policy/schema.ts";
import type { PinState } from "../pins/pin-cache.ts";
import type { ServerRuntime, Services } from "../services.ts";
import { validatorOf, type ToolInfo } from "../tools/tool-index.ts";

/** What the pins say of a call's tool: why it is refused (enforce), and what its arguments are checked against. */
export type PinCheck = { problem: string | undefined; validate: ToolInfo["validate"] };

const PROBLEMS: Partial<Record<PinState, string>> = {
  changed: "the server changed this tool's definition since it was pinned; an operator must review the change before the tool can be used",
  new: "the server added this tool after its tools were pinned; an operator must review it before it can be used",
  unknown: "the gateway could not read this server's pinned tool definitions, so it cannot tell whether this tool changed; try again shortly",
};

/**
 * Judges a call's tool against its pin. Under "enforce" a tool that is not
 * as pinned is refused; its arguments are then never looked at. Under
 * "monitor" it goes on, but its arguments are checked against the schema
 * an operator accepted (its pin's), never one nobody has seen; a tool with
 * no pin has only its live schema. "off" ignores pins.
 */
export async function checkPin(services: Services, runtime: ServerRuntime, pinning: Policy["pinning"], tool: ToolInfo): Promise<PinCheck> {
  const live: ToolInfo["validate"] = (args) => tool.validate(args);
  if (pinning === "off") return { problem: undefined, validate: live };
  const view = await runtime.pins.view(services.pinObjects);
  const state = view.state(tool);
  const problem = PROBLEMS[state];
  if (problem === undefined || pinning === "enforce") return { problem, validate: live };
  if (state !== "changed") return { problem, validate: live };
  const pin = await runtime.pins.pinned(services.pinObjects, tool.name);
  return { problem, validate: pin?.definition ? validatorOf(tool.name, pin.definition.inputSchema) : live };
}
