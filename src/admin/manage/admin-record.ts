import { z } from "zod";
import type { AdminAction, AdminRecord } from "../../audit/record.ts";
import { AuditWriter, newAuditId } from "../../audit/writer.ts";
import type { Bindings } from "../../env.ts";

/** Who acts through the admin API (the Bearer ADMIN_TOKEN names nobody in particular). */
export const API_ACTOR = "admin (api)";

/**
 * Who the caller of the admin API says acts (`"alice (cli)"`, `"npm start"`):
 * optional on every route that changes something, recorded as given, bounded
 * as an approval decision's `by` is. The admin token names nobody, so this is
 * the caller's word, as the decision's is.
 */
export const ActorSchema = z.string().min(1).max(200);

/** The record's `by` for an admin API request: the caller's, else API_ACTOR. */
export function apiActor(by: string | undefined): string {
  return by ?? API_ACTOR;
}

type AdminRecordInput = {
  action: AdminAction;
  /** Who did it: "admin" (the admin token on the pages), an Access email, or API_ACTOR. */
  by: string;
  /** What was acted on: a grant id, a policy name, `<counter>/<scope>`. */
  target: string;
  /** The grant acted on; null for actions on no grant (a policy push, a global counter). */
  grant: { id: string; label: string } | null;
  detail: Record<string, unknown>;
};

/** An operator's action as an audit record, timed now. */
export function adminRecord(input: AdminRecordInput, now = Date.now()): AdminRecord {
  return { kind: "admin", id: newAuditId(now), time: new Date(now).toISOString(), ...input };
}

/** Stores an operator's action at once in the object that owns it (a grant's, or "global"). */
export function writeAdminRecord(env: Bindings, objectName: string, record: AdminRecord): Promise<void> {
  return new AuditWriter(env.GRANT_OBJECT).writeNow(objectName, record);
}
