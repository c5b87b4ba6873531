/**
 * Mailbox names (RFC 9051 5.1, RFC 6855 3): wire to canonical path and back for rev1 and UTF-8
 * sessions, the refused names, LIST pattern matching (RFC 9051 6.3.9), and seeded fuzz tests.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  fromWire,
  listPatternMatcher,
  MailboxNameError,
  type MailboxNameProblem,
  patternFromWire,
  toWire,
} from "../../src/imap/mailbox_name.ts";

const problem = (fn: () => unknown): MailboxNameProblem =>
  assertThrows(fn, MailboxNameError).problem;

Deno.test("mailbox name: INBOX is case-insensitive at the top level only", () => {
  assertEquals(fromWire("inbox", false), "INBOX");
  assertEquals(fromWire("InBoX", true), "INBOX");
  assertEquals(fromWire("inbox/Sub", false), "INBOX/Sub");
  assertEquals(fromWire("Inbox/inbox", false), "INBOX/inbox");
  assertEquals(fromWire("a/inbox", false), "a/inbox");
  assertEquals(fromWire("INBOXES", false), "INBOXES");
  assertEquals(fromWire("inboxes", false), "inboxes");
});

Deno.test("mailbox name: rev1 sessions write modified UTF-7, UTF-8 sessions write UTF-8", () => {
  assertEquals(fromWire("INBOX/Entw&APw-rfe", false), "INBOX/Entwürfe");
  assertEquals(fromWire("INBOX/Entwürfe", true), "INBOX/Entwürfe");
  assertEquals(fromWire("Tom &- Jerry", false), "Tom & Jerry");
  // After ENABLE UTF8=ACCEPT "&" is an ordinary character (RFC 6855 3).
  assertEquals(fromWire("Tom & Jerry", true), "Tom & Jerry");
  assertEquals(fromWire("&ZeVnLIqe-", true), "&ZeVnLIqe-");
  assertEquals(toWire("INBOX/Entwürfe", false), "INBOX/Entw&APw-rfe");
  assertEquals(toWire("INBOX/Entwürfe", true), "INBOX/Entwürfe");
  assertEquals(toWire("Tom & Jerry", false), "Tom &- Jerry");
  assertEquals(fromWire(new TextEncoder().encode("Brouillons/été"), true), "Brouillons/été");
  assertEquals(fromWire(new TextEncoder().encode("Entw&APw-rfe"), false), "Entwürfe");
});

Deno.test("mailbox name: canonical form is NFC, whichever form the client sent", () => {
  const decomposed = "Entwu\u0308rfe";
  assertEquals(fromWire(decomposed, true), "Entwürfe");
  assertEquals(fromWire(toWire(decomposed, false), false), "Entwürfe");
});

Deno.test("mailbox name: refused names say why", () => {
  assertEquals(problem(() => fromWire("", false)), "empty");
  assertEquals(problem(() => fromWire("a//b", false)), "empty-level");
  assertEquals(problem(() => fromWire("/a", false)), "separator-edge");
  assertEquals(problem(() => fromWire("a/", false)), "separator-edge");
  assertEquals(problem(() => fromWire("/", true)), "separator-edge");
  assertEquals(problem(() => fromWire("a\tb", false)), "control");
  assertEquals(problem(() => fromWire("a&AAk-b", false)), "control");
  assertEquals(problem(() => fromWire("a\u0085b", true)), "control");
  assertEquals(problem(() => fromWire("a\u2028b", true)), "control");
  assertEquals(problem(() => fromWire("a\u007fb", true)), "control");
  assertEquals(problem(() => fromWire("Entwürfe", false)), "8bit");
  assertEquals(problem(() => fromWire(new Uint8Array([0x61, 0xc3, 0xa9]), false)), "8bit");
  assertEquals(problem(() => fromWire(new Uint8Array([0x61, 0xff]), true)), "utf8");
  assertEquals(problem(() => fromWire("a\ud800", true)), "utf8");
  assertEquals(problem(() => fromWire("&AGE-", false)), "mutf7");
  assertEquals(problem(() => fromWire("a&b", false)), "mutf7");
  const error = assertThrows(() => fromWire("&AGE-", false), MailboxNameError);
  assert(error.message.includes("modified UTF-7"), error.message);
});

Deno.test("mailbox name: limits on octets and levels, configurable", () => {
  assertEquals(fromWire("a".repeat(1024), false).length, 1024);
  assertEquals(problem(() => fromWire("a".repeat(1025), false)), "too-long");
  // 512 × "é" is 1,024 octets in UTF-8; 513 are 1,026.
  assertEquals(fromWire("é".repeat(512), true).length, 512);
  assertEquals(problem(() => fromWire("é".repeat(513), true)), "too-long");
  assertEquals(problem(() => fromWire(toWire("é".repeat(513), false), false)), "too-long");
  assertEquals(problem(() => fromWire("x".repeat(1_000_000), false)), "too-long");
  const levels = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`).join("/");
  assertEquals(fromWire(levels(32), false), levels(32));
  assertEquals(problem(() => fromWire(levels(33), false)), "too-deep");
  const limits = { maxOctets: 10, maxLevels: 2 };
  assertEquals(problem(() => fromWire("a".repeat(11), false, { limits })), "too-long");
  assertEquals(problem(() => fromWire("a/b/c", false, { limits })), "too-deep");
});

Deno.test("mailbox name: creating refuses wildcards and drops one trailing separator", () => {
  assertEquals(fromWire("a*b", false), "a*b");
  assertEquals(fromWire("a%b", false), "a%b");
  assertEquals(problem(() => fromWire("a*b", false, { creating: true })), "wildcard");
  assertEquals(problem(() => fromWire("a%", true, { creating: true })), "wildcard");
  // RFC 9051 6.3.4: "foo/" declares the intent to create names under foo.
  assertEquals(fromWire("foo/", false, { creating: true }), "foo");
  assertEquals(problem(() => fromWire("foo//", false, { creating: true })), "separator-edge");
  assertEquals(problem(() => fromWire("/", false, { creating: true })), "separator-edge");
});

Deno.test("list pattern: * crosses levels, % does not (RFC 9051 6.3.9)", () => {
  const paths = ["INBOX", "INBOX/Sub", "INBOX/Sub/Deep", "Archive", "Archive/2024", "Arch"];
  const list = (reference: string, pattern: string) =>
    paths.filter(listPatternMatcher(reference, pattern));
  assertEquals(list("", "*"), paths);
  assertEquals(list("", "%"), ["INBOX", "Archive", "Arch"]);
  assertEquals(list("", "INBOX/%"), ["INBOX/Sub"]);
  assertEquals(list("", "INBOX/*"), ["INBOX/Sub", "INBOX/Sub/Deep"]);
  assertEquals(list("", "Arch*"), ["Archive", "Archive/2024", "Arch"]);
  assertEquals(list("", "Arch%"), ["Archive", "Arch"]);
  assertEquals(list("Archive/", "%"), ["Archive/2024"]);
  assertEquals(list("Archive/", "/INBOX"), []);
  assertEquals(list("", "Archive"), ["Archive"]);
  assertEquals(list("", "%/%"), ["INBOX/Sub", "Archive/2024"]);
  assertEquals(list("", "*/Deep"), ["INBOX/Sub/Deep"]);
  assertEquals(list("", "%*%"), paths);
  assertEquals(list("", ""), []);
});

