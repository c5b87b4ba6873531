import { assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { GLOBAL_MODEL } from "../../src/store/spam_types.ts";

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    await fn(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function account(store: SqliteStore, local: string) {
  const domain = await store.getDomain("example.org") ?? await store.createDomain("example.org");
  return await store.createAccount({
    address: `${local}@example.org`,
    domainId: domain.id,
    displayName: "",
    quota: 0,
    passwordHash: null,
    mailboxes: DEFAULT_MAILBOXES,
  });
}

Deno.test("spam store: learning counts tokens once per message and unlearns a changed mind", async () => {
  await withStore(async (store) => {
    const big = 2 ** 52 - 3;
    const changed = await store.spam.learn([GLOBAL_MODEL, 7], "m1", [1, 2, big, 2], "spam");
    assertEquals(changed, [GLOBAL_MODEL, 7]);
    assertEquals(await store.spam.learn([GLOBAL_MODEL], "m1", [1, 2, big], "spam"), []);
    assertEquals(await store.spam.totals(GLOBAL_MODEL), { ham: 0, spam: 1 });
    assertEquals(
      [...(await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2, big, 99])).entries()],
      [[1, { ham: 0, spam: 1 }], [2, { ham: 0, spam: 1 }], [big, { ham: 0, spam: 1 }]],
    );
    await store.spam.learn([GLOBAL_MODEL], "m2", [2, 3], "ham");
    // The user changes their mind about m1: its tokens move from spam to ham.
    assertEquals(await store.spam.learn([GLOBAL_MODEL], "m1", [1, 2, big], "ham"), [
      GLOBAL_MODEL,
    ]);
    assertEquals(await store.spam.totals(GLOBAL_MODEL), { ham: 2, spam: 0 });
    assertEquals(await store.spam.learnt(GLOBAL_MODEL, "m1"), "ham");
    const counts = await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2, 3]);
    assertEquals(counts.get(2), { ham: 2, spam: 0 });
    assertEquals(counts.get(3), { ham: 1, spam: 0 });
    // Model 7 still holds m1 as spam; models are separate.
    assertEquals(await store.spam.totals(7), { ham: 0, spam: 1 });
    assertEquals(await store.spam.learnt(7, "m2"), null);
  });
});

Deno.test("spam store: a token list of thousands is read and learnt in one go", async () => {
  await withStore(async (store) => {
    const tokens = Array.from({ length: 5000 }, (_, i) => i * 7919 + 1);
    await store.spam.learn([GLOBAL_MODEL], "big", tokens, "spam");
    const counts = await store.spam.tokenCounts(GLOBAL_MODEL, tokens);
    assertEquals(counts.size, 5000);
    assertEquals((await store.spam.tokenCounts(GLOBAL_MODEL, [])).size, 0);
  });
});

Deno.test("spam store: deleting an account deletes its model and reputation", async () => {
  await withStore(async (store) => {
    const alice = await account(store, "alice");
    await store.spam.learn([GLOBAL_MODEL, alice.id], "m", [5, 6], "spam");
    await store.spam.recordSenders(alice.id, ["bob@example.com", "example.com"], "sent");
    await store.spam.recordSenders(alice.id, ["bob@example.com"], "ham");
    const stats = await store.spam.senderStats(alice.id, ["bob@example.com", "x@y.z"]);
    assertEquals([...stats.entries()], [["bob@example.com", { ham: 1, spam: 0, sent: 1 }]]);
    await store.deleteAccount(alice.id);
    assertEquals(await store.spam.totals(alice.id), { ham: 0, spam: 0 });
    assertEquals((await store.spam.tokenCounts(alice.id, [5, 6])).size, 0);
    assertEquals((await store.spam.senderStats(alice.id, ["bob@example.com"])).size, 0);
    assertEquals(await store.spam.totals(GLOBAL_MODEL), { ham: 0, spam: 1 });
  });
});

Deno.test("spam store: greylisting passes a triplet retried after the delay and remembers it", async () => {
  await withStore(async (store) => {
    const minute = 60_000, hour = 60 * minute, day = 24 * hour;
    const check = (key: string, now: number) =>
      store.spam.greylist(key, now, 5 * minute, 24 * hour, 30 * day);
    assertEquals(await check("t", 0), "new");
    assertEquals(await check("t", 1 * minute), "early");
    assertEquals(await check("t", 6 * minute), "pass");
    assertEquals(await check("t", 10 * day), "pass");
    // Not seen for longer than the pass lifetime: greylisted again.
    assertEquals(await check("t", 50 * day), "new");
    // A sender that never retried within the window starts over.
    assertEquals(await check("u", 0), "new");
    assertEquals(await check("u", 30 * hour), "new");
    assertEquals(await check("u", 30 * hour + 6 * minute), "pass");
    // "t" waits (first seen at 50 days), "u" passed (last seen at 30 hours + 6 minutes).
    assertEquals(await store.spam.pruneGreylist(0, 49 * day), 0);
    assertEquals(await store.spam.pruneGreylist(40 * day, 49 * day), 1);
    assertEquals(await check("u", 41 * day), "new");
    assertEquals(await store.spam.pruneGreylist(0, 51 * day), 2);
  });
});
