import { assert } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { MimeLimitError, type MimePart, parseMime } from "../../src/mail/mime.ts";
import { analyzeMessage, MAX_HTML_CHARS, MAX_TEXT_CHARS } from "../../src/spam/analyze.ts";
import { DEFAULT_RULES } from "../../src/spam/default_rules.ts";
import {
  defaultRules,
  evaluateRules,
  mergeRules,
  parseRules,
  RuleError,
  type RuleSet,
} from "../../src/spam/rules.ts";
import type { Envelope } from "../../src/spam/types.ts";

const limits = { maxHeaderSize: 64 * 1024, maxDepth: 20, maxParts: 500 };
const encoder = new TextEncoder();

const PIECES = [
  "From: =?utf-8?B?w6k=?= <a@example.com>\r\n",
  'From: "x@evil.example" <y@gmail.com>\r\n',
  "Reply-To: z@gmail.com\r\n",
  "Subject: FREE MONEY!!!\r\n",
  "Date: Mon, 1 Jan 2099 00:00:00 +0000\r\n",
  "Date: garbage\r\n",
  "Message-ID: <x@y>\r\n",
  "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
  "Received: junk\r\n",
  "Authentication-Results: mx.example.org; spf=fail smtp.mailfrom=a@x; dkim=pass header.d=x;" +
  ' dmarc=fail header.from=x; arc=pass; iprev=permerror reason="a;b" (c (d) e)\r\n',
  "Authentication-Results: mx.example.org; dkim=\r\n",
  "MIME-Version: 1.0\r\n",
  "Content-Type: multipart/mixed; boundary=b\r\n",
  "Content-Type: multipart/alternative; boundary=c\r\n",
  "Content-Type: text/html; charset=koi8-r\r\n",
  "Content-Type: text/plain; charset=x-unknown\r\n",
  "Content-Type: application/x-msdownload; name=a.pdf.exe\r\n",
  "Content-Type: image/png\r\n",
  "Content-Type: message/rfc822\r\n",
  "Content-Transfer-Encoding: base64\r\n",
  "Content-Transfer-Encoding: quoted-printable\r\n",
  "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.scr\r\n",
  "\r\n",
  "--b\r\n",
  "--b--\r\n",
  "--c\r\n",
  "--c--\r\n",
  '<a href="http://xn--pypal-4ve.com/">www.paypal.com</a>',
  "<a href='https://bit.ly/x'>",
  "<a href=javascript:alert(1)>",
  "<a",
  "</a>",
  '<div style="display:none">hidden text hidden text</div>',
  '<font color="#ffffff">white</font>',
  "<img src=cid:x>",
  "<style>p{}</style>",
  "<!-- comment",
  "&amp;&#x41;&#99999999;&bogus;",
  "https://раураl.com/login http://192.0.2.1/ www.example.com",
  "=C3=A9=\r\n=ZZ",
  "aGVsbG8gd29ybGQ=",
  "I recorded you bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
  "verify your account ",
  "\x00\x80\xff\xfe",
];

function envelopeFor(random: () => number): Envelope {
  const helos = ["localhost", "[192.0.2.9]", "192.0.2.1", "example.org", "x", "", "mail.a.example"];
  return {
    sender: random() < 0.5 ? "" : "a@пример.рф",
    recipients: ["bob@example.org"],
    remoteAddress: random() < 0.5 ? "192.0.2.1" : "::ffff:192.0.2.1",
    helo: helos[Math.floor(random() * helos.length)],
    authenticated: false,
  };
}

function randomMessage(random: () => number): Uint8Array {
  const parts: string[] = [];
  const count = 1 + Math.floor(random() * 40);
  for (let i = 0; i < count; i++) parts.push(PIECES[Math.floor(random() * PIECES.length)]);
  const bytes = Uint8Array.from(parts.join(""), (c) => c.charCodeAt(0) & 0xff);
  return mutateBytes(bytes, random);
}

