/**
 * The second step of the web sign-ins (src/admin/second_step.ts, Directory.verifyTotp and
 * authenticate's `secondStep`): a right password is "code_required" only with it asked for; a
 * pending sign-in ends after its lifetime, after five wrong codes or at the right one; two
 * sign-ins racing with one code do not both pass; wrong codes count in the shared limiter.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { withApp } from "../helpers/app.ts";
import { PendingSignIns, SECOND_STEP_LIMITS } from "../../src/admin/second_step.ts";
import { newTotpSecret, totpCode, totpStep } from "../../src/directory/totp.ts";
import type { App } from "../../src/app.ts";

const USER = "alice@example.com";
const IP = "192.0.2.7";

/** An account with two-step sign-in on; the code of the current step, not used yet. */
async function accountWithTotp(app: App) {
  await app.directory.addDomain("example.com");
  const account = await app.directory.addAccount(USER, { password: "account-pw" });
  const secret = newTotpSecret();
  await app.store.setTotpSecret(account.id, secret, 0);
  const code = await totpCode(secret, totpStep(Date.now()));
  return { account, secret, code };
}

/** Six digits that are no code of the steps around now. */
async function wrongCode(secret: Uint8Array): Promise<string> {
  const current = totpStep(Date.now());
  const near = new Set<string>();
  for (let step = current - 3; step <= current + 3; step++) {
    near.add(await totpCode(secret, step));
  }
  return ["123456", "654321", "000000"].find((code) => !near.has(code))!;
}

Deno.test("second step: the password is 'code_required' only when the sign-in asks for it", async () => {
  await withApp(async (app) => {
    const { account } = await accountWithTotp(app);
    const web = await app.directory.authenticate(USER, "account-pw", IP, { secondStep: true });
    assertEquals(web, { ok: false, reason: "code_required", account });
    const mail = await app.directory.authenticate(USER, "account-pw", IP);
    assertEquals(mail.ok, true);
    const wrong = await app.directory.authenticate(USER, "nope", IP, { secondStep: true });
    assertEquals(wrong, { ok: false, reason: "invalid" });
  });
});

Deno.test("second step: a pending sign-in ends after its lifetime and its last attempt", async () => {
  await withApp(async (app) => {
    const { account, secret, code } = await accountWithTotp(app);
    const pending = new PendingSignIns();
    const start = Date.now();
    const { lifetimeMs, maxAttempts } = SECOND_STEP_LIMITS;

    const late = pending.create(account, start);
    assertEquals(pending.get(late.id, start + lifetimeMs - 1)?.accountId, account.id);
    assertEquals(pending.secondsLeft(late, start), lifetimeMs / 1000);
    assertEquals(pending.get(late.id, start + lifetimeMs), null);
    assertEquals(await pending.check(app.directory, late.id, code, IP, start + lifetimeMs), {
      ok: false,
      reason: "expired",
    });

    const guessing = pending.create(account, start);
    const wrong = await wrongCode(secret);
    for (let left = maxAttempts - 1; left >= 1; left--) {
      assertEquals(await pending.check(app.directory, guessing.id, wrong, IP, start), {
        ok: false,
        reason: "wrong",
        attemptsLeft: left,
      });
    }
    assertEquals(await pending.check(app.directory, guessing.id, wrong, IP, start), {
      ok: false,
      reason: "exhausted",
    });
    assertEquals(await pending.check(app.directory, guessing.id, code, IP, start), {
      ok: false,
      reason: "expired",
    });

    const right = pending.create(account, start);
    const done = await pending.check(app.directory, right.id, code, IP, start);
    assert(done.ok);
    assertEquals(done.account.id, account.id);
    assertEquals(pending.get(right.id, start), null);
    assertEquals(pending.size, 0);
  }, '[auth]\nargon2_memory = "1M"\nargon2_iterations = 1\nmax_failures_per_ip = 50\n');
});

Deno.test("second step: one code, two sign-ins at once: exactly one passes", async () => {
  await withApp(async (app) => {
    const { account, code } = await accountWithTotp(app);
    const results = await Promise.all([
      app.directory.verifyTotp(account, code, IP),
      app.directory.verifyTotp(account, code, "192.0.2.8"),
    ]);
    assertEquals(results.filter((result) => result === "ok").length, 1);
    assertEquals(results.filter((result) => result === "invalid").length, 1);
  });
});

Deno.test("second step: wrong codes count in the shared limiter and block the account's logins", async () => {
  await withApp(
    async (app) => {
      const { account, secret, code } = await accountWithTotp(app);
      const wrong = await wrongCode(secret);
      assertEquals(await app.directory.verifyTotp(account, wrong, IP), "invalid");
      assertEquals(await app.directory.verifyTotp(account, wrong, IP), "invalid");
      assert(app.directory.limiter.isBlocked(IP, USER));
      assertEquals(await app.directory.verifyTotp(account, code, IP), "rate_limited");
      // The password does not clear the record of wrong codes: the account stays blocked.
      const login = await app.directory.authenticate(USER, "account-pw", "192.0.2.99", {
        secondStep: true,
      });
      assertEquals(login, { ok: false, reason: "rate_limited" });
    },
    '[auth]\nargon2_memory = "1M"\nargon2_iterations = 1\nmax_failures_per_account = 2\n',
  );
});
