import { z } from "zod";
import { GATEWAY_AUDIT_OBJECT } from "../../audit/service.ts";
import type { Bindings } from "../../env.ts";
import { isObject } from "../../json.ts";
import { decide, type Decision } from "../../policy/evaluate.ts";
import type { Policy } from "../../policy/schema.ts";
import { validatePolicy, validatePolicyText, type ValidationContext } from "../../policy/validate.ts";
import { policyVersion } from "../../policy/version.ts";
import { toolTags } from "../../tools/catalog.ts";
import { adminRecord, writeAdminRecord } from "./admin-record.ts";
import { POLICY_NAME_PATTERN, POLICY_NAME_RULE, type PolicySummary } from "../../policy/stored.ts";

export { POLICY_NAME_PATTERN, POLICY_NAME_RULE, PolicyNameSchema, PolicySummarySchema, type PolicySummary } from "../../policy/stored.ts";


export type StoredPolicy = PolicySummary & { text: string; problems: string[] };

/** A validation's answer: the version the document would have, or every problem at its JSON path; warnings (at their path too) leave it valid. */
export const ValidationSchema = z.object({ ok: z.boolean(), version: z.string().nullable(), problems: z.array(z.string()), warnings: z.array(z.string()) });
export type Validation = z.infer<typeof ValidationSchema>;



/**
 * Policies, for the console and the admin API: list and read what the
 * POLICIES namespace holds, validate a document (problems at their exact
 * JSON path, as `mcp-gateway policy validate` reports them), simulate a call
 * (as `mcp-gateway policy simulate`), and push a new version under a name,
 * validated first and audited as "policy.push" in the gateway-wide object.
 */
export class PolicyService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  async list(): Promise<PolicySummary[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#env.POLICIES.list(cursor ? { cursor } : {});
      names.push(...page.keys.map((key) => key.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    const stored = await Promise.all(names.map((name) => this.get(name)));
    return stored.filter((policy) => policy !== undefined).map(({ name, version, valid, pushable }) => ({ name, version, valid, pushable }));
  }

  async get(name: string): Promise<StoredPolicy | undefined> {
    const text = await this.#env.POLICIES.get(name, { type: "text" });
    if (text === null) return undefined;
    const validation = await validateDocument(text);
    return { name, text, version: validation.version, valid: validation.ok, pushable: POLICY_NAME_PATTERN.test(name), problems: validation.problems };
  }

  /** Stores a new version under `name` if the name fits and the document is valid; returns its version or the problems. */
  async push(name: string, document: unknown, by: string, now = Date.now()): Promise<Validation> {
    if (!POLICY_NAME_PATTERN.test(name)) return { ok: false, version: null, problems: [`name: "${name.slice(0, 80)}" cannot be pushed to: a policy name is ${POLICY_NAME_RULE}`], warnings: [] };
    const validation = await validateDocument(document);
    if (!validation.ok) return validation;
    const text = documentText(document);
    await this.#env.POLICIES.put(name, text);
    await writeAdminRecord(
      this.#env,
      GATEWAY_AUDIT_OBJECT,
      adminRecord({ action: "policy.push", by, target: name, grant: null, detail: { name, version: validation.version } }, now),
    );
    return validation;
  }
}

/**
 * Validates a policy given as its JSON text (a string, as pasted) or as the
 * parsed document. Problems name the exact JSON path, as validatePolicyText
 * gives them; a valid document also gets its version. Given the gateway's
 * servers, a section for another server is warned about.
 */
export async function validateDocument(document: unknown, context: ValidationContext = {}): Promise<Validation> {
  const result = typeof document === "string" ? validatePolicyText(document, context) : validatePolicy(document, context);
  if (!result.ok) return { ok: false, version: null, problems: result.problems, warnings: [] };
  return { ok: true, version: await policyVersion(typeof document === "string" ? JSON.parse(document) : document), problems: [], warnings: result.warnings };
}

/** The parsed policy of a valid document (text or parsed). */
export function parsedPolicy(document: unknown): Policy | undefined {
  const result = typeof document === "string" ? validatePolicyText(document) : validatePolicy(document);
  return result.ok ? result.policy : undefined;
}

/** What is stored: pasted text as given (line breaks normalised), a parsed document as pretty JSON. */
function documentText(document: unknown): string {
  return typeof document === "string" ? document.replace(/\r\n?/g, "\n") : `${JSON.stringify(document, null, 2)}\n`;
}

/** A call's arguments from their JSON text: a JSON object, or why not. */
export function parseArguments(text: string): { args: Record<string, unknown> } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === "" ? "{}" : text);
  } catch (error) {
    return { problem: `the arguments are not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  return isObject(value) ? { args: value } : { problem: "the arguments must be a JSON object, like {\"campaignId\": 42}" };
}

