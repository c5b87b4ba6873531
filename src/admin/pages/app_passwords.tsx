/**
 * One account's app passwords: list (name, created, last used), create one for the user (shown
 * once, in the flash), revoke.
 */
import type { AppPassword } from "../../store/types.ts";
import { MAX_APP_PASSWORD_NAME } from "../../directory/app_passwords.ts";
import { CsrfField } from "../layout.tsx";
import { CredentialsTable } from "../credentials_table.tsx";

export function AppPasswordsPage(
  props: { address: string; appPasswords: AppPassword[]; token: string },
) {
  const base = `/admin/accounts/${encodeURIComponent(props.address)}/app-passwords`;
  return (
    <>
      <p>
        An app password works wherever the account's password does (IMAP, POP3, SMTP AUTH,
        ManageSieve, HTTP Basic), for one device or program; revoking it signs out only that one. It
        is shown once, when it is created: give it to the user then. The user manages these too, on
        their account page (/account). <a href="/admin/accounts">Back to accounts</a>
      </p>
      <h2>New app password</h2>
      <form class="inline" method="post" action={base} id="new-app-password">
        <CsrfField token={props.token} />
        <input
          name="name"
          required
          maxlength={MAX_APP_PASSWORD_NAME}
          placeholder="Device or program, e.g. phone"
          aria-label="Name"
        />
        <button type="submit">Create app password</button>
      </form>
      <h2>App passwords</h2>
      <CredentialsTable
        rows={props.appPasswords}
        revoke={(id) => ({ action: `${base}/${id}/revoke` })}
        token={props.token}
        rowAttribute="app-password"
      />
    </>
  );
}
