/**
 * `node:fs` as the Iterable Worker's bundle sees it (wrangler.toml [alias]).
 *
 * `@iterable/api` reads its own package.json as its client module loads, to
 * put its version in the User-Agent:
 * `readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json"))`.
 * A Worker has no node_modules on disk (workerd's node:fs shows /bundle, /tmp
 * and /dev), and `import.meta.url` is undefined in a bundle. So wrangler.toml
 * defines `import.meta.url` as that module's place in the package
 * (`file:///node_modules/@iterable/api/dist/client/base.js`), and this module
 * answers the read of that package's package.json from the copy the bundler inlines, at build time,
 * from node_modules: the version can never be stale. Every other use of fs
 * goes to workerd's own module unchanged.
 */
import * as fs from "fs";
import iterableApiPackage from "@iterable/api/package.json";

/** Where `@iterable/api`'s client module looks for its package.json, given wrangler.toml's `import.meta.url`. */
export const ITERABLE_API_PACKAGE_JSON = "/node_modules/@iterable/api/package.json";

export * from "fs";

export const readFileSync = ((path: unknown, options?: unknown) =>
  path === ITERABLE_API_PACKAGE_JSON ? packageJsonText(options) : (fs.readFileSync as (path: unknown, options?: unknown) => unknown)(path, options)) as typeof fs.readFileSync;

export default { ...fs, readFileSync };

function packageJsonText(options: unknown): string | Buffer {
  const text = JSON.stringify(iterableApiPackage, null, 2);
  const encoding = typeof options === "string" ? options : (options as { encoding?: unknown } | undefined)?.encoding;
  return encoding === undefined || encoding === null ? Buffer.from(text) : text;
}
