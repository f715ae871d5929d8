import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { NPM_START_DIR, writePrivateFile } from "../src/cli/local-instances.ts";

/**
 * What `npm start` keeps from one start to the next, for this folder's local
 * state (.wrangler/state, which every npm start here shares), in
 * .wrangler/npm-start/state.json (mode 0600):
 *
 * - `adminToken`: the local gateway's ADMIN_TOKEN, kept so that a restart
 *   signs no browser out and leaves saved tokens working; `--new-admin-token`
 *   replaces it. A start that is already running keeps the token it started
 *   with (its instance record says which).
 * - `shipped`: for each shipped policy, the version npm start pushed last, so
 *   that a later start can tell its own push from an operator's.
 */
export const STATE_FILE = join(NPM_START_DIR, "state.json");

const StateSchema = z.object({
  adminToken: z.string().min(24).optional(),
  shipped: z.record(z.string(), z.string()).default({}),
});
export type StartState = z.infer<typeof StateSchema>;

export function readState(file = STATE_FILE): StartState {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { shipped: {} };
  }
  try {
    return StateSchema.parse(JSON.parse(text));
  } catch {
    // Not what a start wrote: begin again rather than refuse to start (a new admin token is printed).
    return { shipped: {} };
  }
}

/** Changes the state on disk: read, change, written whole. */
export function updateState(change: (state: StartState) => StartState, file = STATE_FILE): StartState {
  const next = change(readState(file));
  writePrivateFile(file, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/** The admin token this start runs with: the kept one, or a new one (the first start, or `--new-admin-token`). */
export function adminToken(rotate: boolean, file = STATE_FILE): { token: string; fresh: boolean } {
  const kept = readState(file).adminToken;
  if (kept !== undefined && !rotate) return { token: kept, fresh: false };
  const token = randomBytes(24).toString("base64url");
  updateState((state) => ({ ...state, adminToken: token }), file);
  return { token, fresh: true };
}
