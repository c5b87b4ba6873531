import assert from "node:assert/strict";
import {
  decodePartBody,
  findSection,
  MimeLimitError,
  type MimeLimits,
  type MimePart,
  parseMime,
  partText,
} from "../../src/mail/mime.ts";
import { checkMimeTree } from "../../src/mail/mime_check.ts";
import { extractText } from "../../src/mail/text.ts";

const limits: MimeLimits = { maxHeaderSize: 65536, maxDepth: 100, maxParts: 10000 };
const fixtureDir = new URL("../fixtures/mime/", import.meta.url);

interface Expected {
  section: string;
  type: string;
  header: string;
  body: string;
  parts: Expected[];
  message: Expected | null;
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function latin1(raw: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(raw[i]);
  return s;
}

function fixture(name: string): { raw: Uint8Array; root: MimePart } {
  const raw = Deno.readFileSync(new URL(`${name}.eml`, fixtureDir));
  return { raw, root: parseMime(raw, limits) };
}

function compare(raw: Uint8Array, part: MimePart, exp: Expected, path: string): void {
  const at = `${path} (section "${exp.section}")`;
  assert.equal(part.section, exp.section, `${at}: section`);
  assert.equal(`${part.type}/${part.subtype}`, exp.type, `${at}: type`);
  assert.equal(latin1(raw, part.headerStart, part.headerEnd), exp.header, `${at}: header bytes`);
  assert.equal(latin1(raw, part.bodyStart, part.bodyEnd), exp.body, `${at}: body bytes`);
  assert.equal(part.parts.length, exp.parts.length, `${at}: child count`);
  part.parts.forEach((c, i) => compare(raw, c, exp.parts[i], path));
  assert.equal(part.message === null, exp.message === null, `${at}: encapsulated message`);
  if (part.message && exp.message) compare(raw, part.message, exp.message, path);
}

Deno.test("fixture corpus: exact header and body bytes, sections and types", () => {
  const names = [...Deno.readDirSync(fixtureDir)]
    .filter((e) => e.name.endsWith(".eml"))
    .map((e) => e.name.slice(0, -4))
    .sort();
  assert.ok(names.length >= 40, `only ${names.length} fixtures`);
  for (const name of names) {
    const { raw, root } = fixture(name);
    const exp = JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, fixtureDir)));
    compare(raw, root, exp, name);
    assert.deepEqual(checkMimeTree(raw, root), [], name);
    assert.deepEqual(JSON.parse(JSON.stringify(root)), root, `${name}: JSON round trip`);
  }
});

Deno.test("simple message: hand-counted offsets and fields", () => {
  const { raw, root } = fixture("01-simple-crlf");
  assert.equal(raw.length, 197);
  assert.deepEqual(
    [root.headerStart, root.headerEnd, root.bodyStart, root.bodyEnd],
    [0, 173, 173, 197],
  );
  assert.equal(root.lines, 3);
  assert.deepEqual(root.params, { charset: "us-ascii" });
  assert.equal(root.encoding, "7bit");
  assert.equal(root.disposition, null);
  assert.equal(findSection(root, "1"), root);
  assert.equal(findSection(root, "2"), null);
  assert.equal(findSection(root, "1.1"), null);
  assert.equal(findSection(root, "0"), null);
  assert.equal(partText(raw, root), "Hello Bob,\r\n\r\nsee you.\r\n");
});

Deno.test("part header ended by a delimiter: hand-counted offsets", () => {
  const { root } = fixture("46-part-header-no-blank");
  const [p1, p2] = root.parts;
  assert.deepEqual([root.headerEnd, root.bodyEnd], [46, 100]);
  assert.deepEqual([p1.headerStart, p1.headerEnd, p1.bodyStart, p1.bodyEnd], [52, 76, 76, 76]);
  assert.equal(p1.type, "text");
  assert.deepEqual([p2.headerStart, p2.headerEnd, p2.bodyStart, p2.bodyEnd], [84, 86, 86, 90]);
  assert.equal(p2.lines, 1);
});

Deno.test("line ends: LF-only and CR-only messages give the same tree", () => {
  const lf = fixture("35-lf-nested");
  assert.deepEqual(lf.root.parts.map((p) => p.subtype), ["alternative", "pdf"]);
  assert.equal(lf.root.parts[0].parts[1].subtype, "html");
  const cr = fixture("34-cr-multipart");
  assert.deepEqual(cr.root.parts.map((p) => partText(cr.raw, p)), ["cr one\r", "cr two\r"]);
  assert.equal(cr.root.parts[0].lines, 1);
  const plainCr = fixture("03-simple-cr");
  assert.equal(plainCr.root.lines, 2);
});

