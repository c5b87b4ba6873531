/**
 * The management API's own handlers for settings and logs, called in process for a signed-in
 * administrator: the web admin sends them the JSON the API takes and shows what they answer, so
 * the settings page validates, writes config.toml and applies live keys exactly as
 * PATCH /api/settings does.
 *
 * Implementation notes:
 * - The routes are mounted on a private Hono app whose middleware sets the session's account
 *   instead of authenticating (the session already did); nothing here is reachable over HTTP.
 * - Settings edits queue per config file (src/api/settings.ts), so an edit through /api and one
 *   through the web admin at the same moment are serialised with each other.
 */
import { Hono } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { ApiTokens } from "../directory/tokens.ts";
import type { ApiEnv } from "../api/auth.ts";
import { ApiError, asApiError, errorResponse } from "../api/respond.ts";
import { mountSettings } from "../api/settings.ts";
import { mountLogs } from "../api/logs.ts";

export interface InternalAnswer {
  status: number;
  body: Record<string, unknown> & { error?: { type: string; message: string } };
}

export type InternalApi = (
  account: Account,
  ip: string,
  method: "GET" | "PATCH",
  path: string,
  json?: unknown,
) => Promise<InternalAnswer>;

/**
 * A caller of the API's settings and logs routes.
 *
 * @example
 * const call = internalApi(app);
 * const { body } = await call(account, ip, "GET", "/logs?level=warn");
 */
export function internalApi(app: App): InternalApi {
  const api = new Hono<ApiEnv & { Bindings: { account: Account; ip: string } }>();
  api.onError((error) => {
    const known = asApiError(error);
    if (known) return errorResponse(known);
    throw error;
  });
  api.use("*", async (c, next) => {
    c.set("account", c.env.account);
    c.set("ip", c.env.ip);
    await next();
  });
  const deps = {
    app,
    tokens: new ApiTokens(app.store, app.directory.limiter),
    queue: null,
    certificates: () => [],
    listeners: () => [],
    maxRequestSize: app.loaded.config.admin.max_request_size,
  };
  mountSettings(api as unknown as Hono<ApiEnv>, deps);
  mountLogs(api as unknown as Hono<ApiEnv>);
  api.all("*", () => errorResponse(new ApiError(404, "notFound", "no such route")));
  return async (account, ip, method, path, json) => {
    const response = await api.request(path, {
      method,
      headers: json === undefined ? {} : { "content-type": "application/json" },
      body: json === undefined ? undefined : JSON.stringify(json),
    }, { account, ip });
    return { status: response.status, body: await response.json() };
  };
}
