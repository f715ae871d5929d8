import { DurableObject } from "cloudflare:workers";

/**
 * One Durable Object per grant (addressed with `idFromName(grantId)`): the
 * strongly consistent home of that grant's rate-limit counters, approvals and
 * audit trail. Declared now so the SQLite migration exists from the first
 * deploy; its tables and RPC methods arrive with rate limiting.
 */
export class GrantObject extends DurableObject<Env> {}
