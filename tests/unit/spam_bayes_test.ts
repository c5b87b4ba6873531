import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { parseMime } from "../../src/mail/mime.ts";
import { analyzeMessage } from "../../src/spam/analyze.ts";
import { tokenize } from "../../src/spam/tokenize.ts";
import {
  type BayesResult,
  bayesSymbol,
  classify,
  maturity,
  type ModelView,
  withLogistic,
} from "../../src/spam/bayes.ts";
import type { Envelope } from "../../src/spam/types.ts";
import type { Judgement } from "../../src/store/spam_types.ts";

const JUNK_THRESHOLD = 5;
const LIMITS = { maxHeaderSize: 65536, maxDepth: 20, maxParts: 200 };
const ENVELOPE: Envelope = {
  sender: "",
  recipients: ["user@example.com"],
  remoteAddress: "192.0.2.7",
  helo: "",
  authenticated: false,
};

function tokensOf(text: string): number[] {
  const raw = new TextEncoder().encode(text);
  return tokenize(analyzeMessage(raw, parseMime(raw, LIMITS), ENVELOPE, "mx.example.com"));
}

/** An in-memory model with learn and unlearn, counting as the store does. */
function model(): ModelView {
  return { totals: { ham: 0, spam: 0 }, counts: new Map() };
}

function learn(view: ModelView, tokens: number[], judgement: Judgement, delta = 1): void {
  view.totals[judgement] += delta;
  for (const token of tokens) {
    const counts = view.counts.get(token) ?? { ham: 0, spam: 0 };
    counts[judgement] += delta;
    view.counts.set(token, counts);
  }
}

function points(result: BayesResult): number {
  return bayesSymbol(result)?.score ?? 0;
}

const SPAM_WORDS = ("viagra lottery winner prize claim cash bonus guaranteed discount offer " +
  "unsubscribe exclusive limited urgent million investment casino pharmacy credit loan").split(" ");
const HAM_WORDS = ("meeting agenda review patch release build commit branch merge schedule " +
  "minutes lunch report deadline project kernel compiler library thanks regards").split(" ");
const COMMON = "the and you your for this that with have will are from".split(" ");

/** A message of `words` (plus common words) with a seeded choice, from `sender`. */
function generated(random: () => number, words: string[], sender: string, id: number): string {
  const pick = (list: string[]) => list[Math.floor(random() * list.length)];
  const body = Array.from({ length: 60 }, () => random() < 0.4 ? pick(COMMON) : pick(words));
  return [
    `From: ${sender}`,
    "To: user@example.com",
    `Subject: ${pick(words)} ${pick(words)}`,
    `Message-ID: <${id}.${Math.floor(random() * 1e9)}@${sender.split("@")[1]}>`,
    "",
    body.join(" "),
  ].join("\r\n");
}

const PHISH = [
  "From: Prize Office <office@prizes.example.org>",
  "To: user@example.com",
  "Subject: Your parcel fee is due",
  "Message-ID: <x1@prizes.example.org>",
  "",
  "Dear customer, your parcel 88231 is held at our depot. Pay the release fee of 2.99",
  "within 48 hours at http://parcel-release.example.net/pay or the parcel is returned.",
  "Customer service team",
].join("\r\n");

const NEAR_COPY = PHISH.replace("x1@", "x2@").replace("88231", "90412");

const NEWSLETTER = [
  "From: Town Library <news@library.example.com>",
  "To: user@example.com",
  "Subject: Opening hours over the holidays",
  "Message-ID: <n7@library.example.com>",
  "",
  "The library closes early on the 24th and opens again on the 2nd. Your loans are",
  "extended automatically. The reading group meets in the new hall next month.",
].join("\r\n");

Deno.test("bayes: one message learnt as spam by an account makes it and near copies junk there", () => {
  const global = model();
  const account = model();
  const tokens = tokensOf(PHISH);
  learn(account, tokens, "spam");
  const same = classify(tokens, global, account);
  assert(points(same) >= JUNK_THRESHOLD, `same message: ${JSON.stringify(same)}`);
  assertEquals(bayesSymbol(same)?.name, "BAYES_SPAM");
  const near = classify(tokensOf(NEAR_COPY), global, account);
  assert(points(near) >= JUNK_THRESHOLD, `near copy: ${JSON.stringify(near)}`);
  // The engine learns into the global model too; one message there changes nothing.
  learn(global, tokens, "spam");
  assert(points(classify(tokens, global, account)) >= JUNK_THRESHOLD);
  // Another account, and the global model alone, do not call it junk.
  assert(points(classify(tokens, global, model())) < JUNK_THRESHOLD);
  assert(points(classify(tokens, global, null)) < JUNK_THRESHOLD);
  assertEquals(bayesSymbol(classify(tokens, global, null)), null);
  // The account's other mail, sharing only common words, is not junk either.
  assert(points(classify(tokensOf(NEWSLETTER), global, account)) < JUNK_THRESHOLD);
});

