/** Aliases: list, add, delete; "@domain" is a domain's catch-all. */
import type { Alias } from "../../store/types.ts";
import { ActionButton, CsrfField } from "../layout.tsx";

export function AliasesPage(props: { aliases: Alias[]; token: string }) {
  return (
    <>
      <form class="inline" method="post" action="/admin/aliases">
        <CsrfField token={props.token} />
        <input
          name="address"
          required
          placeholder="alias@example.com or @example.com"
          aria-label="Alias"
        />
        <input name="target" required placeholder="target@example.com" aria-label="Target" />
        <button type="submit">Add alias</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>Alias</th>
            <th>Delivers to</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.aliases.map((a) => (
            <tr data-alias={a.address}>
              <td>{a.address}</td>
              <td>{a.target}</td>
              <td>
                <ActionButton
                  action="/admin/aliases/delete"
                  label="Delete"
                  token={props.token}
                  danger
                  fields={{ address: a.address, target: a.target }}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
