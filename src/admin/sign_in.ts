/**
 * What the web admin (/admin) and the account page (/account) share in front of their pages:
 * HTTPS only, the pages' security headers, the sign-in (password, then a TOTP code when the
 * account has two-step sign-in on), the session cookie, and the session and CSRF check before
 * every route mounted after it.
 *
 * Implementation notes:
 * - Plain http is answered only for loopback clients (a reverse proxy on the same machine).
 * - Sign-in goes through Directory.authenticate, the rate limiter every protocol shares, with
 *   app passwords refused: they are for mail clients; these pages want the account's own
 *   password. With two-step sign-in on, the password step leads to the code step
 *   (second_step.ts), whose cookie and CSRF token are its own.
 * - Cookies are `postern_<kind>` (session), `_login` (the sign-in form's CSRF token) and `_code`
 *   (the pending second step), all HttpOnly, SameSite=Strict, on the pages' path (session.ts).
 * - Every later POST needs a live session and its CSRF token (csrf.ts); a missing or wrong token
 *   is 403 before anything runs. A request without a live session is sent to the sign-in page
 *   (with "?ended" when its cookie named a session that is over).
 *
 * @example
 * const pages = new Hono<SignedInEnv>();
 * mountSignIn(pages, { app, base: "/account", kind: "account", title: "The account page",
 *   heading: "Your mail account", site: "Postern", sessions });
 * pages.get("/", (c) => c.html(...c.get("session")...));
 */
import type { Context, Hono, Next } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { baseUrl, clientIp, isLoopback } from "../jmap/http.ts";
import { authentications } from "../observability/metrics.ts";
import { logger } from "../observability/log.ts";
import { PAGE_SECURITY_HEADERS, readForm } from "./forms.ts";
import { CSRF_FIELD, csrfValid } from "./csrf.ts";
import {
  type AdminSession,
  randomToken,
  readCookie,
  sessionCookie,
  SessionStore,
} from "./session.ts";
import { PendingSignIns, submitCode } from "./second_step.ts";
import { ADMIN_CSS } from "./style.ts";
import { codeView, loginView } from "./pages/login.tsx";

export type SignedInEnv = {
  Variables: { session: AdminSession; form: URLSearchParams; ip: string };
};

export interface SignInOptions {
  app: App;
  /** Where the pages live ("/admin", "/account"): the cookies' path and the redirects. */
  base: string;
  /** "admin" or "account": the cookies' names and the log lines. */
  kind: string;
  /** What the pages are called in messages ("The web admin"). */
  title: string;
  /** The sign-in pages' heading and site name (the forms' targets follow `base`). */
  heading: string;
  site: string;
  sessions: SessionStore;
  /** Why an account that knows its password may not sign in here (403), or null. */
  refuse?(account: Account): string | null;
  /** Counts the password and code checks in postern_authentications_total{protocol="http"}. */
  countAuthentications?: boolean;
}

const FORBIDDEN = "Forbidden: the form's token is missing or wrong; reload the page.\n";
const BAD_FORM = "The form is not a urlencoded body of an acceptable size.\n";

