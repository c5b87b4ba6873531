/**
 * FETCH data items built from hand-written messages: ENVELOPE, BODY, BODYSTRUCTURE,
 * BODY[section]<partial> and BINARY. Expected values are what Dovecot 2.3 sends for the same
 * bytes (tests/interop/imap_fetch_dovecot_test.ts checks the whole corpus against a live one).
 */
import { assertEquals } from "../helpers/assert.ts";
import { normalizeLineEnds } from "../../src/mail/ingest.ts";
import { type MimePart, parseMime } from "../../src/mail/mime.ts";
import { envelope } from "../../src/imap/fetch/envelope.ts";
import { bodyStructure } from "../../src/imap/fetch/bodystructure.ts";
import { binary, binarySize, section, type SectionSpec } from "../../src/imap/fetch/sections.ts";
import {
  byteString,
  fromByteString,
  humanString,
  nstring,
  nstringNoLf,
} from "../../src/imap/fetch/imap_string.ts";

const LIMITS = { maxHeaderSize: 65536, maxDepth: 50, maxParts: 1000 };

interface Message {
  raw: Uint8Array;
  root: MimePart;
}

/** A message from a byte string (LF line ends become CRLF, as Postern stores them). */
function message(text: string): Message {
  const raw = normalizeLineEnds(fromByteString(text));
  return { raw, root: parseMime(raw, LIMITS) };
}

function text(bytes: Uint8Array): string {
  return byteString(bytes);
}

function spec(
  part: number[],
  kind: SectionSpec["text"] = null,
  fields: string[] = [],
): SectionSpec {
  return { part, text: kind, fields };
}

const SIMPLE = message(
  "From: Alice <alice@example.com>\nTo: bob@example.org\n" +
    "Date: Mon, 2 Jan 2006 15:04:05 -0700\nSubject: Hello\nMIME-Version: 1.0\n" +
    "Content-Type: text/plain; charset=us-ascii\n\nHello Bob,\n\nsee you.\n",
);

const NESTED = message(
  "From: a@x\nSubject: nested\nContent-Type: multipart/mixed; boundary=outer\n\n" +
    "preamble\n--outer\nContent-Type: multipart/alternative; boundary=alt\n\n" +
    "--alt\nContent-Type: text/plain; charset=utf-8\n\nplain\n" +
    "--alt\nContent-Type: text/html\n\n<p>html</p>\n--alt--\n" +
    "--outer\nContent-Type: message/rfc822\nContent-Description: forwarded\n\n" +
    "From: b@y\nSubject: inner\n\ninner body\n" +
    '--outer\nContent-Type: application/pdf; name="a.pdf"\n' +
    'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="a.pdf"\n\n' +
    "JVBERi0xLjQK\n--outer--\n",
);

Deno.test("ENVELOPE of a simple message; sender and reply-to default to from", () => {
  assertEquals(
    text(envelope(SIMPLE.raw, SIMPLE.root)),
    '("Mon, 2 Jan 2006 15:04:05 -0700" "Hello" (("Alice" NIL "alice" "example.com")) ' +
      '(("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) ' +
      '((NIL NIL "bob" "example.org")) NIL NIL NIL NIL)',
  );
});

Deno.test("ENVELOPE: groups, routes, comments, missing parts and the last Subject", () => {
  const m = message(
    'From: "Doe, J" <j@x.org>, alice@example.com (Alice Comment), postmaster, ' +
      '<@r1,@r2:u@h.org>, "a b"@x.org\n' +
      'Reply-To: Team: a@x.org, "B  b" <b@y.org>;, other@z\n' +
      "To: undisclosed-recipients:;\nCc: <>\nIn-Reply-To: <a@b>\n  <c@d>\n" +
      "Message-ID:\n <m1@x.org>\nSubject: first\nSubject: second\n\nbody\n",
  );
  assertEquals(
    text(envelope(m.raw, m.root)),
    '(NIL "second" (("Doe, J" NIL "j" "x.org")("Alice Comment" NIL "alice" "example.com")' +
      '(NIL NIL "postmaster" "MISSING_DOMAIN")(NIL "@r1,@r2" "u" "h.org")' +
      '(NIL NIL "a b" "x.org")) ' +
      '(("Doe, J" NIL "j" "x.org")("Alice Comment" NIL "alice" "example.com")' +
      '(NIL NIL "postmaster" "MISSING_DOMAIN")(NIL "@r1,@r2" "u" "h.org")' +
      '(NIL NIL "a b" "x.org")) ' +
      '((NIL NIL "Team" NIL)(NIL NIL "a" "x.org")({3}\r\nB b NIL "b" "y.org")' +
      '(NIL NIL NIL NIL)(NIL NIL "other" "z")) ' +
      '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ' +
      '((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) NIL "<a@b>  <c@d>" " <m1@x.org>")',
  );
});

