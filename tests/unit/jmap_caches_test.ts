/**
 * JMAP's per-account listing (src/jmap/caches.ts) against a real SQLite store: after random
 * deliveries (some in threads), keyword and mailbox changes and destructions, the incrementally
 * caught-up listing and its sort orders equal a fresh load, and the mailbox counts made from it
 * equal the store's SQL counts.
 */
import { assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { JmapCaches, sortedIds } from "../../src/jmap/caches.ts";
import { newEmail } from "../helpers/emails.ts";
import { mulberry32 } from "../helpers/random.ts";

Deno.test("jmap caches: the caught-up listing and its orders equal a fresh load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-jmap-caches-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    const domain = await store.createDomain("example.com");
    const account = await store.createAccount({
      address: "alice@example.com",
      domainId: domain.id,
      displayName: "",
      quota: 0,
      passwordHash: null,
      mailboxes: DEFAULT_MAILBOXES,
    });
    const mailboxes = (await store.listMailboxes(account.id)).map((m) => m.id);
    const caches = new JmapCaches(store);
    const seed = 20261128;
    const random = mulberry32(seed);
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    let serial = 0;
    const insert = () =>
      store.insertEmail(newEmail(account.id, {
        // Every third one answers an earlier message: threads of several emails.
        messageId: `m${++serial}@example.com`,
        inReplyTo: serial > 1 && serial % 3 === 0
          ? [`m${1 + Math.floor(random() * (serial - 1))}@example.com`]
          : [],
        mailboxIds: [pick(mailboxes)],
        receivedAt: new Date(1_700_000_000_000 + Math.floor(random() * 1e9)),
        sentAt: random() < 0.3 ? null : new Date(1_600_000_000_000 + Math.floor(random() * 1e9)),
        size: Math.floor(random() * 5000),
      }));
    for (let i = 0; i < 200; i++) await insert();
    for (let round = 0; round < 40; round++) {
      // Warm the orders so they have to be patched, not rebuilt.
      const listing = await caches.listing(account.id);
      for (const key of ["receivedAt", "sentAt", "size"] as const) sortedIds(listing, key);
      const ids = listing.entries.map((e) => e.id);
      const steps = 1 + Math.floor(random() * 6);
      for (let s = 0; s < steps; s++) {
        const choice = random();
        if (choice < 0.3) await insert();
        else if (choice < 0.6 && ids.length) {
          await store.updateEmails(account.id, [{
            emailId: pick(ids),
            keywords: { add: [pick(["$seen", "$flagged", "work"])] },
          }]);
        } else if (choice < 0.8 && ids.length) {
          await store.updateEmails(account.id, [{
            emailId: pick(ids),
            mailboxes: { add: [pick(mailboxes)] },
          }]);
        } else if (ids.length) {
          await store.destroyEmails(account.id, [pick(ids)]);
        }
      }
      const caught = await caches.listing(account.id);
      const fresh = await store.emailListing(account.id);
      assertEquals(caught.entries, fresh, `seed ${seed} round ${round}`);
      assertEquals([...caught.byId.keys()].sort((a, b) => a - b), fresh.map((e) => e.id));
      // The counts from the listing equal the store's SQL counts (mailboxes with mail).
      const counted = await caches.mailboxCounts(account.id);
      const expectedCounts = (await store.mailboxCounts(account.id)).filter((c) => c.totalEmails);
      assertEquals(
        [...counted.values()].sort((a, b) => a.mailboxId - b.mailboxId),
        expectedCounts.sort((a, b) => a.mailboxId - b.mailboxId),
        `seed ${seed} round ${round} counts`,
      );
      for (const key of ["receivedAt", "sentAt", "size"] as const) {
        const value = (id: number) => {
          const e = fresh.find((f) => f.id === id)!;
          return key === "sentAt" ? e.sentAt ?? e.receivedAt : e[key];
        };
        const expected = fresh.map((e) => e.id).sort((a, b) => value(a) - value(b) || a - b);
        assertEquals(sortedIds(caught, key), expected, `seed ${seed} round ${round} ${key}`);
      }
    }
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
