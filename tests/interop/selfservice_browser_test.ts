/**
 * The account page (/account) in headless Chromium (Debian `chromium`, driven by playwright-core):
 * an account signs in with its password, creates an app password that logs in over IMAP, sets a
 * vacation reply, changes its password (IMAP follows at once), turns on two-step sign-in from the
 * QR page and signs in again with a code, and signs out. A screenshot of each step is saved under
 * tests/artifacts/.
 */
import { flash, launchChromium, screenshot as save } from "../helpers/chromium.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";
import { imapLogin } from "../helpers/mail.ts";
import { base32Decode, totpCode, totpStep } from "../../src/directory/totp.ts";

Deno.test("account page in a browser: sign in, app password, vacation, password, two-step sign-in, sign out", async () => {
  const server = await startServer();
  const browser = await launchChromium();
  try {
    assert(server.admin);
    const user = `dave@${server.admin.address.split("@")[1]}`;
    const added = await cli(server.configPath, ["account", "add", user, "--password", "dave-pw-1"]);
    assertEquals(added.code, 0, added.stderr);
    const base = `http://127.0.0.1:${server.ports.http}`;
    const page = await browser.newPage();

    await page.goto(`${base}/account`);
    assertEquals(new URL(page.url()).pathname, "/account/login");
    await save(page, "account-login");
    await page.fill('input[name="address"]', user);
    await page.fill('input[name="password"]', "dave-pw-1");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    await save(page, "account-home");

    await page.fill('#app-passwords input[name="name"]', "phone");
    await page.click('#app-passwords button:text("Create app password")');
    await page.waitForURL(`${base}/account`);
    const created = /created: (\S+)/.exec(await flash(page))?.[1];
    assert(created, await flash(page));
    await save(page, "account-app-password");
    assertMatch(await imapLogin(server, user, created), /^a1 OK/);

    await page.check('#vacation input[name="enabled"]');
    await page.fill('#vacation input[name="subject"]', "Away");
    await page.fill('#vacation textarea[name="text"]', "Back next week.");
    await page.fill('#vacation input[name="to"]', "2099-01-31");
    await page.click('#vacation button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    assertEquals(await flash(page), "The vacation reply is on.");
    assertEquals(await page.inputValue('#vacation input[name="to"]'), "2099-01-31");
    await save(page, "account-vacation");

    await page.fill('#password input[name="current"]', "dave-pw-1");
    await page.fill('#password input[name="new"]', "dave-pw-2");
    await page.fill('#password input[name="again"]', "dave-pw-2");
    await page.click('#password button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    assertEquals(await flash(page), "Your password is changed.");
    await save(page, "account-password");
    assertMatch(await imapLogin(server, user, "dave-pw-2"), /^a1 OK/);
    assertMatch(await imapLogin(server, user, "dave-pw-1"), /^a1 NO/);

    // Two-step sign-in: the QR code renders under the page's CSP; the key shown gives the codes.
    await page.click('#two-step button:text("Set up two-step sign-in")');
    await page.waitForURL(`${base}/account`);
    const qr = await page.locator("#two-step .qr svg").boundingBox();
    assert(qr && qr.width >= 100 && qr.height >= 100, `QR code box ${JSON.stringify(qr)}`);
    const secret = base32Decode((await page.textContent("#totp-secret")) ?? "");
    const step = totpStep(Date.now());
    await save(page, "account-two-step-setup");
    await page.fill('#two-step input[name="code"]', await totpCode(secret, step));
    await page.click('#two-step button:text("Turn on")');
    await page.waitForURL(`${base}/account`);
    assertMatch(await flash(page), /on/i);
    assert(await page.isVisible('#two-step button:text("Turn off")'));

    await page.click('header button:text("Sign out")');
    await page.waitForURL(`${base}/account/login`);
    await page.fill('input[name="address"]', user);
    await page.fill('input[name="password"]', "dave-pw-2");
    await page.click('button[type="submit"]');
    await page.waitForSelector('input[name="code"]');
    await save(page, "account-two-step-code");
    // The next step's code: the one used to turn it on counts as used (no replays).
    await page.fill('input[name="code"]', await totpCode(secret, step + 1));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    assert(await page.isVisible('#two-step button:text("Turn off")'));

    await page.click('header button:text("Sign out")');
    await page.waitForURL(`${base}/account/login`);
    await page.goto(`${base}/account`);
    assertEquals(new URL(page.url()).pathname, "/account/login");
  } finally {
    await browser.close();
    await server.stop();
  }
});
