/**
 * The web admin (/admin) in headless Chromium (Debian `chromium`, driven by playwright-core):
 * the first sign-in, adding a domain and reading its DNS page (each record checked against a
 * test DNS server: present, wrong, missing), creating an account that then logs in over IMAP,
 * resetting its password (the old one stops working), aliases, and the outbound queue (list,
 * inspect, retry, delete) with a message a remote host keeps deferring, a setting written into
 * config.toml, and the recent log events. A form POST without the
 * session's CSRF token is refused; an ended session sends the browser back to the sign-in page.
 * A screenshot of each page is saved under tests/artifacts/.
 */
import type { Page } from "playwright-core";
import { flash, launchChromium, screenshot as save } from "../helpers/chromium.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { startSmtpPeer } from "../helpers/smtp_peer.ts";
import { imapLogin, submit } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";

async function signIn(page: Page, base: string, server: TestServer): Promise<void> {
  assert(server.admin, "the first start printed the admin's password");
  await page.goto(`${base}/admin`);
  assertEquals(new URL(page.url()).pathname, "/admin/login");
  await page.fill('input[name="address"]', server.admin.address);
  await page.fill('input[name="password"]', server.admin.password);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${base}/admin`);
}

Deno.test("admin in a browser: sign in, domain and DNS, account over IMAP, password, queue, CSRF", async () => {
  const peer = await startSmtpPeer({ rcpt: () => "452 4.2.2 mailbox full" });
  const dns = await startDnsServer({
    // example.org publishes its MX but an SPF record other than the one asked for, no DMARC.
    "example.org": {
      MX: [{ exchange: "mail.example.com", preference: 10 }],
      TXT: ["v=spf1 a -all"],
    },
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: [peer.host] },
  });
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: [
      "[queue]",
      `remote_port = ${peer.port}`,
      `retry = ["1h"]`,
      "mta_sts = false",
    ].join("\n"),
  });
  const browser = await launchChromium();
  try {
    const base = `http://127.0.0.1:${server.ports.http}`;
    const context = await browser.newContext();
    const page = await context.newPage();

    // The sign-in page, and the cookies' attributes (Secure over https).
    await page.goto(`${base}/admin`);
    assertEquals(new URL(page.url()).pathname, "/admin/login");
    await save(page, "admin-login");
    await page.fill('input[name="address"]', server.admin!.address);
    await page.fill('input[name="password"]', "not the password");
    await page.click('button[type="submit"]');
    assertMatch(await page.textContent(".flash") ?? "", /Wrong address or password/);
    await signIn(page, base, server);
    const [cookie] = (await context.cookies()).filter((c) => c.name === "postern_admin");
    assertMatch(cookie.value, /^[0-9a-f]{64}$/);
    assertEquals([cookie.path, cookie.httpOnly, cookie.sameSite], ["/admin", true, "Strict"]);
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const client = Deno.createHttpClient({ caCerts: [ca] });
    const overTls = await fetch(`https://localhost:${server.ports.https}/admin/login`, { client });
    await overTls.body?.cancel();
    client.close();
    assertEquals(overTls.status, 200);
    assertMatch(overTls.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict; Secure/);

    // The dashboard.
    assertMatch(await page.textContent("main") ?? "", /Postern \d/);
    assertMatch(await page.textContent("#queue-size") ?? "", /^\s*0 messages/);
    assertMatch(await page.textContent("main") ?? "", /imaps/);
    await save(page, "admin-dashboard");

    // Add a domain; its DNS page.
    await page.goto(`${base}/admin/domains`);
    await page.fill('input[name="name"]', "Example.ORG");
    await page.click('form[action="/admin/domains"] button');
    await page.waitForURL(`${base}/admin/domains`);
    assertMatch(await flash(page), /Added example\.org/);
    assert(await page.isVisible('tr[data-domain="example.org"]'));
    await save(page, "admin-domains");
    await page.click('tr[data-domain="example.org"] a >> text=DNS records');
    await page.waitForURL(`${base}/admin/domains/example.org/dns`);
    const status = (name: string, type: string) =>
      page.getAttribute(`tr[data-name="${name}"][data-type="${type}"]`, "data-status");
    assertEquals(await status("example.org", "MX"), "present");
    assertEquals(await status("example.org", "TXT"), "wrong");
    assertEquals(await status("_dmarc.example.org", "TXT"), "missing");
    assertMatch(await page.textContent("#zone") ?? "", /_domainkey\.example\.org\.\t3600\tIN\tTXT/);
    // The names clients reach over TLS, against the (self-signed) certificate served.
    const certificate = (name: string) =>
      page.getAttribute(`tr[data-certificate="${name}"]`, "data-status");
    assertEquals(await certificate("mail.example.com"), "self-signed");
    assertEquals(await certificate("mta-sts.example.org"), "not covered");
    assertEquals(await certificate("autodiscover.example.org"), "not covered");
    await save(page, "admin-dns");

    // Create an account; it logs in over IMAP.
    await page.goto(`${base}/admin/accounts`);
    await page.fill('#new-account input[name="address"]', "carol@example.org");
    await page.fill('#new-account input[name="password"]', "first pass");
    await page.fill('#new-account input[name="displayName"]', "Carol");
    await page.fill('#new-account input[name="quota"]', "10M");
    await page.click("#new-account button");
    await page.waitForURL(`${base}/admin/accounts`);
    assertMatch(await flash(page), /Created carol@example\.org/);
    const carolRow = 'tr[data-account="carol@example.org"]';
    assertMatch(await page.textContent(carolRow) ?? "", /Carol.*10\.0 MiB/s);
    assertMatch(await imapLogin(server, "carol@example.org", "first pass"), /^a1 OK/);

    // Carol signs in over IMAP but is no administrator: the admin turns her away.
    const loginForm = await fetch(`${base}/admin/login`);
    const token = /name="_csrf" value="([0-9a-f]{64})"/.exec(await loginForm.text())?.[1];
    const loginCookie = (loginForm.headers.get("set-cookie") ?? "").split(";")[0];
    const refused = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        _csrf: token ?? "",
        address: "carol@example.org",
        password: "first pass",
      }),
      redirect: "manual",
    });
    assertEquals(refused.status, 403);
    assertMatch(await refused.text(), /carol@example\.org is not an administrator/);
    assertEquals(refused.headers.getSetCookie().some((c) => c.startsWith("postern_admin=")), false);

    // Reset the password: the old one fails, the new one works.
    await page.fill(`${carolRow} form[action$="/password"] input[name="password"]`, "second pass");
    await page.click(`${carolRow} form[action$="/password"] button`);
    await page.waitForURL(`${base}/admin/accounts`);
    assertMatch(await flash(page), /Changed the password of carol@example\.org/);
    assertMatch(await imapLogin(server, "carol@example.org", "first pass"), /^a1 NO/);
    assertMatch(await imapLogin(server, "carol@example.org", "second pass"), /^a1 OK/);
    await save(page, "admin-accounts");

    // An alias.
    await page.goto(`${base}/admin/aliases`);
    await page.fill('input[name="address"]', "info@example.org");
    await page.fill('input[name="target"]', "carol@example.org");
    await page.click('form[action="/admin/aliases"] button');
    await page.waitForURL(`${base}/admin/aliases`);
    assert(await page.isVisible('tr[data-alias="info@example.org"]'));
    await save(page, "admin-aliases");

    // The queue: a message the remote host defers.
    assertMatch(
      await submit(
        server,
        { user: "carol@example.org", password: "second pass" },
        { from: "carol@example.org", to: ["bob@remote.test"] },
        "From: carol@example.org\r\nTo: bob@remote.test\r\nSubject: full\r\n\r\nHello.\r\n",
      ),
      /^250/,
    );
    await eventually(() => server.logs.some((l) => l.includes('"msg":"deferred"')), "deferral");
    await page.goto(`${base}/admin/queue`);
    assertMatch(await page.textContent("#queue-count") ?? "", /^1 messages/);
    const id = await page.getAttribute("tr[data-queued]", "data-queued");
    assertMatch(
      await page.textContent(`tr[data-queued="${id}"]`) ?? "",
      /bob@remote\.test \(queued\)/,
    );
    await save(page, "admin-queue");
    await page.click(`tr[data-queued="${id}"] a`);
    await page.waitForURL(`${base}/admin/queue/${id}`);
    assertMatch(await page.textContent("main") ?? "", /452 4\.2\.2 mailbox full/);
    await save(page, "admin-queue-message");
    await page.click('form[action$="/retry"] button');
    await page.waitForURL(`${base}/admin/queue`);
    assertMatch(await flash(page), new RegExp(`1 recipients of message ${id} due now`));
    await eventually(
      () => peer.commands.filter((c) => c.startsWith("RCPT")).length === 2,
      "the retry's delivery attempt",
    );
    await page.click(`tr[data-queued="${id}"] form[action$="/delete"] button`);
    await page.waitForURL(`${base}/admin/queue`);
    assertMatch(await flash(page), new RegExp(`Deleted queued message ${id}`));
    assertMatch(await page.textContent("#queue-count") ?? "", /^0 messages/);

    // Settings: a change is written into config.toml and the page shows it from the file.
    await page.goto(`${base}/admin/settings`);
    const junk = 'tr[data-setting="spam.junk_threshold"]';
    assertEquals(await page.getAttribute(junk, "data-source"), "default");
    await page.fill(`${junk} input[name="value"]`, "7.5");
    await page.click(`${junk} form button`);
    await page.waitForURL(`${base}/admin/settings`);
    assertMatch(await flash(page), /Saved spam\.junk_threshold; it is in effect now/);
    assertEquals(await page.getAttribute(junk, "data-source"), "file");
    assertEquals(await page.inputValue(`${junk} input[name="value"]`), "7.5");
    assertMatch(await Deno.readTextFile(server.configPath), /\[spam\][^[]*junk_threshold = 7\.5/);
    await save(page, "admin-settings");

    // Logs: the recent events, filtered by component.
    await page.goto(`${base}/admin/logs?component=admin`);
    const events = await page.locator('tbody tr[data-component="admin"]').allTextContents();
    assertMatch(events[0], /admin sign-in refused: not an administrator.*carol@example\.org/);
    assertMatch(events.at(-1) ?? "", /admin signed in/);
    assertEquals(await page.locator('tbody tr:not([data-component="admin"])').count(), 0);
    await save(page, "admin-logs");

    // CSRF: the session cookie alone does not make a form POST.
    const sessionCookie = `postern_admin=${cookie.value}`;
    const post = (body: string) =>
      fetch(`${base}/admin/domains`, {
        method: "POST",
        headers: { cookie: sessionCookie, "content-type": "application/x-www-form-urlencoded" },
        body,
        redirect: "manual",
      });
    const withoutToken = await post("name=evil.test");
    assertEquals(withoutToken.status, 403, await withoutToken.text());
    const wrongToken = await post(`name=evil.test&_csrf=${"0".repeat(64)}`);
    assertEquals(wrongToken.status, 403, await wrongToken.text());
    await page.goto(`${base}/admin/domains`);
    assertEquals(await page.isVisible('tr[data-domain="evil.test"]'), false);
    // With the session's token (read from its page) the same POST goes through.
    const sessionToken = await page.getAttribute(
      'form[action="/admin/domains"] input[name="_csrf"]',
      "value",
    );
    const withToken = await post(`name=good.test&_csrf=${sessionToken}`);
    await withToken.body?.cancel();
    assertEquals([withToken.status, withToken.headers.get("location")], [303, "/admin/domains"]);
    await page.reload();
    assert(await page.isVisible('tr[data-domain="good.test"]'));

    // Sign out: the cookie no longer opens a page.
    await page.click('header button:has-text("Sign out")');
    await page.waitForURL(`${base}/admin/login`);
    const after = await fetch(`${base}/admin`, {
      headers: { cookie: sessionCookie },
      redirect: "manual",
    });
    await after.body?.cancel();
    assertEquals([after.status, after.headers.get("location")], [303, "/admin/login?ended"]);
  } finally {
    await browser.close();
    await server.stop();
    await dns.close();
    await peer.close();
  }
});

Deno.test("admin in a browser: an ended session sends the browser back to sign in", async () => {
  const server = await startServer({ extra: ["[admin]", `session_idle = "2s"`].join("\n") });
  const browser = await launchChromium();
  try {
    const base = `http://127.0.0.1:${server.ports.http}`;
    const page = await browser.newPage();
    await signIn(page, base, server);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await page.goto(`${base}/admin/accounts`);
    assertEquals(new URL(page.url()).pathname, "/admin/login");
    assertMatch(await page.textContent(".flash") ?? "", /Your session has ended/);
    await save(page, "admin-session-ended");
    // A form of the ended session is not acted on either: it lands on the sign-in page.
    await signIn(page, base, server);
    await page.goto(`${base}/admin/domains`);
    await page.fill('input[name="name"]', "late.test");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await page.click('form[action="/admin/domains"] button');
    await page.waitForURL(/\/admin\/login/);
    await signIn(page, base, server);
    await page.goto(`${base}/admin/domains`);
    assertEquals(await page.isVisible('tr[data-domain="late.test"]'), false);
  } finally {
    await browser.close();
    await server.stop();
  }
});
