/**
 * DATA and BDAT readers: the terminator is CRLF.CRLF only (SMTP smuggling), wherever the chunks
 * are cut; bare line ends are flagged (and normalised on request); dot-unstuffing; size limit.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  type BareLineEnds,
  BdatReader,
  DataReader,
  type DataResult,
} from "../../src/smtp/wire/data.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);

interface Outcome {
  /** Bytes of the stream used by the data, or null when it never ended. */
  consumed: number | null;
  message: string;
  size: number;
  tooLarge: boolean;
  bareLineEnd: boolean;
}

/** Feeds `input` cut at `cuts` (sorted offsets) and reports where the data ended. */
function feed(
  input: Uint8Array,
  cuts: number[],
  mode: BareLineEnds = "reject",
  maxSize = 1 << 20,
): Outcome {
  const reader = new DataReader({ maxSize, bareLineEnds: mode });
  const bounds = [0, ...cuts, input.length];
  let consumed: number | null = null;
  for (let k = 0; k + 1 < bounds.length; k++) {
    const chunk = input.subarray(bounds[k], bounds[k + 1]);
    const pushed = reader.push(chunk);
    if (pushed.done) {
      assert(pushed.consumed >= 0 && pushed.consumed <= chunk.length);
      consumed = bounds[k] + pushed.consumed;
      break;
    }
  }
  const result: DataResult = reader.result();
  return {
    consumed,
    message: decoder.decode(result.message),
    size: result.size,
    tooLarge: result.tooLarge,
    bareLineEnd: result.bareLineEnd,
  };
}

/** Every way to cut `input` into chunks (all 2^(n-1) subsets of cut points). */
function* allSplits(length: number): Generator<number[]> {
  const points = length - 1;
  for (let mask = 0; mask < 1 << points; mask++) {
    const cuts: number[] = [];
    for (let p = 0; p < points; p++) if (mask & (1 << p)) cuts.push(p + 1);
    yield cuts;
  }
}

function assertEverySplit(
  text: string,
  expected: Outcome,
  mode: BareLineEnds = "reject",
  maxSize = 1 << 20,
) {
  const input = bytes(text);
  let count = 0;
  for (const cuts of allSplits(input.length)) {
    assertEquals(feed(input, cuts, mode, maxSize), expected, `${JSON.stringify(text)} cut ${cuts}`);
    count++;
  }
  assertEquals(count, 2 ** (input.length - 1));
}

const END = "\r\n.\r\n";

Deno.test("DATA ends at CRLF.CRLF; pipelined bytes after it are not consumed", () => {
  const text = "a\r\n.\r\nQUIT\r\n";
  assertEverySplit(text, {
    consumed: 6,
    message: "a\r\n",
    size: 3,
    tooLarge: false,
    bareLineEnd: false,
  });
});

Deno.test("DATA: an immediate terminator is an empty message", () => {
  assertEverySplit(".\r\nX", {
    consumed: 3,
    message: "",
    size: 0,
    tooLarge: false,
    bareLineEnd: false,
  });
});

// Each smuggling variant is content; the data ends only at the real CRLF.CRLF that follows.
const SMUGGLING: [name: string, fake: string, stored: string, normalized: string][] = [
  ["LF.LF", "\n.\n", "\n.\n", "\r\n.\r\n"],
  ["LF.CRLF", "\n.\r\n", "\n.\r\n", "\r\n.\r\n"],
  ["CRLF.LF", "\r\n.\n", "\r\n\n", "\r\n\r\n"],
  ["CR.CR", "\r.\r", "\r.\r", "\r\n.\r\n"],
  ["CRLF.CR", "\r\n.\r", "\r\n\r", "\r\n\r\n"],
  ["CR.CRLF", "\r.\r\n", "\r.\r\n", "\r\n.\r\n"],
  ["CR.LF", "\r.\n", "\r.\n", "\r\n.\r\n"],
];

