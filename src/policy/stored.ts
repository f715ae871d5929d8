import { z } from "zod";

/**
 * Names a policy can be pushed under (the KV key): plain words that cannot
 * look like a file or a route (no dots, no slashes, no upper case). A policy
 * stored under another name by an older version keeps working for its grants,
 * but no new version can be pushed under that name.
 */
export const POLICY_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
export const POLICY_NAME_RULE = "a lower-case letter, then lower-case letters, digits, '_' and '-', at most 64 in all";
export const PolicyNameSchema = z.string().regex(POLICY_NAME_PATTERN, POLICY_NAME_RULE);

/**
 * A stored policy as listed: its name, its version (null when the document is
 * not valid), whether it is valid, and whether its name can still be pushed to.
 */
export const PolicySummarySchema = z.object({
  name: z.string(),
  version: z.string().nullable(),
  valid: z.boolean(),
  /** False for a name stored before names were restricted: it works, but takes no new version. */
  pushable: z.boolean(),
});
export type PolicySummary = z.infer<typeof PolicySummarySchema>;
