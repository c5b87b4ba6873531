import { assert, assertEquals } from "../helpers/assert.ts";
import { parseMime } from "../../src/mail/mime.ts";
import { analyzeMessage } from "../../src/spam/analyze.ts";
import { CHECKS } from "../../src/spam/checks.ts";
import { DEFAULT_RULES } from "../../src/spam/default_rules.ts";
import {
  defaultRules,
  dnsListRules,
  evaluateRules,
  hasNestedQuantifier,
  mergeRules,
  parseRules,
  RuleError,
  type RuleSet,
} from "../../src/spam/rules.ts";
import type { Envelope, MessageFacts } from "../../src/spam/types.ts";

const limits = { maxHeaderSize: 256 * 1024, maxDepth: 50, maxParts: 1000 };
const AUTHSERV = "mx.example.org";

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    sender: "alice@example.com",
    recipients: ["bob@example.org"],
    remoteAddress: "192.0.2.1",
    helo: "mail.example.com",
    reverseName: "mail.example.com",
    authenticated: false,
    ...overrides,
  };
}

function facts(message: string, env: Partial<Envelope> = {}): MessageFacts {
  const raw = new TextEncoder().encode(message.replace(/\r?\n/g, "\r\n"));
  return analyzeMessage(raw, parseMime(raw, limits), envelope(env), AUTHSERV);
}

function names(set: RuleSet, message: string, env: Partial<Envelope> = {}): string[] {
  return evaluateRules(set, facts(message, env)).map((s) => s.name);
}

function total(set: RuleSet, message: string, env: Partial<Envelope> = {}): number {
  return evaluateRules(set, facts(message, env)).reduce((sum, s) => sum + s.score, 0);
}

/** A well-formed message with the given extra header lines and body. */
function message(
  extraHeaders: string,
  body = "Hello Bob,\n\nsee you at lunch.\n\nAlice\n",
): string {
  return `Received: from mail.example.com (mail.example.com [192.0.2.1])
  by mx.example.org with ESMTPS id abc; ${new Date().toUTCString()}
From: Alice Example <alice@example.com>
To: Bob <bob@example.org>
Subject: Lunch on Friday
Date: ${new Date().toUTCString()}
Message-ID: <20261128.1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
${extraHeaders === "" ? "" : `${extraHeaders}\n`}
${body}`;
}

const passing = "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com;" +
  " dkim=pass header.d=example.com; dmarc=pass header.from=example.com; iprev=pass";

// ---------------------------------------------------------------------------------------------
// Defaults

Deno.test("rules: the embedded default rules parse, with DNS lists as data", () => {
  const set = defaultRules();
  assert(set.rules.length > 50);
  assert(defaultRules() === set, "parsed once, cached");
  const lists = dnsListRules(set);
  const zen = lists.find((l) => l.zone === "zen.spamhaus.org")!;
  assertEquals(zen.target, "ip");
  assertEquals(Object.keys(zen.answers).sort(), [
    "127.0.0.10",
    "127.0.0.11",
    "127.0.0.2",
    "127.0.0.3",
    "127.0.0.4",
    "127.0.0.5",
    "127.0.0.6",
    "127.0.0.7",
    "127.0.0.9",
  ]);
  assert(lists.some((l) => l.zone === "bl.spamcop.net" && l.target === "ip"));
  assert(lists.some((l) => l.zone === "dbl.spamhaus.org" && l.target === "uri"));
  assert(lists.some((l) => l.zone === "dbl.spamhaus.org" && l.target === "sender"));
  const surbl = lists.find((l) => l.zone === "multi.surbl.org")!;
  assertEquals(surbl.answers["127.0.0.1"], undefined);
  assertEquals(surbl.answers["127.0.0.64"], 2.0);
});

Deno.test("rules: every built-in check is documented in the default rules header", () => {
  const header = DEFAULT_RULES.slice(0, DEFAULT_RULES.indexOf("\n[[rule]]"));
  for (const name of Object.keys(CHECKS)) assert(header.includes(name), `${name} undocumented`);
  for (const kind of ["header", "body", "html", "uri", "auth", "check", "meta", "dnsbl"]) {
    assert(header.includes(`#   ${kind}`), `kind ${kind} undocumented`);
  }
});

