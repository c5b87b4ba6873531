/** Domains: list, add (with DKIM keys), delete, and each one's DNS page. */
import { ActionButton, CsrfField } from "../layout.tsx";

export interface DomainRow {
  name: string;
  createdAt: Date;
  accounts: number;
  aliases: number;
  dkimSelectors: string[];
}

export function DomainsPage(props: { domains: DomainRow[]; token: string }) {
  return (
    <>
      <form class="inline" method="post" action="/admin/domains">
        <CsrfField token={props.token} />
        <input name="name" placeholder="example.org" required aria-label="Domain name" />
        <button type="submit">Add domain</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>Domain</th>
            <th>Accounts</th>
            <th>Aliases</th>
            <th>DKIM selectors</th>
            <th>Added</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.domains.map((d) => (
            <tr data-domain={d.name}>
              <td>
                <a href={`/admin/domains/${encodeURIComponent(d.name)}/dns`}>{d.name}</a>
              </td>
              <td>{d.accounts}</td>
              <td>{d.aliases}</td>
              <td>{d.dkimSelectors.join(", ")}</td>
              <td>{d.createdAt.toISOString().slice(0, 10)}</td>
              <td>
                <a href={`/admin/domains/${encodeURIComponent(d.name)}/dns`}>DNS records</a>{" "}
                <ActionButton
                  action={`/admin/domains/${encodeURIComponent(d.name)}/delete`}
                  label="Delete"
                  token={props.token}
                  danger
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
