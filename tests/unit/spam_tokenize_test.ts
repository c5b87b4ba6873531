import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { MimeLimitError, parseMime } from "../../src/mail/mime.ts";
import { analyzeMessage } from "../../src/spam/analyze.ts";
import {
  GRAM_BUCKETS,
  GRAM_CHARS,
  gramTokens,
  MAX_TOKENS,
  tokenHash,
  tokenize,
} from "../../src/spam/tokenize.ts";
import type { Envelope } from "../../src/spam/types.ts";

const LIMITS = { maxHeaderSize: 65536, maxDepth: 20, maxParts: 200 };
const ENVELOPE: Envelope = {
  sender: "sender@example.net",
  recipients: ["user@example.com"],
  remoteAddress: "192.0.2.7",
  helo: "mail.example.net",
  authenticated: false,
};
const encoder = new TextEncoder();

function tokensOf(message: string | Uint8Array): number[] {
  const raw = typeof message === "string" ? encoder.encode(message) : message;
  return tokenize(analyzeMessage(raw, parseMime(raw, LIMITS), ENVELOPE, "mx.example.com"));
}

function message(headers: string[], body: string): string {
  return [...headers, "", body].join("\r\n");
}

const OFFER = message(
  [
    "Received: from relay.spamhost.example (relay.spamhost.example [198.51.100.23]) by " +
    "mx.example.com with ESMTP id 1; Mon, 1 Jan 2024 10:00:00 +0000",
    'From: "Lottery Office" <winner@prizes.example.org>',
    "Reply-To: claims@elsewhere.example",
    "To: user@example.com",
    "Subject: FREE money waiting",
    "Message-ID: <abc123@mailer.prizes.example.org>",
    "X-Mailer: MassSender 3.1",
    "MIME-Version: 1.0",
    "Content-Type: text/html; charset=iso-8859-1",
  ],
  '<html><body><font color="red">Claim your LOTTERY prize now!</font> ' +
    '<img src="http://cdn.prizes.example.org/x.gif"> <a href="http://claim.prizes.example.org/' +
    'win/now.php?id=7">here</a> an ok Supercalifragilisticexpialidociousandthensomemoreletters' +
    "</body></html>",
);

Deno.test("tokenHash: a 52-bit integer, stable, and different for 200,000 different tokens", () => {
  assertEquals(tokenHash("subject:free"), tokenHash("subject:free"));
  const seen = new Set<number>();
  for (let i = 0; i < 200_000; i++) {
    const hash = tokenHash(`word${i}`);
    assert(Number.isSafeInteger(hash) && hash >= 0 && hash < 2 ** 52, `hash ${hash}`);
    seen.add(hash);
  }
  assertEquals(seen.size, 200_000);
  // The high bits are used too: not all hashes fit in 32 bits.
  assert([...seen].some((h) => h >= 2 ** 32));
});

Deno.test("tokenize: header, link, MIME, HTML and body tokens of a message, each once", () => {
  const tokens = tokensOf(OFFER);
  assertEquals(new Set(tokens).size, tokens.length);
  const has = (token: string) => tokens.includes(tokenHash(token));
  for (
    const token of [
      "subject:free",
      "subject:money",
      "from:addr:winner@prizes.example.org",
      "from:domain:prizes.example.org",
      "from:site:example.org",
      "from:name:lottery",
      "reply-to:domain:elsewhere.example",
      "reply-to:other-domain",
      "to:count:1",
      "message-id:domain:mailer.prizes.example.org",
      "x-mailer:masssender 3.1",
      "received:spamhost.example",
      "received:ip:198.51.100",
      "received:ip:198.51",
      "part:text/html",
      "part:charset:iso-8859-1",
      "url:host:claim.prizes.example.org",
      "url:path:win",
      "url:path:now",
      "url:path:php",
      "html:font",
      "html:img",
      "claim",
      "lottery",
      "prize",
      "now!",
      "claim your",
      "your lottery",
      "skip:s 50",
    ]
  ) assert(has(token), `missing ${token}`);
  // Words shorter than three characters are not tokens; body words carry no field name.
  assert(!has("an") && !has("ok"));
  assert(!has("subject:lottery"));
});

Deno.test("tokenize: body words are lower-cased and NFKC-normalised", () => {
  const plain = (body: string) =>
    tokensOf(message(["From: a@example.com", "Subject: x", "Content-Type: text/plain"], body));
  const fullwidth = plain("ＦＲＥＥ Ｍｏｎｅｙ");
  assert(fullwidth.includes(tokenHash("free")));
  assert(fullwidth.includes(tokenHash("free money")));
  assertEquals(new Set(plain("FREE Money")), new Set(fullwidth));
});

Deno.test("tokenize: where a copy was delivered does not change the tokens", () => {
  const copy = (owner: string) =>
    message(
      [
        `Delivered-To: ${owner}@localhost.example.com`,
        `Return-Path: <bounce-${owner}@lists.example.org>`,
        `Received: from mx.lists.example.org (mx.lists.example.org [203.0.113.9]) by ` +
        `mail.example.com for <${owner}@example.com>; Tue, 2 Jan 2024 08:00:00 +0000`,
        "From: Announce <announce@lists.example.org>",
        "Subject: weekly digest",
        `Date: Tue, 2 Jan 2024 08:0${owner.length}:00 +0000`,
      ],
      "This week in the project: releases and fixes.",
    );
  assertEquals(new Set(tokensOf(copy("yyyy"))), new Set(tokensOf(copy("zzzzzz"))));
});