Deno.test("rules: a plain, well-formed personal message scores below 1", () => {
  const set = defaultRules();
  const withAuth = total(set, message(passing));
  assert(withAuth < 1, `scored ${withAuth}: ${names(set, message(passing))}`);
  assert(withAuth < 0, "authenticated mail looks legitimate");
  const withoutAuth = total(set, message(""));
  assert(withoutAuth < 1, `scored ${withoutAuth}: ${names(set, message(""))}`);
  assertEquals(names(set, message("")), []);
});

// ---------------------------------------------------------------------------------------------
// Header sanity

Deno.test("rules: missing Date and Message-ID and a From without domain, and the meta", () => {
  const got = names(
    defaultRules(),
    "From: alice\nTo: bob@example.org\nSubject: hi\nContent-Type: text/plain\n\nhello\n",
  );
  for (const n of ["MISSING_DATE", "MISSING_MID", "FROM_NO_DOMAIN", "MIME_NO_VERSION"]) {
    assert(got.includes(n), `${n} in ${got}`);
  }
  assert(got.includes("HEADERS_SLOPPY"), got.join());
  assert(!got.includes("MISSING_FROM"));
});

Deno.test("rules: Date far in the future, far in the past, unreadable", () => {
  const set = defaultRules();
  const swap = (date: string) => message("").replace(/^Date: .*$/m, `Date: ${date}`);
  assert(names(set, swap("Mon, 1 Jan 2099 00:00:00 +0000")).includes("DATE_IN_FUTURE"));
  assert(names(set, swap("Fri, 1 Jan 1999 00:00:00 +0000")).includes("DATE_IN_PAST"));
  assert(names(set, swap("yesterday-ish")).includes("BAD_DATE"));
  assert(!names(set, swap("yesterday-ish")).includes("MISSING_DATE"));
});

Deno.test("rules: bad Message-ID, missing From, multiple From, duplicate Subject", () => {
  const set = defaultRules();
  const badMid = message("").replace(/^Message-ID: .*$/m, "Message-ID: not-an-id");
  assert(names(set, badMid).includes("BAD_MID"));
  const noFrom = message("").replace(/^From: .*\n/m, "");
  assert(names(set, noFrom).includes("MISSING_FROM"));
  const twoFrom = message("").replace(/^From: .*$/m, "From: a@example.com, b@example.com");
  assert(names(set, twoFrom).includes("FROM_MULTIPLE"));
  const dup = names(set, message("Subject: again"));
  assert(dup.includes("DUPLICATE_HEADER"), dup.join());
  assert(names(set, message("")).every((n) => n !== "DUPLICATE_HEADER"));
});

Deno.test("rules: multipart without boundary, missing and empty Subject, missing To", () => {
  const set = defaultRules();
  const broken = message("").replace(
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: multipart/mixed",
  );
  assert(names(set, broken).includes("MULTIPART_BROKEN"));
  assert(!names(set, message("")).includes("MULTIPART_BROKEN"));
  assert(names(set, message("").replace(/^Subject: .*\n/m, "")).includes("MISSING_SUBJECT"));
  assert(names(set, message("").replace(/^Subject: .*$/m, "Subject:  ")).includes("EMPTY_SUBJECT"));
  assert(names(set, message("").replace(/^To: .*\n/m, "")).includes("MISSING_TO"));
});

// ---------------------------------------------------------------------------------------------
// Authentication

Deno.test("rules: auth results score DMARC and SPF, from our own field only", () => {
  const set = defaultRules();
  const failing = "Authentication-Results: mx.example.org; spf=fail smtp.mailfrom=example.com;" +
    " dkim=none; dmarc=fail header.from=example.com";
  const got = evaluateRules(set, facts(message(failing)));
  const byName = new Map(got.map((s) => [s.name, s.score]));
  assertEquals(byName.get("DMARC_FAIL"), 3.0);
  assertEquals(byName.get("SPF_FAIL"), 1.5);
  assert(!byName.has("DKIM_VALID"));
  const forged = failing.replace("mx.example.org", "elsewhere.example");
  assert(!names(set, message(forged)).includes("DMARC_FAIL"));
  const good = names(set, message(passing));
  for (const n of ["DMARC_PASS", "DKIM_VALID", "SPF_PASS"]) assert(good.includes(n), n);
  const soft = "Authentication-Results: mx.example.org; spf=softfail; iprev=fail";
  assertEquals(names(set, message(soft)).sort(), ["IPREV_FAIL", "SPF_SOFTFAIL"]);
});