Deno.test("bayes: learnt as spam, then as ham, the message is no longer junk", () => {
  const global = model();
  const account = model();
  const tokens = tokensOf(PHISH);
  learn(account, tokens, "spam");
  learn(global, tokens, "spam");
  // The store unlearns the old judgement before it learns the new one.
  learn(account, tokens, "spam", -1);
  learn(global, tokens, "spam", -1);
  learn(account, tokens, "ham");
  learn(global, tokens, "ham");
  const result = classify(tokens, global, account);
  assert(points(result) < JUNK_THRESHOLD, JSON.stringify(result));
  assertEquals(bayesSymbol(result)?.name, "BAYES_HAM");
  assert(points(classify(tokensOf(NEAR_COPY), global, account)) < 0);
});

Deno.test("bayes: a model with fewer than 10 of either class moves nothing", () => {
  const random = mulberry32(3);
  const global = model();
  for (let i = 0; i < 9; i++) {
    learn(global, tokensOf(generated(random, SPAM_WORDS, "s@spam.example", i)), "spam");
  }
  for (let i = 0; i < 200; i++) {
    learn(global, tokensOf(generated(random, HAM_WORDS, "h@work.example", i)), "ham");
  }
  const spam = tokensOf(generated(random, SPAM_WORDS, "s@spam.example", 999));
  assertEquals(classify(spam, global, null), { probability: 0.5, used: 0 });
  assertEquals(bayesSymbol(classify(spam, global, null)), null);
  assertEquals(maturity(global.totals), 0);
  assertEquals(maturity({ ham: 50, spam: 50 }), 1);
  assertEquals(maturity({ ham: 30, spam: 400 }), 0.5);
});

Deno.test("bayes: a trained global model separates its classes", () => {
  const random = mulberry32(11);
  const global = model();
  for (let i = 0; i < 60; i++) {
    learn(global, tokensOf(generated(random, SPAM_WORDS, "s@spam.example", i)), "spam");
    learn(global, tokensOf(generated(random, HAM_WORDS, "h@work.example", i)), "ham");
  }
  for (let i = 0; i < 20; i++) {
    const spam = classify(
      tokensOf(generated(random, SPAM_WORDS, "x@other.example", i)),
      global,
      null,
    );
    const ham = classify(
      tokensOf(generated(random, HAM_WORDS, "y@other.example", i)),
      global,
      null,
    );
    assert(points(spam) >= JUNK_THRESHOLD, `spam ${i}: ${JSON.stringify(spam)}`);
    assert(ham.probability < 0.01 && points(ham) < 0, `ham ${i}: ${JSON.stringify(ham)}`);
  }
});

Deno.test("bayes: the account's own training outweighs the global model", () => {
  const random = mulberry32(5);
  const global = model();
  const account = model();
  // Globally, HAM_WORDS mail is ham; this account judged such mail (from one sender) spam,
  // a third as often as the global model saw it.
  for (let i = 0; i < 150; i++) {
    learn(global, tokensOf(generated(random, HAM_WORDS, "h@work.example", i)), "ham");
    learn(global, tokensOf(generated(random, SPAM_WORDS, "s@spam.example", i)), "spam");
  }
  for (let i = 0; i < 50; i++) {
    learn(account, tokensOf(generated(random, HAM_WORDS, "h@work.example", i)), "spam");
    learn(account, tokensOf(generated(random, SPAM_WORDS, "s@spam.example", i)), "ham");
  }
  const tokens = tokensOf(generated(random, HAM_WORDS, "h@work.example", 100));
  assert(classify(tokens, global, null).probability < 0.5);
  const own = classify(tokens, global, account);
  assert(own.probability > 0.9, JSON.stringify(own));
});

Deno.test("bayesSymbol: probability to points, unsure and unknown give no symbol", () => {
  assertEquals(bayesSymbol({ probability: 0.5, used: 40 }), null);
  assertEquals(bayesSymbol({ probability: 0.65, used: 40 }), null);
  assertEquals(bayesSymbol({ probability: 0.9999, used: 0 }), null);
  const sure = bayesSymbol({ probability: 0.9995, used: 40 });
  assertEquals(sure?.name, "BAYES_SPAM");
  assertEquals(sure?.detail, "0.9995");
  assert(sure!.score >= JUNK_THRESHOLD);
  const ham = bayesSymbol({ probability: 0.001, used: 40 });
  assertEquals(ham?.name, "BAYES_HAM");
  assert(ham!.score < 0);
  // Monotonic: more spammy never gives fewer points.
  let last = -Infinity;
  for (let p = 0; p <= 1; p += 0.001) {
    const score = bayesSymbol({ probability: p, used: 10 })?.score ?? 0;
    assert(score >= last, `p ${p}`);
    last = score;
  }
});

Deno.test("withLogistic: the second model moves a mature global verdict only, and only when sure", () => {
  const result: BayesResult = { probability: 0.96, used: 40 };
  const mature = { ham: 100, spam: 100 };
  assertEquals(withLogistic(result, { ham: 5, spam: 100 }, 0.9999), result);
  assertEquals(withLogistic({ probability: 0.5, used: 0 }, mature, 0.9999), {
    probability: 0.5,
    used: 0,
  });
  assertEquals(withLogistic(result, mature, 0.9).probability, 0.96);
  const pushed = withLogistic(result, mature, 0.9999);
  assert(pushed.probability > 0.97 && pushed.used === 40, JSON.stringify(pushed));
  assert(withLogistic(result, mature, 0.0001).probability < 0.96);
});
