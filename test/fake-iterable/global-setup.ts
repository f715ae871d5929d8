import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { wranglerBin } from "../../src/cli/wrangler-kv.ts";
import { startFakeIterable } from "./server.ts";

declare module "vitest" {
  interface ProvidedContext {
    fakeIterableUrl: string;
    /** Every module in the Iterable Worker's bundle, by its path from the repository root. */
    iterableBundleModules: string[];
  }
}

/** The key the fake API accepts in the `iterable` test project, and the Worker's ITERABLE_API_KEY there. */
export const FAKE_ITERABLE_TEST_KEY = "fake-iterable-test-key";

/** Where the Iterable Worker's bundle is built for the tests: exactly what `wrangler deploy` would upload. */
export const ITERABLE_BUNDLE_DIR = resolve(".build/iterable-mcp");
export const ITERABLE_BUNDLE = resolve(ITERABLE_BUNDLE_DIR, "index.js");

/**
 * For the `iterable` project: builds the Iterable Worker as wrangler deploys it
 * (its [alias] and [define] apply only in wrangler's bundler, so the tests run
 * that bundle, not the sources), and starts the fake Iterable REST API on a
 * loopback port for it to call.
 */
export default async function setup(project: TestProject) {
  await buildIterableWorker(ITERABLE_BUNDLE_DIR);
  project.provide("iterableBundleModules", bundleModules(await readFile(ITERABLE_BUNDLE, "utf8")));
  const fake = await startFakeIterable({ apiKey: FAKE_ITERABLE_TEST_KEY });
  project.provide("fakeIterableUrl", fake.url);
  return () => fake.close();
}

/** `wrangler deploy --dry-run --outdir <dir> -c upstreams/iterable/wrangler.toml`. */
export async function buildIterableWorker(outdir: string): Promise<void> {
  await promisify(execFile)(process.execPath, [wranglerBin(), "deploy", "--dry-run", "--outdir", outdir, "-c", "upstreams/iterable/wrangler.toml"], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
}

/** The modules esbuild put in a bundle: it heads each with a `// <path>` comment (paths relative to the config's folder). */
export function bundleModules(bundle: string): string[] {
  const paths = bundle.matchAll(/^\/\/ ((?:\.\.\/)*[\w@./-]+\.(?:[cm]?js|ts|json))$/gm);
  return [...new Set([...paths].map(([, path = ""]) => (path.startsWith("../../") ? path.slice("../../".length) : `upstreams/iterable/${path}`)))];
}