Deno.test("rules: an auth rule with several methods needs them all; dkim 'none' when unsigned", () => {
  const set = parseRules(
    `[[rule]]
name = "BOTH"
kind = "auth"
spf = ["fail", "softfail"]
dmarc = "fail"
score = 1
description = "both"

[[rule]]
name = "UNSIGNED"
kind = "auth"
dkim = "none"
score = 1
description = "no signature"`,
    "test.toml",
  );
  const ar = (v: string) => message(`Authentication-Results: mx.example.org; ${v}`);
  assertEquals(names(set, ar("spf=softfail; dmarc=fail")), ["BOTH", "UNSIGNED"]);
  assertEquals(names(set, ar("spf=softfail; dmarc=pass; dkim=pass header.d=x.example")), []);
});

// ---------------------------------------------------------------------------------------------
// HELO and Received

Deno.test("rules: HELO checks", () => {
  const set = defaultRules();
  const helo = (name: string, extra: Partial<Envelope> = {}) =>
    names(set, message(""), { helo: name, ...extra });
  assert(helo("192.0.2.1").includes("HELO_BARE_IP"));
  assert(!helo("192.0.2.1").includes("HELO_IP_MISMATCH"));
  assert(helo("[192.0.2.1]").includes("HELO_ADDRESS_LITERAL"));
  assert(helo("[198.51.100.7]").includes("HELO_IP_MISMATCH"));
  assert(helo("exchange01").includes("HELO_NOT_FQDN"));
  assert(helo("localhost").includes("HELO_LOCALHOST"));
  assert(helo("localhost.localdomain").includes("HELO_LOCALHOST"));
  const ours = helo("example.org");
  assert(ours.includes("HELO_IS_OURS"), ours.join());
  assert(ours.includes("HELO_FORGED_NO_SPF"), "no SPF pass: the meta adds");
  assertEquals(helo("mail.example.com"), []);
});

Deno.test("rules: helo_is_ours takes our names as params", () => {
  const set = parseRules(
    `[[rule]]
name = "HELO_US"
kind = "check"
check = "helo_is_ours"
params = { names = ["MX.Example.Org"] }
score = 2
description = "claims to be us"`,
    "local.toml",
  );
  assertEquals(names(set, message(""), { helo: "mx.example.org" }), ["HELO_US"]);
  assertEquals(names(set, message(""), { helo: "mx.example.net" }), []);
});

Deno.test("rules: malformed Received and too many hops", () => {
  const set = defaultRules();
  const noBy = `Received: from somewhere; ${new Date().toUTCString()}\n`;
  assert(names(set, noBy + message("")).includes("RECEIVED_MALFORMED"));
  const qmail = `Received: (qmail 123 invoked from network); ${new Date().toUTCString()}\n`;
  assert(!names(set, qmail + message("")).includes("RECEIVED_MALFORMED"));
  const hop = `Received: from a.example by b.example; ${new Date().toUTCString()}\n`;
  const many = names(set, hop.repeat(30) + message(""));
  assert(many.includes("RECEIVED_TOO_MANY"));
  assert(!many.includes("RECEIVED_MALFORMED"));
});

// ---------------------------------------------------------------------------------------------
// Content

function html(body: string, extraHeaders = ""): string {
  return message(extraHeaders, body).replace(
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: text/html; charset=utf-8",
  );
}

Deno.test("rules: HTML only, but not with a text alternative", () => {
  const set = defaultRules();
  assert(names(set, html("<p>Hello Bob, see you at lunch.</p>")).includes("HTML_ONLY"));
  const alternative = message("").replace(
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: multipart/alternative; boundary=b",
  ).replace(
    /\n\nHello Bob[\s\S]*$/,
    "\n\n--b\nContent-Type: text/plain\n\nHello\n--b\nContent-Type: text/html\n\n<p>Hello</p>\n--b--\n",
  );
  assert(!names(set, alternative).includes("HTML_ONLY"), names(set, alternative).join());
});

Deno.test("rules: hidden text in HTML (display:none, tiny, white on white)", () => {
  const set = defaultRules();
  const filler = "lorem ipsum dolor sit amet consectetur ".repeat(8);
  const hidden = (open: string, close: string) =>
    names(set, html(`<p>Buy now</p>${open}${filler}${close}`));
  assert(hidden('<div style="display: none">', "</div>").includes("HTML_HIDDEN_TEXT"));
  assert(hidden('<span style="font-size:0px">', "</span>").includes("HTML_HIDDEN_TEXT"));
  assert(hidden('<font color="#ffffff">', "</font>").includes("HTML_HIDDEN_TEXT"));
  assert(hidden('<p style="visibility:hidden">', "</p>").includes("HTML_HIDDEN_TEXT"));
  assert(!hidden('<p style="color:#fff; background:#000">', "</p>").includes("HTML_HIDDEN_TEXT"));
  assert(!hidden('<p style="font-size:14px">', "</p>").includes("HTML_HIDDEN_TEXT"));
  // A newsletter preheader: short hidden text is normal.
  const preheader = html('<span style="display:none">Your weekly digest</span><p>Hi</p>');
  assert(!names(set, preheader).includes("HTML_HIDDEN_TEXT"));
});

