/**
 * App passwords (src/directory/app_passwords.ts and Directory.authenticate): the format, the
 * stored hash, logins with them beside the account password, revocation, and the account page's
 * sign-in that refuses them.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { withApp } from "../helpers/app.ts";
import {
  formatAppPassword,
  newAppPasswordSecret,
  parseAppPassword,
} from "../../src/directory/app_passwords.ts";
import { DirectoryError } from "../../src/directory/directory.ts";
import { verifyPassword } from "../../src/directory/password.ts";

const USER = "alice@example.com";
const IP = "192.0.2.7";

Deno.test("app password: secrets are random groups, parsed back with their id", () => {
  const secret = newAppPasswordSecret();
  assertMatch(secret, /^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$/);
  assertNotEquals(newAppPasswordSecret(), secret);
  const password = formatAppPassword(42, secret);
  assertEquals(parseAppPassword(password), { id: 42, secret });
  assertEquals(parseAppPassword(` ${password.toUpperCase()} `), { id: 42, secret });
  assertEquals(parseAppPassword("hunter2"), null);
  assertEquals(parseAppPassword(`0-${secret}`), null);
  assertEquals(parseAppPassword(`42-${secret}-extra`), null);
});

Deno.test("app password: stored hashed, accepted like the password, revoked at once", async () => {
  await withApp(async (app) => {
    const directory = app.directory;
    await directory.addDomain("example.com");
    const account = await directory.addAccount(USER, { password: "account-pw" });
    const { appPassword, password } = await directory.addAppPassword(USER, "  phone ");
    assertEquals(appPassword.name, "phone");
    assertEquals(appPassword.accountId, account.id);

    const stored = await app.store.getAppPassword(appPassword.id);
    assert(stored);
    assertMatch(stored.hash, /^\{ARGON2ID\}|^\$argon2id\$/);
    assert(!stored.hash.includes(password.slice(password.indexOf("-") + 1)));
    assert(await verifyPassword(parseAppPassword(password)!.secret, stored.hash));

    const login = await directory.authenticate(USER, password, IP);
    assertEquals(login.ok, true);
    assertEquals((await directory.authenticate(USER, "account-pw", IP)).ok, true);
    // A second login (the login cache) and the recorded last use.
    assertEquals((await directory.authenticate(USER, password, IP)).ok, true);
    const [listed] = await directory.listAppPasswords(USER);
    assertEquals(listed.id, appPassword.id);
    assert(listed.lastUsedAt !== null);

    // The account page's sign-in wants the password itself.
    assertEquals(
      await directory.authenticate(USER, password, IP, { appPasswords: false }),
      { ok: false, reason: "invalid" },
    );
    // Another account cannot use it, nor a wrong secret with the right id.
    await directory.addAccount("bob@example.com", { password: "bob-pw" });
    assertEquals((await directory.authenticate("bob@example.com", password, IP)).ok, false);
    const wrong = formatAppPassword(appPassword.id, newAppPasswordSecret());
    assertEquals((await directory.authenticate(USER, wrong, IP)).ok, false);

    const second = await directory.addAppPassword(USER, "laptop");
    await directory.revokeAppPassword(USER, appPassword.id);
    assertEquals(await directory.authenticate(USER, password, IP), {
      ok: false,
      reason: "invalid",
    });
    assertEquals((await directory.authenticate(USER, second.password, IP)).ok, true);
    assertEquals((await directory.listAppPasswords(USER)).map((e) => e.name), ["laptop"]);

    let error: unknown = null;
    try {
      await directory.revokeAppPassword("bob@example.com", second.appPassword.id);
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof DirectoryError && error.code === "not_found");
    error = null;
    try {
      await directory.addAppPassword(USER, "   ");
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof DirectoryError && error.code === "invalid");
  });
});