Deno.test("multipart/digest defaults to message/rfc822; sections continue into messages", () => {
  const { raw, root } = fixture("10-digest");
  const [d1, d2, d3] = root.parts;
  assert.equal(`${d1.type}/${d1.subtype}`, "message/rfc822");
  assert.deepEqual(d1.params, {});
  assert.equal(d1.message?.section, "1");
  assert.equal(partText(raw, d2.message!), "second message\r\n");
  assert.equal(`${d3.type}/${d3.subtype}`, "text/plain");
  assert.equal(d1.lines, 8);

  const top = fixture("09-top-level-rfc822").root;
  assert.equal(findSection(top, "1"), top);
  assert.equal(findSection(top, "1.2")?.section, "1.2");
  assert.equal(findSection(top, "1.2"), top.message?.parts[1]);
  assert.equal(findSection(top, "2"), null);

  const chain = fixture("50-rfc822-chain");
  const deep = findSection(chain.root, "2.1.2")!;
  assert.equal(partText(chain.raw, deep), "deep b\r\n");
  assert.equal(findSection(chain.root, "2.1"), chain.root.parts[1].message);
  assert.equal(findSection(chain.root, "2.1.3"), null);
});

Deno.test("RFC 2231 parameters: continuations and charsets", () => {
  const { root } = fixture("23-rfc2231-continuations");
  const att = root.parts[1];
  assert.equal(att.params.name, "日本語.txt");
  assert.equal(att.disposition, "attachment");
  assert.equal(att.dispositionParams.filename, "very long name.txt");
  const l1 = fixture("24-rfc2231-latin1");
  const p = l1.root.parts[0];
  assert.equal(p.params.name, "résumé.txt");
  assert.equal(p.dispositionParams.filename, "résumé.txt");
  assert.equal(partText(l1.raw, p), "résumé\r\n");
});

Deno.test("defaults and malformed content headers", () => {
  const none = fixture("04-no-content-type").root;
  assert.deepEqual([none.type, none.subtype, none.params], ["text", "plain", {
    charset: "us-ascii",
  }]);
  const invalid = fixture("40-invalid-content-type").root;
  assert.deepEqual([invalid.type, invalid.subtype, invalid.params.charset], [
    "text",
    "plain",
    "utf-8",
  ]);
  const noBoundary = fixture("12-missing-boundary-param").root;
  assert.deepEqual([noBoundary.type, noBoundary.parts.length], ["text", 0]);
  const dup = fixture("44-duplicate-content-type").root;
  assert.equal(dup.subtype, "html");
  const noColon = fixture("33-no-colon-lines").root;
  assert.equal(noColon.subtype, "html");
  const encoded = fixture("39-rfc822-base64").root.parts[1];
  assert.deepEqual([encoded.subtype, encoded.encoding, encoded.message], [
    "rfc822",
    "base64",
    null,
  ]);
  const empty = parseMime(new Uint8Array(0), limits);
  assert.deepEqual([empty.headerEnd, empty.bodyEnd, empty.lines], [0, 0, 0]);
  const only = fixture("18-header-only");
  assert.deepEqual([only.root.headerEnd, only.root.bodyStart], [only.raw.length, only.raw.length]);
});

Deno.test("Content-* fields: disposition, id, description, language, location", () => {
  const raw = bytes(
    "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" +
      "Content-Type: IMAGE/PNG; NAME=a.png\r\nContent-Disposition: INLINE; Filename=a.png\r\n" +
      "Content-ID: <img1@x>\r\nContent-Description: =?utf-8?Q?Logo_=C3=A9?=\r\n" +
      "Content-Language: en, de (German)\r\nContent-Location: http://x/\r\n a.png\r\n" +
      "Content-MD5: Q2hlY2s=\r\nContent-Transfer-Encoding: BASE64 \r\n\r\naGk=\r\n--x--\r\n",
  );
  const p = parseMime(raw, limits).parts[0];
  assert.deepEqual([p.type, p.subtype, p.params], ["image", "png", { name: "a.png" }]);
  assert.deepEqual([p.disposition, p.dispositionParams], ["inline", { filename: "a.png" }]);
  assert.equal(p.id, "<img1@x>");
  assert.equal(p.description, "Logo é");
  assert.deepEqual(p.language, ["en", "de"]);
  assert.equal(p.location, "http://x/a.png");
  assert.equal(p.md5, "Q2hlY2s=");
  assert.equal(p.encoding, "base64");
  assert.equal(p.lines, 0);
  assert.deepEqual(decodePartBody(raw, p), bytes("hi"));
});