Deno.test("rules: image-only HTML", () => {
  const set = defaultRules();
  assert(
    names(set, html('<a href="http://x.example/"><img src="http://x.example/a.png"></a>'))
      .includes("IMAGE_ONLY"),
  );
  const worded = html(`<img src="cid:logo"><p>${"plenty of real words here ".repeat(6)}</p>`);
  assert(!names(set, worded).includes("IMAGE_ONLY"));
  const photo = withAttachment("holiday.jpg", "image/jpeg");
  assert(!names(set, photo).includes("IMAGE_ONLY"), "a photo attached to a short note");
});

Deno.test("rules: link text showing another domain, shorteners, punycode, homographs", () => {
  const set = defaultRules();
  const mismatch = evaluateRules(
    set,
    facts(html('<a href="http://evil.example/login">https://www.paypal.com/signin</a>')),
  );
  const symbol = mismatch.find((s) => s.name === "LINK_TEXT_MISMATCH");
  assertEquals(symbol?.detail, "www.paypal.com -> evil.example");
  const same = html('<a href="https://email.paypal.com/x">www.paypal.com</a>');
  assert(!names(set, same).includes("LINK_TEXT_MISMATCH"));
  const words = html('<a href="https://evil.example/">Click here</a>');
  assert(!names(set, words).includes("LINK_TEXT_MISMATCH"));
  const short = names(set, message("", "see https://bit.ly/3abc\n"));
  assert(short.includes("URL_SHORTENER") && short.includes("SHORTENER_NO_DKIM"), short.join());
  assert(names(set, message("", "see https://xn--mnchen-3ya.de/\n")).includes("PUNYCODE_LINK"));
  assert(!names(set, message("", "see https://xn--mnchen-3ya.de/\n")).includes("HOMOGRAPH_LINK"));
  const puny = names(set, message("", "see https://xn--pypal-4ve.com/\n"));
  assert(puny.includes("HOMOGRAPH_LINK"), puny.join());
  const cyrillic = names(set, html('<a href="https://раураl.com/">log in</a>'));
  assert(cyrillic.includes("HOMOGRAPH_LINK"), "all-lookalike Cyrillic label");
  const russian = names(set, message("", "see https://пример.рф/\n"));
  assert(!russian.includes("HOMOGRAPH_LINK"), "a real Cyrillic domain is not a homograph");
  const server = names(set, message("", "see https://сервер.рф/\n"));
  assert(!server.includes("HOMOGRAPH_LINK"), "в looks Latin only as a capital");
});

Deno.test("rules: homograph From domain", () => {
  const set = defaultRules();
  const spoof = message("").replace(/^From: .*$/m, "From: PayPal <service@pаypal.com>");
  assert(names(set, spoof).includes("HOMOGRAPH_FROM"));
  assert(!names(set, message("")).includes("HOMOGRAPH_FROM"));
});

Deno.test("rules: display name with another address; Reply-To at freemail", () => {
  const set = defaultRules();
  const spoof = message("").replace(
    /^From: .*$/m,
    'From: "ceo@bigcorp.example" <random123@gmail.com>',
  );
  assert(names(set, spoof).includes("DISPLAY_NAME_ADDRESS"));
  const same = message("").replace(
    /^From: .*$/m,
    'From: "support@example.com" <noreply@example.com>',
  );
  assert(!names(set, same).includes("DISPLAY_NAME_ADDRESS"));
  assert(names(set, message("Reply-To: payments@gmail.com")).includes("REPLY_TO_FREEMAIL"));
  assert(!names(set, message("Reply-To: alice@example.com")).includes("REPLY_TO_FREEMAIL"));
});

Deno.test("rules: subject in capitals or with !!!", () => {
  const set = defaultRules();
  const subject = (s: string) => names(set, message("").replace(/^Subject: .*$/m, `Subject: ${s}`));
  assert(subject("URGENT BUSINESS PROPOSAL").includes("SUBJ_ALL_CAPS"));
  assert(!subject("RE: FYI").includes("SUBJ_ALL_CAPS"), "short capitals are fine");
  assert(subject("Act now!!!").includes("SUBJ_PUNCTUATION"));
  assert(!subject("Really?!").includes("SUBJ_PUNCTUATION"));
});

