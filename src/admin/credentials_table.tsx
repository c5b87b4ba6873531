/**
 * The table of an account's credentials — app passwords, API tokens — on the admin pages and the
 * account page: name, created, last used, and a revoke button (a POST form with the CSRF token).
 */
import { ActionButton } from "./layout.tsx";

export interface CredentialRow {
  id: number;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** "2026-11-29 10:17 UTC", or "never". */
export function credentialTime(date: Date | null): string {
  return date ? `${date.toISOString().slice(0, 16).replace("T", " ")} UTC` : "never";
}

export function CredentialsTable(
  props: {
    rows: CredentialRow[];
    /** The revoke form's target, and its hidden fields (e.g. the id when not in the path). */
    revoke: (id: number) => { action: string; fields?: Record<string, string> };
    token: string;
    /** The data-* attribute naming each row's id, for tests and scripts. */
    rowAttribute: string;
  },
) {
  return (
    <table>
      <thead>
        <tr>
          <th>Name</th>
          <th>Created</th>
          <th>Last used</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr {...{ [`data-${props.rowAttribute}`]: String(row.id) }}>
            <td>{row.name}</td>
            <td>{credentialTime(row.createdAt)}</td>
            <td>{credentialTime(row.lastUsedAt)}</td>
            <td>
              <ActionButton {...props.revoke(row.id)} label="Revoke" token={props.token} danger />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
