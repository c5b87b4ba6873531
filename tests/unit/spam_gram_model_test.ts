import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { GRAM_MODEL } from "../../src/store/spam_types.ts";
import { GramModel } from "../../src/spam/gram_model.ts";
import { GRAM_BUCKETS } from "../../src/spam/tokenize.ts";

async function withStore(fn: (store: SqliteStore, path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/db.sqlite`;
  const store = new SqliteStore({ path });
  try {
    await fn(store, path);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function near(actual: number, expected: number, what = ""): void {
  assert(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} is not ${expected}`);
}

/** Two families of messages: spam draws from buckets 0..999, ham from 1000..1999. */
function sample(random: () => number, kind: "spam" | "ham"): number[] {
  const base = kind === "spam" ? 0 : 1000;
  return [...new Set(Array.from({ length: 300 }, () => base + Math.floor(random() * 1000)))];
}

Deno.test("gram model: learns two families apart, keeps its weights across a restart", async () => {
  await withStore(async (store, path) => {
    const model = new GramModel(store.spam);
    assertEquals(await model.probability([1, 2, 3]), null, "nothing learnt: no opinion");
    const random = mulberry32(11);
    for (let i = 0; i < 40; i++) {
      const kind = i % 2 === 0 ? "spam" : "ham";
      assert(await model.learn(`m${i}`, sample(random, kind), kind));
    }
    const spam = sample(random, "spam");
    const ham = sample(random, "ham");
    const spamP = (await model.probability(spam))!;
    const hamP = (await model.probability(ham))!;
    assert(spamP > 0.9, `spam at ${spamP}`);
    assert(hamP < 0.1, `ham at ${hamP}`);
    await model.close();
    const totals = await store.spam.totals(GRAM_MODEL);
    assertEquals([totals.ham, totals.spam, totals.updates], [20, 20, 40]);
    // A second process (or a restart) on the same database sees the same model.
    const reopened = new SqliteStore({ path });
    try {
      const again = new GramModel(reopened.spam);
      // Equal but for rounding: memory keeps 32-bit weights, the store adds 64-bit steps.
      near((await again.probability(spam))!, spamP);
      near((await again.probability(ham))!, hamP);
    } finally {
      await reopened.close();
    }
  });
});

Deno.test("gram model: a message counts once, and a changed mind takes its step back", async () => {
  await withStore(async (store) => {
    const model = new GramModel(store.spam);
    const random = mulberry32(3);
    for (let i = 0; i < 10; i++) {
      await model.learn(`m${i}`, sample(random, i % 2 ? "ham" : "spam"), i % 2 ? "ham" : "spam");
    }
    const message = sample(random, "ham");
    const before = (await model.probability(message))!;
    assert(await model.learn("x", message, "spam"));
    assertEquals(await model.learn("x", message, "spam"), false, "learnt twice");
    const asSpam = (await model.probability(message))!;
    assert(asSpam > before, `${asSpam} not above ${before}`);
    // Written back, then judged again the other way: the step is found in the store.
    await model.flush();
    assertEquals((await store.spam.learntStep(GRAM_MODEL, "x"))?.judgement, "spam");
    assert(await model.learn("x", message, "ham"));
    const asHam = (await model.probability(message))!;
    assert(asHam < before, `${asHam} not below ${before}`);
    await model.close();
    const totals = await store.spam.totals(GRAM_MODEL);
    assertEquals([totals.ham, totals.spam, totals.updates], [6, 5, 12]);
    assertEquals((await store.spam.learntStep(GRAM_MODEL, "x"))?.judgement, "ham");
  });
});

Deno.test("gram model: buckets outside the model are ignored, not written", async () => {
  await withStore(async (store) => {
    const model = new GramModel(store.spam);
    assert(await model.learn("k", [-1, 5, GRAM_BUCKETS, GRAM_BUCKETS + 7], "spam"));
    await model.close();
    const { weights } = await store.spam.loadWeights(GRAM_MODEL);
    assertEquals([...weights.keys()], [5]);
  });
});

Deno.test("gram model: two processes learning into one store add up, and each sees the other's", async () => {
  await withStore(async (store) => {
    // The server (scoring) and `postern spam train` (learning) on one database.
    const server = new GramModel(store.spam, { staleCheckMs: 0 });
    const cli = new GramModel(store.spam, { staleCheckMs: 0 });
    const random = mulberry32(21);
    const messages = Array.from({ length: 20 }, (_, i) => {
      const kind = i % 2 === 0 ? "spam" as const : "ham" as const;
      return { key: `m${i}`, grams: sample(random, kind), kind };
    });
    // Both start from the same (empty) model; each learns half.
    assertEquals(await server.probability([1]), null);
    for (const [i, m] of messages.entries()) {
      await (i < 10 ? server : cli).learn(m.key, m.grams, m.kind);
    }
    await server.close();
    await cli.close();
    const totals = await store.spam.totals(GRAM_MODEL);
    assertEquals([totals.ham, totals.spam, totals.updates], [10, 10, 20]);
    // The stored weights are the sum of both processes' steps, not the last writer's values.
    const fresh = new GramModel(store.spam);
    const probe = sample(random, "spam");
    const expected = await fresh.probability(probe);
    assert(expected !== null);
    near((await server.probability(probe))!, expected, "the server read the CLI's steps");
    near((await cli.probability(probe))!, expected, "the CLI read the server's steps");
  });
});
