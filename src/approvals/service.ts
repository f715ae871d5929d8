import { APPROVAL_INDEX_NAME } from "../approval-index/approval-index.ts";
import { readConfig } from "../config.ts";
import type { Bindings } from "../env.ts";
import type { Decided } from "../grant-object/approvals.ts";
import type { IndexListPage } from "../approval-index/approval-index.ts";
import { decodeCursor, encodeCursor } from "../audit/record.ts";
import type { ApprovalPage, ApprovalRecord, ApprovalStatus, DecisionInput } from "./record.ts";
import { APPROVAL_ID_PATTERN } from "./record.ts";

export type DecideOutcome = Decided | { ok: false; approval: undefined };

/**
 * What operators do with approvals, for the admin API, the approval page and
 * the CLI alike. Lists come from the approval index (one object, whatever the
 * number of grants); reading one approval and deciding it go to the grant's
 * own object, which owns it, so a decision is never made on a stale copy.
 */
export class ApprovalService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /** One page of list rows (newest first), continuing after `cursor`; a malformed cursor starts nowhere (an empty page). */
  async list(query: { status?: ApprovalStatus | undefined; decided?: boolean; server?: string | undefined; limit: number; cursor?: string | undefined }): Promise<ApprovalPage> {
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !before) return { approvals: [], cursor: null };
    const server = query.server === undefined ? undefined : { name: query.server, isDefault: query.server === readConfig(this.#env).defaultServer.name };
    const page = (await this.#index().list({ status: query.status, decided: query.decided ?? false, server, limit: query.limit, before })) as IndexListPage;
    return { approvals: page.approvals, cursor: page.next ? encodeCursor(page.next) : null };
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    const owner = await this.#owner(id);
    return owner ? ((await owner.approval(id)) as ApprovalRecord | undefined) : undefined;
  }

  /** Approves or denies a pending approval; `ok: false` with the approval when it was not pending (decided, used, expired). */
  async decide(id: string, decision: "approve" | "deny", input: DecisionInput & { by: string }): Promise<DecideOutcome> {
    const owner = await this.#owner(id);
    const decided = owner ? ((await owner.decide(id, decision, input)) as Decided | undefined) : undefined;
    return decided ?? { ok: false, approval: undefined };
  }

  async #owner(id: string) {
    if (!APPROVAL_ID_PATTERN.test(id)) return undefined;
    const grantId = await this.#index().grantOf(id);
    return grantId === undefined ? undefined : this.#env.GRANT_OBJECT.getByName(grantId);
  }

  #index() {
    return this.#env.APPROVAL_INDEX.getByName(APPROVAL_INDEX_NAME);
  }
}