Deno.test("tokenize: Received is read down to the origin, the sending side of each hop", () => {
  const hops = Array.from(
    { length: 6 },
    (_, i) =>
      `Received: from relay${i}.hop${i}.example (relay${i}.hop${i}.example [192.0.2.${i}]) by ` +
      `next.example; Tue, 2 Jan 2024 08:00:0${i} +0000`,
  );
  const tokens = tokensOf(message([...hops, "From: a@example.com", "Subject: x"], "hello there"));
  assert(tokens.includes(tokenHash("received:hop5.example")), "the sixth hop from the top");
  assert(tokens.includes(tokenHash("received:ip:192.0.2")));
  assert(tokens.includes(tokenHash("received:ip:192.0")));
  assert(!tokens.includes(tokenHash("received:next.example")), "the receiving side is not read");
});

Deno.test("tokenize: at most MAX_TOKENS tokens however many words", () => {
  const random = mulberry32(9);
  const words = Array.from({ length: 20_000 }, () => Math.floor(random() * 1e9).toString(36));
  const tokens = tokensOf(
    message(["From: a@example.com", "Subject: many words"], words.join(" ")),
  );
  assertEquals(tokens.length, MAX_TOKENS);
  assertEquals(new Set(tokens).size, MAX_TOKENS);
});

Deno.test("tokenize fuzz: random bytes and mutated messages never throw and stay in bounds", () => {
  const random = mulberry32(20261129);
  const base = encoder.encode(OFFER);
  const alphabet = encoder.encode('<>@:;"=\r\n -./\\?&%#ＦÄ\t=?utf-8?b?');
  for (let round = 0; round < 1500; round++) {
    let raw: Uint8Array;
    if (round % 3 === 0) {
      raw = new Uint8Array(Math.floor(random() * 3000));
      for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(random() * 256);
    } else {
      raw = base.slice();
      const edits = 1 + Math.floor(random() * 20);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * raw.length);
        raw[at] = random() < 0.5
          ? alphabet[Math.floor(random() * alphabet.length)]
          : Math.floor(random() * 256);
      }
      if (round % 3 === 2) raw = raw.subarray(0, Math.floor(random() * raw.length));
    }
    let tokens: number[];
    try {
      tokens = tokensOf(raw);
    } catch (error) {
      if (error instanceof MimeLimitError) continue;
      throw new Error(`round ${round}: ${error}`);
    }
    assert(tokens.length <= MAX_TOKENS, `round ${round}: ${tokens.length} tokens`);
    assertEquals(new Set(tokens).size, tokens.length);
    for (const token of tokens) {
      assert(Number.isSafeInteger(token) && token >= 0 && token < 2 ** 52, `round ${round}`);
    }
  }
});

function gramsOf(message: string): number[] {
  const raw = encoder.encode(message);
  return gramTokens(analyzeMessage(raw, parseMime(raw, LIMITS), ENVELOPE, "mx.example.com"));
}

Deno.test("gramTokens: distinct 4-gram buckets of the header fields and text, the same for the copy learnt later", () => {
  const grams = gramsOf(OFFER);
  assert(grams.length > 100, `only ${grams.length} grams`);
  assertEquals(new Set(grams).size, grams.length);
  assert(grams.every((g) => Number.isInteger(g) && g >= 0 && g < GRAM_BUCKETS));
  // What we add on delivery (X-Spam-*) and what delivery agents add (Return-Path,
  // Delivered-To) must not change the features: the scored copy has none of them.
  const stored = [
    "Return-Path: <winner@prizes.example.org>",
    "Delivered-To: user@example.com",
    "X-Spam-Status: Yes, score=9.00 required=5.0",
    "X-Spam-Result: BAYES_SPAM(5.50)",
    OFFER,
  ].join("\r\n");
  assertEquals(gramsOf(stored).sort((a, b) => a - b), [...grams].sort((a, b) => a - b));
  // Another subject is another message.
  assert(gramsOf(OFFER.replace("FREE money waiting", "Minutes of Tuesday")).length > 0);
  assert(
    gramsOf(OFFER.replace("FREE money waiting", "Minutes of Tuesday")).sort().join() !==
      [...grams].sort().join(),
  );
});

Deno.test("gramTokens: only the first GRAM_CHARS characters count, however long the message", () => {
  const head = message(["From: a@example.org", "Subject: s"], "x".repeat(GRAM_CHARS));
  const long = head + " tail words that come after the cut ".repeat(20_000);
  assertEquals(gramsOf(long).sort((a, b) => a - b), gramsOf(head).sort((a, b) => a - b));
  // At most one gram per character of the window.
  const random = mulberry32(5);
  const noise = Array.from({ length: 50_000 }, () => String.fromCharCode(33 + random() * 90))
    .join("");
  assert(gramsOf(message(["Subject: n"], noise)).length <= GRAM_CHARS);
});
