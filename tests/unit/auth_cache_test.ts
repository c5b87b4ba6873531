/**
 * The verified-login cache ([auth] cache_ttl, src/directory/login_cache.ts) as the protocols see
 * it: Directory.authenticate over a real SQLite store, with the password hasher's verify counted
 * to tell a cached answer from a verified one.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { DatabaseSync } from "node:sqlite";
import { type AuthResult, Directory } from "../../src/directory/directory.ts";
import { LoginCache } from "../../src/directory/login_cache.ts";
import { AuthLimiter } from "../../src/directory/ratelimit.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { withApp } from "../helpers/app.ts";

const ALICE = "alice@example.com";
const PASSWORD = "correct horse";
const IP = "192.0.2.1";
const TTL_SECONDS = 600;

interface Harness {
  directory: Directory;
  database: string;
  clock: { now: number };
  /** hasher.verify calls so far. */
  verifies: () => number;
  login: (password: string, username?: string) => Promise<AuthResult>;
}

/** A Directory over a fresh store with alice@example.com, a settable clock and counted verifies. */
async function withDirectory(
  work: (harness: Harness) => Promise<void>,
  ttlSeconds = TTL_SECONDS,
) {
  const dir = await Deno.makeTempDir({ prefix: "postern-auth-cache-" });
  const database = `${dir}/db.sqlite`;
  const store = new SqliteStore({ path: database });
  const clock = { now: 1_700_000_000_000 };
  const directory = new Directory(store, {
    subAddressSeparator: "+",
    defaultQuota: 0,
    argon2: { memoryKiB: 64, iterations: 1, parallelism: 1 },
    limiter: new AuthLimiter({
      maxFailuresPerIp: 100,
      maxFailuresPerAccount: 3,
      windowSeconds: 900,
      maxDelayMs: 0,
      now: () => clock.now,
    }),
    loginCache: new LoginCache({ ttlSeconds, now: () => clock.now }),
  });
  try {
    await store.createDomain("example.com");
    await directory.addAccount(ALICE, { password: PASSWORD });
    const verifies = countVerifies(directory);
    await work({
      directory,
      database,
      clock,
      verifies,
      login: (password, username = ALICE) => directory.authenticate(username, password, IP),
    });
  } finally {
    directory.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function countVerifies(directory: Directory): () => number {
  let calls = 0;
  const verify = directory.hasher.verify.bind(directory.hasher);
  directory.hasher.verify = (password, stored) => {
    calls++;
    return verify(password, stored);
  };
  return () => calls;
}

Deno.test("a second login with the right password is answered without verifying the hash", async () => {
  await withDirectory(async ({ login, verifies }) => {
    const first = await login(PASSWORD);
    assert(first.ok);
    assertEquals(first.account.address, ALICE);
    assertEquals(verifies(), 1);
    const second = await login(PASSWORD);
    assert(second.ok);
    assertEquals(second.account.address, ALICE);
    assertEquals(verifies(), 1);
    // the user name is matched case-insensitively, as without the cache
    assert((await login(PASSWORD, "Alice@Example.COM")).ok);
    assertEquals(verifies(), 1);
  });
});

Deno.test("a wrong password after a cached success fails, and is never cached", async () => {
  await withDirectory(async ({ login, verifies }) => {
    assert((await login(PASSWORD)).ok);
    assertEquals(await login("wrong horse"), { ok: false, reason: "invalid" });
    assertEquals(verifies(), 2);
    assertEquals(await login("wrong horse"), { ok: false, reason: "invalid" });
    assertEquals(verifies(), 3);
    // the right password is still remembered
    assert((await login(PASSWORD)).ok);
    assertEquals(verifies(), 3);
  });
});

Deno.test("after setPassword the old password fails and the new one works", async () => {
  await withDirectory(async ({ directory, login, verifies }) => {
    assert((await login(PASSWORD)).ok);
    await directory.setPassword(ALICE, "battery staple");
    assertEquals(await login(PASSWORD), { ok: false, reason: "invalid" });
    assertEquals(verifies(), 2);
    assert((await login("battery staple")).ok);
    assertEquals(verifies(), 3);
    assert((await login("battery staple")).ok);
    assertEquals(verifies(), 3);
  });
});

Deno.test("a password changed in the store by another node misses the cache", async () => {
  await withDirectory(async ({ directory, login, verifies }) => {
    assert((await login(PASSWORD)).ok);
    const account = await directory.requireAccount(ALICE);
    // written straight to the store: this directory's cache is not told
    await directory.store.setPasswordHash(
      account.id,
      await directory.hasher.hash("battery staple", directory.options.argon2),
    );
    assertEquals(await login(PASSWORD), { ok: false, reason: "invalid" });
    assertEquals(verifies(), 2);
    assert((await login("battery staple")).ok);
  });
});

Deno.test("cache_ttl 0 verifies every login", async () => {
  await withDirectory(async ({ login, verifies }) => {
    for (let i = 1; i <= 3; i++) {
      assert((await login(PASSWORD)).ok);
      assertEquals(verifies(), i);
    }
  }, 0);
});

Deno.test("an entry is trusted for cache_ttl after its verification, then verified again", async () => {
  await withDirectory(async ({ login, verifies, clock }) => {
    assert((await login(PASSWORD)).ok);
    clock.now += TTL_SECONDS * 1000 - 1;
    assert((await login(PASSWORD)).ok);
    assertEquals(verifies(), 1);
    // the hit just now did not extend the entry's life
    clock.now += 1;
    assert((await login(PASSWORD)).ok);
    assertEquals(verifies(), 2);
    // the new verification starts a new entry
    clock.now += 1000;
    assert((await login(PASSWORD)).ok);
    assertEquals(verifies(), 2);
  });
});

Deno.test("a disabled account is refused even with a cached entry", async () => {
  await withDirectory(async ({ login, database }) => {
    assert((await login(PASSWORD)).ok);
    const db = new DatabaseSync(database);
    try {
      db.prepare("UPDATE principals SET disabled = 1 WHERE name = ?").run(ALICE);
    } finally {
      db.close();
    }
    assertEquals(await login(PASSWORD), { ok: false, reason: "disabled" });
    assertEquals(await login(PASSWORD), { ok: false, reason: "disabled" });
  });
});

Deno.test("a rate-limited account is refused even with a cached entry", async () => {
  await withDirectory(async ({ login, verifies }) => {
    assert((await login(PASSWORD)).ok);
    for (let i = 0; i < 3; i++) {
      assertEquals(await login("wrong horse"), { ok: false, reason: "invalid" });
    }
    const before = verifies();
    assertEquals(await login(PASSWORD), { ok: false, reason: "rate_limited" });
    assertEquals(verifies(), before);
  });
});

Deno.test("a legacy hash is upgraded once, and the upgraded hash is what gets cached", async () => {
  await withDirectory(async ({ directory, login, verifies }) => {
    await directory.addAccount("bob@example.com", { hash: "{PLAIN}letmein" });
    const bob = await directory.requireAccount("bob@example.com");
    assert((await login("letmein", "bob@example.com")).ok);
    assertEquals(verifies(), 1);
    const upgraded = await directory.store.getPasswordHash(bob.id);
    assertMatch(upgraded ?? "", /^\{ARGON2ID\}/);
    assert((await login("letmein", "bob@example.com")).ok);
    assertEquals(verifies(), 1);
    assertEquals(await directory.store.getPasswordHash(bob.id), upgraded);
  });
});

Deno.test("an unknown account fails whatever is cached for others", async () => {
  await withDirectory(async ({ login, verifies }) => {
    assert((await login(PASSWORD)).ok);
    assertEquals(await login(PASSWORD, "mallory@example.com"), { ok: false, reason: "invalid" });
    assertEquals(verifies(), 2);
  });
});

Deno.test("the cache keeps at most maxEntries, dropping the oldest, and purges expired ones", () => {
  const clock = { now: 0 };
  const cache = new LoginCache({ ttlSeconds: 60, maxEntries: 2, now: () => clock.now });
  cache.remember(1, "{ARGON2ID}a", "one");
  cache.remember(2, "{ARGON2ID}b", "two");
  cache.remember(3, "{ARGON2ID}c", "three");
  assertEquals(cache.size, 2);
  assertEquals(cache.has(1, "{ARGON2ID}a", "one"), false);
  assertEquals(cache.has(2, "{ARGON2ID}b", "two"), true);
  assertEquals(cache.has(3, "{ARGON2ID}c", "three"), true);
  // every part of the key counts
  assertEquals(cache.has(3, "{ARGON2ID}c", "Three"), false);
  assertEquals(cache.has(3, "{ARGON2ID}C", "three"), false);
  assertEquals(cache.has(2, "{ARGON2ID}c", "three"), false);
  clock.now += 60_000;
  cache.remember(4, "{ARGON2ID}d", "four");
  assertEquals(cache.size, 1);
  assertEquals(cache.has(4, "{ARGON2ID}d", "four"), true);
  cache.forget(4);
  assertEquals(cache.size, 0);
});

Deno.test("[auth] cache_ttl in config.toml reaches the directory", async () => {
  for (const [setting, expectedVerifies] of [["", 1], ["cache_ttl = 0", 2]] as const) {
    await withApp(async (app) => {
      await app.store.createDomain("example.com");
      await app.directory.addAccount(ALICE, { password: PASSWORD });
      const verifies = countVerifies(app.directory);
      assert((await app.directory.authenticate(ALICE, PASSWORD, IP)).ok);
      assert((await app.directory.authenticate(ALICE, PASSWORD, IP)).ok);
      assertEquals(verifies(), expectedVerifies, `with ${JSON.stringify(setting)}`);
    }, `[auth]\nargon2_memory = "64K"\nargon2_iterations = 1\n${setting}\n`);
  }
});
