// Writes policies/policy.schema.json from the zod schema the gateway enforces,
// so editors complete and check policy files (`"$schema": "../policy.schema.json"`).
//
//   node scripts/generate-policy-schema.ts
import { writeFileSync } from "node:fs";
import { policyJsonSchema } from "../src/policy/json-schema.ts";

writeFileSync(new URL("../policies/policy.schema.json", import.meta.url), `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
console.log("policies/policy.schema.json written");
