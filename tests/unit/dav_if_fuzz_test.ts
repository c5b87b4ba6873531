/**
 * Fuzz of the If header (RFC 4918 10.4): random and mutated headers from a seeded PRNG.
 * parseIfHeader must return (never throw, never loop) and whatever it accepts must be
 * well-formed and read back the same once printed; evaluateIf must never throw and must be the
 * disjunction of its lists.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { evaluateIf, type IfList, parseIfHeader, submittedTokens } from "../../src/dav/locks.ts";

const TOKENS = [
  "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2",
  "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092",
  "opaquelocktoken:abc",
  "DAV:no-lock",
  "",
  "a b(c)",
];
const ETAGS = ['"abc"', 'W/"abc"', '"I am an ETag"', '"a]b"', '""', "abc", '"(not)"'];
const TAGS = [
  "/resource1",
  "http://www.example.com/specs/",
  "https://h/x/../y/%7E",
  "/specs/rfc2518.doc",
  "//other/path",
  "http://[::1]/z",
  "",
];
const PIECES = [
  "(",
  ")",
  "<",
  ">",
  "[",
  "]",
  "Not",
  "not ",
  "W/",
  '"',
  " ",
  "\t",
  "\r\n",
  "<DAV:no-lock>",
  "http://h/",
  "\u00e9",
  "\ud800",
  "\0",
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function condition(random: () => number): string {
  const not = random() < 0.3 ? pick(random, ["Not ", "not", "NOT\t"]) : "";
  return random() < 0.5 ? `${not}<${pick(random, TOKENS)}>` : `${not}[${pick(random, ETAGS)}]`;
}

function list(random: () => number): string {
  const count = 1 + Math.floor(random() * 3);
  const conditions = Array.from({ length: count }, () => condition(random));
  return `(${conditions.join(pick(random, [" ", "", "  ", "\t"]))})`;
}

/** A header from the grammar: no-tag lists or tagged lists. */
function wellFormed(random: () => number): string {
  const parts: string[] = [];
  if (random() < 0.5) {
    const count = 1 + Math.floor(random() * 3);
    for (let i = 0; i < count; i++) parts.push(list(random));
  } else {
    const tags = 1 + Math.floor(random() * 3);
    for (let t = 0; t < tags; t++) {
      parts.push(`<${pick(random, TAGS)}>`);
      const count = 1 + Math.floor(random() * 2);
      for (let i = 0; i < count; i++) parts.push(list(random));
    }
  }
  return parts.join(pick(random, [" ", "", "\r\n "]));
}

function mutate(random: () => number, header: string): string {
  let text = header;
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (text.length + 1));
    const kind = random();
    if (kind < 0.3) {
      text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 4));
    } else if (kind < 0.6) {
      text = text.slice(0, at) + pick(random, PIECES) + text.slice(at);
    } else if (kind < 0.8) {
      text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) + text.slice(at);
    } else {
      const end = Math.min(text.length, at + Math.floor(random() * 10));
      text = text.slice(0, end) + text.slice(at, end) + text.slice(end);
    }
  }
  return text;
}

function noise(random: () => number): string {
  const count = Math.floor(random() * 12);
  return Array.from({ length: count }, () => pick(random, PIECES)).join("");
}

/**
 * Prints parsed lists back as a header: tags as absolute URLs, so a "//x" path stays a path and
 * the opaque path of a tag like <DAV:no-lock> stays opaque.
 */
function print(lists: IfList[]): string {
  let text = "";
  let tag: string | null = null;
  for (const parsed of lists) {
    if (parsed.resource !== null && parsed.resource !== tag) {
      const url = parsed.resource.startsWith("/")
        ? `http://host${parsed.resource}`
        : `x:${parsed.resource}`;
      text += `<${url}> `;
      tag = parsed.resource;
    }
    const conditions = parsed.conditions.map((c) =>
      `${c.not ? "Not " : ""}${c.kind === "token" ? `<${c.value}>` : `[${c.value}]`}`
    );
    text += `(${conditions.join(" ")}) `;
  }
  return text;
}

