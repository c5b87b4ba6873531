/**
 * Two-step sign-in (TOTP, src/directory/totp.ts) on the real server over real HTTP, with codes
 * computed here from the key the account page shows: set up on /account, then /admin and
 * /account ask for a code after the password; wrong, replayed and too many codes are refused and
 * an unknown pending sign-in starts over; /api refuses Basic for such an administrator but takes
 * its API token, and JMAP keeps taking the password; it is turned off by the admin page, the API
 * and `postern account totp disable`. The admin's accounts page offers each account's Apple
 * profile.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { Browser, csrfToken, flash, type PageResponse } from "../helpers/browser.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { basicAuth } from "../helpers/jmap.ts";
import { base32Decode, totpCode, totpStep } from "../../src/directory/totp.ts";

/** An authenticator app: each code it gives is for a later step than the one before. */
class Authenticator {
  #lastStep = -1;
  lastCode = "";

  constructor(readonly secret: Uint8Array) {}

  /** The code of the current or next step not given yet (waits for the clock if both were). */
  async next(): Promise<string> {
    while (true) {
      const current = totpStep(Date.now());
      const step = Math.max(this.#lastStep + 1, current);
      if (step <= current + 1) {
        this.#lastStep = step;
        this.lastCode = await totpCode(this.secret, step);
        return this.lastCode;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /** Six digits that are no code of the steps around now. */
  async wrong(): Promise<string> {
    const current = totpStep(Date.now());
    const near = new Set<string>();
    for (let step = current - 3; step <= current + 3; step++) {
      near.add(await totpCode(this.secret, step));
    }
    return ["123456", "654321", "000000", "999999"].find((code) => !near.has(code))!;
  }
}

const SERVER_OPTIONS = { auth: { max_failures_per_ip: 50, max_failures_per_account: 50 } };

function base(server: TestServer): string {
  return `http://127.0.0.1:${server.ports.http}`;
}

/** Signs in to /account with the password and sets up two-step sign-in; its authenticator. */
async function enableOnAccountPage(
  server: TestServer,
  address: string,
  password: string,
): Promise<{ browser: Browser; app: Authenticator }> {
  const browser = new Browser(base(server), "/account");
  assertEquals((await browser.signIn(address, password)).location, "/account");
  const before = (await browser.request("GET", "/account")).text;
  assert(before.includes("Set up two-step sign-in"), before);

  const setup = await browser.submit("/account/totp/setup", {});
  const secret = /id="totp-secret">([A-Z2-7]{32})</.exec(setup)?.[1];
  assert(secret, setup);
  const uri = /id="totp-uri">([^<]+)</.exec(setup)?.[1]?.replaceAll("&amp;", "&");
  assertEquals(
    uri,
    `otpauth://totp/Postern:${address}?secret=${secret}&issuer=Postern&algorithm=SHA1&digits=6&period=30`,
  );
  assertMatch(setup, /<div class="qr"><svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const app = new Authenticator(base32Decode(secret));

  const wrong = await browser.submit("/account/totp/enable", { code: await app.wrong() });
  assertMatch(flash(wrong), /^that code does not match/);
  const enabled = await browser.submit("/account/totp/enable", { code: await app.next() });
  assertMatch(flash(enabled), /^Two-step sign-in is on/);
  assert(enabled.includes("<strong>On.</strong>"), enabled);
  assert(!enabled.includes(secret), "the key is shown only during the setup");
  return { browser, app };
}

/** Posts the code form of a pending sign-in. */
async function postCode(browser: Browser, page: PageResponse, code: string) {
  return await browser.request("POST", `${browser.home}/login/code`, {
    _csrf: csrfToken(page.text),
    code,
  });
}

function alertOf(page: PageResponse): string {
  return /<div class="flash error" role="alert">([^<]*)<\/div>/.exec(page.text)?.[1] ?? "";
}

async function apiCall(
  server: TestServer,
  authorization: string,
  method = "GET",
  path = "/api/status",
) {
  const response = await fetch(`${base(server)}${path}`, { method, headers: { authorization } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

Deno.test("two-step sign-in: admin sign-in asks for a code; wrong, replayed, too many; API wants a token", async () => {
  const server = await startServer(SERVER_OPTIONS);
  try {
    assert(server.admin, "the first start printed the admin's password");
    const { address, password } = server.admin;
    const { app } = await enableOnAccountPage(server, address, password);

    // The password alone leads to the code page, with a cookie of its own and no session.
    const admin = new Browser(base(server), "/admin");
    const codePage = await admin.signIn(address, password);
    assertEquals(codePage.status, 200);
    assert(codePage.text.includes('action="/admin/login/code"'), codePage.text);
    assertEquals(admin.cookies(), ["postern_admin_code"]);
    assertEquals((await admin.request("GET", "/admin")).location, "/admin/login");

    const noToken = await admin.request("POST", "/admin/login/code", { code: await app.wrong() });
    assertEquals(noToken.status, 403);
    const wrong = await postCode(admin, codePage, await app.wrong());
    assertEquals(wrong.status, 401);
    assertEquals(alertOf(wrong), "Wrong code; 4 attempts left.");
    const signedIn = await postCode(admin, wrong, await app.next());
    assertEquals([signedIn.status, signedIn.location], [303, "/admin"]);
    assertEquals(admin.cookies(), ["postern_admin"]);
    assertEquals((await admin.request("GET", "/admin")).status, 200);

    // The same code again: refused, and after five wrong codes the password is asked again.
    const other = new Browser(base(server), "/admin");
    let page = await other.signIn(address, password);
    page = await postCode(other, page, app.lastCode);
    assertEquals(page.status, 401);
    assertEquals(alertOf(page), "Wrong code; 4 attempts left.");
    for (let left = 3; left >= 1; left--) {
      page = await postCode(other, page, await app.wrong());
      assertEquals(alertOf(page), `Wrong code; ${left} attempts left.`);
    }
    page = await postCode(other, page, await app.wrong());
    assertEquals(page.status, 401);
    assertEquals(alertOf(page), "Too many wrong codes; enter your password again.");
    assert(page.text.includes('action="/admin/login"'), page.text);
    assertEquals(other.cookies(), ["postern_admin_login"]);
    // A pending sign-in that is gone (ended, expired, or never was) starts over.
    const gone = await other.request("POST", "/admin/login/code", {
      _csrf: csrfToken(page.text),
      code: await app.wrong(),
    });
    assertEquals(gone.status, 401);
    assertEquals(alertOf(gone), "The sign-in has expired; enter your password again.");

    // /api: Basic with the password is refused with a hint; an API token works.
    const basic = `Basic ${btoa(`${address}:${password}`)}`;
    const refused = await apiCall(server, basic);
    assertEquals(refused.status, 401);
    assertEquals(refused.body.error.type, "tokenRequired");
    assertMatch(refused.body.error.message, /API token/);
    const created = await cli(server.configPath, ["token", "create", address]);
    assertEquals(created.code, 0, created.stderr);
    const token = /\n(postern_\S+)\n$/.exec(created.stdout)?.[1];
    assert(token, created.stdout);
    const bearer = `Bearer ${token}`;
    assertEquals((await apiCall(server, bearer)).status, 200);
    const shown = await apiCall(server, bearer, "GET", `/api/accounts/${address}`);
    assertEquals(shown.body.totp, true);
    // JMAP (like the mail protocols) still takes the password.
    const jmap = await fetch(`${base(server)}/jmap/session`, {
      headers: { authorization: basicAuth(address, password) },
    });
    assertEquals(jmap.status, 200);
    await jmap.body?.cancel();

    // Turned off through the API: Basic works again, the sign-in needs no code.
    const off = await apiCall(server, bearer, "DELETE", `/api/accounts/${address}/totp`);
    assertEquals(off.status, 204);
    assertEquals((await apiCall(server, basic)).status, 200);
    const again = await apiCall(server, bearer, "DELETE", `/api/accounts/${address}/totp`);
    assertEquals(again.status, 404);
    const plain = await new Browser(base(server), "/admin").signIn(address, password);
    assertEquals([plain.status, plain.location], [303, "/admin"]);
  } finally {
    await server.stop();
  }
});

Deno.test("two-step sign-in: the account page asks for a code; the admin page and the CLI turn it off", async () => {
  const server = await startServer(SERVER_OPTIONS);
  try {
    assert(server.admin);
    const domain = server.admin.address.split("@")[1];
    const carol = `carol@${domain}`;
    const dave = `dave@${domain}`;
    for (const user of [carol, dave]) {
      const added = await cli(server.configPath, ["account", "add", user, "--password", "pw-1234"]);
      assertEquals(added.code, 0, added.stderr);
    }
    const { app } = await enableOnAccountPage(server, carol, "pw-1234");

    // Signing in to /account: password, then code.
    const browser = new Browser(base(server), "/account");
    const codePage = await browser.signIn(carol, "pw-1234");
    assertEquals(codePage.status, 200);
    assert(codePage.text.includes('action="/account/login/code"'), codePage.text);
    const signedIn = await postCode(browser, codePage, await app.next());
    assertEquals([signedIn.status, signedIn.location], [303, "/account"]);
    // Turning it off there takes a current code.
    const refused = await browser.submit("/account/totp/disable", { code: await app.wrong() });
    assertEquals(flash(refused), "that code is wrong or was used already");
    assert(refused.includes("<strong>On.</strong>"));

    // The administrator (without two-step sign-in) sees it on and turns it off.
    const admin = new Browser(base(server), "/admin");
    assertEquals(
      (await admin.signIn(server.admin.address, server.admin.password)).location,
      "/admin",
    );
    const accounts = (await admin.request("GET", "/admin/accounts")).text;
    assertMatch(accounts, new RegExp(`data-account="${carol}">(?:(?!</tr>).)*data-totp="on"`, "s"));
    assertMatch(accounts, new RegExp(`data-account="${dave}">(?:(?!</tr>).)*data-totp="off"`, "s"));
    const forged = await admin.request(
      "POST",
      `/admin/accounts/${encodeURIComponent(carol)}/totp/disable`,
      {},
    );
    assertEquals(forged.status, 403);
    const after = await admin.submit(
      `/admin/accounts/${encodeURIComponent(carol)}/totp/disable`,
      {},
      "/admin/accounts",
    );
    assertMatch(flash(after), new RegExp(`^Turned off two-step sign-in for ${carol}`));
    assertMatch(after, new RegExp(`data-account="${carol}">(?:(?!</tr>).)*data-totp="off"`, "s"));
    const plain = await new Browser(base(server), "/account").signIn(carol, "pw-1234");
    assertEquals([plain.status, plain.location], [303, "/account"]);

    // The CLI, for an administrator who lost the phone.
    await enableOnAccountPage(server, dave, "pw-1234");
    const disabled = await cli(server.configPath, ["account", "totp", "disable", dave]);
    assertEquals([disabled.code, disabled.stdout], [
      0,
      `two-step sign-in turned off for ${dave}\n`,
    ]);
    const twice = await cli(server.configPath, ["account", "totp", "disable", dave]);
    assertEquals(twice.code, 1);
    assertMatch(twice.stderr, /two-step sign-in is not on/);
    const usage = await cli(server.configPath, ["account", "totp", "enable", dave]);
    assertEquals(usage.code, 2);
    const direct = await new Browser(base(server), "/account").signIn(dave, "pw-1234");
    assertEquals([direct.status, direct.location], [303, "/account"]);
  } finally {
    await server.stop();
  }
});

Deno.test("admin: each account's Apple profile downloads from the accounts page", async () => {
  const server = await startServer();
  try {
    assert(server.admin);
    const domain = server.admin.address.split("@")[1];
    const erin = `erin@${domain}`;
    const added = await cli(server.configPath, ["account", "add", erin, "--password", "pw-1234"]);
    assertEquals(added.code, 0, added.stderr);
    const path = `/admin/accounts/${encodeURIComponent(erin)}/mobileconfig`;

    const anonymous = await new Browser(base(server), "/admin").request("GET", path);
    assertEquals([anonymous.status, anonymous.location], [303, "/admin/login"]);

    const admin = new Browser(base(server), "/admin");
    assertEquals(
      (await admin.signIn(server.admin.address, server.admin.password)).location,
      "/admin",
    );
    const accounts = (await admin.request("GET", "/admin/accounts")).text;
    assert(accounts.includes(`href="${path}"`), accounts);
    const profile = await admin.request("GET", path);
    assertEquals(profile.status, 200);
    assertEquals(profile.headers.get("content-type"), "application/x-apple-aspen-config");
    assertEquals(
      profile.headers.get("content-disposition"),
      `attachment; filename="${erin}.mobileconfig"`,
    );
    assert(profile.text.startsWith("<?xml"), profile.text.slice(0, 100));
    assert(profile.text.includes("<!DOCTYPE plist"), profile.text.slice(0, 300));
    assert(profile.text.includes(`<string>${erin}</string>`), profile.text);
    const missing = await admin.request(
      "GET",
      "/admin/accounts/nobody%40nowhere.test/mobileconfig",
    );
    assertEquals(missing.status, 404);
  } finally {
    await server.stop();
  }
});
