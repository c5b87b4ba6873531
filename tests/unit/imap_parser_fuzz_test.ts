/**
 * Fuzz tests for the IMAP wire layer: mutated valid commands and random bytes, fed in random
 * chunkings through a line/literal reader into `CommandAssembler` and `parseCommand`, only ever
 * yield commands or `ParseError`s / assembler errors, the same ones however the stream is
 * chunked; pathological lines (a megabyte of "(") fail fast.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  type AssemblerStep,
  CommandAssembler,
  parseCommand,
  parseCommandLine,
  ParseError,
} from "../../src/imap/wire/parser.ts";

const SEEDS = [1, 2, 3, 4];
const enc = new TextEncoder();

const VALID = [
  "a1 CAPABILITY",
  'a2 LOGIN "fr\\"ed" {6+}\r\nsecret',
  "a3 SELECT INBOX (QRESYNC (67890007 90060115 41,43:211,214:541 (1,3:5 2,4:9)))",
  'a4 UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "a" SINCE 1-Jan-2020) NOT SEEN 1:*',
  "a5 STORE 1:* +FLAGS.SILENT (\\Deleted $Junk)",
  "a6 FETCH 1:5 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID FLAGS BINARY[1.2]<0.5>)",
  'a7 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("%" {7}\r\nOther/*) RETURN (CHILDREN STATUS (MESSAGES))',
  'a8 APPEND x (\\Seen) "17-Jul-1996 02:44:25 -0700" {5+}\r\nHello ~{3}\r\n\x00\x01\x02',
  "a9 UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)",
  "b1 SORT (REVERSE DATE SUBJECT) UTF-8 HEADER X-Foo {3}\r\nbar LARGER 100",
  'b2 ID ("name" "client" "version" NIL)',
  "b3 CREATE Sent (USE (\\Sent))",
  'b4 SEARCH MODSEQ "/flags/\\\\draft" all 620162338 UID $ OLDER 60 KEYWORD $Junk',
  "b5 THREAD REFERENCES UTF-8 (SUBJECT x BEFORE 1-Feb-1994) SENTON 2-Mar-2000",
  "b6 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)",
  "b7 AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0",
  "b8 UID MOVE $ Archive",
  "b9 REPLACE 3 Drafts {1+}\r\nx",
];

const PIECES = [
  " ",
  "(",
  ")",
  "{",
  "}",
  "{3}\r\n",
  "{2+}\r\n",
  "~{1}\r\n",
  "{99999999999}\r\n",
  '"',
  "\\",
  "*",
  "%",
  "]",
  "[",
  "<",
  ">",
  ".",
  ":",
  ",",
  "$",
  "\r\n",
  "\n",
  "\x00",
  "\xff",
  "NIL",
  "OR ",
  "NOT ",
  "UID ",
  "0",
  "4294967296",
  "BODY[",
];

function mutate(rand: () => number, s: string): string {
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const r = rand();
    if (r < 0.35) s = s.slice(0, at) + PIECES[Math.floor(rand() * PIECES.length)] + s.slice(at);
    else if (r < 0.6) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 5));
    else if (r < 0.75) s = s.slice(0, at);
    else if (r < 0.9) {
      const from = Math.floor(rand() * s.length);
      s = s.slice(0, at) + s.slice(from, from + 1 + Math.floor(rand() * 10)) + s.slice(at);
    } else {
      s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 256)) + s.slice(at + 1);
    }
  }
  return s;
}

/** Latin-1 bytes of a test string, so "\xff" is one octet. */
function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
}

/**
 * A session's reader over chunks: lines end at LF (CR before it dropped), literals are exactly
 * the octets asked for, skipped octets are counted and not kept. Returns a transcript.
 */
