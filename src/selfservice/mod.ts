/**
 * The account page under /account, for every user: change the password, create and revoke app
 * passwords, turn two-step sign-in (TOTP) on and off, set the vacation reply, download the Apple
 * profile.
 *
 * Implementation notes:
 * - Sessions and CSRF are the web admin's (src/admin/session.ts, csrf.ts) with a store, a cookie
 *   ("postern_account", Path=/account) and a sign-in cookie of their own, so an admin session
 *   and an account session never stand in for each other.
 * - Sign-in and the password change's "current password" go through Directory.authenticate with
 *   app passwords refused: a device's app password must not be enough to mint more of them or
 *   to replace the password. Failures count in the rate limiter every protocol shares.
 * - A password change is Directory.setPassword: the stored hash changes, the login cache forgets
 *   the account, so IMAP and every other protocol refuse the old password at once.
 * - Every POST but the sign-in needs a live session and its token; a missing or wrong one is 403
 *   before anything runs. POST/redirect/GET with a one-shot flash, as in the admin; a new app
 *   password is shown in that flash, once.
 * - Two-step sign-in is set up and turned off in two_step.ts. With it on, the sign-in asks for a
 *   code after the password (/account/login/code), as the admin's does (src/admin/second_step.ts).
 * - Plain http is answered only for loopback clients; pages carry the admin's security headers.
 */
import { Hono } from "hono";
import type { Context, Next } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { DirectoryError } from "../directory/directory.ts";
import { baseUrl, clientIp, isLoopback } from "../jmap/http.ts";
import { PAGE_SECURITY_HEADERS, readForm } from "../admin/forms.ts";
import { logger } from "../observability/log.ts";
import { CSRF_FIELD, csrfValid } from "../admin/csrf.ts";
import {
  type AdminSession,
  randomToken,
  readCookie,
  sessionCookie,
  SessionStore,
} from "../admin/session.ts";
import { ADMIN_CSS } from "../admin/style.ts";
import { readVacation } from "../mail/vacation.ts";
import { profileResponse } from "../http/mobileconfig.ts";
import { PendingSignIns, submitCode } from "../admin/second_step.ts";
import { mountTwoStepForms, twoStepState } from "./two_step.ts";
import { accountView, codeView, loginView } from "./pages.tsx";
import { saveVacation, VacationFormError, vacationFromForm } from "./vacation.ts";

const log = logger("account");
const SESSION_COOKIE = "postern_account";
const LOGIN_COOKIE = "postern_account_login";
const CODE_COOKIE = "postern_account_code";
/** Shortest new password the page accepts. */
const MIN_PASSWORD_LENGTH = 8;

export type AccountEnv = {
  Variables: { session: AdminSession; form: URLSearchParams; ip: string };
};

/** Runs a form's action and redirects to the page, its outcome (or DirectoryError) the flash. */
export type AccountAction = (
  c: Context<AccountEnv>,
  action: () => Promise<string>,
) => Promise<Response>;

/** The admin's cookie (session.ts) on this page's path. */
function cookie(
  name: string,
  value: string,
  options: { secure: boolean; maxAgeSeconds?: number },
): string {
  return sessionCookie(value, { ...options, name, path: "/account" });
}

/**
 * The /account routes (paths relative to /account) with their session store.
 *
 * @example
 * const { routes } = accountRoutes(app);
 */
