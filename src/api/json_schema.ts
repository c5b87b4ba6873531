/**
 * JSON Schema (the 2020-12 dialect OpenAPI 3.1 uses) of the zod schemas that validate request
 * bodies, so the OpenAPI document describes exactly what readJson accepts. Covers the zod types
 * the API's bodies use; anything else is an error at startup, not a silent gap.
 */
import { z } from "zod";

export type JsonSchema = Record<string, unknown>;

/**
 * The JSON Schema of `schema`, as a client sends it (the input side of transforms).
 *
 * @example
 * jsonSchema(z.object({ name: z.string().min(1) }).strict());
 * // { type: "object", properties: { name: { type: "string", minLength: 1 } }, required: ["name"], additionalProperties: false }
 */
export function jsonSchema(schema: z.ZodTypeAny): JsonSchema {
  const out = convert(schema);
  if (schema.description && !out.description) out.description = schema.description;
  return out;
}

function convert(schema: z.ZodTypeAny): JsonSchema {
  if (schema instanceof z.ZodEffects) return jsonSchema(schema.innerType());
  if (schema instanceof z.ZodPipeline) return jsonSchema(schema._def.in);
  if (schema instanceof z.ZodOptional) return jsonSchema(schema.unwrap());
  if (schema instanceof z.ZodDefault) {
    return { ...jsonSchema(schema._def.innerType), default: schema._def.defaultValue() };
  }
  if (schema instanceof z.ZodUnion) {
    return { anyOf: (schema.options as z.ZodTypeAny[]).map(jsonSchema) };
  }
  if (schema instanceof z.ZodString) {
    const out: JsonSchema = { type: "string" };
    for (const check of schema._def.checks) {
      if (check.kind === "min") out.minLength = check.value;
      if (check.kind === "max") out.maxLength = check.value;
    }
    return out;
  }
  if (schema instanceof z.ZodNumber) {
    const out: JsonSchema = { type: "number" };
    for (const check of schema._def.checks) {
      if (check.kind === "int") out.type = "integer";
      if (check.kind === "min") out[check.inclusive ? "minimum" : "exclusiveMinimum"] = check.value;
      if (check.kind === "max") out[check.inclusive ? "maximum" : "exclusiveMaximum"] = check.value;
    }
    return out;
  }
  if (schema instanceof z.ZodBoolean) return { type: "boolean" };
  if (schema instanceof z.ZodObject) {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [key, value] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
      properties[key] = jsonSchema(value);
      if (!value.isOptional()) required.push(key);
    }
    const out: JsonSchema = { type: "object", properties };
    if (required.length) out.required = required;
    if (schema._def.unknownKeys === "strict") out.additionalProperties = false;
    return out;
  }
  throw new Error(`jsonSchema: no conversion for ${schema.constructor.name}`);
}
