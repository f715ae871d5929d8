import { Validator, type Schema } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { describeProblems, MAX_PROBLEMS_LISTED } from "../../src/tools/argument-problems.ts";

const problemsOf = (schema: Schema, value: unknown) => describeProblems(new Validator(schema, "2020-12", false).validate(value).errors);

describe("defect 9: redacted values leak into the trail (schema validation reasons)", () => {
  it.each([
    ["minimum", { minimum: 0 }, -987654321],
    ["maximum", { maximum: 10 }, 987654321],
    ["exclusiveMinimum", { exclusiveMinimum: 0 }, -987654321],
    ["exclusiveMaximum", { exclusiveMaximum: 0 }, 987654321],
    ["multipleOf", { multipleOf: 7 }, 987654321],
    ["maxLength", { maxLength: 3 }, "secret-value-987654321"],
    ["minLength", { minLength: 30 }, "secret-value-987654321"],
    ["maxItems", { maxItems: 1 }, ["secret-value-987654321", 2]],
    ["uniqueItems", { uniqueItems: true }, ["secret-value-987654321", "secret-value-987654321"]],
  ])("%s: the value-free reason names the path and the keyword, never the value; the detail keeps it", (keyword, rule, value) => {
    const { detail, valueFree } = problemsOf({ type: "object", properties: { field: rule as Schema } }, { field: value });
    expect(valueFree).toContain("#/field");
    expect(valueFree).toContain(`"${keyword}"`);
    expect(valueFree).not.toContain("987654321");
    expect(detail).toContain("#/field");
    if (typeof value === "number") expect(detail).toContain(String(value));
  });

  it("messages built from the schema alone are kept as they are", () => {
    const { detail, valueFree } = problemsOf({ type: "object", properties: { kind: { enum: ["a", "b"] } }, required: ["name"] }, { kind: "secret" });
    expect(valueFree).toBe(detail);
    expect(valueFree).toContain('required property "name"');
    expect(valueFree).not.toContain("secret");
  });

  it("however many problems and however long the member names, both reasons stay short", () => {
    const value = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`${"k".repeat(10_000)}${i}`, i]));
    const { detail, valueFree } = problemsOf({ type: "object", additionalProperties: { type: "string" } }, value);
    for (const reason of [detail, valueFree]) {
      expect(reason.length).toBeLessThan(MAX_PROBLEMS_LISTED * 400);
      expect(reason).toMatch(/and \d+ more$/);
    }
  });

  it("a name cut short never ends on half a surrogate pair", () => {
    const { valueFree } = problemsOf({ type: "object", additionalProperties: false }, { [`${"k".repeat(119)}😀😀😀`]: 1 });
    expect(valueFree.isWellFormed()).toBe(true);
  });
});
