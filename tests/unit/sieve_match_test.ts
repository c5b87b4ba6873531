/** Sieve comparators, match types and relational tests (src/sieve/match.ts). */
import { assertEquals } from "../helpers/assert.ts";
import { checkRegex, compare, globMatch, matchAny } from "../../src/sieve/match.ts";
import { mulberry32 } from "../helpers/random.ts";

Deno.test("sieve match: :matches wildcards, escapes and the RFC 5229 match variables", () => {
  assertEquals(globMatch("a@b@c", "*@*", "i;ascii-casemap"), ["a@b@c", "a", "b@c"]);
  assertEquals(globMatch("Frobnitzm", "fro?nit*", "i;ascii-casemap"), ["Frobnitzm", "b", "zm"]);
  assertEquals(globMatch("abc", "a\\*c", "i;ascii-casemap"), null);
  assertEquals(globMatch("a*c", "a\\*c", "i;ascii-casemap"), ["a*c"]);
  assertEquals(globMatch("", "*", "i;octet"), ["", ""]);
  assertEquals(globMatch("ABC", "abc", "i;octet"), null);
  assertEquals(globMatch("ABC", "abc", "i;ascii-casemap"), ["ABC"]);
  assertEquals(globMatch("x", "?*?", "i;octet"), null);
  // RFC 5229 3.2 example: "[acme-users] [fwd] message" with "[*] *".
  assertEquals(
    globMatch("[acme-users] [fwd] message", "[*] *", "i;ascii-casemap"),
    ["[acme-users] [fwd] message", "acme-users", "[fwd] message"],
  );
});

Deno.test("sieve match: :matches takes polynomial time on hostile patterns", () => {
  const value = "a".repeat(5000);
  const pattern = "*a".repeat(50) + "b";
  assertEquals(globMatch(value, pattern, "i;octet"), null);
});

Deno.test("sieve match: :matches agrees with a regular-expression model", () => {
  const random = mulberry32(5228);
  for (let i = 0; i < 2000; i++) {
    const alphabet = "ab*?";
    const pattern = Array.from(
      { length: 1 + Math.floor(random() * 6) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    ).join("");
    const value = Array.from(
      { length: Math.floor(random() * 7) },
      () => "ab"[Math.floor(random() * 2)],
    ).join("");
    const model = new RegExp(
      `^${pattern.replace(/\*/g, ".*").replace(/\?/g, ".")}$`,
      "s",
    ).test(value);
    assertEquals(globMatch(value, pattern, "i;octet") !== null, model, `${value} ${pattern}`);
  }
});

Deno.test("sieve match: comparators (RFC 4790) and relational :value/:count (RFC 5231)", () => {
  assertEquals(compare("10", "9", "i;ascii-numeric"), 1);
  assertEquals(compare("007", "7", "i;ascii-numeric"), 0);
  assertEquals(compare("abc", "5", "i;ascii-numeric"), 1); // no digits: infinity
  assertEquals(compare("abc", "xyz", "i;ascii-numeric"), 0);
  assertEquals(compare("A", "a", "i;ascii-casemap"), 0);
  assertEquals(compare("A", "a", "i;octet") < 0, true);
  const numeric = { matchType: "value" as const, comparator: "i;ascii-numeric" as const };
  assertEquals(matchAny(["12"], ["9"], { ...numeric, relation: "gt" }), []);
  assertEquals(matchAny(["12"], ["9"], { ...numeric, relation: "lt" }), null);
  const count = { matchType: "count" as const, comparator: "i;ascii-numeric" as const };
  assertEquals(matchAny(["a", "b", "c"], ["3"], { ...count, relation: "eq" }), []);
  assertEquals(matchAny(["a", "b", "c"], ["2"], { ...count, relation: "gt" }), []);
  assertEquals(matchAny([], ["0"], { ...count, relation: "eq" }), []);
  const contains = { matchType: "contains" as const, comparator: "i;ascii-casemap" as const };
  assertEquals(matchAny(["Hello World"], ["WORLD"], contains), []);
  assertEquals(matchAny(["Hello"], ["x", "ELL"], contains), []);
});

Deno.test("sieve match: :regex groups, and patterns that could backtrack forever are refused", () => {
  assertEquals(
    matchAny(["user+tag@example.com"], ["^([^+]+)\\+([^@]+)@"], {
      matchType: "regex",
      comparator: "i;ascii-casemap",
    }),
    ["user+tag@", "user", "tag"],
  );
  assertEquals(checkRegex("(a+)+$") !== null, true);
  assertEquals(checkRegex("(x*)*y") !== null, true);
  assertEquals(checkRegex("^(a|aa)*b") !== null, true);
  assertEquals(checkRegex("[") !== null, true);
  assertEquals(checkRegex("^(foo|bar)[0-9]+$"), null);
});