Deno.test("rules: URI rules on URLs and hosts; body and HTML regexes", () => {
  const set = defaultRules();
  assert(names(set, message("", "go to http://192.0.2.55/login\n")).includes("URI_NUMERIC_HOST"));
  assert(names(set, html('<a href="javascript:alert(1)">x</a>')).includes("URI_JAVASCRIPT"));
  assert(
    names(set, message("", "http://www.bank.example@evil.example/\n")).includes("URI_USERINFO"),
  );
  const form = "<form action=x><input name=pw></form>";
  assert(!names(set, html(form)).includes("PHISH_FORM"), "a form alone is no sign");
  assert(names(set, html(`<p>Verify your account</p>${form}`)).includes("PHISH_FORM"));
  const phish = names(
    set,
    html(
      '<p>Your account has been suspended.</p><a href="http://evil.example/">www.bank.example</a>',
    ),
  );
  assert(phish.includes("BODY_ACCOUNT_SUSPENDED") && phish.includes("PHISH_LINK_NO_DMARC"));
  const sextortion = names(
    set,
    message("", "I recorded you. Pay to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh now.\n"),
  );
  assert(sextortion.includes("SEXTORTION_BITCOIN"), sextortion.join());
  assert(!sextortion.some((n) => n.startsWith("__")), "helper rules are never reported");
});

Deno.test("rules: bulk mail phrases, each alone below the junk threshold", () => {
  const set = defaultRules();
  const body = (text: string) => names(set, message("", `${text}\n`));
  assert(body("Dear Friend, read on.").includes("BODY_DEAR_SOMETHING"));
  assert(!body("Dear Friends of the club, lunch is at noon.").includes("BODY_DEAR_SOMETHING"));
  assert(body("Click here to be removed from our list.").includes("BODY_REMOVE_ME"));
  assert(body("Reply with REMOVE in the subject line.").includes("BODY_REMOVE_ME"));
  assert(!body("The file was removed from the server.").includes("BODY_REMOVE_ME"));
  assert(body("This is not spam: you signed up.").includes("BODY_NOT_SPAM_CLAIM"));
  assert(body("Results guaranteed!").includes("BODY_GUARANTEED_BANG"));
  assert(body("the sum of 25 million United States dollars").includes("BODY_MILLION_USD"));
  const money = body("Dear friend, earn $1,000,000 at home.");
  assert(money.includes("MONEY_BULK_MAIL"), money.join());
  assert(!body("The budget is $2,000,000 this year.").includes("MONEY_BULK_MAIL"));
  assert(total(set, message("", "Dear Friend, click here to be removed.\n")) < 5);
});

Deno.test("rules: advance-fee phrases count together", () => {
  const set = defaultRules();
  const one = names(set, message("", "I need a foreign partner.\n"));
  assert(!one.includes("ADVANCE_FEE_PHRASES"), "one phrase is not enough");
  const three = names(
    set,
    message(
      "",
      "I need a foreign partner for the transfer of the fund. Your share of the fund is 30%." +
        " Keep this in strict confidence.\n",
    ),
  );
  assert(three.includes("ADVANCE_FEE_PHRASES") && three.includes("ADVANCE_FEE_PHRASES_MANY"));
});

Deno.test("rules: Outlook shapes, forged and ratware", () => {
  const set = defaultRules();
  const oe = "X-Mailer: Microsoft Outlook Express 6.00.2600.0000";
  const withId = (id: string, extra: string) =>
    names(set, message(extra).replace(/^Message-ID: .*$/m, `Message-ID: ${id}`));
  assert(withId("<20261128.1@example.com>", oe).includes("FORGED_MUA_OUTLOOK"));
  const real = withId(
    "<001a01c24e6f$4a3b2c10$0200a8c0@home>",
    `${oe}\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000`,
  );
  assert(!real.includes("FORGED_MUA_OUTLOOK") && !real.includes("RATWARE_MS_HASH"), real.join());
  const ratware = withId("<001a01c24e6f$4a3b2c10$0200a8c0@home>", "");
  assert(ratware.includes("RATWARE_MS_HASH") && ratware.includes("RATWARE_OUTLOOK_NONAME"));
  const modern = withId(
    "<000001d2a1b2$4a3b2c10$0200a8c0@example.com>",
    "X-Mailer: Microsoft Outlook 16.0",
  );
  assert(!modern.includes("RATWARE_MS_HASH"), "Outlook 2007 and later write no X-MimeOLE");
});

