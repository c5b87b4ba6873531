/**
 * API tokens of the signed-in administrator: list (label, created, last used; never the secret),
 * create (the token is shown once, in the flash), revoke.
 */
import type { ApiKey } from "../../store/types.ts";
import { CsrfField } from "../layout.tsx";
import { CredentialsTable } from "../credentials_table.tsx";

export function TokensPage(props: { address: string; tokens: ApiKey[]; token: string }) {
  return (
    <>
      <p>
        API tokens are per account: these are the tokens of{" "}
        <strong>{props.address}</strong>, the account you are signed in as, and each one acts as
        that account — an administrator's token can do all the management API can. A program sends
        it as <code>Authorization: Bearer …</code>{" "}
        to /api, JMAP and DAV. A token is shown once, when it is created; only its hash is kept.
        Other accounts' tokens are managed with <code>postern token …</code>{" "}
        or through /api/accounts/…/tokens.
      </p>
      <h2>New token</h2>
      <form class="inline" method="post" action="/admin/tokens" id="new-token">
        <CsrfField token={props.token} />
        <input
          name="label"
          maxlength={200}
          placeholder="What it is for, e.g. backup script"
          aria-label="Label"
        />
        <button type="submit">Create token</button>
      </form>
      <h2>Tokens</h2>
      <CredentialsTable
        rows={props.tokens.map((key) => ({ ...key, name: key.label || "(no label)" }))}
        revoke={(id) => ({ action: `/admin/tokens/${id}/revoke` })}
        token={props.token}
        rowAttribute="token"
      />
    </>
  );
}
