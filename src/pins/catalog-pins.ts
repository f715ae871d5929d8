import iterablePins from "../../policies/iterable/pins.json" with { type: "json" };
import type { ToolDefinition } from "./definition.ts";

/** The pinned definitions a catalog ships (policies/iterable/pins.json, written by scripts/generate-pins.mjs). */
export function catalogDefinitions(catalog: "iterable"): ToolDefinition[] {
  switch (catalog) {
    case "iterable":
      return iterablePins.tools as ToolDefinition[];
  }
}

/** The package version a catalog's pins are of. */
export function catalogVersion(catalog: "iterable"): string {
  return `${iterablePins.server}@${iterablePins.version}`;
}
