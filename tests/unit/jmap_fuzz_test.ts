/**
 * Property tests of the pure JMAP pieces with a seeded PRNG: random JSON values (deep nesting,
 * huge strings, odd numbers, "__proto__" and "constructor" keys) through the request check,
 * result references, patches, filters, comparators, query windows and state strings. Each may
 * only answer with its protocol error (RequestProblem, MethodError, SetFailure), never another
 * exception, never a mutated input, never a polluted Object.prototype. A failure names its seed
 * and case so it can be replayed.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  checkRequest,
  evaluatePointer,
  type MethodCall,
  RequestProblem,
  resolveReferences,
} from "../../src/jmap/dispatch.ts";
import { applyPatch, parseState, queryWindow } from "../../src/jmap/standard.ts";
import { evaluateFilter, readComparators, visitConditions } from "../../src/jmap/filter.ts";
import { type Args, MethodError, SetFailure } from "../../src/jmap/method.ts";

const SEEDS = [1, 2, 3, 4, 5];
const CAPABILITIES = new Set(["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]);
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

type Rand = () => number;

function pickOne<T>(rand: Rand, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function int(rand: Rand, below: number): number {
  return Math.floor(rand() * below);
}

const KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "polluted",
  "operator",
  "conditions",
  "using",
  "methodCalls",
  "createdIds",
  "resultOf",
  "name",
  "path",
  "property",
  "isAscending",
  "collation",
  "keyword",
  "accountId",
  "ids",
  "#ids",
  "list",
  "a",
  "b",
  "",
  "~",
  "/",
  "a/b",
  "~0~1",
  "*",
  "0",
  "-1",
  "\u0000",
  "\ud800",
  "é",
];

const STRINGS = [
  "",
  "a",
  "AND",
  "OR",
  "NOT",
  "nand",
  "NaN",
  "Infinity",
  "-0",
  "1e309",
  "__proto__",
  "constructor",
  "/",
  "/ids",
  "/list/*/id",
  "/*",
  "~",
  "~2",
  "#",
  "#x",
  "urn:ietf:params:jmap:core",
  "urn:ietf:params:jmap:mail",
  "urn:ietf:params:jmap:unknown",
  "Mailbox/get",
  "receivedAt",
  "subject",
  "i;ascii-casemap",
  "i;unicode-casemap",
  "i;octet",
  "i;bogus",
  "\u0000",
  "\ud83d",
  "😀",
];

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2.5,
  1e309,
  -1e309,
  NaN,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  2 ** 31,
  -(2 ** 31),
  1e21,
  5e-324,
];

/** Sets an own enumerable data property, as JSON.parse does even for "__proto__". */
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** A random JSON-like value; `depth` bounds the nesting. */
function randomValue(rand: Rand, depth: number): unknown {
  const r = rand();
  if (depth <= 0 || r < 0.45) {
    const s = rand();
    if (s < 0.15) return null;
    if (s < 0.25) return rand() < 0.5;
    if (s < 0.45) return pickOne(rand, NUMBERS);
    if (s < 0.5) return int(rand, 100);
    if (s < 0.52) return "x".repeat(100_000 + int(rand, 100_000));
    if (s < 0.55) return undefined;
    return pickOne(rand, STRINGS);
  }
  if (r < 0.7) {
    return Array.from({ length: int(rand, 5) }, () => randomValue(rand, depth - 1));
  }
  const object: Record<string, unknown> = {};
  for (let i = int(rand, 5); i > 0; i--) {
    define(object, pickOne(rand, KEYS), randomValue(rand, depth - 1));
  }
  return object;
}

function randomObject(rand: Rand, depth: number): Args {
  const value = randomValue(rand, depth);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Args;
  const object: Args = {};
  define(object, pickOne(rand, KEYS), value);
  return object;
}

