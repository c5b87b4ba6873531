/**
 * The account page's view: one page with password, app passwords, two-step sign-in, vacation,
 * profile. (Its sign-in pages are the admin's, src/admin/pages/login.tsx.)
 */
import { raw } from "hono/html";
import { CsrfField, Document } from "../admin/layout.tsx";
import { CredentialsTable } from "../admin/credentials_table.tsx";
import { CodeField } from "../admin/pages/login.tsx";
import type { AdminSession } from "../admin/session.ts";
import type { AppPassword } from "../store/types.ts";
import type { VacationSettings } from "../mail/vacation.ts";

const day = (date: string | null) => date?.slice(0, 10) ?? "";
export interface AccountPageProps {
  session: AdminSession;
  flash: AdminSession["flash"];
  appPasswords: AppPassword[];
  vacation: VacationSettings;
  /** Two-step sign-in is on. */
  totp: boolean;
  /** A secret being set up: base32, its otpauth URI and that URI's QR code (SVG markup). */
  totpSetup: { secret: string; uri: string; qrSvg: string } | null;
}

/** The two-step sign-in section: on (turn off with a code), being set up, or off. */
function TwoStepSection(
  props: { token: string; on: boolean; setup: AccountPageProps["totpSetup"] },
) {
  const { token, on, setup } = props;
  return (
    <section id="two-step">
      <h2>Two-step sign-in</h2>
      {on && (
        <>
          <p>
            <strong>On.</strong>{" "}
            Signing in here and in the admin asks for a code from your authenticator app after the
            password. Mail programs keep using your password or an app password.
          </p>
          <form class="inline" method="post" action="/account/totp/disable">
            <CsrfField token={token} />
            <CodeField label="Current code" />{" "}
            <button type="submit" class="danger">Turn off</button>
          </form>
        </>
      )}
      {!on && setup && (
        <>
          <p>
            Scan this code with an authenticator app (or enter the key by hand), then type the
            6-digit code the app shows.
          </p>
          <div class="qr">{raw(setup.qrSvg)}</div>
          <p>
            Key: <code id="totp-secret">{setup.secret}</code>
          </p>
          <p>
            <code id="totp-uri">{setup.uri}</code>
          </p>
          <form class="inline" method="post" action="/account/totp/enable">
            <CsrfField token={token} />
            <CodeField /> <button type="submit">Turn on</button>
          </form>{" "}
          <form class="inline" method="post" action="/account/totp/cancel">
            <CsrfField token={token} />
            <button type="submit">Cancel</button>
          </form>
        </>
      )}
      {!on && !setup && (
        <>
          <p>
            Off. With it on, signing in here and in the admin also asks for a code from an
            authenticator app on your phone.
          </p>
          <form class="inline" method="post" action="/account/totp/setup">
            <CsrfField token={token} />
            <button type="submit">Set up two-step sign-in</button>
          </form>
        </>
      )}
    </section>
  );
}

/** The one page of a signed-in account. */
export function accountView(props: AccountPageProps) {
  const { session, flash, vacation } = props;
  const token = session.csrfToken;
  return (
    <Document title="Your account" stylesheet="/account/style.css" site="Postern">
      <header>
        <strong>Postern</strong>
        <nav></nav>
        <span>{session.address}</span>
        <form method="post" action="/account/logout">
          <CsrfField token={token} />
          <button type="submit">Sign out</button>
        </form>
      </header>
      <main>
        <h1>Your account</h1>
        {flash && <div class={`flash ${flash.kind}`} role="status">{flash.text}</div>}

        <section id="password">
          <h2>Password</h2>
          <form class="stack" method="post" action="/account/password">
            <CsrfField token={token} />
            <label>
              Current password<br />
              <input name="current" type="password" autocomplete="current-password" required />
            </label>
            <label>
              New password<br />
              <input name="new" type="password" autocomplete="new-password" required />
            </label>
            <label>
              New password again<br />
              <input name="again" type="password" autocomplete="new-password" required />
            </label>
            <button type="submit">Change password</button>
          </form>
        </section>

        <section id="app-passwords">
          <h2>App passwords</h2>
          <p>
            A separate password for each mail program or device; it works wherever your password
            does, and revoking it signs out only that device.
          </p>
          <CredentialsTable
            rows={props.appPasswords}
            revoke={(id) => ({
              action: "/account/app-passwords/revoke",
              fields: { id: String(id) },
            })}
            token={token}
            rowAttribute="app-password"
          />
          <form class="inline" method="post" action="/account/app-passwords">
            <CsrfField token={token} />
            <label>
              Name <input name="name" required maxlength={100} placeholder="e.g. phone" />
            </label>{" "}
            <button type="submit">Create app password</button>
          </form>
        </section>

        <TwoStepSection token={token} on={props.totp} setup={props.totpSetup} />

        <section id="vacation">
          <h2>Vacation reply</h2>
          <form class="stack" method="post" action="/account/vacation">
            <CsrfField token={token} />
            <label>
              <input name="enabled" type="checkbox" checked={vacation.isEnabled} />{" "}
              Answer incoming mail automatically
            </label>
            <label>
              Subject<br />
              <input name="subject" value={vacation.subject ?? ""} maxlength={200} />
            </label>
            <label>
              Text<br />
              <textarea name="text" rows={6}>{vacation.textBody ?? ""}</textarea>
            </label>
            <label>
              First day (optional)<br />
              <input name="from" type="date" value={day(vacation.fromDate)} />
            </label>
            <label>
              Last day (optional)<br />
              <input name="to" type="date" value={day(vacation.toDate)} />
            </label>
            <button type="submit">Save vacation reply</button>
          </form>
        </section>

        <section id="profile">
          <h2>Apple devices</h2>
          <p>
            <a href="/account/mobileconfig">Download the configuration profile</a>{" "}
            (mail, calendar and contacts for iPhone, iPad and Mac; the device asks for the password
            once — an app password is a good choice).
          </p>
        </section>
      </main>
    </Document>
  );
}