Deno.test("rules: a Date a few hours ahead", () => {
  const set = defaultRules();
  const ahead = (hours: number) =>
    names(
      set,
      message("").replace(
        /^Date: .*$/m,
        `Date: ${new Date(Date.now() + hours * 3600_000).toUTCString()}`,
      ),
    );
  const five = ahead(5);
  assert(five.includes("DATE_IN_FUTURE_3H") && !five.includes("DATE_IN_FUTURE"), five.join());
  assert(!ahead(1).includes("DATE_IN_FUTURE_3H"));
});

// ---------------------------------------------------------------------------------------------
// Attachments

function withAttachment(name: string, type = "application/octet-stream"): string {
  return message("").replace(
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: multipart/mixed; boundary=m",
  ).replace(
    /\n\nHello Bob[\s\S]*$/,
    `\n\n--m\nContent-Type: text/plain\n\nsee attached\n--m\nContent-Type: ${type}; name="${name}"\n` +
      "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nAAAA\n--m--\n",
  );
}

Deno.test("rules: attachments by extension, double extension and type", () => {
  const set = defaultRules();
  assert(names(set, withAttachment("setup.exe")).includes("ATTACH_EXECUTABLE"));
  const double = names(set, withAttachment("invoice.pdf.exe"));
  assert(double.includes("ATTACH_DOUBLE_EXT") && double.includes("ATTACH_EXECUTABLE"));
  assert(
    names(set, withAttachment("run.bin", "application/x-msdownload")).includes(
      "ATTACH_EXEC_TYPE",
    ),
  );
  assert(names(set, withAttachment("budget.xlsm")).includes("ATTACH_MACRO_DOC"));
  assert(names(set, withAttachment("photos.iso")).includes("ATTACH_DISK_IMAGE"));
  assert(names(set, withAttachment("tool.js")).includes("ATTACH_SCRIPT"));
  assertEquals(names(set, withAttachment("report.pdf", "application/pdf")), []);
  assert(total(set, withAttachment("invoice.pdf.exe")) >= 5, "malware is junk on its own");
});

// ---------------------------------------------------------------------------------------------
// Meta, override, disable

const SMALL = `
[[rule]]
name = "SAYS_FREE"
kind = "body"
pattern = '/\\bfree\\b/i'
score = 1.0
description = "says free"

[[rule]]
name = "SAYS_MONEY"
kind = "body"
pattern = '/\\bmoney\\b/i'
score = 1.0
description = "says money"

[[rule]]
name = "SUBJ_OFFER"
kind = "header"
header = "subject"
pattern = '/offer/i'
score = 0.5
description = "subject offers"

[[rule]]
name = "TWO_OF_THREE"
kind = "meta"
expression = 'SAYS_FREE + SAYS_MONEY + SUBJ_OFFER >= 2 && !HAS_LIST_ID'
score = 2.0
description = "two of three"

[[rule]]
name = "HAS_LIST_ID"
kind = "header"
header = "List-Id"
exists = true
score = -0.5
description = "a mailing list"
`;

Deno.test("rules: meta rules count matches and combine with ! && ||", () => {
  const set = parseRules(SMALL, "small.toml");
  assertEquals(names(set, message("", "free money\n")), [
    "SAYS_FREE",
    "SAYS_MONEY",
    "TWO_OF_THREE",
  ]);
  assertEquals(names(set, message("", "free lunch\n")), ["SAYS_FREE"]);
  assertEquals(names(set, message("List-Id: <x.example>", "free money\n")), [
    "SAYS_FREE",
    "SAYS_MONEY",
    "HAS_LIST_ID",
  ]);
});

