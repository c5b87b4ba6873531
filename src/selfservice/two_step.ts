/**
 * The account page's two-step sign-in section (TOTP, src/directory/totp.ts): set up, confirm,
 * cancel, turn off.
 *
 * Implementation notes:
 * - "Set up" makes a secret and keeps it in the session only (never in a form field or a
 *   cookie); the page shows it as base32, as the otpauth URI and as that URI's QR code, inline
 *   SVG so the page's Content-Security-Policy stays as strict as it is. The secret is stored
 *   (Directory.enableTotp) only when a code from it is typed back, and that code's step counts as
 *   used.
 * - Turning it off needs a current code (Directory.verifyTotp: rate limited, replay-proof), so a
 *   session left open on someone else's computer cannot remove the second step.
 */
import type { Hono } from "hono";
import type { App } from "../app.ts";
import type { AdminSession } from "../admin/session.ts";
import { DirectoryError } from "../directory/directory.ts";
import { base32Encode, newTotpSecret, totpUri } from "../directory/totp.ts";
import { logger } from "../observability/log.ts";
import type { AccountAction, AccountEnv } from "./mod.ts";
import { qrSvg } from "./qr.ts";

const log = logger("account");

/**
 * Whether the session's account has two-step sign-in on, and the setup in progress if not.
 *
 * @example
 * const { totp, totpSetup } = await twoStepState(app, session);
 */
export async function twoStepState(app: App, session: AdminSession) {
  const totp = await app.directory.totpEnabled(session.accountId);
  if (totp || !session.totpSetup) return { totp, totpSetup: null };
  const secret = base32Encode(session.totpSetup);
  const uri = totpUri(session.address, secret);
  return { totp, totpSetup: { secret, uri, qrSvg: await qrSvg(uri) } };
}

/**
 * The section's forms: POST /totp/setup, /totp/enable, /totp/cancel and /totp/disable.
 *
 * @example
 * mountTwoStepForms(page, app, act);
 */
export function mountTwoStepForms(page: Hono<AccountEnv>, app: App, act: AccountAction): void {
  page.post("/totp/setup", (c) =>
    act(c, async () => {
      const session = c.get("session");
      if (await app.directory.totpEnabled(session.accountId)) {
        throw new DirectoryError("conflict", "two-step sign-in is already on");
      }
      session.totpSetup = newTotpSecret();
      return "Add the key to your authenticator app, then type the code it shows.";
    }));
  page.post("/totp/enable", (c) =>
    act(c, async () => {
      const session = c.get("session");
      if (!session.totpSetup) {
        throw new DirectoryError("invalid", "start the setup of two-step sign-in first");
      }
      const code = c.get("form").get("code") ?? "";
      if (!(await app.directory.enableTotp(session.accountId, session.totpSetup, code))) {
        throw new DirectoryError(
          "invalid",
          "that code does not match; check the app's key and the phone's clock, and try again",
        );
      }
      session.totpSetup = null;
      log.info("two-step sign-in turned on", { user: session.address });
      return "Two-step sign-in is on: signing in here and in the admin now asks for a code.";
    }));
  page.post("/totp/cancel", (c) =>
    act(c, () => {
      c.get("session").totpSetup = null;
      return Promise.resolve("The setup of two-step sign-in is cancelled.");
    }));
  page.post("/totp/disable", (c) =>
    act(c, async () => {
      const session = c.get("session");
      const account = await app.directory.requireAccount(session.address);
      const verdict = await app.directory.verifyTotp(
        account,
        c.get("form").get("code") ?? "",
        c.get("ip"),
      );
      if (verdict !== "ok") {
        throw new DirectoryError(
          "invalid",
          verdict === "rate_limited"
            ? "too many failed attempts; try again later"
            : "that code is wrong or was used already",
        );
      }
      await app.directory.disableTotp(account.address);
      return "Two-step sign-in is off.";
    }));
}
