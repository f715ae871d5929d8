/**
 * Arguments that satisfy a tool's input schema, made from the JSON Schema it
 * lists, so every tool can be called without a hand-written example each. The
 * package's zod schemas also check rules JSON Schema cannot say ("email or
 * userId"): an optional email-like property is always filled in.
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  default?: unknown;
  $ref?: string;
};

const IDENTITY_PROPERTIES = ["email", "recipientEmail", "currentEmail"];

export function argumentsFor(schema: Schema): Record<string, unknown> {
  return valueFor(schema, "", schema) as Record<string, unknown>;
}

function valueFor(schema: Schema, name: string, root: Schema): unknown {
  // zod-to-json-schema points a repeated schema at its first place ("#/properties/startDateTime").
  if (schema.$ref !== undefined) return valueFor(resolve(root, schema.$ref), name, root);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return valueFor(alternatives.find((each) => each.type !== "null") ?? alternatives[0] ?? {}, name, root);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((each) => each !== "null") : schema.type;
  switch (type) {
    case "string":
      if (/email/i.test(name)) return "user1@example.com";
      if (/date|time|sendAt/i.test(name)) return "2026-01-05T09:00:00Z";
      return "sandbox-1";
    case "number":
    case "integer":
      return Math.max(1, schema.minimum ?? 1);
    case "boolean":
      return false;
    case "array":
      return [valueFor(schema.items ?? {}, name, root)];
    case "object":
    case undefined:
      return objectFor(schema, root);
    default:
      return null;
  }
}

function objectFor(schema: Schema, root: Schema): Record<string, unknown> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length === 0 && typeof schema.additionalProperties === "object") return { "item-1": valueFor(schema.additionalProperties, "item-1", root) };
  const filled = new Set([...(schema.required ?? []), ...IDENTITY_PROPERTIES.filter((each) => names.includes(each))]);
  return Object.fromEntries([...filled].map((each) => [each, valueFor(properties[each] ?? {}, each, root)]));
}

function resolve(root: Schema, ref: string): Schema {
  const path = ref.replace(/^#\/?/, "").split("/").filter(Boolean);
  let schema: unknown = root;
  for (const part of path) schema = (schema as Record<string, unknown> | undefined)?.[part];
  return (schema ?? {}) as Schema;
}