Deno.test("list pattern: INBOX matches in any case, other names exactly", () => {
  const paths = ["INBOX", "INBOX/Sub", "Inboxes", "Work/inbox"];
  const list = (pattern: string) => paths.filter(listPatternMatcher("", pattern));
  assertEquals(list("inbox"), ["INBOX"]);
  assertEquals(list("inbox/*"), ["INBOX/Sub"]);
  assertEquals(list("InBox%"), ["INBOX"]);
  assertEquals(list("inbox/sub"), []);
  assertEquals(list("Work/INBOX"), []);
  assertEquals(list("Inbox*"), ["INBOX", "INBOX/Sub", "Inboxes"]);
});

Deno.test("list pattern: decoded from the wire, non-ASCII levels match", () => {
  assertEquals(patternFromWire("Entw&APw-rfe/*", false), "Entwürfe/*");
  assertEquals(patternFromWire("Entwu\u0308*", true), "Entwü*");
  assertEquals(problem(() => patternFromWire("&AGE-", false)), "mutf7");
  assertEquals(problem(() => patternFromWire("é*", false)), "8bit");
  const match = listPatternMatcher("", patternFromWire("%/&ZeVnLIqe-", false));
  assert(match("Reisen/日本語"));
  assert(!match("Reisen/日本"));
});

