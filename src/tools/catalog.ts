import catalog from "../../policies/iterable/catalog.json" with { type: "json" };

type CatalogEntry = { tags: string[]; category: string };
type Annotations = { readOnlyHint?: boolean; destructiveHint?: boolean };
/** The tags of a tool, by its name and the annotations its server advertises. */
export type Tagger = (name: string, annotations?: Annotations) => Set<string>;

/**
 * Tags from a catalog, and, for any tool it does not list, from the
 * annotations the upstream advertises: a tool marked `readOnlyHint` is
 * `@read`, one marked `destructiveHint` is `@destructive`. A tool the catalog
 * lists as unclassified (new in a package version nobody has reviewed yet)
 * has no tags at all, whatever the server says of it, so a policy written in
 * tags refuses it.
 */
export function taggerOf(tools: Record<string, CatalogEntry>): Tagger {
  return (name, annotations) => {
    const entry = Object.hasOwn(tools, name) ? tools[name] : undefined;
    if (entry?.category === "unclassified") return new Set();
    const tags = new Set(entry?.tags ?? []);
    if (annotations?.readOnlyHint === true) tags.add("read");
    if (annotations?.destructiveHint === true) tags.add("destructive");
    return tags;
  };
}

/** Tags from the bundled Iterable catalog (policies/iterable/catalog.json). */
export const toolTags = taggerOf(catalog.tools);
