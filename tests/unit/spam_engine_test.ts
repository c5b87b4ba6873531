import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { SpamEngine } from "../../src/spam/engine.ts";
import { defaultRules } from "../../src/spam/rules.ts";
import type { Envelope } from "../../src/spam/types.ts";

const ENVELOPE: Envelope = {
  sender: "someone@example.net",
  recipients: ["user@example.com"],
  remoteAddress: "192.0.2.9",
  helo: "mail.example.net",
  authenticated: false,
};
const SPAM_WORDS = "cheap pills offer winner lottery casino discount viagra prize claim bonus"
  .split(" ");
const HAM_WORDS = "meeting agenda patch review kernel minutes budget draft thanks release"
  .split(" ");
const encoder = new TextEncoder();

function engineOn(store: SqliteStore): SpamEngine {
  return new SpamEngine({
    store: store.spam,
    rules: defaultRules(),
    authservId: "mx.example.com",
    mimeLimits: { maxHeaderSize: 65536, maxDepth: 20, maxParts: 200 },
    settings: { junkThreshold: 5, rejectThreshold: 0, llmBand: [0, 0], reputation: false },
  });
}

function message(random: () => number, kind: "spam" | "ham", n: number): Uint8Array {
  const words = kind === "spam" ? SPAM_WORDS : HAM_WORDS;
  const pick = () => words[Math.floor(random() * words.length)];
  const body = Array.from({ length: 80 }, pick).join(" ");
  const from = kind === "spam" ? "deals@bulk.example.biz" : "colleague@work.example.org";
  return encoder.encode(
    `From: ${from}\r\nTo: user@example.com\r\nSubject: ${pick()} ${pick()}\r\n` +
      `Message-ID: <${kind}${n}@example>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n` +
      `${body}\r\n`,
  );
}

Deno.test("spam engine: the 4-gram model adds NGRAM_* once the global model is mature, and persists", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/db.sqlite`;
  const random = mulberry32(8);
  try {
    const store = new SqliteStore({ path });
    const engine = engineOn(store);
    for (let i = 0; i < 20; i++) {
      await engine.train(message(random, "spam", i), "spam", null);
      await engine.train(message(random, "ham", i), "ham", null);
    }
    const probe = message(random, "spam", 1000);
    const young = await engine.score(probe, ENVELOPE, []);
    assert(
      !young.message.symbols.some((s) => s.name.startsWith("NGRAM_")),
      "an immature global model gives the 4-gram model no say",
    );
    for (let i = 20; i < 60; i++) {
      await engine.train(message(random, "spam", i), "spam", null);
      await engine.train(message(random, "ham", i), "ham", null);
    }
    const spam = (await engine.score(probe, ENVELOPE, [])).message;
    const names = spam.symbols.map((s) => s.name);
    assert(names.includes("NGRAM_SPAM"), names.join(" "));
    assert(names.includes("BAYES_SPAM"), names.join(" "));
    assertEquals(spam.verdict, "junk");
    const ham = (await engine.score(message(random, "ham", 1001), ENVELOPE, [])).message;
    assertEquals(ham.verdict, "ham");
    assert(
      !ham.symbols.some((s) => s.name === "NGRAM_SPAM"),
      ham.symbols.map((s) => s.name).join(),
    );
    await engine.close();
    await store.close();

    // After a restart the 4-gram model is read back from the store: the same symbol.
    const reopened = new SqliteStore({ path });
    try {
      const again = (await engineOn(reopened).score(probe, ENVELOPE, [])).message;
      const before = spam.symbols.find((s) => s.name === "NGRAM_SPAM")!;
      const after = again.symbols.find((s) => s.name === "NGRAM_SPAM");
      assert(after !== undefined && Math.abs(after.score - before.score) <= 0.01);
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
