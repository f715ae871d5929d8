import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/**
 * What `npm start` keeps beside wrangler's local state (.wrangler/state), in
 * NPM_START_DIR:
 *
 * - `<port>/instance.json`: one running npm start, written once its gateway
 *   answers and removed when it stops (only by the start that wrote it): its
 *   URL, its admin token and its process id. The CLI finds the running
 *   gateways here; a record whose process is gone (a start that was killed)
 *   is ignored and removed.
 * - `<port>/iterable.wrangler.json`: that start's config for the Iterable Worker.
 * - `state.json` (scripts/npm-start-state.ts): what outlives each start.
 *
 * Every file holding a token is mode 0600, written whole (a temporary file
 * renamed over it), so a reader never sees half of one.
 */
export const NPM_START_DIR = fileURLToPath(new URL("../../.wrangler/npm-start/", import.meta.url));

const InstanceSchema = z.object({
  url: z.string(),
  port: z.number().int(),
  pid: z.number().int(),
  token: z.string(),
  startedAt: z.string(),
});
export type Instance = z.infer<typeof InstanceSchema>;

export function instanceFile(port: number, dir = NPM_START_DIR): string {
  return join(dir, String(port), "instance.json");
}

export function recordInstance(instance: Instance, dir = NPM_START_DIR): void {
  writePrivateFile(instanceFile(instance.port, dir), `${JSON.stringify(instance, null, 2)}\n`);
}

/** Removes the record of the start on `port` if it is the one with process id `pid` (never another start's). */
export function forgetInstance(port: number, pid: number, dir = NPM_START_DIR): void {
  const file = instanceFile(port, dir);
  if (readInstance(file)?.pid === pid) rmSync(file, { force: true });
}

/** The npm starts running now, by port; the records of those that died are removed on the way. */
export function runningInstances(dir = NPM_START_DIR): Instance[] {
  let ports: string[];
  try {
    ports = readdirSync(dir).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const running: Instance[] = [];
  for (const port of ports) {
    const file = instanceFile(Number(port), dir);
    const instance = readInstance(file);
    if (instance === undefined) continue;
    if (isAlive(instance.pid)) running.push(instance);
    else rmSync(file, { force: true });
  }
  return running.sort((a, b) => a.port - b.port);
}

function readInstance(file: string): Instance | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    return InstanceSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Whether a process with this id exists (EPERM: it does, as another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Writes a file only its owner can read, whole: a temporary file in the same folder, renamed over it. */
export function writePrivateFile(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  // The mode given to writeFileSync is masked by the umask; this one is not.
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}
