/**
 * The account page (/account, src/selfservice/) on the real server over real HTTP, with a cookie
 * jar like a browser's: an account signs in with its password, creates an app password that then
 * works for IMAP and SMTP AUTH and stops working once revoked, changes its password (IMAP takes
 * the new one and refuses the old at once), is refused a form without its CSRF token, and sets a
 * vacation reply that answers the next delivery through the outbound queue to a scripted peer.
 * App passwords made and revoked by `postern account app-password` and /api work over IMAP too.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { Browser, csrfToken, flash } from "../helpers/browser.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startRemoteDomain } from "../helpers/smtp_peer.ts";
import { imapLogin, readReply, send } from "../helpers/mail.ts";
import { eventually, LineClient } from "../helpers/tls.ts";

/** The reply to AUTH PLAIN on the submission port after STARTTLS. */
async function smtpAuth(server: TestServer, user: string, password: string): Promise<string> {
  const client = await LineClient.connect(server.ports.submission);
  try {
    await readReply(client);
    await send(client, "EHLO client.test");
    assertMatch(await send(client, "STARTTLS"), /^220 /);
    await client.startTls(await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`));
    await send(client, "EHLO client.test");
    return await send(client, `AUTH PLAIN ${btoa(`\0${user}\0${password}`)}`);
  } finally {
    await client.close();
  }
}

/** Delivers one message over port 25. */
async function deliver(server: TestServer, from: string, to: string, subject: string) {
  const smtp = await LineClient.connect(server.ports.smtp);
  try {
    await readReply(smtp);
    await send(smtp, "EHLO sender.test");
    assertMatch(await send(smtp, `MAIL FROM:<${from}>`), /^250/);
    assertMatch(await send(smtp, `RCPT TO:<${to}>`), /^250/);
    assertMatch(await send(smtp, "DATA"), /^354/);
    const headers = `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@remote.test>`;
    assertMatch(await send(smtp, `${headers}\r\n\r\nHello.\r\n.`), /^250/);
  } finally {
    await smtp.close();
  }
}

Deno.test("account page: app passwords, password change, CSRF, vacation reply", async () => {
  const { peer, dns, serverOptions } = await startRemoteDomain();
  const server = await startServer(serverOptions);
  try {
    assert(server.admin);
    const domain = server.admin.address.split("@")[1];
    const user = `carol@${domain}`;
    const added = await cli(server.configPath, ["account", "add", user, "--password", "first-pw1"]);
    assertEquals(added.code, 0, added.stderr);
    const browser = new Browser(`http://127.0.0.1:${server.ports.http}`);

    // Not signed in: to the sign-in page. A wrong password: 401. The right one: a session.
    const anonymous = await browser.request("GET", "/account");
    assertEquals([anonymous.status, anonymous.location], [303, "/account/login"]);
    const login = await browser.request("GET", "/account/login");
    const loginToken = csrfToken(login.text);
    const noToken = await browser.request("POST", "/account/login", {
      address: user,
      password: "first-pw1",
    });
    assertEquals(noToken.status, 403);
    const wrong = await browser.request("POST", "/account/login", {
      _csrf: loginToken,
      address: user,
      password: "nope",
    });
    assertEquals(wrong.status, 401);
    const signedIn = await browser.request("POST", "/account/login", {
      _csrf: csrfToken(wrong.text),
      address: user,
      password: "first-pw1",
    });
    assertEquals([signedIn.status, signedIn.location], [303, "/account"]);
    const home = await browser.request("GET", "/account");
    assertEquals(home.status, 200);
    assert(home.text.includes(user));
    assertMatch(home.headers.get("content-security-policy") ?? "", /default-src 'none'/);

    // A form without its CSRF token changes nothing.
    const forged = await browser.request("POST", "/account/password", {
      current: "first-pw1",
      new: "forged-password",
      again: "forged-password",
    });
    assertEquals(forged.status, 403);
    assertMatch(await imapLogin(server, user, "first-pw1"), /^a1 OK/);

    // An app password: shown once, then good for IMAP and SMTP AUTH.
    const created = await browser.submit("/account/app-passwords", { name: "phone" });
    const appPassword = /created: ([0-9]+-[a-z2-9]{4}(?:-[a-z2-9]{4}){3})/.exec(flash(created))
      ?.[1];
    assert(appPassword, flash(created));
    assert(!(await browser.request("GET", "/account")).text.includes(appPassword));
    assertMatch(await imapLogin(server, user, appPassword), /^a1 OK/);
    assertEquals(await smtpAuth(server, user, appPassword), "235 2.7.0 Authentication successful");
    const listed = (await browser.request("GET", "/account")).text;
    assert(listed.includes("<td>phone</td>"), listed);
    // It does not open the account page.
    const viaApp = new Browser(browser.base);
    const appLogin = await viaApp.request("POST", "/account/login", {
      _csrf: csrfToken((await viaApp.request("GET", "/account/login")).text),
      address: user,
      password: appPassword,
    });
    assertEquals(appLogin.status, 401);

    // Revoked: refused at once.
    const id = appPassword.split("-")[0];
    const revoked = await browser.submit("/account/app-passwords/revoke", { id });
    assertEquals(flash(revoked), "The app password is revoked.");
    assertMatch(await imapLogin(server, user, appPassword), /^a1 NO/);
    assertMatch(await smtpAuth(server, user, appPassword), /^535 /);

    // Password change: the current one must be right and the new one typed twice.
    const mismatch = await browser.submit("/account/password", {
      current: "first-pw1",
      new: "second-pw2",
      again: "second-pw3",
    });
    assertEquals(flash(mismatch), "the two new passwords differ");
    const changed = await browser.submit("/account/password", {
      current: "first-pw1",
      new: "second-pw2",
      again: "second-pw2",
    });
    assertEquals(flash(changed), "Your password is changed.");
    assertMatch(await imapLogin(server, user, "second-pw2"), /^a1 OK/);
    assertMatch(await imapLogin(server, user, "first-pw1"), /^a1 NO/);

    // The Apple profile for this account.
    const profile = await browser.request("GET", "/account/mobileconfig");
    assertEquals(profile.status, 200);
    assertEquals(profile.headers.get("content-type"), "application/x-apple-aspen-config");
    assert(profile.text.includes(`<string>${user}</string>`));

    // A vacation reply answers the next message.
    const vacation = await browser.submit("/account/vacation", {
      enabled: "on",
      subject: "Out of office",
      text: "Back on Monday.",
      from: "",
      to: "",
    });
    assertEquals(flash(vacation), "The vacation reply is on.");
    assert(vacation.includes("Back on Monday."));
    await deliver(server, "bob@remote.test", user, "Lunch?");
    await eventually(() => peer.accepted.length === 1, "the vacation reply");
    const reply = peer.accepted[0];
    assertEquals(reply.from, "");
    assertEquals(reply.recipients, ["bob@remote.test"]);
    assertMatch(reply.data, /^Auto-Submitted: auto-replied\r$/m);
    assertMatch(reply.data, /^Subject: Out of office\r$/m);
    assert(reply.data.includes("Back on Monday."));

    // Signed out: the session is gone.
    const page = await browser.request("GET", "/account");
    const out = await browser.request("POST", "/account/logout", { _csrf: csrfToken(page.text) });
    assertEquals([out.status, out.location], [303, "/account/login"]);
    assertEquals((await browser.request("GET", "/account")).location, "/account/login");
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
});

Deno.test("app passwords from the CLI and the management API", async () => {
  const server = await startServer();
  try {
    assert(server.admin);
    const admin = server.admin;
    const user = admin.address;
    const base = `http://127.0.0.1:${server.ports.http}/api/accounts/${user}/app-passwords`;
    const auth = { authorization: `Basic ${btoa(`${admin.address}:${admin.password}`)}` };

    const added = await cli(server.configPath, ["account", "app-password", "add", user, "tablet"]);
    assertEquals(added.code, 0, added.stderr);
    const fromCli = /\n([0-9]+-[a-z2-9]{4}(?:-[a-z2-9]{4}){3})\n?$/.exec(added.stdout)?.[1];
    assert(fromCli, added.stdout);
    assertMatch(await imapLogin(server, user, fromCli), /^a1 OK/);
    const list = await cli(server.configPath, ["account", "app-password", "list", user]);
    assertMatch(list.stdout, /tablet/);

    const created = await fetch(base, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "laptop" }),
    });
    assertEquals(created.status, 201);
    const body = await created.json();
    assertEquals(body.name, "laptop");
    assertMatch(await imapLogin(server, user, body.password), /^a1 OK/);
    const listed = await (await fetch(base, { headers: auth })).json();
    assertEquals(listed.appPasswords.map((e: { name: string }) => e.name), ["tablet", "laptop"]);
    assert(!JSON.stringify(listed).includes(body.password));

    const deleted = await fetch(`${base}/${body.id}`, { method: "DELETE", headers: auth });
    assertEquals(deleted.status, 204);
    const again = await fetch(`${base}/${body.id}`, { method: "DELETE", headers: auth });
    assertEquals(again.status, 404);
    await again.body?.cancel();
    assertMatch(await imapLogin(server, user, body.password), /^a1 NO/);

    const id = fromCli.split("-")[0];
    const revoked = await cli(server.configPath, ["account", "app-password", "revoke", user, id]);
    assertEquals(revoked.code, 0, revoked.stderr);
    assertMatch(await imapLogin(server, user, fromCli), /^a1 NO/);
    const none = await cli(server.configPath, ["account", "app-password", "revoke", user, id]);
    assertEquals(none.code, 1);
  } finally {
    await server.stop();
  }
});
