/**
 * GET /api/openapi.json: the OpenAPI 3.1 description of the management API. Request bodies are
 * described from the zod schemas that validate them (json_schema.ts); responses from the views
 * the resource modules return. tests/unit/api_openapi_test.ts checks that the routes mounted
 * and the paths described are the same set.
 */
import type { z } from "zod";
import { VERSION } from "../version.ts";
import { accountChangesBody, newAccountBody } from "./accounts.ts";
import { newAliasBody } from "./aliases.ts";
import { newDomainBody } from "./domains.ts";
import { newTokenBody } from "./tokens.ts";
import { newAppPasswordBody } from "./app_passwords.ts";
import { type JsonSchema, jsonSchema } from "./json_schema.ts";
import { API_ERROR_TYPES } from "./respond.ts";

type Operation = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const string = { type: "string" };
const integer = { type: "integer" };
const dateTime = { type: "string", format: "date-time" };
const nullable = (schema: JsonSchema) => ({ anyOf: [schema, { type: "null" }] });
const object = (properties: Record<string, JsonSchema>, description?: string) => ({
  type: "object",
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties),
});
const listOf = (key: string, item: string) =>
  object({ [key]: { type: "array", items: ref(item) } });

const ERRORS: Record<number, [string, string]> = {
  400: ["BadRequest", "The body is not valid JSON, or does not match the schema."],
  401: [
    "Unauthorized",
    "No credentials, or wrong ones (WWW-Authenticate says which schemes); tokenRequired: the " +
    "account has two-step sign-in on and must use an API token.",
  ],
  403: [
    "Forbidden",
    "Not an administrator, plain http from another machine, or a cross-site request.",
  ],
  404: ["NotFound", "No such resource."],
  409: [
    "Conflict",
    "It exists already, or is still in use; a setting: set by an environment variable.",
  ],
  413: ["PayloadTooLarge", "The body is larger than [admin] max_request_size."],
  415: ["UnsupportedMediaType", "The body is not application/json."],
  429: ["TooManyRequests", "Too many failed logins from this client or for this account."],
};

interface OperationSpec {
  summary: string;
  tag: string;
  params?: ("domain" | "address" | "id")[];
  query?: { name: string; description: string }[];
  body?: z.ZodTypeAny;
  status?: 200 | 201 | 204;
  response?: JsonSchema;
  errors?: number[];
}

function operation(spec: OperationSpec): Operation {
  const status = spec.status ?? 200;
  const errors = new Set([401, 403, 429, ...(spec.errors ?? [])]);
  if (spec.params?.length) errors.add(404);
  if (spec.body) [400, 413, 415].forEach((code) => errors.add(code));
  const responses: Record<string, unknown> = {
    [status]: status === 204
      ? { description: "Done." }
      : { description: "OK.", content: { "application/json": { schema: spec.response } } },
  };
  for (const code of [...errors].sort((a, b) => a - b)) {
    responses[code] = { $ref: `#/components/responses/${ERRORS[code][0]}` };
  }
  return {
    summary: spec.summary,
    tags: [spec.tag],
    parameters: [
      ...(spec.params ?? []).map((name) => ({ $ref: `#/components/parameters/${name}` })),
      ...(spec.query ?? []).map(({ name, description }) => ({
        name,
        in: "query",
        required: false,
        description,
        schema: string,
      })),
    ],
    ...(spec.body
      ? {
        requestBody: {
          required: true,
          content: { "application/json": { schema: jsonSchema(spec.body) } },
        },
      }
      : {}),
    responses,
  };
}

