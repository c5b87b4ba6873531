/**
 * The account page under /account, for every user: change the password, create and revoke app
 * passwords, turn two-step sign-in (TOTP) on and off, set the vacation reply, download the Apple
 * profile.
 *
 * Implementation notes:
 * - HTTPS, sign-in, sessions and CSRF are the web admin's (src/admin/sign_in.ts) with a store and
 *   cookies of their own ("postern_account…", Path=/account), so an admin session and an
 *   account session never stand in for each other.
 * - Sign-in and the password change's "current password" go through Directory.authenticate with
 *   app passwords refused: a device's app password must not be enough to mint more of them or
 *   to replace the password. Failures count in the rate limiter every protocol shares.
 * - A password change is Directory.setPassword: the stored hash changes, the login cache forgets
 *   the account, so IMAP and every other protocol refuse the old password at once.
 * - POST/redirect/GET with a one-shot flash, as in the admin; a new app password is shown in that
 *   flash, once.
 * - Two-step sign-in is set up and turned off in two_step.ts; with it on, the sign-in asks for a
 *   code after the password, as the admin's does.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { App } from "../app.ts";
import { DirectoryError } from "../directory/directory.ts";
import { logger } from "../observability/log.ts";
import { SessionStore } from "../admin/session.ts";
import { mountSignIn, type SignedInEnv } from "../admin/sign_in.ts";
import { readVacation } from "../mail/vacation.ts";
import { profileResponse } from "../http/mobileconfig.ts";
import { mountTwoStepForms, twoStepState } from "./two_step.ts";
import { accountView } from "./pages.tsx";
import { saveVacation, VacationFormError, vacationFromForm } from "./vacation.ts";

const log = logger("account");
/** Shortest new password the page accepts. */
const MIN_PASSWORD_LENGTH = 8;

export type AccountEnv = SignedInEnv;

/** Runs a form's action and redirects to the page, its outcome (or DirectoryError) the flash. */
export type AccountAction = (
  c: Context<AccountEnv>,
  action: () => Promise<string>,
) => Promise<Response>;

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
  const page = new Hono<AccountEnv>();
  mountSignIn(page, {
    app,
    base: "/account",
    kind: "account",
    title: "The account page",
    heading: "Your mail account",
    site: "Postern",
    sessions,
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
