import { assert, assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { GLOBAL_MODEL, type TokenCounts } from "../../src/store/spam_types.ts";
import { averagedProbability, BIAS_SHARE, LEARNING_RATE } from "../../src/spam/logistic.ts";

function assertAlmostEquals(actual: number, expected: number): void {
  assert(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
}

/** Counts without the logistic fields, for comparing. */
function countsOf(stats: TokenCounts | undefined): TokenCounts | undefined {
  return stats && { ham: stats.ham, spam: stats.spam };
}

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
    assertEquals(countsOf(await store.spam.totals(GLOBAL_MODEL)), { ham: 0, spam: 1 });
    assertEquals(
      [...(await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2, big, 99])).entries()].map((
        [token, stats],
      ) => [token, countsOf(stats)]),
      [[1, { ham: 0, spam: 1 }], [2, { ham: 0, spam: 1 }], [big, { ham: 0, spam: 1 }]],
    );
    await store.spam.learn([GLOBAL_MODEL], "m2", [2, 3], "ham");
    // The user changes their mind about m1: its tokens move from spam to ham.
    assertEquals(await store.spam.learn([GLOBAL_MODEL], "m1", [1, 2, big], "ham"), [
      GLOBAL_MODEL,
    ]);
    assertEquals(countsOf(await store.spam.totals(GLOBAL_MODEL)), { ham: 2, spam: 0 });
    assertEquals(await store.spam.learnt(GLOBAL_MODEL, "m1"), "ham");
    const counts = await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2, 3]);
    assertEquals(countsOf(counts.get(2)), { ham: 2, spam: 0 });
    assertEquals(countsOf(counts.get(3)), { ham: 1, spam: 0 });
    // Model 7 still holds m1 as spam; models are separate, and only the global one is logistic.
    assertEquals(await store.spam.totals(7), { ham: 0, spam: 1, bias: 0, wbias: 0, updates: 0 });
    assertEquals((await store.spam.tokenCounts(7, [1]))?.get(1)?.weight, 0);
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
    assertEquals(countsOf(await store.spam.totals(alice.id)), { ham: 0, spam: 0 });
    assertEquals((await store.spam.tokenCounts(alice.id, [5, 6])).size, 0);
    assertEquals((await store.spam.senderStats(alice.id, ["bob@example.com"])).size, 0);
    assertEquals(countsOf(await store.spam.totals(GLOBAL_MODEL)), { ham: 0, spam: 1 });
  });
});

Deno.test("spam store: the global model takes one logistic step per message and undoes it", async () => {
  await withStore(async (store) => {
    // First message, from zero: p = 0.5, so every token gains rate/2, the bias a share of it.
    await store.spam.learn([GLOBAL_MODEL], "m1", [1, 2], "spam");
    const first = LEARNING_RATE * 0.5;
    let totals = await store.spam.totals(GLOBAL_MODEL);
    assertEquals(totals.updates, 1);
    assertAlmostEquals(totals.bias, BIAS_SHARE * first);
    assertAlmostEquals(totals.wbias, BIAS_SHARE * first);
    let weights = await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2]);
    assertAlmostEquals(weights.get(1)!.weight, first);
    assertAlmostEquals(weights.get(1)!.wsum, first);
    // Second message, sharing token 2: the step is taken from the current score, as step 2.
    await store.spam.learn([GLOBAL_MODEL], "m2", [2, 3], "ham");
    const second = LEARNING_RATE * (0 - 1 / (1 + Math.exp(-(BIAS_SHARE * first + first))));
    weights = await store.spam.tokenCounts(GLOBAL_MODEL, [1, 2, 3]);
    assertAlmostEquals(weights.get(2)!.weight, first + second);
    assertAlmostEquals(weights.get(2)!.wsum, first + 2 * second);
    assertAlmostEquals(weights.get(3)!.weight, second);
    totals = await store.spam.totals(GLOBAL_MODEL);
    assertEquals(totals.updates, 2);
    assert(averagedProbability(totals, weights, [1]) > 0.5);
    assert(averagedProbability(totals, weights, [3]) < 0.5);
    // A changed mind about m2 takes back exactly its step and takes a new one towards spam.
    await store.spam.learn([GLOBAL_MODEL], "m2", [2, 3], "spam");
    weights = await store.spam.tokenCounts(GLOBAL_MODEL, [2, 3]);
    const third = weights.get(3)!.weight;
    assert(third > 0);
    assertAlmostEquals(weights.get(3)!.wsum, 3 * third);
    assertAlmostEquals(weights.get(2)!.weight, first + third);
    totals = await store.spam.totals(GLOBAL_MODEL);
    assertEquals(totals.updates, 3);
    assertAlmostEquals(totals.bias, BIAS_SHARE * (first + third));
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