const SCHEMAS: Record<string, JsonSchema> = {
  Error: object({
    error: object({
      type: { type: "string", enum: [...API_ERROR_TYPES], description: "A stable code." },
      message: string,
    }),
  }),
  Domain: object({
    name: string,
    createdAt: dateTime,
    accounts: integer,
    aliases: integer,
    dkimSelectors: { type: "array", items: string },
  }),
  DnsRecord: object({
    name: { type: "string", description: "Owner name without the trailing dot." },
    ttl: integer,
    type: { type: "string", enum: ["MX", "TXT", "SRV", "CNAME"] },
    value: { type: "string", description: "The record data as written in a zone file." },
    purpose: string,
  }),
  DomainDns: object({
    domain: string,
    records: { type: "array", items: ref("DnsRecord") },
    zone: { type: "string", description: "The same records as zone-file text, with comments." },
  }),
  Account: object({
    address: string,
    displayName: string,
    quota: { type: "integer", description: "Bytes; 0 means unlimited." },
    usedBytes: integer,
    disabled: { type: "boolean" },
    totp: {
      type: "boolean",
      description: "Two-step sign-in (TOTP) is on: the web sign-ins ask for a code, and /api " +
        "takes only API tokens for this account.",
    },
    createdAt: dateTime,
  }),
  Mailbox: object({
    path: string,
    role: nullable({
      type: "string",
      enum: ["inbox", "sent", "drafts", "junk", "trash", "archive"],
    }),
    messages: integer,
    unseen: integer,
    size: integer,
  }),
  Alias: object({ address: string, target: string }),
  Token: object({
    id: integer,
    label: string,
    createdAt: dateTime,
    lastUsedAt: nullable(dateTime),
  }),
  CreatedToken: {
    allOf: [
      ref("Token"),
      object({ token: { type: "string", description: "The Bearer token; shown only now." } }),
    ],
  },
  AppPassword: object({
    id: integer,
    name: string,
    createdAt: dateTime,
    lastUsedAt: nullable(dateTime),
  }),
  CreatedAppPassword: {
    allOf: [
      ref("AppPassword"),
      object({
        password: {
          type: "string",
          description: 'The app password ("<id>-xxxx-xxxx-xxxx-xxxx"); shown only now.',
        },
      }),
    ],
  },
  QueuedRecipient: object({
    address: string,
    status: { type: "string", enum: ["queued", "delivered", "failed"] },
    attempts: integer,
    nextAttemptAt: nullable(dateTime),
    lastAttemptAt: nullable(dateTime),
    lastReply: nullable(string),
    lastHost: nullable(string),
  }),
  QueuedMessage: object({
    id: integer,
    returnPath: { type: "string", description: '"" for the null reverse-path.' },
    source: string,
    size: integer,
    body: { type: "string", enum: ["7BIT", "8BITMIME", "BINARYMIME"] },
    smtputf8: { type: "boolean" },
    requireTls: { type: "boolean" },
    envelopeId: nullable(string),
    arrivedAt: dateTime,
    expiresAt: dateTime,
    recipients: { type: "array", items: ref("QueuedRecipient") },
  }),
  Retried: object({ due: { type: "integer", description: "Recipients made due now." } }),
  Status: object({
    version: string,
    deno: string,
    hostname: string,
    startedAt: dateTime,
    uptimeSeconds: integer,
    listeners: {
      type: "array",
      items: object({ service: string, address: string, port: integer }),
    },
    certificates: {
      type: "array",
      items: object({
        subject: string,
        names: { type: "array", items: string },
        notAfter: dateTime,
        daysLeft: integer,
        selfSigned: { type: "boolean" },
      }),
    },
    domains: integer,
    accounts: integer,
    queue: object({ messages: integer, recipients: integer }),
    last24h: object(
      { received: integer, delivered: integer, bounced: integer, rejected: integer },
      "Messages in the current hour and the 23 before it, since the process started; " +
        "rejected: permanent SMTP refusals at RCPT and DATA (spam rejects included).",
    ),
    disk: object(
      {
        freeBytes: nullable(integer),
        totalBytes: nullable(integer),
        databaseBytes: nullable(integer),
        blobBytes: nullable(integer),
        measuredAt: dateTime,
      },
      "The data directory's file system and the store's size; null where unknown. " +
        "Measured at most once a minute.",
    ),
  }),
  Setting: object({
    key: { type: "string", description: 'Dotted, as in config.toml: "spam.junk_threshold".' },
    value: {
      description: 'As written in TOML ("30s", 5.0, [...]); a set secret reads "********".',
    },
    default: { description: "The schema's default, in the same form." },
    source: { type: "string", enum: ["file", "env", "default"] },
    secret: { type: "boolean", description: "A credential: its value is never shown." },
    live: { type: "boolean", description: "A change takes effect without a restart." },
    restart_pending: {
      type: "boolean",
      description: "The file's value differs from the one the running server uses.",
    },
  }),
  Settings: object({
    file: { type: "string", description: "The config file's path." },
    problems: {
      type: "array",
      items: string,
      description: "Why the file on disk would not load now ([] when it would).",
    },
    settings: { type: "array", items: ref("Setting") },
  }),
  SettingsChanged: object({
    changed: {
      type: "array",
      items: string,
      description: "Keys written to config.toml and in effect now.",
    },
    restart_required: {
      type: "array",
      items: string,
      description: "Keys written to config.toml that take effect at the next start.",
    },
  }),
  LogEvent: object({
    time: dateTime,
    level: { type: "string", enum: ["debug", "info", "warn", "error"] },
    component: string,
    message: string,
    fields: { type: "object", description: "What the event logged; session among them." },
  }),
};

