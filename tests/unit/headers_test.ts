import assert from "node:assert/strict";
import {
  baseSubject,
  decodeEncodedWords,
  parseAddressList,
  parseDate,
  parseGroupedAddresses,
  parseHeaderFields,
  parseMessageIds,
  unfold,
} from "../../src/mail/headers.ts";
import { parseMime } from "../../src/mail/mime.ts";

const fixtureDir = new URL("../fixtures/mime/", import.meta.url);

function fixtureHeader(name: string): Map<string, string> {
  const raw = Deno.readFileSync(new URL(`${name}.eml`, fixtureDir));
  const root = parseMime(raw, { maxHeaderSize: 65536, maxDepth: 10, maxParts: 100 });
  const fields = new Map<string, string>();
  for (const f of parseHeaderFields(raw, root.headerStart, root.headerEnd)) {
    fields.set(f.name.toLowerCase(), decodeEncodedWords(unfold(f.raw)).trim());
  }
  return fields;
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

Deno.test("parseHeaderFields: names, raw values, offsets, folding, junk lines, 8-bit", () => {
  const text = "Subject: hi\r\n  there\r\nno colon here\r\n" +
    "X-Utf8: caf\xc3\xa9\r\nX-Latin: caf\xe9\r\nBad Name: x\r\nTo : a@b\r\n\r\nBody: no";
  const fields = parseHeaderFields(bytes(text), 0, text.length);
  assert.deepEqual(fields.map((f) => [f.name, f.raw]), [
    ["Subject", " hi\r\n  there"],
    ["X-Utf8", " café"],
    ["X-Latin", " café"],
    ["To", " a@b"],
  ]);
  assert.deepEqual([fields[0].start, fields[0].end], [0, 22]);
  assert.equal(text.slice(fields[3].start, fields[3].end), "To : a@b\r\n");
  assert.equal(unfold(fields[0].raw), " hi  there");
  const lf = "A: 1\n b\nC: 2\n\nD: 3";
  assert.deepEqual(parseHeaderFields(bytes(lf), 0, lf.length).map((f) => f.raw), [" 1\n b", " 2"]);
  const cr = "A: 1\rB: 2\r\rC: 3";
  assert.deepEqual(parseHeaderFields(bytes(cr), 0, cr.length).map((f) => f.name), ["A", "B"]);
  assert.deepEqual(parseHeaderFields(bytes(text), 13, 22), []);
  assert.deepEqual(parseHeaderFields(new Uint8Array(0), 0, 0), []);
});

Deno.test("decodeEncodedWords: Q and B in many charsets, joining, broken words", () => {
  const cases: [string, string][] = [
    ["=?utf-8?Q?Caf=C3=A9?=", "Café"],
    ["=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"],
    ["=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"],
    ["=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=", "ab"],
    ["=?utf-8?Q?a?= b =?utf-8?Q?c?=", "a b c"],
    ["=?utf-8?Q?a_b?=", "a b"],
    ["=?koi8-r?B?8NLJ18XU?=", "Привет"],
    ["=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト"],
    ["=?gb2312?B?1tDOxA==?=", "中文"],
    ["=?big5?B?pKSk5Q==?=", "中文"],
    ["=?shift_jis?B?g2WDWINn?=", "テスト"],
    ["=?windows-1252?Q?=80uro?=", "€uro"],
    ["=?euc-kr?B?x9Gx2w==?=", "한글"],
    ["=?utf-8*en?Q?lang?=", "lang"],
    ["=?utf-7?Q?Hi_+Jjo-?=", "Hi ☺"],
    // A UTF-8 character split across two B words, then a word with broken base64.
    ["=?utf-8?B?" + btoa("\xc3") + "?= =?utf-8?B?" + btoa("\xa9") + "?=", "é"],
    ["=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?="],
    ["=?utf-8?B?***?=", "=?utf-8?B?***?="],
    ["=?utf-8?B?k=?= x", "=?utf-8?B?k=?= x"],
    ["=?utf-8?X?abc?=", "=?utf-8?X?abc?="],
    ["plain text", "plain text"],
    ["=?utf-8?Q?=ZZ?=", "=ZZ"],
    ["pre=?utf-8?Q?x?=post", "prexpost"],
  ];
  for (const [input, want] of cases) assert.equal(decodeEncodedWords(input), want, input);
});

Deno.test("parseAddressList: names, quotes, comments, groups, garbage", () => {
  assert.deepEqual(parseAddressList('"Doe, John" <john@example.com>, jane@example.com'), [
    { name: "Doe, John", email: "john@example.com" },
    { name: null, email: "jane@example.com" },
  ]);
  assert.deepEqual(parseAddressList("=?utf-8?Q?J=C3=BCrgen?= M <j@x.de>"), [
    { name: "Jürgen M", email: "j@x.de" },
  ]);
  assert.deepEqual(parseAddressList('"=?utf-8?B?w6k=?=" <e@x>'), [{ name: "é", email: "e@x" }]);
  assert.deepEqual(parseAddressList("john@example.com (John Doe)"), [
    { name: "John Doe", email: "john@example.com" },
  ]);
  assert.deepEqual(parseAddressList("John Doe john@example.com"), [
    { name: "John Doe", email: "john@example.com" },
  ]);
  assert.deepEqual(parseAddressList("team: a@x, B <b@x>;, c@x"), [
    { name: null, email: "a@x" },
    { name: "B", email: "b@x" },
    { name: null, email: "c@x" },
  ]);
  assert.deepEqual(parseAddressList("undisclosed-recipients:;"), []);
  assert.deepEqual(parseAddressList("<@route.a,@route.b:user@host>"), [{
    name: null,
    email: "user@host",
  }]);
  assert.deepEqual(parseAddressList('"quoted local"@x.org'), [{
    name: null,
    email: '"quoted local"@x.org',
  }]);
  assert.deepEqual(parseAddressList("user@[192.0.2.1]"), [{
    name: null,
    email: "user@[192.0.2.1]",
  }]);
  assert.deepEqual(parseAddressList("postmaster"), [{ name: null, email: "postmaster" }]);
  assert.deepEqual(parseAddressList("Just A Name"), [{ name: "Just A Name", email: "" }]);
  assert.deepEqual(parseAddressList("A <a@x"), [{ name: "A", email: "a@x" }]);
  assert.deepEqual(parseAddressList('"unterminated <u@x>'), [{
    name: "unterminated <u@x>",
    email: "",
  }]);
  assert.deepEqual(parseAddressList(",,, ;;; <> ()"), []);
  assert.deepEqual(parseAddressList(""), []);
  assert.deepEqual(parseAddressList("a@x,\r\n\tb@y"), [{ name: null, email: "a@x" }, {
    name: null,
    email: "b@y",
  }]);
});

Deno.test("parseGroupedAddresses: groups kept for IMAP ENVELOPE", () => {
  assert.deepEqual(parseGroupedAddresses('a@x, Friends: b@x, "C" <c@x>; d@x, Empty:;'), [
    { name: null, email: "a@x" },
    { name: "Friends", addresses: [{ name: null, email: "b@x" }, { name: "C", email: "c@x" }] },
    { name: null, email: "d@x" },
    { name: "Empty", addresses: [] },
  ]);
  assert.deepEqual(parseGroupedAddresses("Unclosed: a@x"), [
    { name: "Unclosed", addresses: [{ name: null, email: "a@x" }] },
  ]);
});

Deno.test("parseMessageIds: brackets, comments, lenient forms", () => {
  assert.deepEqual(parseMessageIds("<a@b> <c@d>"), ["a@b", "c@d"]);
  assert.deepEqual(parseMessageIds("<a@b>(comment)\r\n <c@d>,<e@f>"), ["a@b", "c@d", "e@f"]);
  assert.deepEqual(parseMessageIds("< spaced @ id >"), ["spaced@id"]);
  assert.deepEqual(parseMessageIds("bare@id.example"), ["bare@id.example"]);
  assert.deepEqual(parseMessageIds("no ids here"), []);
  assert.deepEqual(parseMessageIds("<>"), []);
  assert.deepEqual(parseMessageIds(""), []);
});

Deno.test("parseDate: RFC 5322 and obsolete forms", () => {
  const iso = (s: string) => parseDate(s)?.toISOString() ?? null;
  assert.equal(iso("Fri, 21 Nov 1997 09:55:06 -0600"), "1997-11-21T15:55:06.000Z");
  assert.equal(iso("21 Nov 97 09:55:06 GMT"), "1997-11-21T09:55:06.000Z");
  assert.equal(iso("Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)"), "1969-02-14T03:02:00.000Z");
  assert.equal(iso("Mon, 2 Jan 2006 15:04:05 PST"), "2006-01-02T23:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 2006 15:04:05 EDT"), "2006-01-02T19:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 2006 15:04:05 Z"), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 2006 15:04:05 A"), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("2 Jan 2006 15:04:05"), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("Mon,2 Jan 2006 15:04:05 +0100"), "2006-01-02T14:04:05.000Z");
  assert.equal(iso("  Mon,  02  JAN  2006  15:04:05  +0000  "), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 49 15:04:05 +0000"), "2049-01-02T15:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 50 15:04:05 +0000"), "1950-01-02T15:04:05.000Z");
  assert.equal(iso("Mon, 2 Jan 106 15:04:05 +0000"), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("Mon Jan  2 15:04:05 2006"), "2006-01-02T15:04:05.000Z");
  assert.equal(iso("2006-01-02T15:04:05+02:00"), "2006-01-02T13:04:05.000Z");
  assert.equal(iso("Sat, 31 Dec 2016 23:59:60 +0000"), "2016-12-31T23:59:59.000Z");
  assert.equal(iso("30 Feb 2006 10:00:00 +0000"), null);
  assert.equal(iso("2 Jan 2006 25:00:00 +0000"), null);
  assert.equal(iso("2 Foo 2006 10:00:00 +0000"), null);
  assert.equal(iso("yesterday"), null);
  assert.equal(iso(""), null);
  assert.equal(iso("2 Jan 2006"), null);
});

Deno.test("baseSubject: RFC 5256 base subject", () => {
  const cases: [string, string][] = [
    ["Re: Hello", "Hello"],
    ["RE: re: Fwd: Hello", "Hello"],
    ["Re[2]: Hello", "Hello"],
    ["[list] Re: [other] Hello", "Hello"],
    ["Hello (fwd)", "Hello"],
    ["Hello (fwd) (FWD)  ", "Hello"],
    ["[Fwd: Re: Hello]", "Hello"],
    ["fw: Hello", "Hello"],
    ["[only a blob]", "[only a blob]"],
    ["  lots   of \t space ", "lots of space"],
    ["=?utf-8?Q?Re=3A_Caf=C3=A9?=", "Café"],
    ["Re: ", ""],
    ["Reply to me", "Reply to me"],
    ["", ""],
  ];
  for (const [input, want] of cases) assert.equal(baseSubject(input), want, input);
});

Deno.test("fixture headers: encoded-words in many charsets, 8-bit and folded fields", () => {
  const h = fixtureHeader("21-rfc2047-subjects");
  assert.equal(h.get("subject"), "Cafécrème");
  assert.deepEqual(parseAddressList(h.get("from")!), [{
    name: "André Pirard",
    email: "PIRARD@vm1.ulg.ac.be",
  }]);
  assert.equal(h.get("x-koi8"), "Привет");
  assert.equal(h.get("x-jis"), "テスト");
  assert.equal(h.get("x-gb"), "中文");
  assert.equal(h.get("x-big5"), "中文");
  assert.equal(h.get("x-sjis"), "テスト");
  assert.equal(h.get("x-win"), "€uro");
  assert.equal(h.get("x-kr"), "한글");
  assert.equal(h.get("x-bad"), "=?x-unknown?Q?abc?= =?utf-8?B?***?=");
  assert.equal(fixtureHeader("22-rfc2047-names").get("subject"), "Grüße");
  assert.equal(fixtureHeader("25-8bit-utf8-header").get("subject"), "Grüße aus Köln");
  assert.equal(fixtureHeader("26-8bit-latin1-header").get("subject"), "café crème");
  const folded = fixtureHeader("49-folded-headers");
  assert.equal(folded.get("subject"), "a very long subject  folded over\tthree lines");
  assert.deepEqual(parseAddressList(folded.get("to")!).map((a) => a.email), [
    "a@example.com",
    "b@example.com",
  ]);
  const date = fixtureHeader("01-simple-crlf").get("date")!;
  assert.equal(parseDate(date)?.toISOString(), "2006-01-02T22:04:05.000Z");
});