for (const [name, fake, stored, normalized] of SMUGGLING) {
  Deno.test(`DATA smuggling ${name} is not a terminator, under every chunk split`, () => {
    // "a" + fake + "b" + CRLF.CRLF + pipelined "Q"
    const text = `a${fake}b${END}Q`;
    const consumed = bytes(text).length - 1;
    assertEverySplit(text, {
      consumed,
      message: `a${stored}b\r\n`,
      size: bytes(`a${stored}b\r\n`).length,
      tooLarge: false,
      bareLineEnd: true,
    }, "reject");
    assertEverySplit(text, {
      consumed,
      message: `a${normalized}b\r\n`,
      size: bytes(`a${normalized}b\r\n`).length,
      tooLarge: false,
      bareLineEnd: true,
    }, "normalize");
  });
}

Deno.test("DATA smuggling: a fake terminator followed by commands never ends the data", () => {
  for (const [, fake] of SMUGGLING) {
    const text = `x${fake}MAIL FROM:<e@evil>\r\nRCPT TO:<v@victim>\r\nDATA\r\n`;
    for (const cuts of allSplits(Math.min(bytes(text).length, 14))) {
      const outcome = feed(bytes(text), cuts);
      assertEquals(outcome.consumed, null, JSON.stringify(fake));
      assert(outcome.bareLineEnd);
    }
  }
});

Deno.test("DATA: CR CR LF is a bare CR then CRLF", () => {
  assertEverySplit(`a\r\r\nb${END}`, {
    consumed: 10,
    message: "a\r\r\nb\r\n",
    size: 7,
    tooLarge: false,
    bareLineEnd: true,
  });
  assertEverySplit(`a\r\r\nb${END}`, {
    consumed: 10,
    message: "a\r\n\r\nb\r\n",
    size: 8,
    tooLarge: false,
    bareLineEnd: true,
  }, "normalize");
});

Deno.test("DATA: a bare CR at a line start followed by the terminator still ends", () => {
  // "\r" then "\r\n.\r\n": the first CR is bare, then a real CRLF.CRLF.
  assertEverySplit(`\r${END}`, {
    consumed: 6,
    message: "\r\r\n",
    size: 3,
    tooLarge: false,
    bareLineEnd: true,
  });
});

Deno.test("DATA dot-unstuffing: only at the start of a CRLF line", () => {
  assertEverySplit(`..a\r\n.b\r\n...\r\n${END.slice(2)}`, {
    consumed: 17,
    message: ".a\r\nb\r\n..\r\n",
    size: 11,
    tooLarge: false,
    bareLineEnd: false,
  });
  // A dot inside a line stays.
  assertEquals(feed(bytes(`c.\r\nd..${END}`), []).message, "c.\r\nd..\r\n");
  // A dot after a bare LF is content, not a line start.
  const outcome = feed(bytes(`a\n..b${END}`), []);
  assertEquals(outcome.message, "a\n..b\r\n");
  assertEquals(outcome.bareLineEnd, true);
  // "." followed by a bare CR: the dot starts a line with more on it, so it is removed.
  assertEquals(feed(bytes(`a\r\n.\rb${END}`), []).message, "a\r\n\rb\r\n");
});

Deno.test("DATA: a message with no bare line end is stored byte for byte", () => {
  const body = "From: a@b\r\nSubject: t\r\n\r\nline 1\r\n\tx\r\n\r\n";
  const outcome = feed(bytes(`${body}.\r\n`), []);
  assertEquals(outcome, {
    consumed: bytes(body).length + 3,
    message: body,
    size: bytes(body).length,
    tooLarge: false,
    bareLineEnd: false,
  });
});

Deno.test("DATA over maxSize keeps reading to the terminator but stores nothing", () => {
  assertEverySplit(
    `abcd\r\n..ef\r\n${END.slice(2)}Q`,
    {
      consumed: 15,
      message: "",
      size: 11,
      tooLarge: true,
      bareLineEnd: false,
    },
    "reject",
    10,
  );
  // Exactly at the limit is fine (the unstuffed size counts).
  assertEquals(feed(bytes(`abcd\r\n..ef\r\n.\r\n`), [], "reject", 11), {
    consumed: 15,
    message: "abcd\r\n.ef\r\n",
    size: 11,
    tooLarge: false,
    bareLineEnd: false,
  });
  // Normalised bare line ends count with their CR.
  assertEquals(feed(bytes(`ab\n${END}`), [], "normalize", 5).tooLarge, true);
  assertEquals(feed(bytes(`ab\n${END}`), [], "normalize", 6).message, "ab\r\n\r\n");
});