const domainQuery = [{ name: "domain", description: "Only this domain's." }];

const PATHS: Record<string, Record<string, Operation>> = {
  "/api/openapi.json": {
    get: {
      summary: "This document",
      tags: ["meta"],
      security: [],
      responses: { 200: { description: "OK.", content: { "application/json": { schema: {} } } } },
    },
  },
  "/api/status": {
    get: operation({ summary: "Server status", tag: "status", response: ref("Status") }),
  },
  "/api/domains": {
    get: operation({
      summary: "List domains",
      tag: "domains",
      response: listOf("domains", "Domain"),
    }),
    post: operation({
      summary: "Add a domain (and generate its DKIM keys)",
      tag: "domains",
      body: newDomainBody,
      status: 201,
      response: ref("Domain"),
      errors: [409],
    }),
  },
  "/api/domains/{domain}": {
    get: operation({
      summary: "Show a domain",
      tag: "domains",
      params: ["domain"],
      response: ref("Domain"),
    }),
    delete: operation({
      summary: "Delete a domain that has no accounts or aliases left",
      tag: "domains",
      params: ["domain"],
      status: 204,
      errors: [409],
    }),
  },
  "/api/domains/{domain}/dns": {
    get: operation({
      summary: "The DNS records to publish (MX, SPF, DKIM, DMARC, SRV, MTA-STS)",
      tag: "domains",
      params: ["domain"],
      response: ref("DomainDns"),
    }),
  },
  "/api/accounts": {
    get: operation({
      summary: "List accounts with quota and usage",
      tag: "accounts",
      query: domainQuery,
      response: listOf("accounts", "Account"),
      errors: [404],
    }),
    post: operation({
      summary: "Create an account with its default mailboxes",
      tag: "accounts",
      body: newAccountBody,
      status: 201,
      response: ref("Account"),
      errors: [404, 409],
    }),
  },
  "/api/accounts/{address}": {
    get: operation({
      summary: "Show an account",
      tag: "accounts",
      params: ["address"],
      response: ref("Account"),
    }),
    patch: operation({
      summary: "Reset the password, or change display name, quota or disabled",
      tag: "accounts",
      params: ["address"],
      body: accountChangesBody,
      response: ref("Account"),
      errors: [409],
    }),
    delete: operation({
      summary: "Delete an account, its mail and the aliases pointing at it",
      tag: "accounts",
      params: ["address"],
      status: 204,
      errors: [409],
    }),
  },
  "/api/accounts/{address}/totp": {
    delete: operation({
      summary: "Turn two-step sign-in off (a lost phone); the password alone signs in again",
      tag: "accounts",
      params: ["address"],
      status: 204,
    }),
  },
  "/api/accounts/{address}/mailboxes": {
    get: operation({
      summary: "An account's mailboxes with message counts and sizes",
      tag: "accounts",
      params: ["address"],
      response: listOf("mailboxes", "Mailbox"),
    }),
  },
  "/api/accounts/{address}/tokens": {
    get: operation({
      summary: "An account's API tokens",
      tag: "tokens",
      params: ["address"],
      response: listOf("tokens", "Token"),
    }),
    post: operation({
      summary: "Create an API token; the answer is the only time it is shown",
      tag: "tokens",
      params: ["address"],
      body: newTokenBody,
      status: 201,
      response: ref("CreatedToken"),
    }),
  },
  "/api/accounts/{address}/tokens/{id}": {
    delete: operation({
      summary: "Revoke an API token",
      tag: "tokens",
      params: ["address", "id"],
      status: 204,
    }),
  },
  "/api/accounts/{address}/app-passwords": {
    get: operation({
      summary: "An account's app passwords (accepted wherever its password is)",
      tag: "app-passwords",
      params: ["address"],
      response: listOf("appPasswords", "AppPassword"),
    }),
    post: operation({
      summary: "Create an app password; the answer is the only time it is shown",
      tag: "app-passwords",
      params: ["address"],
      body: newAppPasswordBody,
      status: 201,
      response: ref("CreatedAppPassword"),
    }),
  },
  "/api/accounts/{address}/app-passwords/{id}": {
    delete: operation({
      summary: "Revoke an app password",
      tag: "app-passwords",
      params: ["address", "id"],
      status: 204,
    }),
  },
  "/api/aliases": {
    get: operation({
      summary: "List aliases",
      tag: "aliases",
      query: domainQuery,
      response: listOf("aliases", "Alias"),
      errors: [404],
    }),
    post: operation({
      summary: "Deliver mail for an address (or @domain: catch-all) to a target",
      tag: "aliases",
      body: newAliasBody,
      status: 201,
      response: ref("Alias"),
      errors: [404, 409],
    }),
  },
  "/api/aliases/{address}": {
    delete: operation({
      summary: "Delete an alias: every target, or only ?target=",
      tag: "aliases",
      params: ["address"],
      query: [{ name: "target", description: "Delete only this target." }],
      status: 204,
    }),
  },
  "/api/queue": {
    get: operation({
      summary: "The outbound queue",
      tag: "queue",
      response: listOf("messages", "QueuedMessage"),
    }),
  },
  "/api/queue/retry": {
    post: operation({
      summary: "Try every queued recipient now",
      tag: "queue",
      response: ref("Retried"),
    }),
  },
  "/api/queue/{id}": {
    get: operation({
      summary: "One queued message: envelope, each recipient's state and last reply",
      tag: "queue",
      params: ["id"],
      response: ref("QueuedMessage"),
    }),
    delete: operation({
      summary: "Remove a queued message without delivering it or notifying anyone",
      tag: "queue",
      params: ["id"],
      status: 204,
    }),
  },
  "/api/queue/{id}/retry": {
    post: operation({
      summary: "Try a queued message's recipients now",
      tag: "queue",
      params: ["id"],
      response: ref("Retried"),
    }),
  },
  "/api/settings": {
    get: operation({
      summary: "Every config.toml setting: value, default, source (file, env, default), live",
      tag: "settings",
      response: ref("Settings"),
      errors: [409],
    }),
    patch: {
      ...operation({
        summary: "Write settings into config.toml (comments kept) and apply the live ones",
        tag: "settings",
        response: ref("SettingsChanged"),
        errors: [400, 409, 413, 415],
      }),
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              properties: {
                values: {
                  type: "object",
                  description: 'Dotted key to its new TOML value ({"spam.junk_threshold": 6}); ' +
                    "null removes the key from the file (back to its default).",
                  additionalProperties: {},
                },
              },
              required: ["values"],
              additionalProperties: false,
            },
          },
        },
      },
    },
  },
  "/api/logs": {
    get: operation({
      summary: "Recent log events kept in memory, newest first",
      tag: "logs",
      query: [
        { name: "level", description: "At least this level: debug, info, warn or error." },
        { name: "component", description: "Only this component (smtp, imap, auth, api...)." },
        { name: "session", description: "Only this session id." },
        { name: "limit", description: "At most this many events (default 200)." },
      ],
      response: listOf("events", "LogEvent"),
      errors: [400],
    }),
  },
};