function mutateBytes(bytes: Uint8Array, random: () => number): Uint8Array {
  const out = Array.from(bytes);
  const edits = Math.floor(random() * 6);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = Math.floor(random() * out.length);
    const choice = random();
    if (choice < 0.4) out[at] = Math.floor(random() * 256);
    else if (choice < 0.7) out.splice(at, 1 + Math.floor(random() * 8));
    else out.splice(at, 0, ...out.slice(at, at + Math.floor(random() * 30)));
  }
  return Uint8Array.from(out);
}

function parseOrNull(raw: Uint8Array): MimePart | null {
  try {
    return parseMime(raw, limits);
  } catch (error) {
    if (error instanceof MimeLimitError) return null;
    throw error;
  }
}

function assertSymbolsSound(set: RuleSet, raw: Uint8Array, mime: MimePart, env: Envelope): void {
  const facts = analyzeMessage(raw, mime, env, "mx.example.org");
  const known = new Set(set.rules.map((r) => r.name));
  for (const symbol of evaluateRules(set, facts)) {
    assert(known.has(symbol.name), symbol.name);
    assert(Number.isFinite(symbol.score) && symbol.score !== 0, `${symbol.name} ${symbol.score}`);
    assert(!symbol.name.startsWith("__"), symbol.name);
  }
}

Deno.test("rules fuzz: random and mutated messages never make analysis or rules throw", () => {
  const random = mulberry32(20261129);
  const set = defaultRules();
  let analysed = 0;
  for (let i = 0; i < 1500; i++) {
    const raw = randomMessage(random);
    const mime = parseOrNull(raw);
    if (mime === null) continue;
    assertSymbolsSound(set, raw, mime, envelopeFor(random));
    analysed++;
  }
  assert(analysed > 1000, `only ${analysed} messages parsed`);
});

Deno.test("rules fuzz: a MIME tree of another message (offsets out of range) is survived", () => {
  const random = mulberry32(7);
  const set = defaultRules();
  for (let i = 0; i < 300; i++) {
    const big = parseOrNull(randomMessage(random));
    const small = randomMessage(random).subarray(0, Math.floor(random() * 40));
    if (big !== null) assertSymbolsSound(set, small, big, envelopeFor(random));
  }
});

