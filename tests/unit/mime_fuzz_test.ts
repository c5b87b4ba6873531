import assert from "node:assert/strict";
import {
  decodePartBody,
  MimeLimitError,
  type MimeLimits,
  type MimePart,
  parseMime,
  partText,
} from "../../src/mail/mime.ts";
import { checkMimeTree } from "../../src/mail/mime_check.ts";
import { extractText } from "../../src/mail/text.ts";
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

/** mulberry32: a small deterministic PRNG, so every run fuzzes the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixtureDir = new URL("../fixtures/mime/", import.meta.url);
const fixtures: Uint8Array[] = [...Deno.readDirSync(fixtureDir)]
  .filter((e) => e.name.endsWith(".eml"))
  .map((e) => e.name)
  .sort()
  .map((name) => Deno.readFileSync(new URL(name, fixtureDir)));

const tight: MimeLimits = { maxHeaderSize: 2048, maxDepth: 8, maxParts: 200 };
const loose: MimeLimits = { maxHeaderSize: 1 << 20, maxDepth: 500, maxParts: 100000 };
const alphabet = new TextEncoder().encode(
  '--\r\n\r\n::;; ==??""<>()@,.\t Content-Type: multipart/mixed; boundary=b message/rfc822 ' +
    "base64 quoted-printable =?utf-8?B?w6k=?= \x00\x80\xff\xc3\xa9",
);

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function randomMessage(rand: () => number): Uint8Array {
  const out = new Uint8Array(Math.floor(rand() * 1500));
  for (let i = 0; i < out.length; i++) {
    out[i] = rand() < 0.8
      ? alphabet[Math.floor(rand() * alphabet.length)]
      : Math.floor(rand() * 256);
  }
  return out;
}

function splice(base: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(base.length - remove + insert.length);
  out.set(base.subarray(0, at));
  out.set(insert, at);
  out.set(base.subarray(at + remove), at + insert.length);
  return out;
}

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  let m = input;
  const rounds = 1 + Math.floor(rand() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (m.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: { // bit flips
        m = m.slice();
        for (let k = 0; k < 4 && m.length > 0; k++) {
          m[Math.floor(rand() * m.length)] ^= 1 << Math.floor(rand() * 8);
        }
        break;
      }
      case 1: // truncation
        m = m.subarray(0, at);
        break;
      case 2: { // duplicate a line starting with "--" (a boundary) somewhere else
        const dash = m.indexOf(45, Math.floor(rand() * m.length));
        if (dash >= 0) {
          let end = dash;
          while (end < m.length && m[end] !== 10 && m[end] !== 13) end++;
          m = splice(m, at, 0, m.slice(dash, Math.min(end + 2, m.length)));
        }
        break;
      }
      case 3: // inserted CR / LF
        m = splice(
          m,
          at,
          0,
          [[13], [10], [13, 10], [13, 13], [
            10,
            10,
          ]][Math.floor(rand() * 5)] as unknown as Uint8Array,
        );
        break;
      case 4: // deleted range
        m = splice(m, at, Math.min(m.length - at, Math.floor(rand() * 64)), new Uint8Array(0));
        break;
      default: { // a slice of another fixture spliced in
        const other = fixtures[Math.floor(rand() * fixtures.length)];
        const from = Math.floor(rand() * other.length);
        m = splice(m, at, 0, other.subarray(from, from + Math.floor(rand() * 400)));
      }
    }
  }
  return m;
}

function allParts(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...p.parts);
    if (p.message) stack.push(p.message);
  }
  return out;
}

function exercise(raw: Uint8Array, limits: MimeLimits, label: string): void {
  let root: MimePart;
  try {
    root = parseMime(raw, limits);
  } catch (e) {
    if (e instanceof MimeLimitError) return;
    throw new Error(`${label}: parseMime threw ${e}`);
  }
  assert.deepEqual(checkMimeTree(raw, root), [], label);
  for (const p of allParts(root)) {
    const decoded = decodePartBody(raw, p);
    assert.ok(decoded.length <= p.bodyEnd - p.bodyStart, label);
    assert.equal(typeof partText(raw, p), "string");
    const fields = parseHeaderFields(raw, p.headerStart, p.headerEnd);
    for (const f of fields) {
      assert.ok(p.headerStart <= f.start && f.start < f.end && f.end <= p.headerEnd, label);
    }
  }
  const text = extractText(raw, root, { maxTextBytes: 4096 });
  assert.ok(new TextEncoder().encode(text.text).length <= 4096 + 4, label);
  assert.ok(Array.from(text.preview).length <= 256, label);
  assert.equal(typeof text.hasAttachment, "boolean");
}

function exerciseHeaders(value: string): void {
  assert.equal(typeof decodeEncodedWords(value), "string");
  assert.equal(typeof unfold(value), "string");
  for (const a of parseAddressList(value)) {
    assert.equal(typeof a.email, "string");
    assert.ok(a.name === null || typeof a.name === "string");
  }
  assert.ok(Array.isArray(parseGroupedAddresses(value)));
  assert.ok(parseMessageIds(value).every((id) => typeof id === "string" && id.length > 0));
  const d = parseDate(value);
  assert.ok(d === null || !Number.isNaN(d.getTime()));
  assert.equal(typeof baseSubject(value), "string");
}

Deno.test("fuzz: random bytes never throw anything but MimeLimitError", () => {
  const rand = prng(0x5eed);
  for (let i = 0; i < 1500; i++) {
    const raw = randomMessage(rand);
    exercise(raw, tight, `random #${i}`);
    exercise(raw, loose, `random #${i}`);
    exerciseHeaders(new TextDecoder().decode(raw.subarray(0, 300)));
  }
});

Deno.test("fuzz: mutated fixtures keep every invariant", () => {
  const rand = prng(20261128);
  for (let i = 0; i < 3000; i++) {
    const base = fixtures[i % fixtures.length];
    const raw = mutate(rand, base);
    exercise(raw, i % 3 === 0 ? tight : loose, `mutation #${i}`);
    if (i % 4 === 0) {
      const start = Math.floor(rand() * (raw.length + 10)) - 5;
      const fields = parseHeaderFields(raw, start, start + Math.floor(rand() * 500));
      for (const f of fields) exerciseHeaders(f.raw);
    }
  }
});

Deno.test("fuzz: header functions on hostile strings", () => {
  const rand = prng(7);
  const pieces = [
    '"',
    "\\",
    "(",
    ")",
    "<",
    ">",
    ",",
    ":",
    ";",
    "@",
    "[",
    "]",
    "=?",
    "?=",
    "?Q?",
    "?B?",
    " ",
    "\r\n ",
    "Re:",
    "[x]",
    "(fwd)",
    "utf-8",
    "a",
    "0",
    "+",
    "-",
    "Jan",
    "GMT",
    "12:00",
  ];
  for (let i = 0; i < 4000; i++) {
    let s = "";
    const n = Math.floor(rand() * 40);
    for (let k = 0; k < n; k++) s += pieces[Math.floor(rand() * pieces.length)];
    exerciseHeaders(s);
  }
  // Pathological sizes stay fast.
  const t0 = performance.now();
  exerciseHeaders("(".repeat(50000));
  exerciseHeaders('"'.repeat(50000));
  exerciseHeaders("[a]".repeat(20000) + "Re: x");
  exerciseHeaders("=?utf-8?Q?a?= ".repeat(5000));
  exerciseHeaders("a@b, ".repeat(10000));
  exerciseHeaders('a@b"' + ">".repeat(100000) + "x");
  exerciseHeaders("=?utf-8?B?" + "=".repeat(100000) + "x?=");
  exerciseHeaders(" " + "\t".repeat(100000) + "x");
  const params = bytes(
    "Content-Type: text/plain; name=a" + " ".repeat(60000) + "b\r\n\r\n" +
      "Content-Disposition: attachment; filename=x" + "(".repeat(60000) + "\r\n\r\n",
  );
  exercise(params, loose, "long parameter values");
  const cells = bytes("Content-Type: text/html\r\n\r\n" + "<td>".repeat(100000) + "x");
  assert.equal(extractText(cells, parseMime(cells, loose)).text, "x");
  assert.ok(performance.now() - t0 < 3000);
});

Deno.test("line ends: CRLF fixtures converted to LF and to CR give the same tree shape", () => {
  const shape = (root: MimePart): string =>
    allParts(root).map((p) => `${p.section}:${p.type}/${p.subtype}:${p.parts.length}`).join(" ");
  let compared = 0;
  for (const raw of fixtures) {
    const text = Array.from(raw, (b) => String.fromCharCode(b)).join("");
    if (!text.includes("\r\n") || /\r(?!\n)|(?<!\r)\n/.test(text)) continue;
    const want = shape(parseMime(raw, loose));
    for (const eol of ["\n", "\r"]) {
      const converted = Uint8Array.from(text.replaceAll("\r\n", eol), (c) => c.charCodeAt(0));
      const root = parseMime(converted, loose);
      assert.equal(shape(root), want);
      assert.deepEqual(checkMimeTree(converted, root), []);
    }
    compared++;
  }
  assert.ok(compared >= 30, `only ${compared} CRLF fixtures`);
});
