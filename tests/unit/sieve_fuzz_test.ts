/**
 * Fuzz tests for the Sieve front end: random token soup, mutations of valid scripts, very deep
 * nesting and megabyte inputs only ever give a script or SieveErrors (never another exception,
 * never a hang or a stack overflow), and a budget of work: each pathological input is done in
 * well under a second.
 */
import { assert } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { SieveError } from "../../src/sieve/ast.ts";
import { parseSieve } from "../../src/sieve/parser.ts";
import { compileSieve } from "../../src/sieve/compile.ts";

const SEEDS = [1, 2, 3, 4];
const LIMITS = { maxSize: 2 << 20, maxNesting: 64, maxTokens: 200_000 };
/** Per pathological input; generous so a loaded CI machine does not flake, far below a hang. */
const BUDGET_MS = 2000;

const VALID = [
  `require ["fileinto", "reject"];
if header :is "Sender" "owner-ietf-mtg@ietf.org" { fileinto "filter"; }
elsif address :DOMAIN :is ["From", "To"] "example.com" { keep; }
elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) {
  fileinto "spam";
} else { fileinto "personal"; }`,
  `require ["vacation", "variables"]; set :lower "a" "\${b}";
vacation :days 7 :subject "away" :addresses ["a@b", "c@d"] text: # x
Line 1
..Line 2
.
;`,
  `require ["relational", "comparator-i;ascii-numeric", "date", "index"];
if date :index 1 :last :value "ge" :comparator "i;ascii-numeric" "received" "hour" "09" { stop; }
/* bracket */ if size :over 10K { discard; }`,
  `require ["foreverypart", "mime", "ihave"];
foreverypart :name "x" { if header :mime :anychild :param "name" :contains "Content-Type" "a" { break; } }
if ihave "unknown" { whatever 1 2 3; } else { keep; }`,
];

const PIECES = [
  " ",
  "\n",
  "\r\n",
  "\r",
  "\t",
  "if",
  "elsif",
  "else",
  "require",
  "keep",
  "not",
  "anyof",
  "allof",
  "header",
  "text:",
  "text:\n",
  "\n.\n",
  ".",
  "..",
  ":is",
  ":comparator",
  ":",
  '"',
  '"x"',
  "\\",
  '\\"',
  "[",
  "]",
  "(",
  ")",
  "{",
  "}",
  ",",
  ";",
  "#",
  "/*",
  "*/",
  "/",
  "0",
  "1K",
  "99999999999999999999",
  "9G",
  "${",
  "}",
  "\x00",
  "é",
  "😀",
  "\ud800",
];

function mutate(rand: () => number, s: string): string {
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const r = rand();
    if (r < 0.4) {
      s = s.slice(0, at) + PIECES[Math.floor(rand() * PIECES.length)] + s.slice(at);
    } else if (r < 0.7) {
      s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 5));
    } else if (r < 0.85) {
      const from = Math.floor(rand() * s.length);
      s = s.slice(0, at) + s.slice(from, from + Math.floor(rand() * 20)) + s.slice(at);
    } else {
      s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 128)) + s.slice(at + 1);
    }
  }
  return s;
}

/** Parses and compiles; anything thrown other than a SieveError fails the test. */
function survive(source: string): void {
  try {
    parseSieve(source, LIMITS);
  } catch (error) {
    if (!(error instanceof SieveError)) {
      throw new Error(`parseSieve threw ${error} on ${JSON.stringify(source.slice(0, 200))}`);
    }
    assert(error.position.line >= 1 && error.position.column >= 1);
  }
  const result = compileSieve(source, LIMITS);
  if (!result.ok) {
    assert(result.errors.length >= 1 && result.errors.length <= 20);
    for (const error of result.errors) assert(error instanceof SieveError);
  }
}

function timed(label: string, fn: () => void): void {
  const start = performance.now();
  fn();
  const elapsed = performance.now() - start;
  assert(elapsed < BUDGET_MS, `${label} took ${elapsed.toFixed(0)} ms`);
}

Deno.test("fuzz: the valid scripts compile", () => {
  for (const source of VALID) {
    const result = compileSieve(source, LIMITS);
    assert(result.ok, result.ok ? "" : result.errors.map((e) => e.message).join("\n"));
  }
});

Deno.test("fuzz: random token soup only gives SieveErrors", () => {
  for (const seed of SEEDS) {
    const rand = mulberry32(seed);
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(rand() * 40);
      let source = "";
      for (let j = 0; j < length; j++) {
        source += PIECES[Math.floor(rand() * PIECES.length)];
        if (rand() < 0.5) source += " ";
      }
      survive(source);
    }
  }
});

Deno.test("fuzz: mutated valid scripts only give scripts or SieveErrors", () => {
  for (const seed of SEEDS) {
    const rand = mulberry32(seed);
    for (let i = 0; i < 2000; i++) {
      survive(mutate(rand, VALID[Math.floor(rand() * VALID.length)]));
    }
  }
});

Deno.test("fuzz: 100,000-deep nesting fails fast with a SieveError", () => {
  const depth = 100_000;
  const cases = [
    "if true {".repeat(depth) + "}".repeat(depth),
    "if " + "not ".repeat(depth) + "true { }",
    "if " + "anyof(".repeat(depth) + "true" + ")".repeat(depth) + " { }",
    "if " + "anyof(".repeat(depth),
    "{".repeat(depth),
    "[".repeat(depth),
    "x " + "(".repeat(depth),
  ];
  for (const source of cases) {
    timed(source.slice(0, 20), () => {
      try {
        parseSieve(source, LIMITS);
        throw new Error("parsed");
      } catch (error) {
        assert(error instanceof SieveError, `${source.slice(0, 20)}: ${error}`);
      }
      survive(source);
    });
    // With no effective nesting limit the balanced ones are valid: no stack overflow either in
    // the parser or in the validator (not timed: 100,000 levels is far past any configuration).
    const unlimited = { ...LIMITS, maxNesting: 1_000_000, maxTokens: undefined };
    try {
      parseSieve(source, unlimited);
    } catch (error) {
      assert(error instanceof SieveError, `${source.slice(0, 20)}: ${error}`);
    }
    compileSieve(source, unlimited);
  }
});

Deno.test("fuzz: 1 MB inputs fail (or parse) fast, never hang", () => {
  const mb = 1 << 20;
  const rand = mulberry32(7);
  let garbage = "";
  while (garbage.length < mb) garbage += String.fromCharCode(32 + Math.floor(rand() * 95));
  let soup = "";
  while (soup.length < mb) soup += PIECES[Math.floor(rand() * PIECES.length)] + " ";
  const cases = [
    garbage,
    soup,
    "#".repeat(mb),
    "/*" + "*".repeat(mb),
    '"' + "\\".repeat(mb),
    "x text:\n" + "..\n".repeat(mb / 3),
    "x " + "9".repeat(mb) + ";",
    "keep;".repeat(mb / 5),
    "x " + '"a" '.repeat(mb / 4) + ";",
    'x ["' + '", "'.repeat(mb / 4),
    "a".repeat(mb),
    ":".repeat(mb),
    "\n".repeat(mb),
    "\r".repeat(mb),
    "é".repeat(mb),
  ];
  for (const source of cases) {
    timed(JSON.stringify(source.slice(0, 12)), () => survive(source));
  }
  // The size limit refuses before any lexing.
  timed("oversize", () => {
    const result = compileSieve("keep;".repeat(mb), { maxSize: mb, maxNesting: 32 });
    assert(!result.ok && /larger than/.test(result.errors[0].message));
  });
});
