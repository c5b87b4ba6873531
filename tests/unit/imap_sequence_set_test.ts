/**
 * Sequence sets (RFC 9051 9): parsing and its errors, resolving "*" for message numbers and
 * UIDs, membership, huge ranges without materialising, compact formatting, and a seeded fuzz
 * against a naive reference.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  contains,
  count,
  formatSequenceSet,
  iterate,
  MAX_NZ_NUMBER,
  outOfRange,
  parseSequenceSet,
  resolve,
  SequenceSetError,
  usesStar,
} from "../../src/imap/sequence_set.ts";

const resolved = (text: string, max: number) =>
  formatSequenceSet(resolve(parseSequenceSet(text), max));

Deno.test("sequence set: parsing the grammar", () => {
  assertEquals(parseSequenceSet("1"), [{ from: 1, to: 1 }]);
  assertEquals(parseSequenceSet("2,4:7,9,12:*"), [
    { from: 2, to: 2 },
    { from: 4, to: 7 },
    { from: 9, to: 9 },
    { from: 12, to: "*" },
  ]);
  assertEquals(parseSequenceSet("*:4"), [{ from: "*", to: 4 }]);
  assertEquals(parseSequenceSet("*"), [{ from: "*", to: "*" }]);
  assertEquals(parseSequenceSet("4294967295"), [{ from: MAX_NZ_NUMBER, to: MAX_NZ_NUMBER }]);
});

Deno.test("sequence set: malformed sets are SequenceSetErrors with a reason", () => {
  const cases: [string, string][] = [
    ["", "empty sequence set"],
    ["0", "0 is not"],
    ["1:0", "0 is not"],
    ["1,,2", "empty item"],
    [",1", "empty item"],
    ["1,", "empty item"],
    ["1:", "bad range"],
    [":1", "bad range"],
    ["1:2:3", "bad range"],
    ["01", "leading zero"],
    ["4294967296", "larger than"],
    ["99999999999999999999", "larger than"],
    ["-1", "not a number"],
    ["1 ", "not a number"],
    ["a", "not a number"],
    ["**", "not a number"],
    ["$", "not a number"],
    ["1.5", "not a number"],
  ];
  for (const [text, reason] of cases) {
    const error = assertThrows(() => parseSequenceSet(text), SequenceSetError);
    assert(error.message.includes(reason), `${JSON.stringify(text)}: ${error.message}`);
  }
  const long = Array.from({ length: 20000 }, (_, i) => i + 1).join(",");
  assertThrows(() => parseSequenceSet(long), SequenceSetError);
  assertEquals(parseSequenceSet(long, { maxLength: 200_000 }).length, 20000);
  assertThrows(() => parseSequenceSet("1:100", { maxLength: 4 }), SequenceSetError);
});

Deno.test("sequence set: the RFC 9051 examples resolve as written", () => {
  // RFC 9051 9: 2,4:7,9,12:* with 15 messages is 2,4,5,6,7,9,12,13,14,15.
  assertEquals(
    [...iterate(resolve(parseSequenceSet("2,4:7,9,12:*"), 15))],
    [2, 4, 5, 6, 7, 9, 12, 13, 14, 15],
  );
  // *:4,5:7 with 10 messages is 4:10 once reordered and coalesced.
  assertEquals(resolved("*:4,5:7", 10), "4:10");
  assertEquals(resolved("7:3", 10), "3:7");
  assertEquals(resolved("1:3,2:5,7,8,9", 10), "1:5,7:9");
});

Deno.test("sequence set: UID * includes the last message; an empty mailbox matches nothing", () => {
  // RFC 9051 6.4.9: 559:* always includes the UID of the last message, even when above it.
  assertEquals(resolved("559:*", 500), "500");
  assertEquals(resolved("*", 500), "500");
  assertEquals(resolved("600:700", 500), "");
  assertEquals(resolved("1:*", 0), "");
  assertEquals(resolved("*", 0), "");
  assertEquals(resolved("5", 0), "");
  assertEquals(resolved("3:9,*", 5), "3:5");
});

Deno.test("sequence set: message numbers past the end, or * when empty, deserve BAD", () => {
  assertEquals(outOfRange(parseSequenceSet("1:3"), 3), false);
  assertEquals(outOfRange(parseSequenceSet("1:4"), 3), true);
  assertEquals(outOfRange(parseSequenceSet("4:*"), 3), true);
  assertEquals(outOfRange(parseSequenceSet("*"), 0), true);
  assertEquals(outOfRange(parseSequenceSet("*"), 1), false);
  assertEquals(usesStar(parseSequenceSet("1,2:*")), true);
  assertEquals(usesStar(parseSequenceSet("1,2:3")), false);
});

Deno.test("sequence set: 1:4294967295 stays one range", () => {
  const ranges = resolve(parseSequenceSet("1:4294967295,5,*"), MAX_NZ_NUMBER);
  assertEquals(ranges, [{ start: 1, end: MAX_NZ_NUMBER }]);
  assertEquals(count(ranges), MAX_NZ_NUMBER);
  assert(contains(ranges, 4000000000));
  assert(!contains(ranges, 0));
  const first: number[] = [];
  for (const n of iterate(ranges)) {
    if (first.push(n) === 3) break;
  }
  assertEquals(first, [1, 2, 3]);
  assertEquals(formatSequenceSet(ranges), "1:4294967295");
});

Deno.test("sequence set: contains on merged ranges", () => {
  const ranges = resolve(parseSequenceSet("1:3,7:9,20,40:50"), 100);
  for (const n of [1, 2, 3, 7, 8, 9, 20, 40, 45, 50]) assert(contains(ranges, n), `${n}`);
  for (const n of [0, 4, 6, 10, 19, 21, 39, 51, 101]) assert(!contains(ranges, n), `${n}`);
  assert(!contains([], 1));
});

Deno.test("sequence set: compact formatting for UIDPLUS and ESEARCH", () => {
  assertEquals(formatSequenceSet([1, 2, 3, 5, 7, 8, 9]), "1:3,5,7:9");
  assertEquals(formatSequenceSet([9, 3, 1, 2, 5, 8, 7, 3]), "1:3,5,7:9");
  assertEquals(formatSequenceSet([42]), "42");
  assertEquals(formatSequenceSet([]), "");
  assertEquals(formatSequenceSet(new Set([4, 5, 6])), "4:6");
  assertEquals(formatSequenceSet([{ start: 5, end: 9 }, { start: 1, end: 4 }]), "1:9");
  assertEquals(formatSequenceSet([{ start: 5, end: 9 }, { start: 11, end: 11 }]), "5:9,11");
});

/** A naive reference: the set of numbers named, by brute force over 1..max. */
function naive(set: string, max: number): number[] {
  const result = new Set<number>();
  for (const item of set.split(",")) {
    const [a, b = a] = item.split(":").map((x) => (x === "*" ? max : Number(x)));
    for (let n = Math.min(a, b); n <= Math.max(a, b); n++) if (n >= 1 && n <= max) result.add(n);
  }
  return [...result].sort((x, y) => x - y);
}