Deno.test("body decoding: broken base64 and QP, charsets, UTF-7", () => {
  const b = fixture("28-broken-base64");
  assert.ok(new TextDecoder().decode(decodePartBody(b.raw, b.root)).startsWith("Hello world"));
  const q = fixture("29-broken-qp");
  assert.equal(partText(q.raw, q.root), "café =ZZ bad soft=3");
  assert.equal(
    partText(fixture("27-unknown-charset").raw, fixture("27-unknown-charset").root),
    "ünknown\r\n",
  );
  const latin = fixture("26-8bit-latin1-header");
  assert.equal(partText(latin.raw, latin.root), "café\r\n");
  const u7 = fixture("42-utf7");
  assert.equal(partText(u7.raw, u7.root), "Hi Mom -☺-!\r\n");
  const nul = fixture("32-nul-bytes");
  assert.equal(partText(nul.raw, nul.root), "nul\0in\0body\r\n");
});

Deno.test("boundaries: prefixes, specials, padding, mid-line, unclosed inner", () => {
  const prefix = fixture("15-boundary-prefix").root;
  assert.deepEqual(prefix.parts.map((p) => p.parts.length), [2, 0]);
  const specials = fixture("14-boundary-specials");
  assert.equal(specials.root.params.boundary, "=_Part 1 ()+,./:=?_x");
  assert.deepEqual(specials.root.parts.map((p) => partText(specials.raw, p)), ["a\r\n", "b\r\n"]);
  const mid = fixture("45-boundary-mid-line");
  assert.equal(mid.root.parts.length, 2);
  const unclosed = fixture("16-outer-closes-inner");
  assert.equal(partText(unclosed.raw, unclosed.root.parts[0].parts[1]), "y\r\n");
  assert.equal(partText(unclosed.raw, unclosed.root.parts[1]), "after\r\n");
  const missing = fixture("11-missing-final-boundary");
  assert.equal(missing.root.parts[1].bodyEnd, missing.raw.length);
  const deep = fixture("41-deep-10").root;
  let p = deep;
  let levels = 0;
  while (p.parts.length > 0) {
    p = p.parts[0];
    levels++;
  }
  assert.equal(levels, 10);
  assert.equal(p.section, "1.1.1.1.1.1.1.1.1.1");
});

Deno.test("8-bit boundaries match the header bytes, UTF-8 or Latin-1", () => {
  for (const boundary of ["caf\xe9", "caf\xc3\xa9"]) {
    const raw = bytes(
      `Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\n\r\none\r\n` +
        `--${boundary}\r\n\r\ntwo\r\n--${boundary}--\r\n`,
    );
    const root = parseMime(raw, limits);
    assert.equal(root.params.boundary, "café");
    assert.deepEqual(root.parts.map((p) => partText(raw, p)), ["one", "two"]);
  }
});

Deno.test("extractText: body choice, HTML, attached messages, attachments, cap", () => {
  const alt = fixture("06-alternative");
  assert.deepEqual(extractText(alt.raw, alt.root), {
    text: "Plain version\r\n",
    preview: "Plain version",
    hasAttachment: false,
  });
  const att = fixture("05-attachment");
  assert.equal(extractText(att.raw, att.root).hasAttachment, true);
  const html = fixture("43-html-only");
  const h = extractText(html.raw, html.root);
  assert.equal(h.text, "Only\u00a0HTML & entities");
  assert.equal(h.preview, "Only HTML & entities");
  const fwd = fixture("08-rfc822-in-multipart");
  const f = extractText(fwd.raw, fwd.root);
  assert.equal(f.text, "Forwarding.\r\n\nOriginal body\r\n");
  assert.equal(f.preview, "Forwarding.");
  assert.equal(f.hasAttachment, true);
  const related = fixture("07-nested-related");
  assert.equal(extractText(related.raw, related.root).preview, "Text body");
  const capped = extractText(att.raw, att.root, { maxTextBytes: 5 });
  assert.equal(capped.text, "See a");
  assert.equal(capped.preview, "See attached.");
  const long = bytes("Subject: x\r\n\r\n" + "word ".repeat(200));
  assert.equal(extractText(long, parseMime(long, limits)).preview.length, 256);
});

Deno.test("extractText: HTML-only alternative, calendar invite, related images", () => {
  const raw = bytes(
    "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n" +
      "Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n" +
      "<div>Hi&amp;bye</div><script>x()</script><p>second</p>\r\n--r\r\n" +
      "Content-Type: image/gif\r\nContent-Disposition: inline\r\n\r\nR0lG\r\n--r--\r\n--a--\r\n",
  );
  const root = parseMime(raw, limits);
  assert.deepEqual(extractText(raw, root), {
    text: "Hi&bye\n\nsecond",
    preview: "Hi&bye second",
    hasAttachment: false,
  });
  const cal = fixture("30-calendar-invite");
  const c = extractText(cal.raw, cal.root);
  assert.equal(c.preview, "You are invited.");
  assert.equal(c.hasAttachment, true);
  assert.equal(cal.root.parts[0].parts[1].params.method, "REQUEST");
});

