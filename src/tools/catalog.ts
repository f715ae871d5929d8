import catalog from "../../policies/iterable/catalog.json" with { type: "json" };

type CatalogEntry = { tags: string[] };

const TOOLS: Record<string, CatalogEntry> = catalog.tools;

/**
 * Tags from the bundled Iterable catalog (policies/iterable/catalog.json),
 * and, for any tool, from the annotations the upstream advertises: a tool
 * marked `readOnlyHint` is `@read`, one marked `destructiveHint` is `@destructive`.
 */
export function toolTags(name: string, annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean }): Set<string> {
  const tags = new Set(Object.hasOwn(TOOLS, name) ? TOOLS[name]?.tags : []);
  if (annotations?.readOnlyHint === true) tags.add("read");
  if (annotations?.destructiveHint === true) tags.add("destructive");
  return tags;
}