function checkParsed(header: string, lists: IfList[]) {
  const label = JSON.stringify(header);
  assert(lists.length > 0, label);
  const tagged = lists[0].resource !== null;
  for (const parsed of lists) {
    assert(parsed.conditions.length > 0, label);
    assertEquals(parsed.resource !== null, tagged, `no-tag and tagged lists mixed: ${label}`);
    for (const c of parsed.conditions) {
      assert(c.kind === "token" || c.kind === "etag", label);
      assertEquals(typeof c.not, "boolean", label);
      if (c.kind === "token") assert(!c.value.includes(">"), label);
    }
  }
  assertEquals(parseIfHeader(print(lists)), lists, `round trip of ${label}`);
}

const NO_LOCK_TRUE: IfList = {
  resource: null,
  conditions: [{ not: true, kind: "token", value: "DAV:no-lock" }],
};

function checkEvaluation(random: () => number, lists: IfList[]) {
  const etags = [...ETAGS, null];
  const states = new Map<string, { etag: string | null; tokens: Set<string> }>();
  const state = (path: string) => {
    let found = states.get(path);
    if (!found) {
      const tokens = new Set(TOKENS.filter((t) => t !== "DAV:no-lock" && random() < 0.4));
      found = { etag: pick(random, etags), tokens };
      states.set(path, found);
    }
    return found;
  };
  const requestPath = pick(random, ["/r", "/resource1", "/specs/", "/y/%7E"]);
  const holds = evaluateIf(lists, requestPath, state);
  assertEquals(typeof holds, "boolean");
  // The header is the disjunction of its lists (RFC 4918 10.4.3).
  assertEquals(holds, lists.some((one) => evaluateIf([one], requestPath, state)));
  // A list with Not on a state token nobody holds is always true.
  assertEquals(evaluateIf([...lists, NO_LOCK_TRUE], requestPath, state), true);
  // Negating the only condition of a one-condition list negates the list.
  for (const one of lists.filter((l) => l.conditions.length === 1)) {
    const [c] = one.conditions;
    const negated = { ...one, conditions: [{ ...c, not: !c.not }] };
    assertEquals(
      evaluateIf([negated], requestPath, state),
      !evaluateIf([one], requestPath, state),
    );
  }
  for (const value of submittedTokens(lists)) assert(typeof value === "string");
}

Deno.test("If fuzz: grammar headers parse, print back and evaluate consistently", () => {
  const random = mulberry32(0x4918);
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const header = wellFormed(random);
    const lists = parseIfHeader(header);
    if (lists === null) continue;
    accepted++;
    checkParsed(header, lists);
    checkEvaluation(random, lists);
  }
  // Only the unparseable tag "http://[::1]/z" ever makes a grammar header fail.
  assert(accepted > 3000, `accepted ${accepted}`);
});

Deno.test("If fuzz: mutated and random headers never throw", () => {
  const random = mulberry32(104);
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 20000; i++) {
    const header = i % 4 === 0 ? noise(random) : mutate(random, wellFormed(random));
    const lists = parseIfHeader(header);
    if (lists === null) {
      refused++;
      continue;
    }
    accepted++;
    checkParsed(header, lists);
    checkEvaluation(random, lists);
  }
  assert(accepted > 1000 && refused > 1000, `accepted ${accepted}, refused ${refused}`);
});

Deno.test("If fuzz: long headers parse in one pass", () => {
  const random = mulberry32(7);
  const many = Array.from({ length: 5000 }, () => list(random)).join(" ");
  assertEquals(parseIfHeader(many)?.length, 5000);
  const openParens = "(".repeat(100_000);
  assertEquals(parseIfHeader(openParens), null);
  const unclosed = `(<${"x".repeat(100_000)}`;
  assertEquals(parseIfHeader(unclosed), null);
  const brackets = `([${'"'.repeat(50_001)}])`;
  assertEquals(parseIfHeader(brackets), null);
});
