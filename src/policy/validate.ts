import { CONFIG_DEFAULTS } from "../config.ts";
import { isObject } from "../json.ts";
import { describeIssues, durationMs, PolicySchema, type ApprovalSettings, type Policy, type PolicySection } from "./schema.ts";

/**
 * A valid policy may still carry warnings: settings that work, but not as
 * their author probably expects. They never make a policy invalid.
 */
export type PolicyValidation = { ok: true; policy: Policy; warnings: string[] } | { ok: false; problems: string[] };

/**
 * What the validation knows of the gateway: the servers it declares, so that a
 * section naming another is warned about (not refused: a policy may be shared
 * by deployments that declare different servers).
 */
export type ValidationContext = { servers?: Iterable<string> | undefined };

/** Parses a policy document's text; problems name the exact JSON path. Used by the Worker and the CLI alike. */
export function validatePolicyText(text: string, context: ValidationContext = {}): PolicyValidation {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`(policy): not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  return validatePolicy(document, context);
}

export function validatePolicy(document: unknown, context: ValidationContext = {}): PolicyValidation {
  const proto = protoKeys(document);
  if (proto.length > 0) return { ok: false, problems: proto };
  const parsed = PolicySchema.safeParse(document);
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error) };
  return { ok: true, policy: parsed.data, warnings: [...policyWarnings(parsed.data), ...sectionWarnings(parsed.data, context.servers)] };
}

/** Warnings at their JSON path, as problems are given: each `approval.hold` longer than a call without progress is held. */
function policyWarnings(policy: Policy): string[] {
  const bodies: Array<[string, PolicySection]> = [["", policy], ...Object.entries(policy.servers ?? {}).map(([name, section]): [string, PolicySection] => [`servers.${name}.`, section])];
  const settings = bodies.flatMap(([at, body]): Array<[string, ApprovalSettings | undefined]> => [
    [`${at}approval`, body.approval],
    ...Object.entries(body.tools).map(([pattern, rule]): [string, ApprovalSettings | undefined] => [`${at}tools.${pattern}.approval`, rule.approval]),
  ]);
  return settings.flatMap(([path, approval]) => (approval?.hold === undefined ? [] : holdWarning(`${path}.hold`, approval.hold)));
}

/** A section for a server this gateway does not declare applies to nothing here. */
function sectionWarnings(policy: Policy, declared: Iterable<string> | undefined): string[] {
  if (declared === undefined) return [];
  const names = new Set(declared);
  return Object.keys(policy.servers ?? {})
    .filter((name) => !names.has(name))
    .map((name) => `servers.${name}: this gateway declares no server named "${name}" (it declares ${[...names].join(", ") || "none"}), so this section applies to nothing here`);
}

function holdWarning(path: string, hold: string): string[] {
  const capMs = CONFIG_DEFAULTS.MAX_HOLD_WITHOUT_PROGRESS_MS;
  if (durationMs(hold) <= capMs) return [];
  return [
    `${path}: ${hold} is longer than the ${capMs / 1000} s a call without a progress token is held (MAX_HOLD_WITHOUT_PROGRESS_MS): ` +
      `MCP clients give up on a request after 60 s unless progress resets their timeout, so only a client that sends a progressToken ` +
      `(and resets its timeout on progress) waits the full ${hold}`,
  ];
}

/**
 * JSON.parse keeps a member named `__proto__`, but no object built from it
 * can (zod drops it): a rule for it would vanish silently, so it is refused.
 */
function protoKeys(document: unknown): string[] {
  if (!isObject(document)) return [];
  const servers = isObject(document.servers) ? document.servers : {};
  if (Object.hasOwn(servers, "__proto__")) return ['servers.__proto__: "__proto__" cannot name a server in a policy'];
  const bodies: Array<[string, Record<string, unknown>]> = [
    ["", document],
    ...Object.entries(servers).flatMap(([name, section]): Array<[string, Record<string, unknown>]> => (isObject(section) ? [[`servers.${name}.`, section]] : [])),
  ];
  return bodies.flatMap(([at, body]) =>
    (["tools", "tags"] as const)
      .filter((key) => isObject(body[key]) && Object.hasOwn(body[key], "__proto__"))
      .map((key) => `${at}${key}.__proto__: "__proto__" cannot name a tool in a policy`),
  );
}