Deno.test("rules: an override replaces a rule by name, score 0 disables, new rules add", () => {
  const base = parseRules(SMALL, "small.toml");
  const override = parseRules(
    `[[rule]]
name = "SAYS_MONEY"
score = 0

[[rule]]
name = "SAYS_FREE"
kind = "body"
pattern = '/\\bgratis\\b/i'
score = 0.7
description = "says gratis"

[[rule]]
name = "FREE_AND_OFFER"
kind = "meta"
expression = 'SAYS_FREE && SUBJ_OFFER'
score = 1.5
description = "uses base rules"`,
    "local.toml",
    base,
  );
  const merged = mergeRules(base, override);
  assertEquals(merged.rules.map((r) => r.name), [
    "SAYS_FREE",
    "SAYS_MONEY",
    "SUBJ_OFFER",
    "TWO_OF_THREE",
    "HAS_LIST_ID",
    "FREE_AND_OFFER",
  ]);
  const offer = message("").replace(/^Subject: .*$/m, "Subject: An offer");
  const got = evaluateRules(merged, facts(offer.replace("see you at lunch", "gratis money")));
  assertEquals(got, [
    { name: "SAYS_FREE", score: 0.7 },
    { name: "SUBJ_OFFER", score: 0.5 },
    { name: "TWO_OF_THREE", score: 2.0 },
    { name: "FREE_AND_OFFER", score: 1.5 },
  ]);
  const disabledMeta = mergeRules(
    merged,
    parseRules('[[rule]]\nname = "TWO_OF_THREE"\nscore = 0', "x"),
  );
  assert(!evaluateRules(disabledMeta, facts(offer)).some((s) => s.name === "TWO_OF_THREE"));
});

Deno.test("rules: disabling a default rule and a DNS list by override", () => {
  const override = parseRules(
    '[[rule]]\nname = "HTML_ONLY"\nscore = 0\n\n[[rule]]\nname = "RCVD_IN_SPAMCOP"\nscore = 0\n',
    "local.toml",
  );
  const merged = mergeRules(defaultRules(), override);
  assert(!names(merged, html("<p>Hello Bob</p>")).includes("HTML_ONLY"));
  assert(!dnsListRules(merged).some((l) => l.zone === "bl.spamcop.net"));
  assert(dnsListRules(merged).some((l) => l.zone === "zen.spamhaus.org"));
});

// ---------------------------------------------------------------------------------------------
// Parse errors

function parseError(text: string): string {
  try {
    parseRules(text, "local.toml");
  } catch (error) {
    assert(error instanceof RuleError, `not a RuleError: ${error}`);
    assert(error.message.startsWith("local.toml: "), error.message);
    return error.message;
  }
  throw new Error("parsed without error");
}

function rule(body: string, name = "R1"): string {
  return `[[rule]]\nname = "${name}"\ndescription = "d"\n${body}\n`;
}

