// Writes policies/policy.schema.json from the zod schema the gateway enforces,
// so editors complete and check policy files (`"$schema": "../policy.schema.json"`).
//
//   node scripts/generate-policy-schema.ts
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { PolicySchema } from "../src/policy/schema.ts";

const schema = {
  ...z.toJSONSchema(PolicySchema, { io: "input", target: "draft-2020-12" }),
  title: "mcp-policy-gateway policy",
};
writeFileSync(new URL("../policies/policy.schema.json", import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
console.log("policies/policy.schema.json written");
