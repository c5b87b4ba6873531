/**
 * The OpenAPI document of /api (src/api/openapi.ts) against the routes the API really mounts:
 * every route is described and every described operation is mounted; every $ref resolves; and
 * request bodies are described from the zod schemas that validate them.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { withApp } from "../helpers/app.ts";
import { Hono } from "hono";
import { apiRoutes } from "../../src/api/mod.ts";
import { openApiDocument } from "../../src/api/openapi.ts";
import { jsonSchema } from "../../src/api/json_schema.ts";
import { newAccountBody } from "../../src/api/accounts.ts";

const METHODS = ["get", "post", "put", "patch", "delete"];

Deno.test("every mounted /api route is in the OpenAPI document, and every documented one is mounted", async () => {
  await withApp((app) => {
    const http = new Hono();
    http.route("/api", apiRoutes({ app, queue: null }) as unknown as Hono);
    const mounted = new Set(
      http.routes
        .filter((route) => route.method !== "ALL")
        .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(openApiDocument().paths)) {
      for (const method of Object.keys(item)) {
        assert(METHODS.includes(method), `${method} ${path}`);
        documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    assertEquals([...mounted].sort(), [...documented].sort());
    assert(mounted.size >= 20, [...mounted].join("\n"));
    return Promise.resolve();
  });
});

Deno.test("every $ref in the OpenAPI document resolves, and every path parameter is declared", () => {
  const document = openApiDocument();
  assertEquals(document.openapi, "3.1.0");
  const seen: string[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (value && typeof value === "object") {
      for (const [key, child] of Object.entries(value)) {
        if (key === "$ref") seen.push(child as string);
        else walk(child);
      }
    }
  };
  walk(document);
  assert(seen.length > 0);
  for (const ref of seen) {
    let target: unknown = document;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      target = (target as Record<string, unknown>)?.[part];
    }
    assert(target !== undefined, `unresolved ${ref}`);
  }
  for (const [path, item] of Object.entries(document.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const operation of Object.values(item)) {
      const declared = ((operation.parameters ?? []) as { $ref?: string }[])
        .map((p) => p.$ref?.split("/").pop());
      for (const name of names) assert(declared.includes(name), `${path}: {${name}}`);
    }
  }
});

Deno.test("request bodies are the JSON Schema of the zod schemas that validate them", () => {
  const document = openApiDocument();
  const post = document.paths["/api/accounts"].post as {
    requestBody: { content: { "application/json": { schema: unknown } } };
  };
  const schema = post.requestBody.content["application/json"].schema;
  assertEquals(schema, jsonSchema(newAccountBody));
  assertEquals(schema, {
    type: "object",
    properties: {
      address: {
        type: "string",
        minLength: 3,
        maxLength: 320,
        description: "local@domain; the domain must exist.",
      },
      password: { type: "string", minLength: 1, maxLength: 1024 },
      passwordHash: {
        type: "string",
        minLength: 1,
        maxLength: 1024,
        description: "A stored hash with a {SCHEME} prefix, for migrations; instead of password.",
      },
      displayName: { type: "string", maxLength: 256 },
      quota: {
        anyOf: [{ type: "integer", minimum: 0 }, { type: "string" }],
        description: 'Bytes, or a size such as "2G"; 0 means unlimited.',
      },
    },
    required: ["address"],
    additionalProperties: false,
  });
});