function nested(depth: number): Uint8Array {
  let head = "";
  let tail = "";
  for (let i = 0; i < depth; i++) {
    head += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
    tail = `\r\n--b${i}--\r\n` + tail;
  }
  return bytes(head + "Content-Type: text/plain\r\n\r\nbottom" + tail);
}

Deno.test("1000-deep nesting: depth limit, and no stack overflow when allowed", () => {
  const raw = nested(1000);
  assert.throws(
    () => parseMime(raw, limits),
    (e) => e instanceof MimeLimitError && e.limit === "depth",
  );
  const t0 = performance.now();
  const root = parseMime(raw, { ...limits, maxDepth: 2000 });
  const ms = performance.now() - t0;
  let p = root;
  let levels = 0;
  while (p.parts.length > 0) {
    p = p.parts[0];
    levels++;
  }
  assert.equal(levels, 1000);
  assert.equal(partText(raw, p), "bottom");
  assert.deepEqual(checkMimeTree(raw, root), []);
  assert.equal(extractText(raw, root).text, "bottom");
  assert.ok(ms < 2000, `1000-deep parse took ${ms} ms`);
  const chain = bytes("Content-Type: message/rfc822\r\n\r\n".repeat(300) + "Subject: end\r\n\r\nx");
  assert.throws(
    () => parseMime(chain, limits),
    (e) => e instanceof MimeLimitError && e.limit === "depth",
  );
  assert.equal(parseMime(chain, { ...limits, maxDepth: 2000 }).message?.section, "1");
});

Deno.test("50,000 parts: part limit, and linear time when allowed", () => {
  const body = "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(50000);
  const raw = bytes(`Content-Type: multipart/mixed; boundary=p\r\n\r\n${body}--p--\r\n`);
  assert.throws(
    () => parseMime(raw, limits),
    (e) => e instanceof MimeLimitError && e.limit === "parts",
  );
  const t0 = performance.now();
  const root = parseMime(raw, { ...limits, maxParts: 100000 });
  const ms = performance.now() - t0;
  assert.equal(root.parts.length, 50000);
  assert.equal(root.parts[49999].section, "50000");
  assert.equal(partText(raw, root.parts[49999]), "x");
  assert.ok(ms < 3000, `50,000-part parse took ${ms} ms`);
  console.log(`50,000 parts: ${ms.toFixed(1)} ms`);
});

Deno.test("header size limit: 20 MB header fails fast; nested part headers count too", () => {
  const big = new Uint8Array(20 * 1024 * 1024).fill(0x61);
  big.set(bytes("Subject: "), 0);
  const t0 = performance.now();
  assert.throws(
    () => parseMime(big, limits),
    (e) => e instanceof MimeLimitError && e.limit === "header_size",
  );
  assert.ok(performance.now() - t0 < 500);
  const folded = bytes("X: a\r\n" + " b\r\n".repeat(20000) + "\r\nbody");
  assert.throws(
    () => parseMime(folded, limits),
    (e) => e instanceof MimeLimitError && e.limit === "header_size",
  );
  const inPart = bytes(
    "Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\nX: " + "y".repeat(70000) +
      "\r\n\r\nz\r\n--h--\r\n",
  );
  assert.throws(
    () => parseMime(inPart, limits),
    (e) => e instanceof MimeLimitError && e.limit === "header_size",
  );
  assert.equal(parseMime(inPart, { ...limits, maxHeaderSize: 80000 }).parts.length, 1);
  const exact = bytes("X: " + "y".repeat(93) + "\r\n\r\n");
  assert.equal(parseMime(exact, { ...limits, maxHeaderSize: 100 }).headerEnd, 100);
  assert.throws(() => parseMime(exact, { ...limits, maxHeaderSize: 99 }), MimeLimitError);
});

Deno.test("a 50 KB message parses in well under a millisecond", () => {
  const text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit -- sed do.\r\n".repeat(300);
  const b64 = btoa("z".repeat(20000)).replace(/(.{76})/g, "$1\r\n");
  const raw = bytes(
    "From: a@example.com\r\nTo: b@example.com\r\nSubject: perf\r\n".repeat(5) +
      "Content-Type: multipart/mixed; boundary=perf\r\n\r\n--perf\r\nContent-Type: text/plain\r\n\r\n" +
      text +
      "\r\n--perf\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      b64 + "\r\n--perf--\r\n",
  );
  assert.ok(raw.length > 45000 && raw.length < 60000);
  for (let i = 0; i < 200; i++) parseMime(raw, limits);
  const runs = 2000;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) parseMime(raw, limits);
  const per = (performance.now() - t0) / runs;
  console.log(`${raw.length}-byte message: ${(per * 1000).toFixed(1)} µs per parse`);
  assert.equal(parseMime(raw, limits).parts.length, 2);
  assert.ok(per < 1, `parse took ${per} ms`);
});
