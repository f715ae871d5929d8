import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { policyJsonSchema } from "../../src/policy/json-schema.ts";
import { validatePolicyText } from "../../src/policy/validate.ts";
import { ROOT } from "../../scripts/local-gateway.ts";
import { readdirSync } from "node:fs";

describe("committed files derived from the code", () => {
  it("policies/policy.schema.json matches the zod schema (npm run generate:schema)", () => {
    expect(JSON.parse(readFileSync(`${ROOT}/policies/policy.schema.json`, "utf8"))).toEqual(policyJsonSchema());
  });

  it.each([...readdirSync(`${ROOT}/policies/examples`).map((f) => `examples/${f}`), "iterable/recommended.json"])("policies/%s is a valid policy", (file) => {
    const validation = validatePolicyText(readFileSync(`${ROOT}/policies/${file}`, "utf8"));
    expect(validation.ok ? [] : validation.problems).toEqual([]);
  });
});