Deno.test("DATA: after the end, push takes nothing", () => {
  const reader = new DataReader({ maxSize: 100, bareLineEnds: "reject" });
  assertEquals(reader.push(bytes("x\r\n.\r\nMAIL")), { done: true, consumed: 6 });
  assert(reader.done);
  assertEquals(reader.push(bytes("more\r\n.\r\n")), { done: true, consumed: 0 });
  assertEquals(decoder.decode(reader.result().message), "x\r\n");
  assertEquals(decoder.decode(reader.result().message), "x\r\n");
});

Deno.test("DATA: binary bytes and empty chunks pass through", () => {
  const reader = new DataReader({ maxSize: 100, bareLineEnds: "reject" });
  assertEquals(reader.push(new Uint8Array([0, 255, 0x80])), { done: false });
  assertEquals(reader.push(new Uint8Array(0)), { done: false });
  assertEquals(reader.push(bytes(END)), { done: true, consumed: 5 });
  assertEquals(Array.from(reader.result().message), [0, 255, 0x80, 13, 10]);
});

Deno.test("DATA: the reader copies input, so the caller may reuse its buffer", () => {
  const reader = new DataReader({ maxSize: 100, bareLineEnds: "reject" });
  const buffer = bytes("abc");
  reader.push(buffer);
  buffer.fill(0x7a);
  reader.push(bytes(END));
  assertEquals(decoder.decode(reader.result().message), "abc\r\n");
});

Deno.test("BDAT: exact byte counts, no unstuffing, LAST completes", () => {
  const reader = new BdatReader({ maxSize: 100 });
  reader.begin(7, false);
  assertEquals(reader.remaining, 7);
  assertEquals(reader.push(bytes("a\r\n.\r")), { done: false });
  assertEquals(reader.remaining, 2);
  assertEquals(reader.push(bytes("\n.BDAT 3 LAST\r\n")), { done: true, consumed: 2 });
  assertEquals(reader.complete, false);
  assertEquals(reader.push(bytes("zzz")), { done: true, consumed: 0 });
  reader.begin(3, true);
  assertEquals(reader.push(bytes("..\rQUIT")), { done: true, consumed: 3 });
  assert(reader.complete);
  const result = reader.result();
  assertEquals(decoder.decode(result.message), "a\r\n.\r\n...\r");
  assertEquals(result.size, 10);
  assertEquals(result.tooLarge, false);
  // The trailing CR of the LAST chunk has no LF: bare.
  assertEquals(result.bareLineEnd, true);
  assertThrows(() => reader.begin(1, true));
});

Deno.test("BDAT: CRLF split across chunks is not bare; LF alone is", () => {
  const clean = new BdatReader({ maxSize: 100 });
  clean.begin(2, false);
  clean.push(bytes("a\r"));
  clean.begin(2, true);
  clean.push(bytes("\nb"));
  assertEquals(clean.result().bareLineEnd, false);
  const bare = new BdatReader({ maxSize: 100 });
  bare.begin(3, true);
  bare.push(bytes("a\nb"));
  assertEquals(bare.result().bareLineEnd, true);
});

Deno.test("BDAT 0 LAST ends at once; size limit counts every chunk", () => {
  const empty = new BdatReader({ maxSize: 10 });
  empty.begin(0, true);
  assert(empty.complete);
  assertEquals(empty.result().size, 0);

  const big = new BdatReader({ maxSize: 5 });
  big.begin(4, false);
  big.push(bytes("abcd"));
  assertEquals(big.size, 4);
  big.begin(4, true);
  assertEquals(big.push(bytes("ef")), { done: false });
  assertEquals(big.push(bytes("gh")), { done: true, consumed: 2 });
  assertEquals(big.result(), {
    message: new Uint8Array(0),
    size: 8,
    tooLarge: true,
    bareLineEnd: false,
  });
  assertThrows(() => new BdatReader({ maxSize: 5 }).begin(-1, false), RangeError);
  const open = new BdatReader({ maxSize: 5 });
  open.begin(2, false);
  assertThrows(() => open.begin(2, false));
});