/** Mounts the sign-in routes and the session check; routes mounted after it are signed in. */
export function mountSignIn(pages: Hono<SignedInEnv>, options: SignInOptions): void {
  const { app, base, kind, sessions } = options;
  const log = logger(kind);
  const maxForm = app.loaded.config.admin.max_request_size;
  const names = {
    session: `postern_${kind}`,
    login: `postern_${kind}_login`,
    code: `postern_${kind}_code`,
  };
  const pending = new PendingSignIns();
  const look = { base, heading: options.heading, site: options.site };
  const secure = (c: Context) => baseUrl(c.req.raw, clientIp(c)).startsWith("https:");
  const setCookie = (c: Context, name: string, value: string, maxAgeSeconds?: number) =>
    c.header(
      "set-cookie",
      sessionCookie(value, { secure: secure(c), name, path: base, maxAgeSeconds }),
      { append: true },
    );
  const count = (ok: boolean) => {
    if (options.countAuthentications) {
      authentications.inc({ protocol: "http", result: ok ? "ok" : "failed" });
    }
  };

  pages.onError((error, c) => {
    log.error("request failed", { method: c.req.method, path: c.req.path, error });
    return c.text("Internal error; see the server log.\n", 500);
  });
  pages.use("*", async (c, next) => {
    const ip = clientIp(c);
    if (new URL(c.req.url).protocol === "http:" && !isLoopback(ip)) {
      return c.text(`${options.title} is served over HTTPS only.\n`, 403);
    }
    c.set("ip", ip);
    await next();
    for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(name, value);
  });
  pages.get("/style.css", (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    return c.body(ADMIN_CSS);
  });

  const loginPage = (c: Context, status: 200 | 401 | 403 | 429, message?: string) => {
    const token = randomToken();
    setCookie(c, names.login, token, 3600);
    return c.html(loginView(look, token, message), status);
  };
  const codePage = (
    c: Context,
    entry: { id: string; csrfToken: string; createdAt: number },
    status: 200 | 401,
    message?: string,
  ) => {
    setCookie(c, names.code, entry.id, pending.secondsLeft(entry, Date.now()));
    return c.html(codeView(look, entry.csrfToken, message), status);
  };
  const startSession = (c: Context<SignedInEnv>, account: Account) => {
    const session = sessions.create(account.id, account.address, Date.now());
    log.info(`${kind} signed in`, { user: session.address, ip: c.get("ip") });
    setCookie(c, names.session, session.id);
    return c.redirect(base, 303);
  };

  pages.get("/login", (c) => {
    const ended = c.req.query("ended") !== undefined;
    return loginPage(c, 200, ended ? "Your session has ended; sign in again." : undefined);
  });
  pages.post("/login", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text(BAD_FORM, 400);
    const expected = readCookie(c.req.header("cookie") ?? null, names.login) ?? "";
    if (!csrfValid(expected, form.get(CSRF_FIELD))) return c.text(FORBIDDEN, 403);
    const result = await app.directory.authenticate(
      (form.get("address") ?? "").trim(),
      form.get("password") ?? "",
      c.get("ip"),
      { appPasswords: false, secondStep: true },
    );
    // With two-step sign-in on, the code check that follows is what is counted.
    if (result.ok || result.reason !== "code_required") count(result.ok);
    if (!result.ok && result.reason !== "code_required") {
      if (result.reason === "rate_limited") {
        return loginPage(c, 429, "Too many failed sign-ins; try again later.");
      }
      return loginPage(c, 401, "Wrong address or password.");
    }
    const refusal = options.refuse?.(result.account) ?? null;
    if (refusal !== null) return loginPage(c, 403, refusal);
    setCookie(c, names.login, "", 0);
    if (!result.ok) return codePage(c, pending.create(result.account, Date.now()), 200);
    return startSession(c, result.account);
  });
  pages.post("/login/code", async (c) => {
    const form = await readForm(c.req.raw, maxForm);
    if (!form) return c.text(BAD_FORM, 400);
    const id = readCookie(c.req.header("cookie") ?? null, names.code) ?? "";
    const outcome = await submitCode(pending, app.directory, id, form, c.get("ip"));
    if (outcome.kind === "forbidden") return c.text(FORBIDDEN, 403);
    if (outcome.kind !== "login" || outcome.counted) count(outcome.kind === "session");
    if (outcome.kind === "code") return codePage(c, outcome.entry, 401, outcome.message);
    setCookie(c, names.code, "", 0);
    if (outcome.kind === "session") return startSession(c, outcome.account);
    return loginPage(c, outcome.status, outcome.message);
  });

  // Everything mounted after this needs a live session; a POST also its CSRF token.
  pages.use("*", async (c: Context<SignedInEnv>, next: Next) => {
    const id = readCookie(c.req.header("cookie") ?? null, names.session);
    const session = id ? sessions.get(id, Date.now()) : null;
    if (!session) {
      if (id) setCookie(c, names.session, "", 0);
      return c.redirect(id ? `${base}/login?ended` : `${base}/login`, 303);
    }
    c.set("session", session);
    if (c.req.method === "POST") {
      const form = await readForm(c.req.raw, maxForm);
      if (!form) return c.text(BAD_FORM, 400);
      if (!csrfValid(session.csrfToken, form.get(CSRF_FIELD))) {
        log.warn(`${kind} form refused: CSRF token missing or wrong`, {
          user: session.address,
          path: c.req.path,
        });
        return c.text(FORBIDDEN, 403);
      }
      c.set("form", form);
    }
    await next();
  });
  pages.post("/logout", (c) => {
    sessions.delete(c.get("session").id);
    setCookie(c, names.session, "", 0);
    return c.redirect(`${base}/login`, 303);
  });
}