Deno.test("list pattern: no exponential backtracking", () => {
  const match = listPatternMatcher("", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
  const started = performance.now();
  assert(!match("a".repeat(1000)));
  const percent = listPatternMatcher("", "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b");
  assert(!percent("a".repeat(1000)));
  assert(match("a".repeat(14) + "b"));
  const elapsed = performance.now() - started;
  // A backtracking matcher needs ~C(1000,14) steps here; the automaton needs 30,000.
  assert(elapsed < 2000, `matching took ${elapsed} ms`);
});

/** The obvious recursive matcher: exponential on bad patterns, fine on short random ones. */
function referenceMatch(pattern: string, path: string): boolean {
  if (pattern === "") return path === "";
  const [head, rest] = [pattern[0], pattern.slice(1)];
  if (head === "*") {
    for (let i = 0; i <= path.length; i++) if (referenceMatch(rest, path.slice(i))) return true;
    return false;
  }
  if (head === "%") {
    for (let i = 0; i <= path.length; i++) {
      if (referenceMatch(rest, path.slice(i))) return true;
      if (path[i] === "/") return false;
    }
    return false;
  }
  return path !== "" && path[0] === head && referenceMatch(rest, path.slice(1));
}

const NAME_PIECES = ["a", "b", "/", "*", "%", "&", "-", "&-", "é", "INBOX", "inbox", " ", "\t"];

function randomText(random: () => number, pieces: string[], max: number): string {
  let text = "";
  const length = Math.floor(random() * max);
  for (let i = 0; i < length; i++) {
    text += random() < 0.8
      ? pieces[Math.floor(random() * pieces.length)]
      : String.fromCharCode(Math.floor(random() * 0x100));
  }
  return text;
}

Deno.test("mailbox name fuzz: only MailboxNameError, and accepted names round-trip", () => {
  for (const seed of [11, 12, 13]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 5000; i++) {
      const utf8 = random() < 0.5;
      const wire = randomText(random, NAME_PIECES, 10);
      const creating = random() < 0.3;
      try {
        const path = fromWire(wire, utf8, { creating });
        assertEquals(path, path.normalize("NFC"));
        assertEquals(fromWire(toWire(path, utf8), utf8), path);
        assertEquals(fromWire(toWire(path, !utf8), !utf8), path);
      } catch (error) {
        if (!(error instanceof MailboxNameError)) throw error;
      }
      const bytes = Uint8Array.from(
        { length: Math.floor(random() * 8) },
        () => Math.floor(random() * 256),
      );
      try {
        fromWire(bytes, utf8);
      } catch (error) {
        if (!(error instanceof MailboxNameError)) throw error;
      }
    }
  }
});

Deno.test("list pattern fuzz: the automaton agrees with a recursive reference", () => {
  const pieces = ["a", "b", "/", "*", "%"];
  for (const seed of [21, 22, 23]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 3000; i++) {
      const pattern = randomText(random, pieces, 7).replace(/[^ab/*%]/g, "a");
      const match = listPatternMatcher("", pattern);
      for (let k = 0; k < 5; k++) {
        const path = randomText(random, ["a", "b", "/"], 8).replace(/[^ab/]/g, "b");
        assertEquals(match(path), referenceMatch(pattern, path), `${pattern} ~ ${path}`);
      }
    }
  }
});
