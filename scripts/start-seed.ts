import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { AdminApiError, adminRequest } from "../src/cli/admin-client.ts";
import type { AdminTarget } from "../src/cli/admin-target.ts";
import { writePrivateFile } from "../src/cli/local-instances.ts";
import { GrantSchema } from "../src/cli/grant-commands.ts";
import { policyVersion } from "../src/policy/version.ts";
import { readState, STATE_FILE, updateState } from "./start-state.ts";

/**
 * What `npm start` puts in the local state once its gateway answers, through
 * the admin API like any operator (validated there, and audited with
 * `by: "npm start"`): the shipped policies, and the dev grant.
 */

/** Who npm start's own changes are recorded as. */
export const NPM_START_ACTOR = "npm start";

export type ShippedPolicy = { name: string; file: string };

const StoredSchema = z.object({ version: z.string().nullable() });
const PushedSchema = z.object({ version: z.string() });

/**
 * Pushes a shipped policy where none is stored, or where the stored one is
 * the version npm start pushed last (an update of the shipped file reaches
 * it); a stored policy that is neither is the operator's, and is kept. The
 * answer is the one line to print.
 */
export async function seedShippedPolicy(target: AdminTarget, shipped: ShippedPolicy, root: string, stateFile = STATE_FILE): Promise<string> {
  const text = readFileSync(join(root, shipped.file), "utf8");
  const version = await policyVersion(JSON.parse(text));
  const stored = await storedVersion(target, shipped.name);
  const pushedLast = readState(stateFile).shipped[shipped.name];
  const remember = () => updateState((state) => ({ ...state, shipped: { ...state.shipped, [shipped.name]: version } }), stateFile);

  if (stored === version) {
    remember();
    return `policy:   "${shipped.name}" version ${version} (${shipped.file})`;
  }
  if (stored === undefined || stored === pushedLast) {
    const pushed = await adminRequest(target, PushedSchema, "PUT", `/policies/${encodeURIComponent(shipped.name)}`, { policy: text, by: NPM_START_ACTOR });
    remember();
    return `policy:   "${shipped.name}" version ${pushed.version} (${shipped.file}, pushed${stored === undefined ? "" : `, was ${stored}`})`;
  }
  return (
    `policy:   "${shipped.name}" version ${stored ?? "INVALID"} kept: it was changed since npm start pushed it; ` +
    `to take the shipped one (version ${version}): npx mcp-gateway policy push ${shipped.file} --name ${shipped.name}`
  );
}

/** The stored policy's version, null when it is not valid, undefined when there is none. */
async function storedVersion(target: AdminTarget, name: string): Promise<string | null | undefined> {
  try {
    return (await adminRequest(target, StoredSchema, "GET", `/policies/${encodeURIComponent(name)}`)).version;
  } catch (error) {
    if (error instanceof AdminApiError && error.status === 404) return undefined;
    throw error;
  }
}

const SavedGrantSchema = z.object({ id: z.string(), token: z.string() });
const CreatedSchema = z.object({ grant: GrantSchema, token: z.string() });
const GrantListSchema = z.object({ grants: z.array(GrantSchema) });

/**
 * The dev grant of earlier starts while it is active (its token is kept in `file`, mode 0600), else a new one on
 * `policy` reaching `servers` (absent: the gateway's default server).
 */
export async function devGrant(target: AdminTarget, policy: string, file: string, servers?: string[]): Promise<{ id: string; token: string; created: boolean }> {
  const saved = existsSync(file) ? SavedGrantSchema.safeParse(JSON.parse(readFileSync(file, "utf8"))).data : undefined;
  if (saved) {
    const { grants } = await adminRequest(target, GrantListSchema, "GET", "/grants");
    if (grants.some((grant) => grant.id === saved.id && grant.status === "active")) return { ...saved, created: false };
  }
  const { grant, token } = await adminRequest(target, CreatedSchema, "POST", "/grants", { label: "dev", policy, ...(servers ? { servers } : {}), by: NPM_START_ACTOR });
  writePrivateFile(file, JSON.stringify({ id: grant.id, token }));
  return { id: grant.id, token, created: true };
}
