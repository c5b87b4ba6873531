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
 * - Sign-in goes through Directory.authenticate, the rate limiter every protocol shares; only the
 *   administrators src/api/auth.ts lists get a session (session.ts). Plain http is answered only
 *   for loopback clients, as for the API.
 * - An administrator with two-step sign-in on gets the session only after the password and then
 *   a TOTP code on /admin/login/code (second_step.ts); the cookie and the CSRF token of that step
 *   are its own.
 * - Every POST but the sign-in needs a live session and its CSRF token (csrf.ts); a missing or
 *   wrong token is 403 before anything runs. A request without a live session is sent to the
 *   sign-in page.
 * - Pages are sent with a Content-Security-Policy that allows no script and only this origin's
 *   stylesheet and form targets, no framing, and no caching.
 */
import { Hono } from "hono";
import type { Context, Next } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";
import type { Resolver } from "../dns/resolver.ts";
import { baseUrl, clientIp, isLoopback } from "../jmap/http.ts";
import { PAGE_SECURITY_HEADERS, readForm } from "./forms.ts";
import { administrators } from "../api/auth.ts";
import { logger } from "../observability/log.ts";
import { authentications } from "../observability/metrics.ts";
import { CSRF_FIELD, csrfValid } from "./csrf.ts";
import {
  type AdminSession,
  randomToken,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  SessionStore,
} from "./session.ts";
import { ADMIN_CSS } from "./style.ts";
import { codeView, loginView } from "./pages/login.tsx";
import { PendingSignIns, submitCode } from "./second_step.ts";
import { mountPages } from "./routes.tsx";
import { mountConfigPages } from "./routes_config.tsx";

const log = logger("admin");
const LOGIN_COOKIE = "postern_admin_login";
const CODE_COOKIE = "postern_admin_code";

export interface AdminOptions {
  app: App;
  queue: OutboundQueue | null;
  /** The project resolver, for the DNS page's live checks. */
  resolver: Pick<Resolver, "mx" | "txt" | "cname" | "srv">;
  certificates?: () => CertificateDescription[];
  listeners?: () => { service: string; address: string; port: number }[];
}