Deno.test("sequence set fuzz: resolve agrees with a naive reference on small mailboxes", () => {
  for (const seed of [31, 32, 33]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 3000; i++) {
      const max = Math.floor(random() * 30);
      const items = Array.from({ length: 1 + Math.floor(random() * 5) }, () => {
        const number = () => (random() < 0.15 ? "*" : String(1 + Math.floor(random() * 35)));
        return random() < 0.5 ? number() : `${number()}:${number()}`;
      });
      const text = items.join(",");
      const ranges = resolve(parseSequenceSet(text), max);
      const expected = naive(text, max);
      assertEquals([...iterate(ranges)], expected, `${text} with max ${max}`);
      assertEquals(count(ranges), expected.length);
      for (let n = 0; n <= max + 1; n++) assertEquals(contains(ranges, n), expected.includes(n));
      const formatted = formatSequenceSet(expected);
      if (expected.length > 0) {
        assertEquals(formatted, formatSequenceSet(ranges));
        assertEquals([...iterate(resolve(parseSequenceSet(formatted), max))], expected);
      }
      for (let k = 1; k < ranges.length; k++) assert(ranges[k].start > ranges[k - 1].end + 1);
    }
  }
});

Deno.test("sequence set fuzz: random text parses or throws SequenceSetError", () => {
  const pieces = ["1", "2", "9", "0", "*", ":", ",", "4294967295", "4294967296", " ", "$", "a"];
  for (const seed of [34, 35, 36]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 10000; i++) {
      let text = "";
      const length = Math.floor(random() * 10);
      for (let k = 0; k < length; k++) {
        text += random() < 0.9
          ? pieces[Math.floor(random() * pieces.length)]
          : String.fromCharCode(Math.floor(random() * 0x80));
      }
      try {
        const set = parseSequenceSet(text);
        for (const { from, to } of set) {
          for (const n of [from, to]) {
            assert(n === "*" || (Number.isInteger(n) && n >= 1 && n <= MAX_NZ_NUMBER), text);
          }
        }
        resolve(set, Math.floor(random() * 100));
      } catch (error) {
        if (!(error instanceof SequenceSetError)) throw error;
      }
    }
  }
});