export function accountRoutes(app: App): { routes: Hono<AccountEnv>; sessions: SessionStore } {
  const config = app.loaded.config.admin;
  const sessions = new SessionStore({
    idleMs: config.session_idle * 1000,
    maxMs: config.session_max * 1000,
  });
  const maxForm = config.max_request_size;
  const pending = new PendingSignIns();
  const page = new Hono<AccountEnv>();
  const secure = (c: Context) => baseUrl(c.req.raw, clientIp(c)).startsWith("https:");
  const forbidden = (c: Context) =>
    c.text("Forbidden: the form's token is missing or wrong; reload the page.\n", 403);

  page.onError((error, c) => {
    log.error("request failed", { method: c.req.method, path: c.req.path, error });
    return c.text("Internal error; see the server log.\n", 500);
  });
  page.use("*", async (c, next) => {
    const ip = clientIp(c);
    if (new URL(c.req.url).protocol === "http:" && !isLoopback(ip)) {
      return c.text("The account page is served over HTTPS only.\n", 403);
    }
    c.set("ip", ip);
    await next();
    for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(name, value);
  });
  page.get("/style.css", (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    return c.body(ADMIN_CSS);
  });

  const setCookie = (c: Context, name: string, value: string, maxAgeSeconds?: number) =>
    c.header("set-cookie", cookie(name, value, { secure: secure(c), maxAgeSeconds }), {
      append: true,
    });
  const loginPage = (c: Context<AccountEnv>, status: 200 | 401 | 429, message?: string) => {
    const token = randomToken();
    setCookie(c, LOGIN_COOKIE, token, 3600);
    return c.html(loginView(token, message), status);
  };
  const startSession = (c: Context<AccountEnv>, account: Account) => {
    const session = sessions.create(account.id, account.address, Date.now());
    log.info("account signed in", { user: session.address, ip: c.get("ip") });
    setCookie(c, SESSION_COOKIE, session.id);
    return c.redirect("/account", 303);
  };
  const codePage = (
    c: Context<AccountEnv>,
    entry: { id: string; csrfToken: string; createdAt: number },
    status: 200 | 401,
    message?: string,
  ) => {
    setCookie(c, CODE_COOKIE, entry.id, pending.secondsLeft(entry, Date.now()));
    return c.html(codeView(entry.csrfToken, message), status);
  };
  page.get("/login", (c) => {
    const ended = c.req.query("ended") !== undefined;
    return loginPage(c, 200, ended ? "Your session has ended; sign in again." : undefined);
  });
  page.post("/login", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
    const expected = readCookie(c.req.header("cookie") ?? null, LOGIN_COOKIE) ?? "";
    if (!csrfValid(expected, form.get(CSRF_FIELD))) return forbidden(c);
    const result = await app.directory.authenticate(
      (form.get("address") ?? "").trim(),
      form.get("password") ?? "",
      c.get("ip"),
      { appPasswords: false, secondStep: true },
    );
    if (!result.ok && result.reason !== "code_required") {
      if (result.reason === "rate_limited") {
        return loginPage(c, 429, "Too many failed sign-ins; try again later.");
      }
      return loginPage(c, 401, "Wrong address or password.");
    }
    setCookie(c, LOGIN_COOKIE, "", 0);
    if (!result.ok) return codePage(c, pending.create(result.account, Date.now()), 200);
    return startSession(c, result.account);
  });
  page.post("/login/code", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
    const id = readCookie(c.req.header("cookie") ?? null, CODE_COOKIE) ?? "";
    const outcome = await submitCode(pending, app.directory, id, form, c.get("ip"));
    if (outcome.kind === "forbidden") return forbidden(c);
    if (outcome.kind === "code") return codePage(c, outcome.entry, 401, outcome.message);
    setCookie(c, CODE_COOKIE, "", 0);
    if (outcome.kind === "session") return startSession(c, outcome.account);
    return loginPage(c, outcome.status, outcome.message);
  });

  // Everything below needs a live session; a POST also its CSRF token.
  page.use("*", async (c: Context<AccountEnv>, next: Next) => {
    const id = readCookie(c.req.header("cookie") ?? null, SESSION_COOKIE);
    const session = id ? sessions.get(id, Date.now()) : null;
    if (!session) {
      if (id) {
        c.header(
          "set-cookie",
          cookie(SESSION_COOKIE, "", { secure: secure(c), maxAgeSeconds: 0 }),
        );
      }
      return c.redirect(id ? "/account/login?ended" : "/account/login", 303);
    }
    c.set("session", session);
    if (c.req.method === "POST") {
      const form = await readForm(c.req.raw, maxForm);
      if (!form) return c.text("The form is not a urlencoded body of an acceptable size.\n", 400);
      if (!csrfValid(session.csrfToken, form.get(CSRF_FIELD))) {
        log.warn("account form refused: CSRF token missing or wrong", {
          user: session.address,
          path: c.req.path,
        });
        return forbidden(c);
      }
      c.set("form", form);
    }
    await next();
  });

  /** Runs a form's action and redirects to the page with its outcome as the flash. */
  const act: AccountAction = async (c, action) => {
    const session = c.get("session");
    try {
      session.flash = { kind: "ok", text: await action() };
    } catch (error) {
      if (!(error instanceof DirectoryError || error instanceof VacationFormError)) throw error;
      session.flash = { kind: "error", text: error.message };
    }
    return c.redirect("/account", 303);
  };

  page.get("/", async (c) => {
    const session = c.get("session");
    const flash = session.flash;
    session.flash = null;
    const appPasswords = await app.store.listAppPasswords(session.accountId);
    const { settings } = await readVacation(app.store, session.accountId);
    const { totp, totpSetup } = await twoStepState(app, session);
    return c.html(
      accountView({ session, flash, appPasswords, vacation: settings, totp, totpSetup }),
    );
  });
  page.post("/logout", (c) => {
    sessions.delete(c.get("session").id);
    c.header("set-cookie", cookie(SESSION_COOKIE, "", { secure: secure(c), maxAgeSeconds: 0 }));
    return c.redirect("/account/login", 303);
  });
  page.post("/password", (c) =>
    act(c, async () => {
      const form = c.get("form");
      const session = c.get("session");
      const next = form.get("new") ?? "";
      if (next !== (form.get("again") ?? "")) {
        throw new DirectoryError("invalid", "the two new passwords differ");
      }
      if (next.length < MIN_PASSWORD_LENGTH) {
        throw new DirectoryError(
          "invalid",
          `the new password needs at least ${MIN_PASSWORD_LENGTH} characters`,
        );
      }
      const check = await app.directory.authenticate(
        session.address,
        form.get("current") ?? "",
        c.get("ip"),
        { appPasswords: false },
      );
      if (!check.ok) {
        throw new DirectoryError(
          "invalid",
          check.reason === "rate_limited"
            ? "too many failed attempts; try again later"
            : "the current password is wrong",
        );
      }
      await app.directory.setPassword(session.address, next);
      log.info("password changed on the account page", { user: session.address });
      return "Your password is changed.";
    }));
  page.post("/app-passwords", (c) =>
    act(c, async () => {
      const session = c.get("session");
      const { appPassword, password } = await app.directory.addAppPassword(
        session.address,
        c.get("form").get("name") ?? "",
      );
      return `App password '${appPassword.name}' created: ${password} — ` +
        "enter it in the program now; it is not shown again.";
    }));
  page.post("/app-passwords/revoke", (c) =>
    act(c, async () => {
      const id = Number(c.get("form").get("id"));
      if (!Number.isSafeInteger(id) || id <= 0) {
        throw new DirectoryError("not_found", "no such app password");
      }
      await app.directory.revokeAppPassword(c.get("session").address, id);
      return "The app password is revoked.";
    }));
  mountTwoStepForms(page, app, act);
  page.post("/vacation", (c) =>
    act(c, async () => {
      const session = c.get("session");
      const { settings: current } = await readVacation(app.store, session.accountId);
      const settings = vacationFromForm(c.get("form"), current);
      await saveVacation(app, session.accountId, settings);
      return settings.isEnabled ? "The vacation reply is on." : "The vacation reply is off.";
    }));
  page.get("/mobileconfig", async (c) => {
    const account = await app.directory.requireAccount(c.get("session").address);
    const profile = profileResponse(app, account);
    // The page's security headers are already set on c; keep them on the download.
    for (const [name, value] of profile.headers) c.header(name, value);
    return c.body(await profile.arrayBuffer());
  });
  page.all("*", (c) => c.text("Not Found\n", 404));
  return { routes: page, sessions };
}

/**
 * Mounts the account page at /account on the HTTP app.
 *
 * @example
 * createHttpApp(health, [(http) => mountAccountPage(http, app)]);
 */
export function mountAccountPage(http: Hono, app: App): void {
  http.route("/account", accountRoutes(app).routes as unknown as Hono);
}
