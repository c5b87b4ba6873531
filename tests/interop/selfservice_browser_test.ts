/**
 * The account page (/account) in headless Chromium (Debian `chromium`, driven by playwright-core):
 * an account signs in with its password, creates an app password that logs in over IMAP, sets a
 * vacation reply, changes its password (IMAP follows at once) and signs out. A screenshot of each
 * step is saved under tests/artifacts/.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";

const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;

async function launch(): Promise<Browser> {
  return await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}account-${name}.png`, fullPage: true });
}

async function imapLogin(server: TestServer, user: string, password: string): Promise<string> {
  const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
  const client = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
  try {
    assertMatch((await client.readLine())!, /^\* OK /);
    await client.write(`a1 LOGIN ${user} "${password}"\r\n`);
    return (await client.readUntil((line) => line.startsWith("a1 "))).at(-1)!;
  } finally {
    await client.close();
  }
}

async function flash(page: Page): Promise<string> {
  return (await page.textContent(".flash")) ?? "";
}

Deno.test("account page in a browser: sign in, app password, vacation, password, sign out", async () => {
  const server = await startServer();
  const browser = await launch();
  try {
    assert(server.admin);
    const user = `dave@${server.admin.address.split("@")[1]}`;
    const added = await cli(server.configPath, ["account", "add", user, "--password", "dave-pw-1"]);
    assertEquals(added.code, 0, added.stderr);
    const base = `http://127.0.0.1:${server.ports.http}`;
    const page = await browser.newPage();

    await page.goto(`${base}/account`);
    assertEquals(new URL(page.url()).pathname, "/account/login");
    await screenshot(page, "login");
    await page.fill('input[name="address"]', user);
    await page.fill('input[name="password"]', "dave-pw-1");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    await screenshot(page, "home");

    await page.fill('#app-passwords input[name="name"]', "phone");
    await page.click('#app-passwords button:text("Create app password")');
    await page.waitForURL(`${base}/account`);
    const created = /created: (\S+)/.exec(await flash(page))?.[1];
    assert(created, await flash(page));
    await screenshot(page, "app-password");
    assertMatch(await imapLogin(server, user, created), /^a1 OK/);

    await page.check('#vacation input[name="enabled"]');
    await page.fill('#vacation input[name="subject"]', "Away");
    await page.fill('#vacation textarea[name="text"]', "Back next week.");
    await page.fill('#vacation input[name="to"]', "2099-01-31");
    await page.click('#vacation button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    assertEquals(await flash(page), "The vacation reply is on.");
    assertEquals(await page.inputValue('#vacation input[name="to"]'), "2099-01-31");
    await screenshot(page, "vacation");

    await page.fill('#password input[name="current"]', "dave-pw-1");
    await page.fill('#password input[name="new"]', "dave-pw-2");
    await page.fill('#password input[name="again"]', "dave-pw-2");
    await page.click('#password button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    assertEquals(await flash(page), "Your password is changed.");
    await screenshot(page, "password");
    assertMatch(await imapLogin(server, user, "dave-pw-2"), /^a1 OK/);
    assertMatch(await imapLogin(server, user, "dave-pw-1"), /^a1 NO/);

    await page.click('header button:text("Sign out")');
    await page.waitForURL(`${base}/account/login`);
    await page.goto(`${base}/account`);
    assertEquals(new URL(page.url()).pathname, "/account/login");
  } finally {
    await browser.close();
    await server.stop();
  }
});