function drive(stream: Uint8Array, chunks: number[], maxBuffered: number): string[] {
  const assembler = new CommandAssembler({
    maxLiteralSize: 64,
    maxCommandSize: 512,
    maxLiterals: 3,
    literalMinus: true,
  });
  const transcript: string[] = [];
  let buffer = new Uint8Array(0);
  type Want = { kind: "line" } | { kind: "literal" | "skip"; left: number };
  let want = { kind: "line" } as Want;
  const handle = (step: AssemblerStep) => {
    if (step.kind === "command") {
      const parsed = parseCommand(step.command);
      if (parsed instanceof ParseError) {
        assert(parsed.position >= 0, `internal failure: ${parsed.message}`);
        transcript.push(`BAD ${parsed.tag} ${parsed.position} ${parsed.message}`);
      } else {
        assert(typeof parsed.tag === "string" && parsed.tag.length > 0);
        assert(typeof parsed.command === "string" && typeof parsed.args === "object");
        transcript.push(`OK ${parsed.tag} ${parsed.command}`);
      }
      want = { kind: "line" };
    } else if (step.kind === "error") {
      const e = step.error;
      transcript.push(`ERR ${e.tag} ${e.status} ${e.code} ${e.text} ${e.fatal}`);
      want = { kind: "line" };
    } else if (step.kind === "literal") {
      if (step.continuation) transcript.push("+");
      want = { kind: "literal", left: step.size };
    } else want = { kind: "skip", left: step.size };
  };
  let literal: Uint8Array[] = [];
  let offset = 0;
  for (const size of chunks) {
    const chunk = stream.subarray(offset, offset + size);
    offset += size;
    const joined = new Uint8Array(buffer.length + chunk.length);
    joined.set(buffer);
    joined.set(chunk, buffer.length);
    buffer = joined;
    for (;;) {
      if (want.kind === "line") {
        const lf = buffer.indexOf(0x0a);
        if (lf < 0) break;
        const end = lf > 0 && buffer[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(lf + 1);
        handle(assembler.pushLine(line));
      } else {
        if (buffer.length === 0) break;
        const take = Math.min(want.left, buffer.length);
        if (want.kind === "literal") literal.push(buffer.slice(0, take));
        buffer = buffer.slice(take);
        want.left -= take;
        if (want.left > 0) break;
        if (want.kind === "literal") {
          const data = new Uint8Array(literal.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of literal) {
            data.set(p, o);
            o += p.length;
          }
          literal = [];
          assembler.pushLiteral(data);
        } else assembler.literalSkipped();
        want = { kind: "line" };
      }
      assert(buffer.length <= maxBuffered + 4096, "reader buffer stays bounded");
    }
  }
  return transcript;
}

function chunking(rand: () => number, length: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0;) {
    const size = Math.min(left, 1 + Math.floor(rand() * (rand() < 0.5 ? 4 : 200)));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

Deno.test("fuzz: mutated valid commands give commands or errors, the same in any chunking", () => {
  for (const seed of SEEDS) {
    const rand = mulberry32(seed);
    for (let i = 0; i < 1500; i++) {
      let text = "";
      const count = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < count; k++) {
        const base = VALID[Math.floor(rand() * VALID.length)];
        text += (rand() < 0.8 ? mutate(rand, base) : base) + "\r\n";
      }
      const stream = bytes(text);
      const whole = drive(stream, [stream.length], stream.length);
      const pieces = drive(stream, chunking(rand, stream.length), stream.length);
      assertEquals(pieces, whole, `seed ${seed} case ${i}: ${JSON.stringify(text)}`);
    }
  }
});

Deno.test("fuzz: valid commands parse unchanged", () => {
  for (const text of VALID) {
    const transcript = drive(bytes(text + "\r\n"), [text.length + 2], 1 << 20);
    assert(
      transcript.at(-1)?.startsWith("OK "),
      `${JSON.stringify(text)} → ${transcript.join(" | ")}`,
    );
  }
});

const SPECIAL = ' (){}[]<>"\\*%$:,.+~0123456789\r\nA\x00';

Deno.test("fuzz: random bytes never throw", () => {
  for (const seed of SEEDS) {
    const rand = mulberry32(seed * 7919);
    for (let i = 0; i < 500; i++) {
      const length = Math.floor(rand() * 300);
      const stream = new Uint8Array(length);
      for (let k = 0; k < length; k++) {
        // Bias towards the octets the grammar cares about.
        stream[k] = rand() < 0.5
          ? SPECIAL.charCodeAt(Math.floor(rand() * SPECIAL.length))
          : Math.floor(rand() * 256);
      }
      drive(stream, chunking(rand, length), length);
      const lines = [];
      for (let start = 0; start <= length;) {
        const end = stream.indexOf(0x0a, start);
        lines.push(stream.subarray(start, end < 0 ? length : end));
        if (end < 0) break;
        start = end + 1;
      }
      // The parser alone, with lines and literals that need not match.
      const literals = lines.slice(1).map((line) => ({ data: line, binary: rand() < 0.5 }));
      const result = parseCommand({ lines, literals });
      assert(result instanceof ParseError || typeof result.command === "string");
    }
  }
});

Deno.test("fuzz: a megabyte of nesting or repetition fails fast", () => {
  const mega = 1 << 20;
  const cases = [
    "a SEARCH " + "(".repeat(mega),
    "a SEARCH " + "NOT ".repeat(mega / 4),
    "a SEARCH " + "OR ".repeat(mega / 3),
    "a FETCH 1 " + "(".repeat(mega),
    "a LIST " + "(".repeat(mega),
    "a STORE 1 FLAGS (" + "x ".repeat(mega / 2) + ")",
    "a COPY " + "1,".repeat(mega / 2) + "1 x",
    "a FETCH 1 BODY[" + "1.".repeat(mega / 2) + "]",
    "a LOGIN " + '"'.repeat(mega),
    "a " + "A".repeat(mega),
    "(".repeat(mega),
  ];
  for (const line of cases) {
    const started = performance.now();
    const result = parseCommandLine(line);
    const elapsed = performance.now() - started;
    assert(result instanceof ParseError, `${line.slice(0, 30)}… should fail`);
    assert(elapsed < 2000, `${line.slice(0, 30)}… took ${elapsed.toFixed(0)} ms`);
  }
  // A long but valid sequence set within the limit parses.
  const set = Array.from({ length: 50_000 }, (_, i) => String(i * 2 + 1)).join(",");
  assert(!(parseCommandLine(`a UID FETCH ${set} FLAGS`) instanceof ParseError));
});

Deno.test("fuzz: literal announcements of any size keep the reader bounded", () => {
  const rand = mulberry32(99);
  for (let i = 0; i < 300; i++) {
    const size = Math.floor(rand() * 100_000);
    const plus = rand() < 0.5 ? "+" : "";
    const body = "x".repeat(rand() < 0.5 ? size : Math.floor(rand() * size));
    const stream = enc.encode(`t APPEND box {${size}${plus}}\r\n${body}\r\nu NOOP\r\n`);
    // Chunks of at most 4 KiB: the reader never holds more than one chunk beyond a literal
    // the assembler accepted (64 octets here).
    const chunks = [];
    for (let left = stream.length; left > 0; left -= 4096) chunks.push(Math.min(left, 4096));
    drive(stream, chunks, 4096);
  }
});
