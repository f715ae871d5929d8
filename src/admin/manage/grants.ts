import { z } from "zod";
import { readConfig } from "../../config.ts";
import type { Bindings } from "../../env.ts";
import { grantKey, GrantRecordSchema, tokenKey, type GrantRecord } from "../../grants/grant.ts";
import { issueGrant, revocationEntries, type GrantListing, type KvEntry } from "../../grants/records.ts";
import { EXPIRY_PATTERN, expiryFrom } from "../../grants/expiry.ts";
import { adminRecord, writeAdminRecord } from "./admin-record.ts";
import { OAuthClientService } from "./oauth-clients.ts";
import { clipLine } from "../../text/clip.ts";

/** As many as a gateway can declare (src/servers/registry.ts). */
const MAX_GRANT_SERVERS = 32;
/** Workers KV refuses metadata larger than this; a grant's listing is its `grant:<id>` key's metadata. */
const MAX_LISTING_BYTES = 1024;

export const GRANT_STATUSES = ["active", "revoked", "expired"] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** A grant as operators see it: its record (never its token) and how it stands now. */
export const GrantSummarySchema = GrantRecordSchema.extend({ status: z.enum(GRANT_STATUSES) });
export type GrantSummary = z.infer<typeof GrantSummarySchema>;

/** What creating a grant takes (the console's form and `POST /admin/api/grants` alike). */
export const GrantCreateInputSchema = z.strictObject({
  label: z.string().trim().min(1, "a label is required").max(200, "at most 200 characters"),
  policy: z.string().min(1, "choose a policy").max(512),
  /** `90m`, `12h`, `30d`; absent: the grant does not expire. */
  expires: z.string().regex(EXPIRY_PATTERN, 'a duration like "90m", "12h" or "30d"').optional(),
  /** The declared servers it reaches; absent: the default server (the first declared). */
  servers: z.array(z.string().min(1).max(100)).min(1, "name at least one server").max(MAX_GRANT_SERVERS).optional(),
});
export type GrantCreateInput = z.infer<typeof GrantCreateInputSchema>;

export function grantStatus(grant: Pick<GrantRecord, "revoked" | "expiresAt">, now = Date.now()): GrantStatus {
  if (grant.revoked) return "revoked";
  return grant.expiresAt !== null && Date.parse(grant.expiresAt) <= now ? "expired" : "active";
}

export type CreateOutcome =
  | { ok: true; grant: GrantSummary; token: string }
  | { ok: false; problem: string };

export type RevokeOutcome =
  | { ok: true; grant: GrantSummary }
  | { ok: false; reason: "not_found"; grant?: undefined }
  | { ok: false; reason: "already_revoked"; grant: GrantSummary };

/**
 * Grants, for the console and the admin API: what `mcp-gateway grant …` does
 * with wrangler's KV commands, done through the Worker's GRANTS binding, with
 * the same KV layout (src/grants/grant.ts). Creating and revoking are audited
 * in the grant's own object ("grant.create", "grant.revoke"), with who did it.
 * The token of a new grant is returned once and never stored or logged.
 */