Deno.test("rules fuzz: hostile HTML and text shapes give facts within the caps", () => {
  const set = defaultRules();
  const shapes = [
    "<a ".repeat(200_000),
    '<a href="x">'.repeat(100_000),
    '<a href="http://h.example/">' + "x".repeat(300_000),
    "<div style=display:none>".repeat(50_000),
    "<" + "a".repeat(400_000),
    "http://" + "a.".repeat(200_000),
    "www." + "-".repeat(300_000),
    "&#".repeat(200_000),
    '<font color="white" '.repeat(50_000),
  ];
  for (const shape of shapes) {
    for (const type of ["text/html", "text/plain"]) {
      const raw = encoder.encode(`From: a@example.com\r\nContent-Type: ${type}\r\n\r\n${shape}`);
      const mime = parseMime(raw, limits);
      const facts = analyzeMessage(raw, mime, envelopeFor(mulberry32(1)), "mx.example.org");
      assert(facts.links.length <= 500);
      assert(facts.html.length <= MAX_HTML_CHARS && facts.text.length <= MAX_TEXT_CHARS);
      assertSymbolsSound(set, raw, mime, envelopeFor(mulberry32(2)));
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Rule files

const TOKENS = [
  "[[rule]]\n",
  "[rule]\n",
  'name = "X"\n',
  'name = "SPF_FAIL"\n',
  "name = 3\n",
  'kind = "meta"\n',
  'kind = "check"\n',
  'kind = "dnsbl"\n',
  'kind = "header"\n',
  'expression = "SPF_FAIL && (X || !"\n',
  "expression = '" + "(".repeat(200) + "'\n",
  "expression = '" + "!".repeat(200) + "A'\n",
  'check = "image_only"\n',
  "params = { max_words = [1] }\n",
  "pattern = '/(a+)+/'\n",
  "pattern = '/[/'\n",
  "pattern = '/x/gy'\n",
  "score = 0\n",
  "score = nan\n",
  "score = inf\n",
  "score = 1e400\n",
  "score = 2026-11-29\n",
  'answers = { "127.0.0.2-1" = 1 }\n',
  'answers = { "*" = "a" }\n',
  'zone = ".."\n',
  "header = 'Sub ject'\n",
  "exists = 1\n",
  "spf = []\n",
  "=\n",
  '"""\n',
  "\u0000",
];

function mutateText(text: string, random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const choice = random();
    if (choice < 0.35) {
      out = out.slice(0, at) + TOKENS[Math.floor(random() * TOKENS.length)] + out.slice(at);
    } else if (choice < 0.6) {
      out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 40));
    } else if (choice < 0.8) {
      const c = String.fromCharCode(32 + Math.floor(random() * 95));
      out = out.slice(0, at) + c + out.slice(at + 1);
    } else {
      const from = Math.floor(random() * out.length);
      out = out.slice(0, at) + out.slice(from, from + 200) + out.slice(at);
    }
  }
  return out;
}

function parseOrRuleError(text: string, base?: RuleSet): RuleSet | RuleError {
  try {
    return parseRules(text, "fuzz.toml", base);
  } catch (error) {
    if (error instanceof RuleError) return error;
    throw new Error(`${error}\nfor rules:\n${text.slice(0, 2000)}`);
  }
}

Deno.test("rules fuzz: mutated rule files give a RuleError or a set, nothing else", () => {
  const random = mulberry32(99);
  const message = encoder.encode(
    "From: a@example.com\r\nSubject: FREE!!!\r\n\r\nfree money https://bit.ly/x\r\n",
  );
  const mime = parseMime(message, limits);
  const env = envelopeFor(random);
  let errors = 0;
  let parsed = 0;
  for (let i = 0; i < 600; i++) {
    const start = Math.floor(random() * DEFAULT_RULES.length * 0.9);
    const slice = DEFAULT_RULES.slice(start, start + 400 + Math.floor(random() * 6000));
    const text = mutateText(random() < 0.5 ? DEFAULT_RULES : slice, random);
    const result = parseOrRuleError(text, random() < 0.5 ? defaultRules() : undefined);
    if (result instanceof RuleError) {
      errors++;
      assert(result.message.startsWith("fuzz.toml: "), result.message);
      continue;
    }
    parsed++;
    assertSymbolsSound(mergeRules(defaultRules(), result), message, mime, env);
  }
  assert(errors > 100 && parsed > 10, `errors ${errors}, parsed ${parsed}`);
});

Deno.test("rules fuzz: random meta expressions parse or give a RuleError", () => {
  const random = mulberry32(5);
  const atoms = [
    "SPF_FAIL",
    "DMARC_PASS",
    "X",
    "2",
    "(",
    ")",
    "!",
    "&&",
    "||",
    "+",
    ">=",
    "==",
    "<",
  ];
  for (let i = 0; i < 1000; i++) {
    const length = 1 + Math.floor(random() * 20);
    const words: string[] = [];
    for (let k = 0; k < length; k++) words.push(atoms[Math.floor(random() * atoms.length)]);
    const text = `[[rule]]\nname = "M"\nkind = "meta"\nscore = 1\ndescription = "m"\n` +
      `expression = '${words.join(" ")}'\n`;
    const result = parseOrRuleError(text, defaultRules());
    if (result instanceof RuleError) continue;
    assertSymbolsSound(
      mergeRules(defaultRules(), result),
      encoder.encode("Subject: x\r\n\r\ny"),
      parseMime(encoder.encode("Subject: x\r\n\r\ny"), limits),
      envelopeFor(random),
    );
  }
});
