import { assert, assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import {
  clientNetwork,
  Greylist,
  type GreylistOptions,
  isExempt,
  normalizeSender,
} from "../../src/spam/greylist.ts";

const OPTIONS: GreylistOptions = {
  delaySeconds: 300,
  retryWindowHours: 48,
  passDays: 35,
  ipv4Prefix: 24,
  ipv6Prefix: 64,
};
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

async function withGreylist(
  work: (greylist: Greylist, store: SqliteStore) => Promise<void>,
  options: GreylistOptions = OPTIONS,
) {
  const dir = await Deno.makeTempDir({ prefix: "postern-greylist-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    await work(new Greylist(store.spam, options), store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const BOB = ["192.0.2.10", "bob@example.org", "alice@example.com"] as const;

Deno.test("a new triplet is deferred, an early retry too, a retry after the delay passes and keeps passing", async () => {
  await withGreylist(async (greylist) => {
    assertEquals(await greylist.check(...BOB, T0), { defer: true, answer: "new" });
    assertEquals(await greylist.check(...BOB, T0 + 60 * SECOND), { defer: true, answer: "early" });
    assertEquals(await greylist.check(...BOB, T0 + 299 * SECOND), { defer: true, answer: "early" });
    assertEquals(await greylist.check(...BOB, T0 + 300 * SECOND), { defer: false, answer: "pass" });
    assertEquals(await greylist.check(...BOB, T0 + 2 * HOUR), { defer: false, answer: "pass" });
  });
});

Deno.test("an early retry does not restart the delay", async () => {
  await withGreylist(async (greylist) => {
    await greylist.check(...BOB, T0);
    await greylist.check(...BOB, T0 + 290 * SECOND);
    assertEquals((await greylist.check(...BOB, T0 + 301 * SECOND)).answer, "pass");
  });
});

Deno.test("a first retry after the retry window starts over", async () => {
  await withGreylist(async (greylist) => {
    await greylist.check(...BOB, T0);
    assertEquals(await greylist.check(...BOB, T0 + 49 * HOUR), { defer: true, answer: "new" });
    assertEquals((await greylist.check(...BOB, T0 + 49 * HOUR + 200 * SECOND)).answer, "early");
    assertEquals((await greylist.check(...BOB, T0 + 49 * HOUR + 300 * SECOND)).answer, "pass");
  });
});

Deno.test("a passed triplet passes while seen within passDays, and is new again after that silence", async () => {
  await withGreylist(async (greylist) => {
    await greylist.check(...BOB, T0);
    await greylist.check(...BOB, T0 + 10 * 60 * SECOND);
    assertEquals((await greylist.check(...BOB, T0 + 30 * DAY)).answer, "pass");
    assertEquals((await greylist.check(...BOB, T0 + 64 * DAY)).answer, "pass");
    assertEquals(await greylist.check(...BOB, T0 + 100 * DAY), { defer: true, answer: "new" });
  });
});

Deno.test("the client counts by its /24 (IPv4) or /64 (IPv6): a pool of servers retries from another address", async () => {
  await withGreylist(async (greylist) => {
    const [, sender, recipient] = BOB;
    await greylist.check("192.0.2.10", sender, recipient, T0);
    assertEquals((await greylist.check("192.0.2.200", sender, recipient, T0 + DAY)).answer, "pass");
    assertEquals(
      (await greylist.check("::ffff:192.0.2.7", sender, recipient, T0 + DAY)).answer,
      "pass",
    );
    assertEquals((await greylist.check("192.0.3.10", sender, recipient, T0 + DAY)).answer, "new");

    await greylist.check("2001:db8:1:2::25", sender, recipient, T0);
    const sameSubnet = "2001:db8:1:2:ffff::99";
    assertEquals((await greylist.check(sameSubnet, sender, recipient, T0 + DAY)).answer, "pass");
    assertEquals(
      (await greylist.check("2001:db8:1:3::25", sender, recipient, T0 + DAY)).answer,
      "new",
    );
  });
});

Deno.test("sender and recipient are part of the triplet, case-insensitively", async () => {
  await withGreylist(async (greylist) => {
    const [ip, sender, recipient] = BOB;
    await greylist.check(ip, sender, recipient, T0);
    const later = T0 + HOUR;
    assertEquals(
      (await greylist.check(ip, "BOB@Example.ORG", "Alice@EXAMPLE.com", later)).answer,
      "pass",
    );
    assertEquals((await greylist.check(ip, "carol@example.org", recipient, later)).answer, "new");
    assertEquals((await greylist.check(ip, sender, "dave@example.com", later)).answer, "new");
    assertEquals((await greylist.check(ip, "", recipient, later)).answer, "new");
    assertEquals((await greylist.check(ip, "", recipient, later + HOUR)).answer, "pass");
  });
});

Deno.test("per-message return paths (VERP, BATV, SRS) keep one triplet", async () => {
  await withGreylist(async (greylist) => {
    const ip = "192.0.2.10";
    const to = "alice@example.com";
    await greylist.check(ip, "list+bounces-1001-alice=example.com@lists.example.org", to, T0);
    const retry = "list+bounces-2002-alice=example.com@lists.example.org";
    assertEquals((await greylist.check(ip, retry, to, T0 + HOUR)).answer, "pass");

    await greylist.check(ip, "prvs=1234abcdef=bob@example.org", to, T0);
    assertEquals(
      (await greylist.check(ip, "prvs=2345bcdef0=bob@example.org", to, T0 + HOUR)).answer,
      "pass",
    );

    await greylist.check(ip, "SRS0=HHH1=T1=example.net=carol@forwarder.example", to, T0);
    const srsRetry = "SRS0=HHH2=T2=example.net=carol@forwarder.example";
    assertEquals((await greylist.check(ip, srsRetry, to, T0 + HOUR)).answer, "pass");
  });
});

Deno.test("normalizeSender takes out what changes per message and keeps the rest", () => {
  assertEquals(normalizeSender(""), "<>");
  assertEquals(normalizeSender("Bob@Example.org"), "bob@example.org");
  assertEquals(normalizeSender("bounce-123-456@example.org"), "bounce-#-#@example.org");
  assertEquals(normalizeSender("bob+tag@example.org"), "bob@example.org");
  assertEquals(normalizeSender("prvs=0123456789=bob@example.org"), "bob@example.org");
  assertEquals(
    normalizeSender("SRS0=abcd=Zx=example.net=carol@fwd.example"),
    "srs0=#=#=example.net=carol@fwd.example",
  );
  assertEquals(
    normalizeSender("SRS1=wxyz=relay.example==abcd=Zx=example.net=carol@fwd.example"),
    "srs1=#=relay.example==#=#=example.net=carol@fwd.example",
  );
  assertEquals(normalizeSender("bob2000@example.org"), "bob2000@example.org");
});

Deno.test("clientNetwork masks the address to the configured prefix", () => {
  assertEquals(clientNetwork("192.0.2.77", 24, 64), "192.0.2.0/24");
  assertEquals(clientNetwork("192.0.2.77", 32, 64), "192.0.2.77/32");
  assertEquals(clientNetwork("10.20.30.40", 12, 64), "10.16.0.0/12");
  assertEquals(clientNetwork("::ffff:192.0.2.77", 24, 64), "192.0.2.0/24");
  assertEquals(clientNetwork("2001:DB8:1:2:3:4:5:6", 24, 64), "2001:db8:1:2:0:0:0:0/64");
  assertEquals(clientNetwork("2001:db8::1", 24, 48), "2001:db8:0:0:0:0:0:0/48");
  assertEquals(clientNetwork("[2001:db8:abcd:12ff::1]", 24, 60), "2001:db8:abcd:12f0:0:0:0:0/60");
});

Deno.test("the database holds only hashes of the triplets", async () => {
  await withGreylist(async (greylist, store) => {
    await greylist.check(...BOB, T0);
    const rows = store.db.prepare("SELECT key FROM spam_greylist").all();
    assertEquals(rows.length, 1);
    const key = String(rows[0].key);
    assert(/^[0-9a-f]{64}$/.test(key), key);
  });
});

Deno.test("prune forgets triplets not seen for passDays and keeps the others", async () => {
  await withGreylist(async (greylist) => {
    const [ip, , to] = BOB;
    await greylist.check(ip, "old@example.org", to, T0);
    await greylist.check(ip, "old@example.org", to, T0 + HOUR); // passed, then silent
    await greylist.check(ip, "recent@example.org", to, T0 + 30 * DAY);
    await greylist.check(ip, "recent@example.org", to, T0 + 30 * DAY + HOUR);
    assertEquals(await greylist.prune(T0 + 36 * DAY), 1);
    assertEquals(await greylist.prune(T0 + 36 * DAY), 0);
    assertEquals((await greylist.check(ip, "old@example.org", to, T0 + 36 * DAY)).answer, "new");
    assertEquals(
      (await greylist.check(ip, "recent@example.org", to, T0 + 36 * DAY)).answer,
      "pass",
    );
  });
});

Deno.test("exempt networks are never greylisted; others still are", async () => {
  const exempt = ["127.0.0.0/8", "::1/128", "2001:db8:1::/48", "198.51.100.7"];
  await withGreylist(async (greylist) => {
    for (const client of ["127.0.0.1", "127.9.9.9", "::1", "2001:db8:1:2::5", "198.51.100.7"]) {
      assertEquals(
        await greylist.check(client, "bob@example.org", "alice@example.com", T0),
        { defer: false, answer: "pass" },
        client,
      );
    }
    for (const client of ["198.51.100.8", "2001:db8:2::5", "192.0.2.10"]) {
      assertEquals(
        (await greylist.check(client, "bob@example.org", "alice@example.com", T0)).defer,
        true,
        client,
      );
    }
  }, { ...OPTIONS, exempt });
});

Deno.test("isExempt reads prefixes and lone addresses and refuses nonsense", () => {
  assert(isExempt("10.1.2.3", ["10.0.0.0/8"]));
  assert(!isExempt("11.1.2.3", ["10.0.0.0/8"]));
  assert(isExempt("::ffff:10.1.2.3", ["10.0.0.0/8"]));
  assert(!isExempt("10.1.2.3", []));
  assert(!isExempt("10.1.2.3", ["not-an-address/8", "10.0.0.0/x"]));
});
