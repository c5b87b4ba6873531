/**
 * Who may use the management API: administrators, by password (HTTP Basic) or API token (Bearer).
 *
 * Implementation notes:
 * - Credentials go through src/jmap/http.ts authenticate(), so the shared login rate limiter,
 *   the login cache and the authentication metrics apply as on every other HTTP route. A missing
 *   or wrong credential is 401 with a WWW-Authenticate challenge; a blocked client 429.
 * - An administrator with two-step sign-in on (src/directory/totp.ts) cannot use HTTP Basic here:
 *   a password alone would bypass the second step the web admin asks for. It gets 401
 *   "tokenRequired" (after the password check, so a wrong one is still counted as one) and must
 *   use an API token. Only /api does this; JMAP, DAV and the mail protocols take the password.
 * - An authenticated account that is not an administrator gets 403. Administrators are
 *   [admin] accounts, or when that is empty the [server] admin_account at the first domain
 *   (the account the first start created, src/app.ts firstStart).
 * - Credentials never cross the network in clear: plain http is answered only for loopback
 *   clients (this machine, or a TLS-terminating proxy on it), as for JMAP and DAV.
 * - A state-changing request (not GET/HEAD) sent by a browser from another site is refused
 *   (Sec-Fetch-Site, Origin), so credentials a browser remembers cannot be used by a page
 *   elsewhere (CSRF).
 */
import type { Context, Next } from "hono";
import type { App } from "../app.ts";
import { primaryDomain } from "../app.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { Account } from "../store/types.ts";
import { authenticate, baseUrl, clientIp, isLoopback, type TokenVerifier } from "../jmap/http.ts";
import { ApiError } from "./respond.ts";

export type ApiEnv = { Variables: { account: Account; ip: string } };

/** The administrators' addresses, lower case. */
export function administrators(loaded: LoadedConfig): Set<string> {
  const { admin, server } = loaded.config;
  const listed = admin.accounts.length > 0
    ? admin.accounts
    : [`${server.admin_account}@${primaryDomain(loaded)}`];
  return new Set(listed.map((address) => address.toLowerCase()));
}

/** Hono middleware: lets administrators through with `account` and `ip` set; throws ApiError. */
export function adminAuth(app: App, tokens: TokenVerifier) {
  const admins = administrators(app.loaded);
  return async (c: Context<ApiEnv>, next: Next) => {
    const ip = clientIp(c);
    if (new URL(c.req.url).protocol === "http:" && !isLoopback(ip)) {
      throw new ApiError(403, "tlsRequired", "The management API is served over HTTPS only.");
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && crossSite(c.req.raw, ip)) {
      throw new ApiError(403, "crossOrigin", "Requests from other sites are refused.");
    }
    const result = await authenticate({ app, tokens }, c.req.raw, ip);
    if (result instanceof Response) {
      await result.body?.cancel();
      if (result.status === 429) {
        throw new ApiError(429, "rateLimited", "Too many failed logins; try again later.");
      }
      const challenge = result.headers.get("www-authenticate");
      throw new ApiError(
        401,
        "unauthorized",
        "Authentication required.",
        challenge ? { "www-authenticate": challenge } : {},
      );
    }
    if (!admins.has(result.address.toLowerCase())) {
      throw new ApiError(403, "forbidden", `${result.address} is not an administrator.`);
    }
    const scheme = (c.req.header("authorization") ?? "").split(" ")[0].toLowerCase();
    if (scheme === "basic" && await app.directory.totpEnabled(result.id)) {
      throw new ApiError(
        401,
        "tokenRequired",
        `Two-step sign-in is on for ${result.address}: call the API with an API token ` +
          "(Authorization: Bearer; 'postern token create'), not the password.",
        { "www-authenticate": 'Bearer realm="Postern"' },
      );
    }
    c.set("account", result);
    c.set("ip", ip);
    await next();
  };
}

function crossSite(request: Request, ip: string): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site === "cross-site" || site === "same-site") return true;
  const origin = request.headers.get("origin");
  return origin !== null && origin !== baseUrl(request, ip);
}