Deno.test("ENVELOPE: encoded-words are sent raw, 8-bit text and odd spacing as literals", () => {
  const m = message(
    "Subject: =?utf-8?B?R3LDvMOfZQ==?=\nFrom: =?utf-8?q?Andr=C3=A9?= <andre@x.org>\n" +
      "To: J\xc3\xbcrgen <j@x.de>\nCc: Tab\tName <t@x.org>\n\nx\n",
  );
  assertEquals(
    text(envelope(m.raw, m.root)),
    '(NIL "=?utf-8?B?R3LDvMOfZQ==?=" (("=?utf-8?q?Andr=C3=A9?=" NIL "andre" "x.org")) ' +
      '(("=?utf-8?q?Andr=C3=A9?=" NIL "andre" "x.org")) ' +
      '(("=?utf-8?q?Andr=C3=A9?=" NIL "andre" "x.org")) ' +
      '(({7}\r\nJ\xc3\xbcrgen NIL "j" "x.de")) (("Tab Name" NIL "t" "x.org")) NIL NIL NIL)',
  );
  const folded = message("Subject: two  spaces\n and a fold \n\nx\n");
  assertEquals(
    text(envelope(folded.raw, folded.root)),
    "(NIL {21}\r\ntwo spaces and a fold NIL NIL NIL NIL NIL NIL NIL NIL)",
  );
  const empty = message("\nbody only\n");
  assertEquals(text(envelope(empty.raw, empty.root)), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
});

Deno.test("ENVELOPE: broken addresses come out as Dovecot makes them", () => {
  const to = (value: string) => {
    const m = message(`To: ${value}\n\nx\n`);
    const all = text(envelope(m.raw, m.root));
    return all.slice("(NIL NIL NIL NIL NIL ".length, -" NIL NIL NIL NIL)".length);
  };
  assertEquals(to("<abc>"), '((NIL NIL "abc" "MISSING_DOMAIN"))');
  assertEquals(to("<abc d>"), '((NIL NIL "abc" "SYNTAX_ERROR"))');
  assertEquals(to('x<":;'), '(("x" NIL "MISSING_MAILBOX" "SYNTAX_ERROR"))');
  assertEquals(to("a.b.@x.org"), '((NIL NIL "a.b." "x.org"))');
  assertEquals(to("..a@x.org.."), '((NIL NIL "..a" "MISSING_DOMAIN"))');
  assertEquals(to('"x" y'), '(("x y" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))');
  assertEquals(to("a@b@c, d@e"), '((NIL NIL "a" "b"))');
  assertEquals(to("Name <>"), '(("Name" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))');
});

Deno.test("BODY and BODYSTRUCTURE of a single-part message", () => {
  assertEquals(
    text(bodyStructure(SIMPLE.raw, SIMPLE.root, false)),
    '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 3)',
  );
  assertEquals(
    text(bodyStructure(SIMPLE.raw, SIMPLE.root, true)),
    '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 3 NIL NIL NIL NIL)',
  );
});

Deno.test("BODYSTRUCTURE without Content-Type, and with one Dovecot cannot read", () => {
  const none = message("Subject: x\n\nsome text\n");
  assertEquals(
    text(bodyStructure(none.raw, none.root, true)),
    '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)',
  );
  const flowed = message("Content-Type: text/plain; format=flowed\n\nx\n");
  assertEquals(
    text(bodyStructure(flowed.raw, flowed.root, false)),
    '("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 3 1)',
  );
  const broken = message("Content-Type: text; charset=utf-8\n\nx\n");
  assertEquals(
    text(bodyStructure(broken.raw, broken.root, true)),
    '("" "" NIL NIL NIL "7bit" 3 NIL NIL NIL NIL)',
  );
});

Deno.test("BODYSTRUCTURE keeps the case and the extension fields as written", () => {
  const m = message(
    "Content-Type: TEXT/PLAIN; CHARSET=UTF-8; Format=Flowed\n" +
      "Content-Transfer-Encoding: QUOTED-PRINTABLE\nContent-ID: <ID@Host>\n" +
      'Content-Description: Some  "desc" \nContent-Disposition: INLINE; FILENAME="X.txt"\n' +
      "Content-Language: en, DE\nContent-Location: http://x/y\n" +
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nbody=\n",
  );
  assertEquals(
    text(bodyStructure(m.raw, m.root, true)),
    '("TEXT" "PLAIN" ("CHARSET" "UTF-8" "Format" "Flowed") "<ID@Host>" ' +
      '"Some  \\"desc\\" " "QUOTED-PRINTABLE" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ' +
      '("INLINE" ("FILENAME" "X.txt")) ("en" "DE") "http://x/y")',
  );
});

Deno.test("BODYSTRUCTURE: RFC 2231 parameters are merged but stay encoded", () => {
  const m = message(
    "Content-Type: application/octet-stream;\n\tname*0*=utf-8''%E6%97%A5;\n" +
      "\tname*1*=%E8%AA%9E.txt\nContent-Disposition: attachment;\n" +
      ' filename*0="very long ";\n filename*1="name.txt"; size=3\n\ndata\n',
  );
  assertEquals(
    text(bodyStructure(m.raw, m.root, true)),
    '("application" "octet-stream" ("name*" "utf-8\'\'%E6%97%A5%E8%AA%9E.txt") NIL NIL ' +
      '"7bit" 6 NIL ("attachment" ("size" "3" "filename" "very long name.txt")) NIL NIL)',
  );
  // Dovecot does not reset the index between parameters: "title*" inherits the 1 of "name*1".
  const carry = message(
    'Content-Type: text/plain; name*0="a"; name*1="b"; title*=us-ascii\'en\'hi\n\nx\n',
  );
  assertEquals(
    text(bodyStructure(carry.raw, carry.root, false)),
    '("text" "plain" ("name" "ab" "title*1*" "us-ascii\'en\'hi" "charset" "us-ascii") ' +
      'NIL NIL "7bit" 3 1)',
  );
});

Deno.test("BODYSTRUCTURE of multipart/mixed with a nested alternative and a message", () => {
  const { raw, root } = NESTED;
  assertEquals(
    text(bodyStructure(raw, root, true)),
    '((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)' +
      '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 11 0 NIL NIL NIL NIL) ' +
      '"alternative" ("boundary" "alt") NIL NIL NIL)' +
      '("message" "rfc822" NIL NIL "forwarded" "7bit" 39 ' +
      '(NIL "inner" ((NIL NIL "b" "y")) ((NIL NIL "b" "y")) ((NIL NIL "b" "y")) ' +
      "NIL NIL NIL NIL NIL) " +
      '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 ' +
      "NIL NIL NIL NIL)" +
      '("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 12 NIL ' +
      '("attachment" ("filename" "a.pdf")) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)',
  );
  assertEquals(
    text(bodyStructure(raw, root, false)),
    '((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 0)' +
      '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 11 0) "alternative")' +
      '("message" "rfc822" NIL NIL "forwarded" "7bit" 39 ' +
      '(NIL "inner" ((NIL NIL "b" "y")) ((NIL NIL "b" "y")) ((NIL NIL "b" "y")) ' +
      'NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 3)' +
      '("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 12) "mixed")',
  );
});

Deno.test("BODYSTRUCTURE: a multipart without parts gets one empty text/plain part", () => {
  const m = message("Content-Type: multipart/alternative\n\nbody\n");
  assertEquals(
    text(bodyStructure(m.raw, m.root, true)),
    '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) ' +
      '"alternative" NIL NIL NIL NIL)',
  );
});

Deno.test("BODY[] sections: whole, HEADER, TEXT, MIME, part numbers and nested messages", () => {
  const { raw, root } = NESTED;
  const s = (part: number[], kind: SectionSpec["text"] = null, fields: string[] = []) =>
    text(section(raw, root, spec(part, kind, fields)));
  assertEquals(s([]), text(raw));
  assertEquals(
    s([], "HEADER"),
    "From: a@x\r\nSubject: nested\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n",
  );
  assertEquals(s([], "TEXT"), text(raw.subarray(root.bodyStart)));
  assertEquals(s([1, 1]), "plain");
  assertEquals(s([1, 2], "MIME"), "Content-Type: text/html\r\n\r\n");
  // A nested multipart keeps the line end after its close delimiter (as Dovecot).
  assertEquals(s([1]).endsWith("<p>html</p>\r\n--alt--\r\n"), true);
  assertEquals(s([2]), "From: b@y\r\nSubject: inner\r\n\r\ninner body");
  assertEquals(s([2], "HEADER"), "From: b@y\r\nSubject: inner\r\n\r\n");
  assertEquals(s([2], "TEXT"), "inner body");
  assertEquals(s([2, 1]), "inner body");
  assertEquals(
    s([2], "MIME"),
    "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n",
  );
  assertEquals(s([3]), "JVBERi0xLjQK");
  // No such part, or HEADER of a part that is no message: empty, as Dovecot answers.
  assertEquals(s([4]), "");
  assertEquals(s([3], "HEADER"), "");
  // Single-part: part 1 is the body; Dovecot also takes 1.1 of a leaf as the leaf itself.
  assertEquals(text(section(SIMPLE.raw, SIMPLE.root, spec([1]))), "Hello Bob,\r\n\r\nsee you.\r\n");
  assertEquals(text(section(raw, root, spec([3, 1]))), "JVBERi0xLjQK");
  assertEquals(text(section(raw, root, spec([3, 2]))), "");
});

Deno.test("HEADER.FIELDS and .NOT keep the fields as written, folding included", () => {
  const m = message(
    "From: a@x\nX-Long: one\n  two\nsubject: Hi\nContent-Type: text/plain\n\nbody\n",
  );
  const s = (kind: SectionSpec["text"], fields: string[]) =>
    text(section(m.raw, m.root, spec([], kind, fields)));
  assertEquals(
    s("HEADER.FIELDS", ["SUBJECT", "x-long", "x-none"]),
    "X-Long: one\r\n  two\r\nsubject: Hi\r\n\r\n",
  );
  assertEquals(
    s("HEADER.FIELDS.NOT", ["from", "Content-Type"]),
    "X-Long: one\r\n  two\r\nsubject: Hi\r\n\r\n",
  );
  assertEquals(s("HEADER.FIELDS", ["x-none"]), "\r\n");
});

Deno.test("partial fetches cut the section; an origin past the end is empty", () => {
  const { raw, root } = SIMPLE;
  const body = spec([], "TEXT");
  assertEquals(text(section(raw, root, body, { offset: 0, length: 5 })), "Hello");
  assertEquals(
    text(section(raw, root, body, { offset: 6, length: 100 })),
    "Bob,\r\n\r\nsee you.\r\n",
  );
  assertEquals(text(section(raw, root, body, { offset: 500, length: 10 })), "");
  assertEquals(text(section(raw, root, body, { offset: 0, length: 0 })), "");
});

Deno.test("BODY[] sends NUL as 0x80; BINARY[] keeps it", () => {
  const m = message("Subject: nul\n\na\x00b\n");
  assertEquals(text(section(m.raw, m.root, spec([], "TEXT"))), "a\x80b\r\n");
  const result = binary(m.raw, m.root, [1]);
  assertEquals(result.ok && text(result.bytes), "a\x00b\r\n");
});

Deno.test("BINARY decodes base64 and quoted-printable; other encodings are UNKNOWN-CTE", () => {
  const m = message(
    "Content-Type: multipart/mixed; boundary=e\n\n" +
      "--e\nContent-Transfer-Encoding: base64\n\nSGVsbG8sIHfDtnJsZCEK\n" +
      "--e\nContent-Transfer-Encoding: Quoted-Printable\n\ncaf=C3=A9 soft=\nbreak\n" +
      "--e\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n--e--\n",
  );
  const first = binary(m.raw, m.root, [1]);
  assertEquals(first.ok && text(first.bytes), "Hello, w\xc3\xb6rld!\n");
  const second = binary(m.raw, m.root, [2]);
  assertEquals(second.ok && text(second.bytes), "caf\xc3\xa9 softbreak");
  assertEquals(binarySize(m.raw, m.root, [1]), { ok: true, size: 15 });
  const third = binary(m.raw, m.root, [3]);
  assertEquals(third.ok ? "decoded" : third.code, "UNKNOWN-CTE");
  assertEquals(binarySize(m.raw, m.root, [3]).ok, false);
  const whole = binary(m.raw, m.root, []);
  assertEquals(whole.ok && whole.bytes.length, m.raw.length);
});

Deno.test("IMAP strings: quoted, literal, NIL and the text for humans", () => {
  assertEquals(nstring(null), "NIL");
  assertEquals(nstring("plain"), '"plain"');
  assertEquals(nstring('a "b" \\'), '"a \\"b\\" \\\\"');
  assertEquals(nstring('"""""'), '{5}\r\n"""""');
  assertEquals(nstring("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  assertEquals(nstring("a\r\nb"), "{4}\r\na\r\nb");
  assertEquals(nstring("x".repeat(300)), `"${"x".repeat(300)}"`);
  assertEquals(nstringNoLf("<a@b>\r\n <c@d>"), '"<a@b> <c@d>"');
  assertEquals(humanString("Hello"), '"Hello"');
  assertEquals(humanString(""), '""');
  assertEquals(humanString("   "), '""');
  assertEquals(humanString(" a\tb  "), "{3}\r\na b");
  assertEquals(humanString('say "hi"'), '{8}\r\nsay "hi"');
  assertEquals(humanString("a\x00b"), "{3}\r\na\x80b");
});

Deno.test("ENVELOPE of a header listing 170,000 addresses (under the 1 MB header limit)", () => {
  const count = 170_000;
  const to = Array.from({ length: count }, (_, i) => `${(i % 26 + 10).toString(36)}@x`);
  const raw = new TextEncoder().encode(`To: ${to.join(",")}\r\nSubject: many\r\n\r\nx\r\n`);
  const root = parseMime(raw, { ...LIMITS, maxHeaderSize: 1024 * 1024 });
  const text = new TextDecoder().decode(envelope(raw, root));
  assertEquals(text.split('"x")').length - 1, count);
});
