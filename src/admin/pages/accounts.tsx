/**
 * Accounts: list with quota, usage and two-step sign-in; create, password reset, quota,
 * two-step sign-in off (a lost phone), disable/enable, delete; each account's Apple profile and
 * a link to its app passwords (app_passwords.tsx).
 */
import type { Account } from "../../store/types.ts";
import { ActionButton, CsrfField } from "../layout.tsx";
import { formatBytes } from "../status.ts";

export function AccountsPage(
  props: { accounts: Account[]; domains: string[]; totp: Set<number>; token: string },
) {
  return (
    <>
      <h2>New account</h2>
      <form class="inline" method="post" action="/admin/accounts" id="new-account">
        <CsrfField token={props.token} />
        <input
          name="address"
          type="email"
          required
          placeholder={`user@${props.domains[0] ?? "example.com"}`}
          aria-label="Address"
        />
        <input
          name="password"
          type="password"
          required
          placeholder="Password"
          aria-label="Password"
        />
        <input name="displayName" placeholder="Display name" aria-label="Display name" />
        <input name="quota" placeholder="Quota (e.g. 2G, 0 = none)" aria-label="Quota" />
        <button type="submit">Create account</button>
      </form>
      <h2>Accounts</h2>
      <table>
        <thead>
          <tr>
            <th>Address</th>
            <th>Name</th>
            <th>Used / quota</th>
            <th>State</th>
            <th>Two-step sign-in</th>
            <th>Password</th>
            <th>Quota</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.accounts.map((a) => {
            const base = `/admin/accounts/${encodeURIComponent(a.address)}`;
            return (
              <tr data-account={a.address}>
                <td>{a.address}</td>
                <td>{a.displayName}</td>
                <td>
                  {formatBytes(a.usedBytes)} / {a.quota ? formatBytes(a.quota) : "unlimited"}
                </td>
                <td class={a.disabled ? "missing" : "present"}>
                  {a.disabled ? "disabled" : "enabled"}
                </td>
                <td data-totp={props.totp.has(a.id) ? "on" : "off"}>
                  {props.totp.has(a.id)
                    ? (
                      <>
                        on{" "}
                        <ActionButton
                          action={`${base}/totp/disable`}
                          label="Turn off"
                          token={props.token}
                          danger
                        />
                      </>
                    )
                    : "off"}
                </td>
                <td>
                  <form class="inline" method="post" action={`${base}/password`}>
                    <CsrfField token={props.token} />
                    <input
                      name="password"
                      type="password"
                      required
                      placeholder="New password"
                      aria-label={`New password for ${a.address}`}
                    />
                    <button type="submit">Reset</button>
                  </form>
                </td>
                <td>
                  <form class="inline" method="post" action={`${base}/quota`}>
                    <CsrfField token={props.token} />
                    <input
                      name="quota"
                      required
                      size={6}
                      value={String(a.quota)}
                      aria-label={`Quota for ${a.address}`}
                    />
                    <button type="submit">Set</button>
                  </form>
                </td>
                <td>
                  <a href={`${base}/app-passwords`}>App passwords</a>{" "}
                  <a href={`${base}/mobileconfig`} download>Apple profile</a>{" "}
                  <ActionButton
                    action={`${base}/${a.disabled ? "enable" : "disable"}`}
                    label={a.disabled ? "Enable" : "Disable"}
                    token={props.token}
                  />
                  <ActionButton
                    action={`${base}/delete`}
                    label="Delete"
                    token={props.token}
                    danger
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
