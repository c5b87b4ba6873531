/**
 * The management API under /api: JSON for administrators, the API the web admin is a client of.
 * One module per resource (domains, accounts, aliases, tokens, queue, status, settings, logs); the
 * OpenAPI document at /api/openapi.json describes them all.
 *
 * Implementation notes:
 * - Every route but /api/openapi.json passes adminAuth (auth.ts) first.
 * - Resource modules call the directory, store and queue functions the CLI calls; they add no
 *   rules of their own beyond HTTP (status codes, JSON shapes).
 * - Errors are thrown as ApiError (or DirectoryError/StoreError from below) and answered by one
 *   handler as {"error": {"type", "message"}}; an unknown path under /api is a JSON 404 too.
 */
import { Hono } from "hono";
import type { App } from "../app.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";
import { ApiTokens } from "../directory/tokens.ts";
import { logger } from "../observability/log.ts";
import { adminAuth, type ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, asApiError, errorResponse } from "./respond.ts";
import { openApiDocument } from "./openapi.ts";
import { mountStatus } from "./status.ts";
import { mountDomains } from "./domains.ts";
import { mountAccounts } from "./accounts.ts";
import { mountTokens } from "./tokens.ts";
import { mountAppPasswords } from "./app_passwords.ts";
import { mountAliases } from "./aliases.ts";
import { mountQueue } from "./queue.ts";
import { mountSettings } from "./settings.ts";
import { mountLogs } from "./logs.ts";

const log = logger("api");

export interface ApiOptions {
  app: App;
  queue: OutboundQueue | null;
  /** The certificates served (CertificateManager.describe); none when absent. */
  certificates?: () => CertificateDescription[];
  /** The bound listeners, read at request time. */
  listeners?: () => { service: string; address: string; port: number }[];
}

/**
 * The /api routes (paths relative to /api), mounted by src/serve.ts at the first request
 * (src/http/lazy.ts), and listed by tests.
 *
 * @example
 * const api = apiRoutes({ app, queue: null });
 * api.routes.map((r) => `${r.method} ${r.path}`);
 */
export function apiRoutes(options: ApiOptions): Hono<ApiEnv> {
  const { app } = options;
  const tokens = new ApiTokens(app.store, app.directory.limiter);
  const deps: ApiDeps = {
    app,
    tokens,
    queue: options.queue,
    certificates: options.certificates ?? (() => []),
    listeners: options.listeners ?? (() => []),
    maxRequestSize: app.loaded.config.admin.max_request_size,
  };
  const api = new Hono<ApiEnv>();
  api.onError((error, c) => {
    const known = asApiError(error);
    if (known) return errorResponse(known);
    log.error("request failed", { method: c.req.method, path: c.req.path, error });
    return errorResponse(new ApiError(500, "internal", "Internal error; see the server log."));
  });
  const document = openApiDocument();
  api.get("/openapi.json", (c) => c.json(document));
  api.use("*", adminAuth(app, tokens));
  api.use("*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
  mountStatus(api, deps);
  mountDomains(api, deps);
  mountAccounts(api, deps);
  mountTokens(api, deps);
  mountAppPasswords(api, deps);
  mountAliases(api, deps);
  mountQueue(api, deps);
  mountSettings(api, deps);
  mountLogs(api);
  api.all("*", (c) => {
    throw new ApiError(404, "notFound", `no ${c.req.method} ${c.req.path}`);
  });
  return api;
}
