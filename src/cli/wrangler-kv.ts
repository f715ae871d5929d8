import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { KvEntry } from "../grants/records.ts";

export type KvTarget = { binding: "POLICIES" | "GRANTS"; remote: boolean; config?: string };

// The package's exports hide its bin; its main module sits one folder below it.
export const wranglerBin = () => join(dirname(createRequire(import.meta.url).resolve("wrangler")), "..", "bin", "wrangler.js");

/**
 * KV through `wrangler kv`, so `--local` reaches exactly the state `npm start`
 * (wrangler dev) uses and `--remote` the deployed namespaces, with the
 * user's own wrangler login. Nothing here talks to Cloudflare's API directly.
 */
function wrangler(target: KvTarget, args: string[]): string {
  const result = spawnSync(
    process.execPath,
    [
      wranglerBin(),
      ...args,
      "--binding",
      target.binding,
      target.remote ? "--remote" : "--local",
      ...(target.config ? ["--config", target.config] : []),
    ],
    { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) {
    throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed:\n${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

export function kvPutFile(target: KvTarget, key: string, path: string): void {
  wrangler(target, ["kv", "key", "put", key, "--path", path]);
}

/** Several entries in one wrangler call (one `kv bulk put`). */
export function kvPutEntries(target: KvTarget, entries: KvEntry[]): void {
  const dir = mkdtempSync(join(tmpdir(), "mcp-gateway-"));
  try {
    const file = join(dir, "entries.json");
    writeFileSync(file, JSON.stringify(entries));
    wrangler(target, ["kv", "bulk", "put", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function kvGet(target: KvTarget, key: string): string | undefined {
  const out = wrangler(target, ["kv", "key", "get", key, "--text"]);
  // wrangler prints this sentence, with exit code 0, for a missing key.
  return out.trim() === "Value not found" ? undefined : out;
}

export function kvList<M>(target: KvTarget, prefix: string): Array<{ name: string; metadata?: M }> {
  return JSON.parse(wrangler(target, ["kv", "key", "list", "--prefix", prefix]));
}
