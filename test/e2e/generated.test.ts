import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS } from "../../src/config.ts";
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

describe("defect 12: one source of truth for configuration defaults", () => {
  const reference = readFileSync(`${ROOT}/docs/configuration.md`, "utf8");
  /** docs/configuration.md's table: name → default column, backticks removed. */
  const documented = new Map(
    [...reference.matchAll(/^\| `([A-Z_]+)` \| (?:var|secret) \| ([^|]*) \|/gm)].map((row) => [row[1], row[2]?.trim().replace(/^`|`$/g, "")]),
  );

  it.each(Object.entries(CONFIG_DEFAULTS))("docs/configuration.md documents %s with the default the code uses", (name, value) => {
    expect(documented.get(name)).toBe(String(value));
  });

  it("wrangler.toml sets no default of its own", () => {
    const vars = readFileSync(`${ROOT}/wrangler.toml`, "utf8").split("[vars]")[1]?.split("[[")[0] ?? "";
    const set = [...vars.matchAll(/^([A-Z_]+)\s*=/gm)].map((match) => match[1]);
    expect(set).toEqual([]);
  });
});

describe("the README and docs/ link to what exists", () => {
  const files = ["README.md", ...readdirSync(`${ROOT}/docs`).map((file) => `docs/${file}`)];
  it.each(files)("every relative link in %s names a file of the repository", (file) => {
    const text = readFileSync(`${ROOT}/${file}`, "utf8");
    const base = new URL(file, `file://${ROOT}/`);
    const targets = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
    for (const target of targets) expect(() => readFileSync(new URL(target, base)), `${file} → ${target}`).not.toThrow();
  });
});