Deno.test("rules: parse errors name the file and the rule and say what is wrong", () => {
  const cases: [string, RegExp][] = [
    [
      rule('kind = "body"\npattern = "/x/"\nscore = 1\ncolour = "red"'),
      /rule R1: unknown key "colour"/,
    ],
    [rule('kind = "body"\npattern = "/(x/"\nscore = 1'), /rule R1: bad regex \/\(x\//],
    [rule('kind = "body"\npattern = "/(a+)+$/"\nscore = 1'), /rule R1: .*catastrophic/],
    [rule('kind = "body"\npattern = "x"\nscore = 1'), /rule R1: "pattern" must be written/],
    [rule('kind = "body"\npattern = "/x/g"\nscore = 1'), /rule R1: regex flags "g"/],
    [rule('kind = "check"\ncheck = "is_spam"\nscore = 1'), /rule R1: unknown check "is_spam"/],
    [
      rule('kind = "check"\ncheck = "image_only"\nparams = { words = 3 }\nscore = 1'),
      /rule R1: check "image_only" has no param "words"/,
    ],
    [
      rule('kind = "check"\ncheck = "image_only"\nparams = { max_words = "3" }\nscore = 1'),
      /rule R1: param "max_words" .* wrong type/,
    ],
    [rule('kind = "body"\npattern = "/x/"'), /rule R1: missing "score"/],
    [rule('kind = "bodi"\npattern = "/x/"\nscore = 1'), /rule R1: unknown kind "bodi"/],
    [rule('kind = "body"\npattern = "/x/"\nscore = "high"'), /rule R1: "score" must be a number/],
    [rule('pattern = "/x/"\nscore = 1'), /rule R1: missing "kind"/],
    [
      rule('kind = "body"\npattern = "/x/"\nscore = 1') +
      rule('kind = "body"\npattern = "/y/"\nscore = 1'),
      /rule R1: defined twice/,
    ],
    [rule('kind = "meta"\nexpression = "A && B"\nscore = 1'), /rule R1: refers to unknown rule A/],
    [rule('kind = "meta"\nexpression = "R1 &&"\nscore = 1'), /rule R1: expression "R1 &&": ends/],
    [rule('kind = "meta"\nexpression = "(R2"\nscore = 1'), /rule R1: expression .*missing "\)"/],
    [rule('kind = "meta"\nexpression = "a or b"\nscore = 1'), /rule R1: expression .*unexpected/],
    [
      rule('kind = "meta"\nexpression = "R2"\nscore = 1') +
      rule('kind = "meta"\nexpression = "R1"\nscore = 1', "R2"),
      /cycle: R1 -> R2 -> R1/,
    ],
    [
      rule('kind = "dnsbl"\nzone = "bl.example"\nscore = 1') +
      rule('kind = "meta"\nexpression = "R1"\nscore = 1', "R2"),
      /rule R2: refers to DNS list rule R1/,
    ],
    [
      rule('kind = "dnsbl"\nzone = "bl.example"\nanswers = { "127.0.0.300" = 1 }'),
      /rule R1: bad answer "127.0.0.300"/,
    ],
    [rule('kind = "dnsbl"\nzone = "bl.example"\ntarget = "body"\nscore = 1'), /"target" must be/],
    [rule('kind = "header"\nheader = "Subject"\nscore = 1'), /needs exactly one of/],
    [rule('kind = "auth"\nscore = 1'), /rule R1: needs at least one of spf/],
    [rule('kind = "body"\npattern = "/x/"\nscore = 1', "lower_case"), /rule lower_case: name must/],
    [rule('kind = "body"\npattern = "/x/"\nscore = 1', "__HELPER"), /rule __HELPER: helper rules/],
    ["[[rule]\nname = ", /local.toml: not valid TOML/],
    ["title = 'x'", /local.toml: unknown top-level key "title"/],
    ["rule = 3", /local.toml: rules are written \[\[rule\]\]/],
  ];
  for (const [text, expected] of cases) {
    const got = parseError(text);
    assert(expected.test(got), `${JSON.stringify(text)}\n  gave: ${got}\n  wanted: ${expected}`);
  }
});

Deno.test("rules: an empty file is an empty set; a disabled unknown name is harmless", () => {
  assertEquals(parseRules("", "empty.toml").rules.length, 0);
  const merged = mergeRules(defaultRules(), parseRules('[[rule]]\nname = "GONE"\nscore = 0', "x"));
  assertEquals(merged.rules.length, defaultRules().rules.length + 1);
});

Deno.test("rules: the nested quantifier guard", () => {
  for (const bad of ["(a+)+", "(a*)*", "(?:\\w+\\s?)*$", "(a?){20}", "((ab)*c)+", "(x{1,3})+"]) {
    assert(hasNestedQuantifier(bad), bad);
  }
  for (const good of ["a+b*", "(?:\\.\\d{1,3}){3}", "(ab)+", "[(a+)]+", "\\(a+\\)+", "(a+)?"]) {
    assert(!hasNestedQuantifier(good), good);
  }
});

Deno.test("rules: a TOML syntax error gives its line", () => {
  const message = parseError('[[rule]]\nname = "A"\nscore = = 1\n');
  assert(/not valid TOML: line 3, column \d+: /.test(message), message);
});

Deno.test("rules: DNS list answers and ranges", () => {
  const set = parseRules(
    `[[rule]]
name = "LIST_A"
kind = "dnsbl"
zone = "Bl.Example."
answers = { "127.0.0.2" = 2.0, "127.0.0.10-12" = 1.0 }
description = "a"

[[rule]]
name = "LIST_B"
kind = "uribl"
zone = "dbl.example"
target = "sender"
score = 1.5
description = "b"`,
    "lists.toml",
  );
  assertEquals(dnsListRules(set), [
    {
      name: "LIST_A",
      target: "ip",
      zone: "bl.example",
      answers: { "127.0.0.2": 2, "127.0.0.10": 1, "127.0.0.11": 1, "127.0.0.12": 1 },
      description: "a",
    },
    {
      name: "LIST_B",
      target: "sender",
      zone: "dbl.example",
      answers: { "*": 1.5 },
      description: "b",
    },
  ]);
  assertEquals(evaluateRules(set, facts(message(""))), [], "DNS lists are not evaluated here");
  for (const bad of ["127.0.0.5-2", "127.0.0.2-256", "127.0.0", "127.0.0.1-127.0.0.3"]) {
    assert(
      /bad answer/.test(
        parseError(rule(`kind = "dnsbl"\nzone = "bl.example"\nanswers = { "${bad}" = 1 }`)),
      ),
      bad,
    );
  }
});