export class GrantService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /** Every grant, newest first (one KV list call per 1000 grants: the metadata holds all that is shown). */
  async list(now = Date.now()): Promise<GrantSummary[]> {
    const grants: GrantSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#env.GRANTS.list<GrantListing>({ prefix: grantKey(""), ...(cursor ? { cursor } : {}) });
      for (const key of page.keys) {
        if (key.metadata) grants.push(summary(key.name.slice(grantKey("").length), key.metadata, now));
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return grants.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  async get(id: string, now = Date.now()): Promise<GrantSummary | undefined> {
    const { value, metadata } = await this.#env.GRANTS.getWithMetadata<GrantListing>(grantKey(id));
    return value !== null && metadata ? summary(id, metadata, now) : undefined;
  }

  /**
   * Issues a grant bound to a stored policy; the answer carries its token, the
   * only time it is ever shown. `detail` adds to the audit record's detail
   * (the OAuth sign-in that asked for the grant, say).
   */
  async create(input: GrantCreateInput, by: string, now = Date.now(), detail: Record<string, unknown> = {}): Promise<CreateOutcome> {
    if ((await this.#env.POLICIES.get(input.policy)) === null) return { ok: false, problem: `there is no policy named "${input.policy}"` };
    let expiresAt: Date | undefined;
    if (input.expires !== undefined) {
      expiresAt = expiryFrom(input.expires, now);
      if (!expiresAt) return { ok: false, problem: "the expiry must be a duration like 90m, 12h or 30d, at most 3650d" };
    }
    const servers = this.#reachable(input.servers);
    if (!servers.ok) return servers;
    const issued = await issueGrant({ label: input.label, policy: input.policy, now: new Date(now), servers: servers.names, ...(expiresAt ? { expiresAt } : {}) });
    const listing = issued.entries.find((entry) => entry.metadata)?.metadata;
    if (new TextEncoder().encode(JSON.stringify(listing)).length > MAX_LISTING_BYTES) {
      return { ok: false, problem: "the label, policy name and servers are too long together to list (1 KiB): shorten the label" };
    }
    await this.#put(issued.entries);
    const { record } = issued;
    await writeAdminRecord(
      this.#env,
      record.id,
      adminRecord({ action: "grant.create", by, target: record.id, grant: { id: record.id, label: record.label }, detail: { ...detail, label: record.label, policy: record.policy, servers: servers.names } }, now),
    );
    return { ok: true, grant: { ...record, status: grantStatus(record, now) }, token: issued.token };
  }

  /**
   * Marks a grant revoked: its token record, which authentication reads,
   * and its listing. Agents holding the token, or an OAuth access token bound
   * to the grant, get 401 once the gateway's caches let go of it
   * (CACHE_TTL_MS, plus KV's edge cache when deployed). Its OAuth sign-ins
   * are then revoked too (their tokens and refresh tokens deleted), so no
   * refresh can outlive it.
   */
  async revoke(id: string, by: string, now = Date.now()): Promise<RevokeOutcome> {
    const index = await this.#env.GRANTS.get<{ tokenHash?: unknown }>(grantKey(id), { type: "json" });
    const tokenHash = typeof index?.tokenHash === "string" ? index.tokenHash : undefined;
    if (tokenHash === undefined) return { ok: false, reason: "not_found" };
    const parsed = GrantRecordSchema.safeParse(await this.#env.GRANTS.get(tokenKey(tokenHash), { type: "json" }));
    if (!parsed.success) return { ok: false, reason: "not_found" };
    const record = parsed.data;
    if (record.revoked) return { ok: false, reason: "already_revoked", grant: { ...record, status: "revoked" } };
    await this.#put(revocationEntries(record, tokenHash));
    await new OAuthClientService(this.#env).revokeAll(record.id);
    await writeAdminRecord(
      this.#env,
      record.id,
      adminRecord({ action: "grant.revoke", by, target: record.id, grant: { id: record.id, label: record.label }, detail: { label: record.label, policy: record.policy } }, now),
    );
    return { ok: true, grant: { ...record, revoked: true, status: "revoked" } };
  }

  /**
   * The servers a new grant names, in the order the gateway declares them:
   * each must be declared; none given, the default server. Written on the
   * record either way, so that what a grant reaches does not change when the
   * declarations are reordered.
   */
  #reachable(requested: string[] | undefined): { ok: true; names: string[] } | { ok: false; problem: string } {
    const { servers, defaultServer } = readConfig(this.#env);
    if (requested === undefined) return { ok: true, names: [defaultServer.name] };
    const unknown = requested.filter((name) => !servers.has(name));
    if (unknown.length > 0) {
      const named = unknown.slice(0, 5).map((name) => `"${clipLine(name, 40)}"`).join(", ");
      return { ok: false, problem: `this gateway has no server named ${named}: its servers are ${[...servers.keys()].join(", ")}` };
    }
    return { ok: true, names: [...servers.keys()].filter((name) => requested.includes(name)) };
  }

  async #put(entries: KvEntry[]): Promise<void> {
    for (const entry of entries) await this.#env.GRANTS.put(entry.key, entry.value, entry.metadata ? { metadata: entry.metadata } : {});
  }
}

function summary(id: string, listing: GrantListing, now: number): GrantSummary {
  const grant = {
    id,
    label: listing.label,
    policy: listing.policy,
    createdAt: listing.createdAt,
    expiresAt: listing.expiresAt,
    revoked: listing.revoked,
    ...(listing.servers ? { servers: listing.servers } : {}),
  };
  return { ...grant, status: grantStatus(grant, now) };
}