/**
 * The OpenAPI 3.1 document of /api.
 *
 * @example
 * Object.keys(openApiDocument().paths); // ["/api/openapi.json", "/api/status", ...]
 */
export function openApiDocument() {
  const pathParameter = (name: string, description: string, schema: JsonSchema) => ({
    name,
    in: "path",
    required: true,
    description,
    schema,
  });
  return {
    openapi: "3.1.0",
    info: {
      title: "Postern management API",
      version: VERSION,
      description: "Domains, accounts, aliases, API tokens, the outbound queue, settings " +
        "(config.toml) and recent logs. Errors are " +
        '{"error": {"type", "message"}}. Only administrators ([admin] accounts) may call it.',
    },
    servers: [{ url: "/" }],
    security: [{ basic: [] }, { bearer: [] }],
    paths: PATHS,
    components: {
      securitySchemes: {
        basic: {
          type: "http",
          scheme: "basic",
          description: "An administrator's password; not for one with two-step sign-in on.",
        },
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An administrator's API token ('postern token create').",
        },
      },
      parameters: {
        domain: pathParameter("domain", "A domain name.", string),
        address: pathParameter("address", "local@domain (an alias may be @domain).", string),
        id: pathParameter("id", "A numeric id.", { type: "integer", minimum: 1 }),
      },
      schemas: SCHEMAS,
      responses: Object.fromEntries(
        Object.values(ERRORS).map(([name, description]) => [
          name,
          { description, content: { "application/json": { schema: ref("Error") } } },
        ]),
      ),
    },
  };
}
