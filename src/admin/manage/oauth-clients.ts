import type { Bindings } from "../../env.ts";
import type { GrantRecord } from "../../grants/grant.ts";
import { oauthStorage } from "../../oauth/server.ts";
import { adminRecord, writeAdminRecord } from "./admin-record.ts";

/** One OAuth client signed in to a grant, as the console lists it (never a token). */
export type OAuthSignIn = {
  /** The OAuth grant's id (the library's), which revoking names. */
  id: string;
  clientId: string;
  /** The name the client registered with (self-asserted), or null when the registration is gone. */
  clientName: string | null;
  redirectUri: string | null;
  createdAt: string;
  /** When the sign-in ends however often it refreshes (OAUTH_REFRESH_TOKEN_TTL after it began); null: never. */
  expiresAt: string | null;
  /** How it was made: a grant token on the authorize page, or an operator who created the grant. */
  via: string | null;
  /** The operator, for a sign-in that created its grant. */
  by: string | null;
};

/** The sign-in metadata the authorize page stores with each OAuth grant (src/oauth/authorize.tsx). */
export type SignInMetadata = { via: "grant_token" | "operator"; by?: string; clientName: string };

const ISSUED_ID = /^[A-Za-z0-9_-]{16}$/;

/**
 * The OAuth clients signed in to each grant, for the console: an OAuth grant
 * in OAUTH_KV whose user id is the gateway grant's id (src/oauth/server.ts).
 * Revoking one deletes it with its access and refresh tokens; agents using it
 * get 401 once the gateway's token cache lets go (CACHE_TTL_MS).
 */
export class OAuthClientService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /** A grant's sign-ins, newest first. */
  async list(grantId: string): Promise<OAuthSignIn[]> {
    const api = oauthStorage(this.#env);
    const signIns: OAuthSignIn[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listUserGrants(grantId, cursor ? { cursor } : {});
      const names = await Promise.all(page.items.map((item) => api.lookupClient(item.clientId).then((client) => client?.clientName ?? null, () => null)));
      page.items.forEach((item, index) => {
        const metadata = (item.metadata ?? {}) as Partial<SignInMetadata>;
        signIns.push({
          id: item.id,
          clientId: item.clientId,
          clientName: names[index] ?? (typeof metadata.clientName === "string" ? metadata.clientName : null),
          redirectUri: item.redirectUri ?? null,
          createdAt: new Date(item.createdAt * 1000).toISOString(),
          expiresAt: item.expiresAt === undefined ? null : new Date(item.expiresAt * 1000).toISOString(),
          via: typeof metadata.via === "string" ? metadata.via : null,
          by: typeof metadata.by === "string" ? metadata.by : null,
        });
      });
      cursor = page.cursor;
    } while (cursor);
    return signIns.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  async get(grantId: string, id: string): Promise<OAuthSignIn | undefined> {
    if (!ISSUED_ID.test(id)) return undefined;
    return (await this.list(grantId)).find((signIn) => signIn.id === id);
  }

  /** Revokes one sign-in (its tokens and refresh token), audited in the grant's object as "oauth.revoke". */
  async revoke(grant: Pick<GrantRecord, "id" | "label">, signIn: OAuthSignIn, by: string, now = Date.now()): Promise<void> {
    await oauthStorage(this.#env).revokeGrant(signIn.id, grant.id);
    await writeAdminRecord(
      this.#env,
      grant.id,
      adminRecord(
        { action: "oauth.revoke", by, target: signIn.id, grant: { id: grant.id, label: grant.label }, detail: { client: signIn.clientId, clientName: signIn.clientName } },
        now,
      ),
    );
  }

  /** Every sign-in of a grant being revoked. A failure is logged: the grant's own revocation already refuses their tokens. */
  async revokeAll(grantId: string): Promise<void> {
    try {
      const api = oauthStorage(this.#env);
      for (const signIn of await this.list(grantId)) await api.revokeGrant(signIn.id, grantId);
    } catch (error) {
      console.error("OAuth sign-ins of a revoked grant not deleted (their tokens are refused anyway)", { grant: grantId, error: String(error) });
    }
  }
}
