/**
 * The web admin under /admin: server-rendered pages (Hono JSX) for administrators, a client of
 * the management API (src/api/): domains, accounts, aliases and the queue make the same
 * directory, store and queue calls with the same request schemas and rules (routes.tsx);
 * settings and logs run the API's own handlers in process (routes_config.tsx,
 * internal_api.ts). A sign-in form and a session stand in for HTTP authentication.
 *
 * Implementation notes:
 * - Everything is in the binary: pages are JSX, the stylesheet a TS string (style.ts). Pages need
 *   no script; every action is a POST form answered with a redirect (POST/redirect/GET) and a
 *   one-shot flash message.
 * - HTTPS, sign-in (with two-step sign-in when on), sessions and CSRF are sign_in.ts, shared with
 *   the account page; only the administrators src/api/auth.ts lists get a session here.
 * - Pages are sent with a Content-Security-Policy that allows no script and only this origin's
 *   stylesheet and form targets, no framing, and no caching.
 */
import { Hono } from "hono";
import type { App } from "../app.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";
import type { Resolver } from "../dns/resolver.ts";
import { administrators } from "../api/auth.ts";
import { logger } from "../observability/log.ts";
import { SessionStore } from "./session.ts";
import { mountSignIn, type SignedInEnv } from "./sign_in.ts";
import { mountPages } from "./routes.tsx";
import { mountConfigPages } from "./routes_config.tsx";

const log = logger("admin");

export interface AdminOptions {
  app: App;
  queue: OutboundQueue | null;
  /** The project resolver, for the DNS page's live checks. */
  resolver: Pick<Resolver, "mx" | "txt" | "cname" | "srv">;
  certificates?: () => CertificateDescription[];
  listeners?: () => { service: string; address: string; port: number }[];
}

export type AdminEnv = SignedInEnv;

/**
 * The /admin routes (paths relative to /admin) with their session store.
 *
 * @example
 * const { routes, sessions } = adminRoutes({ app, queue: null, resolver });
 */
export function adminRoutes(
  options: AdminOptions,
): { routes: Hono<AdminEnv>; sessions: SessionStore } {
  const { app } = options;
  const config = app.loaded.config.admin;
  const sessions = new SessionStore({
    idleMs: config.session_idle * 1000,
    maxMs: config.session_max * 1000,
  });
  const admins = administrators(app.loaded);
  const admin = new Hono<AdminEnv>();
  mountSignIn(admin, {
    app,
    base: "/admin",
    kind: "admin",
    title: "The web admin",
    heading: "Postern admin",
    site: "Postern admin",
    sessions,
    refuse: (account) => {
      if (admins.has(account.address.toLowerCase())) return null;
      log.info("admin sign-in refused: not an administrator", { user: account.address });
      return `${account.address} is not an administrator.`;
    },
    // Counted like the API's Basic logins (src/jmap/http.ts authenticate).
    countAuthentications: true,
  });
  mountPages(admin, options, sessions);
  mountConfigPages(admin, app);
  admin.all("*", (c) => c.text("Not Found\n", 404));
  return { routes: admin, sessions };
}