export type AdminEnv = {
  Variables: { session: AdminSession; form: URLSearchParams; ip: string };
};

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
  const pending = new PendingSignIns();
  const maxForm = config.max_request_size;
  const admin = new Hono<AdminEnv>();
  const secure = (c: Context) => baseUrl(c.req.raw, clientIp(c)).startsWith("https:");

  admin.onError((error, c) => {
    log.error("request failed", { method: c.req.method, path: c.req.path, error });
    return c.text("Internal error; see the server log.\n", 500);
  });
  admin.use("*", async (c, next) => {
    const ip = clientIp(c);
    if (new URL(c.req.url).protocol === "http:" && !isLoopback(ip)) {
      return c.text("The web admin is served over HTTPS only.\n", 403);
    }
    c.set("ip", ip);
    await next();
    for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(name, value);
  });
  admin.get("/style.css", (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    return c.body(ADMIN_CSS);
  });

  const setCookie = (c: Context, name: string, value: string, maxAgeSeconds?: number) =>
    c.header("set-cookie", sessionCookie(value, { secure: secure(c), name, maxAgeSeconds }), {
      append: true,
    });
  const loginPage = (c: Context<AdminEnv>, status: 200 | 401 | 403 | 429, message?: string) => {
    const token = randomToken();
    setCookie(c, LOGIN_COOKIE, token, 3600);
    return c.html(loginView(token, message), status);
  };
  const startSession = (c: Context<AdminEnv>, account: Account) => {
    const session = sessions.create(account.id, account.address, Date.now());
    log.info("admin signed in", { user: session.address, ip: c.get("ip") });
    setCookie(c, SESSION_COOKIE, session.id);
    return c.redirect("/admin", 303);
  };
  // The second step's page: the TOTP code of an administrator with two-step sign-in on.
  const codePage = (
    c: Context<AdminEnv>,
    entry: { id: string; csrfToken: string; createdAt: number },
    status: 200 | 401,
    message?: string,
  ) => {
    setCookie(c, CODE_COOKIE, entry.id, pending.secondsLeft(entry, Date.now()));
    return c.html(codeView(entry.csrfToken, message), status);
  };
  admin.get("/login", (c) => {
    const ended = c.req.query("ended") !== undefined;
    return loginPage(c, 200, ended ? "Your session has ended; sign in again." : undefined);
  });
  admin.post("/login", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
    const expected = readCookie(c.req.header("cookie") ?? null, LOGIN_COOKIE) ?? "";
    if (!csrfValid(expected, form.get(CSRF_FIELD))) {
      return c.text("Forbidden: the form's token is missing or wrong; reload the page.\n", 403);
    }
    const address = (form.get("address") ?? "").trim();
    // App passwords are for mail clients; the admin signs in with the account's own password.
    const result = await app.directory.authenticate(
      address,
      form.get("password") ?? "",
      c.get("ip"),
      { appPasswords: false, secondStep: true },
    );
    // Counted like the API's Basic logins (src/jmap/http.ts authenticate): the password check,
    // or with two-step sign-in on, the code check that follows it.
    if (result.ok || result.reason !== "code_required") {
      authentications.inc({ protocol: "http", result: result.ok ? "ok" : "failed" });
    }
    if (!result.ok && result.reason !== "code_required") {
      if (result.reason === "rate_limited") {
        return loginPage(c, 429, "Too many failed sign-ins; try again later.");
      }
      return loginPage(c, 401, "Wrong address or password.");
    }
    const { account } = result;
    if (!admins.has(account.address.toLowerCase())) {
      log.info("admin sign-in refused: not an administrator", { user: account.address });
      return loginPage(c, 403, `${account.address} is not an administrator.`);
    }
    setCookie(c, LOGIN_COOKIE, "", 0);
    if (!result.ok) return codePage(c, pending.create(account, Date.now()), 200);
    return startSession(c, account);
  });

  admin.post("/login/code", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
    const id = readCookie(c.req.header("cookie") ?? null, CODE_COOKIE) ?? "";
    const outcome = await submitCode(pending, app.directory, id, form, c.get("ip"));
    if (outcome.kind === "forbidden") {
      return c.text("Forbidden: the form's token is missing or wrong; reload the page.\n", 403);
    }
    if (outcome.kind !== "login" || outcome.counted) {
      authentications.inc({
        protocol: "http",
        result: outcome.kind === "session" ? "ok" : "failed",
      });
    }
    if (outcome.kind === "code") return codePage(c, outcome.entry, 401, outcome.message);
    setCookie(c, CODE_COOKIE, "", 0);
    if (outcome.kind === "session") return startSession(c, outcome.account);
    return loginPage(c, outcome.status, outcome.message);
  });

  // Everything below needs a live session; a POST also its CSRF token.
  admin.use("*", async (c: Context<AdminEnv>, next: Next) => {
    const id = readCookie(c.req.header("cookie") ?? null, SESSION_COOKIE);
    const session = id ? sessions.get(id, Date.now()) : null;
    if (!session) {
      if (id) {
        c.header("set-cookie", sessionCookie("", { secure: secure(c), maxAgeSeconds: 0 }));
      }
      return c.redirect(id ? "/admin/login?ended" : "/admin/login", 303);
    }
    c.set("session", session);
    if (c.req.method === "POST") {
      const form = await readForm(c.req.raw, maxForm);
      if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
      if (!csrfValid(session.csrfToken, form.get(CSRF_FIELD))) {
        log.warn("admin form refused: CSRF token missing or wrong", {
          user: session.address,
          path: c.req.path,
        });
        return c.text("Forbidden: the form's token is missing or wrong; reload the page.\n", 403);
      }
      c.set("form", form);
    }
    await next();
  });
  admin.post("/logout", (c) => {
    sessions.delete(c.get("session").id);
    c.header("set-cookie", sessionCookie("", { secure: secure(c), maxAgeSeconds: 0 }));
    return c.redirect("/admin/login", 303);
  });
  mountPages(admin, options, sessions);
  mountConfigPages(admin, app);
  admin.all("*", (c) => c.text("Not Found\n", 404));
  return { routes: admin, sessions };
}

/**
 * Mounts the web admin at /admin on the HTTP app.
 *
 * @example
 * createHttpApp(health, [(http) => mountAdmin(http, { app, queue, resolver })]);
 */
export function mountAdmin(http: Hono, options: AdminOptions): void {
  http.route("/admin", adminRoutes(options).routes as unknown as Hono);
}
