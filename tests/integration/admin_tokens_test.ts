/**
 * The web admin's API tokens page (/admin/tokens) and an account's app passwords page
 * (/admin/accounts/{address}/app-passwords) on the real server over real HTTP, as a browser
 * sees them: a token created on the page is shown once and is then a Bearer credential for
 * /api/status until it is revoked on the page (401 after); an app password created for an
 * account logs in over IMAP until it is revoked there; a form without its CSRF token is 403 and
 * changes nothing; an administrator cannot revoke another account's token from the page.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { Browser, flash } from "../helpers/browser.ts";
import { admin as adminCredentials, api } from "../helpers/api.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { imapLogin } from "../helpers/mail.ts";

const TOKEN = /created: (postern_([0-9]+)_[A-Za-z0-9_-]{43}) — /;
const APP_PASSWORD = /created for [^:]+: (([0-9]+)-[a-z2-9]{4}(?:-[a-z2-9]{4}){3}) — /;

async function signedInAdmin(server: TestServer): Promise<Browser> {
  assert(server.admin, "the first start printed the admin's password");
  const browser = new Browser(`http://127.0.0.1:${server.ports.http}`, "/admin");
  const signed = await browser.signIn(server.admin.address, server.admin.password);
  assertEquals([signed.status, signed.location], [303, "/admin"]);
  return browser;
}

/** The table row of `attribute="id"` on a page, or null. */
function row(html: string, attribute: string, id: string): string | null {
  return new RegExp(`<tr ${attribute}="${id}">(.*?)</tr>`, "s").exec(html)?.[1] ?? null;
}

Deno.test("admin tokens page: a token shown once is a Bearer for /api until revoked on the page", async () => {
  const server = await startServer();
  try {
    const browser = await signedInAdmin(server);
    const address = server.admin!.address;
    const home = await browser.request("GET", "/admin");
    assert(home.text.includes('href="/admin/tokens"'), "the nav links the tokens page");

    const empty = await browser.request("GET", "/admin/tokens");
    assertEquals(empty.status, 200);
    assert(empty.text.includes(address), "the page names whose tokens these are");
    assert(!empty.text.includes("data-token="), empty.text);

    // Without the form's CSRF token: 403, and no token made.
    const forged = await browser.request("POST", "/admin/tokens", { label: "forged" });
    assertEquals(forged.status, 403);
    assert(!(await browser.request("GET", "/admin/tokens")).text.includes("data-token="));

    const created = await browser.submit(
      "/admin/tokens",
      { label: "backup script" },
      "/admin/tokens",
    );
    const shown = TOKEN.exec(flash(created));
    assert(shown, flash(created));
    const [, token, id] = shown;
    const listed = await browser.request("GET", "/admin/tokens");
    assert(!listed.text.includes(token), "the secret is shown once, then never");
    assertMatch(row(listed.text, "data-token", id) ?? "", /backup script.*never/s);

    // The same token the API and the CLI manage: listed there for the administrator.
    const viaApi = await api(
      server,
      adminCredentials(server),
      "GET",
      `/api/accounts/${address}/tokens`,
    );
    assertEquals(
      (viaApi.body.tokens as { id: number; label: string }[]).map((t) => [t.id, t.label]),
      [[Number(id), "backup script"]],
    );

    const status = await api(server, { token }, "GET", "/api/status");
    assertEquals(status.status, 200, JSON.stringify(status.body));
    const used = row((await browser.request("GET", "/admin/tokens")).text, "data-token", id);
    assert(used && !used.includes("never"), `last used is shown: ${used}`);

    // Another account's token is not this page's to revoke.
    const bob = `bob@${address.split("@")[1]}`;
    assertEquals(
      (await cli(server.configPath, ["account", "add", bob, "--password", "pw-bob1"])).code,
      0,
    );
    const bobs = await api(
      server,
      adminCredentials(server),
      "POST",
      `/api/accounts/${bob}/tokens`,
      {
        json: { label: "bob's" },
      },
    );
    assertEquals(bobs.status, 201);
    const refused = await browser.submit(
      `/admin/tokens/${bobs.body.id}/revoke`,
      {},
      "/admin/tokens",
    );
    assertEquals(flash(refused), `you have no token ${bobs.body.id}`);
    const bobsList = await api(
      server,
      adminCredentials(server),
      "GET",
      `/api/accounts/${bob}/tokens`,
    );
    assertEquals((bobsList.body.tokens as unknown[]).length, 1);

    // Revoking needs the CSRF token too; then the token is refused at once.
    const forgedRevoke = await browser.request("POST", `/admin/tokens/${id}/revoke`, {});
    assertEquals(forgedRevoke.status, 403);
    assertEquals((await api(server, { token }, "GET", "/api/status")).status, 200);
    const revoked = await browser.submit(`/admin/tokens/${id}/revoke`, {}, "/admin/tokens");
    assertEquals(flash(revoked), `Revoked API token ${id}; it no longer signs in.`);
    assertEquals(row(revoked, "data-token", id), null);
    assertEquals((await api(server, { token }, "GET", "/api/status")).status, 401);
  } finally {
    await server.stop();
  }
});

Deno.test("admin app passwords page: one created for an account logs in over IMAP until revoked", async () => {
  const server = await startServer();
  try {
    const browser = await signedInAdmin(server);
    const carol = `carol@${server.admin!.address.split("@")[1]}`;
    const added = await cli(server.configPath, [
      "account",
      "add",
      carol,
      "--password",
      "pw-carol1",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const page = `/admin/accounts/${encodeURIComponent(carol)}/app-passwords`;

    const accounts = await browser.request("GET", "/admin/accounts");
    assert(accounts.text.includes(`href="${page}"`), "each account links its app passwords");
    const empty = await browser.request("GET", page);
    assertEquals(empty.status, 200);
    assert(empty.text.includes(`App passwords of ${carol}`), empty.text);
    assertEquals(
      (await browser.request("GET", "/admin/accounts/nobody%40example.com/app-passwords")).status,
      404,
    );

    const forged = await browser.request("POST", page, { name: "forged" });
    assertEquals(forged.status, 403);
    assert(!(await browser.request("GET", page)).text.includes("data-app-password="));

    const created = await browser.submit(page, { name: "phone" }, page);
    const shown = APP_PASSWORD.exec(flash(created));
    assert(shown, flash(created));
    const [, password, id] = shown;
    const listed = await browser.request("GET", page);
    assert(!listed.text.includes(password), "the password is shown once, then never");
    assertMatch(row(listed.text, "data-app-password", id) ?? "", /phone.*never/s);

    assertMatch(await imapLogin(server, carol, password), /^a1 OK/);
    const used = row((await browser.request("GET", page)).text, "data-app-password", id);
    assert(used && !used.includes("never"), `last used is shown: ${used}`);

    const forgedRevoke = await browser.request("POST", `${page}/${id}/revoke`, {});
    assertEquals(forgedRevoke.status, 403);
    assertMatch(await imapLogin(server, carol, password), /^a1 OK/);

    const revoked = await browser.submit(`${page}/${id}/revoke`, {}, page);
    assertEquals(flash(revoked), `Revoked app password &#39;phone&#39; of ${carol}.`);
    assertEquals(row(revoked, "data-app-password", id), null);
    assertMatch(await imapLogin(server, carol, password), /^a1 NO/);
    // The account's own password is untouched.
    assertMatch(await imapLogin(server, carol, "pw-carol1"), /^a1 OK/);
  } finally {
    await server.stop();
  }
});