/** `depth` levels of [[[…]]] or {"a":{"a":…}}, built without recursion. */
function deeplyNested(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

/** Runs `check(rand, case)` `cases` times per seed; a failure is rethrown with its seed and case. */
function property(cases: number, check: (rand: Rand, index: number) => void): void {
  for (const seed of SEEDS) {
    const rand = mulberry32(seed);
    for (let i = 0; i < cases; i++) {
      try {
        check(rand, i);
      } catch (error) {
        throw new Error(`seed ${seed} case ${i}: ${(error as Error).message}`, { cause: error });
      }
      assertPrototypeClean(`seed ${seed} case ${i}`);
    }
  }
}

function assertPrototypeClean(where: string): void {
  const names = Object.getOwnPropertyNames(Object.prototype).sort();
  const polluted = (({}) as Record<string, unknown>).polluted;
  if (polluted !== undefined || names.join() !== PROTOTYPE_NAMES.join()) {
    // Clean up first, so one failure does not cascade into every later test.
    for (const name of names) {
      if (!PROTOTYPE_NAMES.includes(name)) {
        delete (Object.prototype as Record<string, unknown>)[name];
      }
    }
    throw new Error(`${where}: Object.prototype was polluted (${names.join(", ")})`);
  }
}

function expectMethodError(error: unknown, types: string[]): void {
  if (!(error instanceof MethodError)) throw error;
  assert(types.includes(error.type), `unexpected MethodError ${error.type}: ${error.message}`);
  const args = error.toArgs();
  assertEquals(args.type, error.type);
}

/** A snapshot that sees own "__proto__" keys, -0 and NaN apart from 0 and null. */
function snapshot(value: unknown): string {
  return JSON.stringify(value, (_key, item) => {
    if (typeof item === "number") {
      return Object.is(item, -0) ? "<-0>" : Number.isNaN(item) ? "<NaN>" : item;
    }
    return item === undefined ? "<undefined>" : item;
  });
}

// ---- checkRequest ----

function randomRequest(rand: Rand): unknown {
  if (rand() < 0.2) return randomValue(rand, 4);
  const request: Record<string, unknown> = {};
  if (rand() < 0.9) {
    request.using = rand() < 0.8
      ? Array.from({ length: int(rand, 3) }, () => pickOne(rand, [...CAPABILITIES, "urn:x"]))
      : randomValue(rand, 2);
  }
  if (rand() < 0.9) {
    request.methodCalls = rand() < 0.8
      ? Array.from(
        { length: int(rand, 20) },
        () =>
          rand() < 0.8
            ? [pickOne(rand, STRINGS), randomObject(rand, 3), String(int(rand, 10))]
            : randomValue(rand, 3),
      )
      : randomValue(rand, 2);
  }
  if (rand() < 0.3) {
    request.createdIds = rand() < 0.5
      ? { k: "M1", [pickOne(rand, KEYS)]: "x" }
      : randomValue(rand, 2);
  }
  for (let i = int(rand, 3); i > 0; i--) define(request, pickOne(rand, KEYS), randomValue(rand, 2));
  return request;
}

Deno.test("fuzz: checkRequest accepts a well-formed request or throws only RequestProblem", () => {
  property(1000, (rand) => {
    const value = randomRequest(rand);
    const before = snapshot(value);
    let request;
    try {
      request = checkRequest(value, CAPABILITIES, 16);
    } catch (error) {
      if (!(error instanceof RequestProblem)) throw error;
      assert(["notRequest", "unknownCapability", "limit"].includes(error.type), error.type);
      assertEquals(error.status, 400);
      const json = error.toJson();
      assertEquals(json.type, `urn:ietf:params:jmap:error:${error.type}`);
      if (error.type === "limit") assertEquals(json.limit, "maxCallsInRequest");
      return;
    } finally {
      assertEquals(snapshot(value), before, "checkRequest changed its input");
    }
    assert(request.using.every((c) => CAPABILITIES.has(c)));
    assert(request.methodCalls.length <= 16);
    for (const call of request.methodCalls) {
      assertEquals(call.length, 3);
      assertEquals(typeof call[0], "string");
      assert(typeof call[1] === "object" && call[1] !== null && !Array.isArray(call[1]));
      assertEquals(typeof call[2], "string");
    }
    if (request.createdIds !== undefined) {
      assert(Object.values(request.createdIds).every((id) => typeof id === "string"));
    }
  });
});

Deno.test("fuzz: checkRequest survives deep nesting and huge strings", () => {
  for (const kind of ["array", "object"] as const) {
    const deep = deeplyNested(10_000, kind);
    const args = { filter: deep } as Args;
    const request = checkRequest(
      { using: [...CAPABILITIES], methodCalls: [["Email/query", args, "0"]] },
      CAPABILITIES,
      16,
    );
    assertEquals(request.methodCalls.length, 1);
    try {
      checkRequest({ using: deep, methodCalls: [] }, CAPABILITIES, 16);
      throw new Error("a nested `using` was accepted");
    } catch (error) {
      if (!(error instanceof RequestProblem)) throw error;
      assertEquals(error.type, "notRequest");
    }
  }
  const huge = "u".repeat(5_000_000);
  try {
    checkRequest({ using: [huge], methodCalls: [] }, CAPABILITIES, 16);
    throw new Error("an unknown huge capability was accepted");
  } catch (error) {
    if (!(error instanceof RequestProblem)) throw error;
    assertEquals(error.type, "unknownCapability");
  }
});

// ---- resolveReferences / evaluatePointer ----

function randomResponses(rand: Rand): MethodCall[] {
  return Array.from({ length: int(rand, 4) }, () => [
    pickOne(rand, ["Mailbox/get", "Email/query", "error", "Mailbox/get"]),
    rand() < 0.6
      ? {
        ids: ["a", "b"],
        list: [{ id: "x", threadId: "t1", emailIds: ["e1", "e2"] }, { id: "y", threadId: "t2" }],
        "a/b": { "~": 1 },
      }
      : randomObject(rand, 4),
    String(int(rand, 4)),
  ]);
}

function randomPath(rand: Rand): string {
  if (rand() < 0.2) return pickOne(rand, STRINGS);
  const tokens = Array.from(
    { length: int(rand, 5) },
    () =>
      pickOne(rand, [
        "ids",
        "list",
        "*",
        "0",
        "1",
        "01",
        "-1",
        "id",
        "threadId",
        "emailIds",
        "a~1b",
        "~0",
        "__proto__",
        "constructor",
        "length",
        "",
      ]),
  );
  return tokens.map((t) => `/${t}`).join("");
}

Deno.test("fuzz: resolveReferences and evaluatePointer throw only invalidResultReference/invalidArguments", () => {
  property(3000, (rand) => {
    const responses = randomResponses(rand);
    const args = randomObject(rand, 3);
    for (let i = int(rand, 3); i > 0; i--) {
      const key = `#${pickOne(rand, ["ids", "a", "__proto__", "constructor", "list", ""])}`;
      define(
        args,
        key,
        rand() < 0.8
          ? {
            resultOf: String(int(rand, 4)),
            name: pickOne(rand, ["Mailbox/get", "Email/query", "error"]),
            path: randomPath(rand),
          }
          : randomValue(rand, 2),
      );
    }
    const before = snapshot([args, responses]);
    try {
      const resolved = resolveReferences(args, responses);
      assertEquals(Object.getPrototypeOf(resolved), Object.prototype, "result has a new prototype");
      for (const key of Object.keys(args)) {
        const plain = key.startsWith("#") ? key.slice(1) : key;
        assert(Object.hasOwn(resolved, plain), `argument ${plain} was lost`);
        assert(!Object.hasOwn(resolved, `#${plain}`) || !key.startsWith("#"));
        if (!key.startsWith("#")) assert(Object.is(resolved[key], args[key]));
      }
    } catch (error) {
      expectMethodError(error, ["invalidResultReference", "invalidArguments"]);
    }
    const value = randomValue(rand, 4);
    try {
      evaluatePointer(value, randomPath(rand));
    } catch (error) {
      expectMethodError(error, ["invalidResultReference"]);
    }
    assertEquals(snapshot([args, responses]), before, "references changed their input");
  });
});

Deno.test("fuzz: evaluatePointer maps * over arrays and flattens, as RFC 8620 3.7 shows", () => {
  const threads = {
    list: [{ id: "t1", emailIds: ["e1", "e2"] }, { id: "t2", emailIds: ["e3"] }],
  };
  assertEquals(evaluatePointer(threads, "/list/*/emailIds"), ["e1", "e2", "e3"]);
  assertEquals(evaluatePointer(threads, "/list/1/id"), "t2");
  assertEquals(evaluatePointer({ "a/b": { "~": 7 } }, "/a~1b/~0"), 7);
  for (const path of ["/list/2", "/list/01", "/list/-1", "/__proto__", "/constructor", "list"]) {
    try {
      evaluatePointer(threads, path);
      throw new Error(`${path} resolved`);
    } catch (error) {
      expectMethodError(error, ["invalidResultReference"]);
    }
  }
  // A pointer through a huge array of arrays stays iterative enough not to overflow.
  const wide = { list: Array.from({ length: 50_000 }, (_, i) => ({ ids: [String(i)] })) };
  assertEquals((evaluatePointer(wide, "/list/*/ids") as string[]).length, 50_000);
});

// ---- applyPatch ----

function randomPatchPath(rand: Rand): string {
  const tokens = Array.from(
    { length: 1 + int(rand, 4) },
    () =>
      pickOne(rand, [
        "keywords",
        "mailboxIds",
        "$seen",
        "a",
        "b",
        "__proto__",
        "constructor",
        "prototype",
        "polluted",
        "toString",
        "a~1b",
        "~0",
        "",
        "0",
      ]),
  );
  return tokens.join("/");
}

Deno.test("fuzz: applyPatch throws only SetFailure, never mutates its input or Object.prototype", () => {
  property(3000, (rand) => {
    const object = randomObject(rand, 3);
    if (rand() < 0.5) object.keywords = { $seen: true, a: { b: 1 } };
    if (rand() < 0.3) define(object, "__proto__", { a: {} });
    const patch: Args = {};
    for (let i = int(rand, 4); i >= 0; i--) {
      define(patch, randomPatchPath(rand), rand() < 0.3 ? null : randomValue(rand, 2));
    }
    const before = snapshot([object, patch]);
    let result: Args | undefined;
    try {
      result = applyPatch(object, patch);
    } catch (error) {
      if (!(error instanceof SetFailure)) throw error;
      assertEquals(error.error.type, "invalidPatch");
    }
    assertEquals(snapshot([object, patch]), before, "applyPatch changed its input");
    assertEquals((({}) as Record<string, unknown>).polluted, undefined);
    assertEquals(Object.prototype.toString.call([]), "[object Array]");
    if (result) {
      assertEquals(Object.getPrototypeOf(result), Object.prototype, "result has a new prototype");
      assert(result !== object);
    }
  });
});

Deno.test("fuzz: applyPatch of __proto__ and constructor paths never reaches a prototype", () => {
  const attempts: Args[] = [
    { "__proto__/polluted": "yes" },
    { "constructor/prototype/polluted": "yes" },
    { "keywords/__proto__/polluted": "yes" },
    { "keywords/constructor/prototype/polluted": "yes" },
    { "toString/polluted": "yes" },
    { "__proto__": { polluted: "yes" } },
  ];
  for (const patch of attempts) {
    const object = { keywords: { $seen: true } };
    try {
      const result = applyPatch(object, patch);
      assertEquals(Object.getPrototypeOf(result), Object.prototype, JSON.stringify(patch));
      assertEquals(Object.getPrototypeOf(result.keywords), Object.prototype);
    } catch (error) {
      if (!(error instanceof SetFailure)) throw error;
    }
    assertEquals(object, { keywords: { $seen: true } });
    assertPrototypeClean(JSON.stringify(patch));
    assertEquals(Object.getPrototypeOf({ keywords: {} }.keywords), Object.prototype);
  }
});

Deno.test("fuzz: applyPatch sets and removes what each path names", () => {
  property(1000, (rand) => {
    const object = { keywords: { $seen: true, $draft: true }, mailboxIds: { m1: true } } as Args;
    const key = pickOne(rand, ["$seen", "$flagged", "$draft", "a~1b", "x~0y"]);
    const value = rand() < 0.5 ? null : true;
    const result = applyPatch(object, { [`keywords/${key}`]: value });
    const name = key.replaceAll("~1", "/").replaceAll("~0", "~");
    const keywords = result.keywords as Args;
    if (value === null) assert(!Object.hasOwn(keywords, name));
    else assertEquals(keywords[name], true);
    assertEquals(result.mailboxIds, { m1: true });
    assertEquals(object.keywords, { $seen: true, $draft: true });
  });
});

// ---- evaluateFilter / visitConditions ----

function randomFilter(rand: Rand, depth: number): Args {
  const r = rand();
  if (depth <= 0 || r < 0.4) {
    if (rand() < 0.1) return randomObject(rand, 2);
    return { value: rand() < 0.5 };
  }
  if (r < 0.9) {
    return {
      operator: pickOne(rand, ["AND", "OR", "NOT"]),
      conditions: Array.from({ length: int(rand, 4) }, () => randomFilter(rand, depth - 1)),
    };
  }
  const odd: Args = {
    operator: rand() < 0.5 ? pickOne(rand, STRINGS) : randomValue(rand, 1),
    conditions: rand() < 0.5 ? randomValue(rand, 2) : [randomFilter(rand, depth - 1)],
  };
  if (rand() < 0.3) define(odd, pickOne(rand, KEYS), randomValue(rand, 1));
  return odd;
}

/** The RFC 8620 5.5 meaning of a well-formed tree: NOT holds when none of its conditions does. */
function reference(filter: Args): boolean {
  if (!("operator" in filter)) return filter.value === true;
  const list = (filter.conditions as Args[]).map(reference);
  if (filter.operator === "AND") return list.every(Boolean);
  if (filter.operator === "OR") return list.some(Boolean);
  return !list.some(Boolean);
}

function isWellFormed(filter: Args): boolean {
  if (!("operator" in filter)) return true;
  return ["AND", "OR", "NOT"].includes(filter.operator as string) &&
    Array.isArray(filter.conditions) &&
    Object.keys(filter).every((k) => k === "operator" || k === "conditions") &&
    filter.conditions.every((c) =>
      typeof c === "object" && c !== null && !Array.isArray(c) && isWellFormed(c as Args)
    );
}

Deno.test("fuzz: evaluateFilter and visitConditions on random trees throw only MethodError", () => {
  property(3000, (rand) => {
    const filter = randomFilter(rand, 6);
    const before = snapshot(filter);
    let visited = 0;
    try {
      visitConditions(filter, () => visited++);
    } catch (error) {
      expectMethodError(error, ["invalidArguments"]);
    }
    try {
      const holds = evaluateFilter(filter, (condition) => condition.value === true);
      if (isWellFormed(filter)) assertEquals(holds, reference(filter), before);
    } catch (error) {
      expectMethodError(error, ["invalidArguments"]);
      assert(!isWellFormed(filter), `a well-formed filter was refused: ${before}`);
    }
    assertEquals(snapshot(filter), before, "a filter walk changed the filter");
  });
});

Deno.test("fuzz: visitConditions visits every condition of a well-formed tree once", () => {
  property(1000, (rand) => {
    const filter = randomFilter(rand, 5);
    if (!isWellFormed(filter)) return;
    const count = (f: Args): number =>
      "operator" in f ? (f.conditions as Args[]).reduce((n, c) => n + count(c), 0) : 1;
    const seen: Args[] = [];
    visitConditions(filter, (condition) => seen.push(condition));
    assertEquals(seen.length, count(filter));
    assertEquals(new Set(seen).size, seen.length);
  });
});

Deno.test("fuzz: a filter nested 10,000 deep is refused as invalidArguments, not a stack overflow", () => {
  for (const operator of ["AND", "OR", "NOT"]) {
    let filter: Args = { value: true };
    for (let i = 0; i < 10_000; i++) filter = { operator, conditions: [filter] };
    for (
      const walk of [
        () => evaluateFilter(filter, () => true),
        () => visitConditions(filter, () => {}),
      ]
    ) {
      try {
        walk();
        throw new Error(`${operator}: a 10,000-deep filter was accepted`);
      } catch (error) {
        expectMethodError(error, ["invalidArguments"]);
      }
    }
  }
  // Just inside the limit still works.
  let shallow: Args = { value: true };
  for (let i = 0; i < 30; i++) shallow = { operator: "AND", conditions: [shallow] };
  assertEquals(evaluateFilter(shallow, (c) => c.value === true), true);
});

// ---- readComparators ----

const SORTABLE = ["receivedAt", "subject", "hasKeyword"];
const COLLATIONS = ["i;ascii-casemap", "i;ascii-numeric", "i;unicode-casemap", "i;octet"];

Deno.test("fuzz: readComparators returns checked comparators or throws invalidArguments/unsupportedSort", () => {
  property(3000, (rand) => {
    const sort = rand() < 0.3 ? randomValue(rand, 3) : Array.from({ length: int(rand, 4) }, () => {
      if (rand() < 0.1) return randomValue(rand, 2);
      const comparator: Args = {
        property: rand() < 0.7 ? pickOne(rand, SORTABLE) : randomValue(rand, 1),
      };
      if (rand() < 0.5) comparator.isAscending = rand() < 0.7 ? rand() < 0.5 : randomValue(rand, 1);
      if (rand() < 0.4) {
        comparator.collation = rand() < 0.7 ? pickOne(rand, COLLATIONS) : randomValue(rand, 1);
      }
      if (rand() < 0.2) comparator.keyword = rand() < 0.7 ? "$seen" : randomValue(rand, 1);
      if (rand() < 0.1) define(comparator, pickOne(rand, KEYS), randomValue(rand, 1));
      return comparator;
    });
    const before = snapshot(sort);
    try {
      const comparators = readComparators(sort, SORTABLE);
      assertEquals(comparators.length, Array.isArray(sort) ? sort.length : 0);
      for (const comparator of comparators) {
        assert(SORTABLE.includes(comparator.property));
        assertEquals(typeof comparator.isAscending, "boolean");
        assert(COLLATIONS.includes(comparator.collation));
        if (comparator.keyword !== undefined) assertEquals(typeof comparator.keyword, "string");
      }
    } catch (error) {
      expectMethodError(error, ["invalidArguments", "unsupportedSort"]);
    }
    assertEquals(snapshot(sort), before);
  });
});

Deno.test("fuzz: a collation object that cannot become a string is an error value, not a TypeError", () => {
  // From JSON: {"property": "subject", "collation": {"toString": 1}}.
  for (const collation of [{ toString: 1 }, Object.create(null), { valueOf: "x", toString: [] }]) {
    try {
      readComparators([{ property: "subject", collation }], SORTABLE);
      throw new Error("an object collation was accepted");
    } catch (error) {
      expectMethodError(error, ["invalidArguments", "unsupportedSort"]);
    }
  }
});

// ---- queryWindow ----

Deno.test("fuzz: queryWindow gives a contiguous slice with its position inside the results", () => {
  property(5000, (rand) => {
    const all = Array.from({ length: int(rand, 40) }, (_, i) => `id${i}`);
    const maxLimit = 1 + int(rand, 30);
    const args: Args = {};
    const numberish = () =>
      rand() < 0.7
        ? int(rand, 100) - 50
        : rand() < 0.5
        ? pickOne(rand, NUMBERS)
        : randomValue(rand, 1);
    if (rand() < 0.5) args.position = numberish();
    if (rand() < 0.4) {
      args.anchor = rand() < 0.7 && all.length ? pickOne(rand, all) : randomValue(rand, 1);
    }
    if (rand() < 0.4) args.anchorOffset = numberish();
    if (rand() < 0.6) args.limit = numberish();
    const before = snapshot(args);
    let window;
    try {
      window = queryWindow(all, args, maxLimit);
    } catch (error) {
      expectMethodError(error, ["invalidArguments", "anchorNotFound"]);
      return;
    }
    const where = `${JSON.stringify(args)} over ${all.length} (max ${maxLimit})`;
    assertEquals(snapshot(args), before);
    assert(Number.isSafeInteger(window.position), where);
    assert(window.position >= 0 && window.position <= all.length, `position: ${where}`);
    assertEquals(
      window.ids,
      all.slice(window.position, window.position + window.ids.length),
      where,
    );
    assert(window.ids.length <= maxLimit, where);
    if (typeof args.limit === "number") assert(window.ids.length <= args.limit, where);
    const wanted = Math.min(maxLimit, typeof args.limit === "number" ? args.limit : maxLimit);
    // A short window is short only because the results end.
    if (window.ids.length < wanted) {
      assertEquals(window.position + window.ids.length, all.length, where);
    }
    if (typeof args.anchor === "string") {
      const offset = typeof args.anchorOffset === "number" ? args.anchorOffset : 0;
      const index = all.indexOf(args.anchor) + offset;
      assertEquals(window.position, Math.min(Math.max(0, index), all.length), where);
    } else if (typeof args.position === "number" && args.position < 0) {
      assertEquals(window.position, Math.max(0, all.length + args.position), where);
    }
  });
});

// ---- parseState ----

function formatState(parsed: { below: number; skip: number }): string {
  return parsed.skip === 0 ? String(parsed.below - 1) : `${parsed.below}.${parsed.skip}`;
}

Deno.test("fuzz: parseState reads back every state the server issues", () => {
  property(3000, (rand) => {
    const modseq = rand() < 0.5
      ? int(rand, 1_000_000)
      : Math.floor(rand() * Number.MAX_SAFE_INTEGER);
    assertEquals(parseState(String(modseq)), { below: modseq + 1, skip: 0 });
    assertEquals(formatState(parseState(String(modseq))!), String(modseq));
    const k = 1 + int(rand, 999_999_999);
    const partial = `${modseq + 1}.${k}`;
    if (modseq + 1 <= Number.MAX_SAFE_INTEGER) {
      assertEquals(parseState(partial), { below: modseq + 1, skip: k });
      assertEquals(formatState(parseState(partial)!), partial);
    }
  });
});

Deno.test("fuzz: parseState refuses or exactly round-trips any string", () => {
  const alphabet = "0123456789.-+e x";
  property(5000, (rand) => {
    const text = rand() < 0.1 ? pickOne(rand, STRINGS) : Array.from(
      { length: int(rand, rand() < 0.2 ? 24 : 6) },
      () => alphabet[rand() < 0.8 ? int(rand, 10) : int(rand, alphabet.length)],
    ).join("");
    const parsed = parseState(text);
    if (parsed === null) return;
    assert(parsed.below >= 0 && Number.isSafeInteger(parsed.skip) && parsed.skip >= 0, text);
    // The pattern admits 16 digits, past 2 ** 53: no account reaches such a modseq, so those
    // states only need to parse to something /changes refuses (below - 1 > any modseq).
    if (parsed.below > Number.MAX_SAFE_INTEGER) return;
    assertEquals(formatState(parsed), text);
  });
  for (
    const refused of ["", "-1", "01", "1.0", "1.", ".1", "1e3", " 1", "1 ", "+1", "1.01", "NaN"]
  ) {
    assertEquals(parseState(refused), null, refused);
  }
});
