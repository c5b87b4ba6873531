/**
 * Fuzz test for the WebDAV XML parser (seeded, reproducible): mutated RFC example bodies, random
 * tag soup, 100k-deep nesting and 10 MB inputs either parse to a tree that survives a
 * serialize/parse round trip or are refused with an XmlError; nothing else is ever thrown,
 * nothing overflows the stack, and time stays linear (a generous bound, to catch quadratic
 * blow-ups, not to benchmark).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { parseXml, toXml, type XmlElement, XmlError } from "../../src/dav/xml.ts";

const SEEDS = [1, 2, 3, 4];
const ROUNDS = 2_500;
const LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };
const BIG = { maxBytes: 16 << 20, maxDepth: 200_000, maxElements: 4_000_000 };
// Linear parsing takes a few seconds on 10 MB; a quadratic parser would not finish the suite
// (tests never assert on time: the run itself is the check).

const EXAMPLES = [
  `<?xml version="1.0" encoding="utf-8" ?>
<D:propfind xmlns:D="DAV:"><D:prop xmlns:R="http://ns.example.com/boxschema/">
<R:bigbox/><R:author/></D:prop></D:propfind>`,
  `<propfind xmlns="DAV:"><propname/></propfind>`,
  `<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:supported-report-set/></D:include>
</D:propfind>`,
  `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/">
<D:set><D:prop><Z:Authors><Z:Author>Jim Whitehead</Z:Author></Z:Authors></D:prop></D:set>
<D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove></D:propertyupdate>`,
  `<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.org/~ejw/</D:href>
</D:owner></D:lockinfo>`,
  `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20060103T000000Z" end="20060105T000000Z"/>
</C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR">
<C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z" end="20060105T000000Z"/>
<C:prop-filter name="ATTENDEE"><C:text-match collation="i;ascii-casemap"
>mailto:lisa@example.com</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>
</C:filter></C:calendar-query>`,
  `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/bernard/work/abcd1.ics</D:href>
</C:calendar-multiget>`,
  `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<C:filter test="anyof"><C:prop-filter name="FN"><C:text-match collation="i;unicode-casemap"
match-type="contains">daboo &amp; <![CDATA[<co>]]>&#233;</C:text-match></C:prop-filter>
</C:filter></C:addressbook-query>`,
];

const TOKENS = [
  "<",
  ">",
  "/>",
  "</",
  "<a>",
  "</a>",
  "<D:b>",
  "</D:b>",
  "<x:y/>",
  ' xmlns="urn:z"',
  ' xmlns:D="DAV:"',
  ' xmlns:x=""',
  ' a="1"',
  " a='&lt;'",
  "=",
  '"',
  "'",
  "&",
  "&amp;",
  "&#x0;",
  "&#xD800;",
  "&#x10FFFF;",
  "&lol;",
  ";",
  "<!--",
  "-->",
  "<![CDATA[",
  "]]>",
  "<?pi ",
  "?>",
  "<?xml ",
  "<!DOCTYPE x>",
  "<!ENTITY e 'x'>",
  "<!",
  ":",
  " ",
  "\n",
  "\r",
  "\t",
  "\u0000",
  "\uFFFE",
  "\uD800",
  "\u{1F600}",
  "\u00e9",
  "text",
];

function pick<T>(random: () => number, items: T[]): T {
  return items[Math.floor(random() * items.length)];
}

function mutate(random: () => number, text: string): string {
  let out = text;
  const count = 1 + Math.floor(random() * 5);
  for (let i = 0; i < count; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const length = Math.floor(random() * 12);
    switch (Math.floor(random() * 6)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + length);
        break;
      case 1:
        out = out.slice(0, at) + pick(random, TOKENS) + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + out.slice(at, at + length).repeat(2) + out.slice(at + length);
        break;
      case 3:
        out = out.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) +
          out.slice(at + 1);
        break;
      case 4:
        out = out.slice(0, at);
        break;
      default: {
        const from = Math.floor(random() * out.length);
        out = out.slice(0, at) + out.slice(from, from + length) + out.slice(at);
      }
    }
  }
  return out;
}

function soup(random: () => number): string {
  const parts: string[] = [];
  const count = Math.floor(random() * 40);
  for (let i = 0; i < count; i++) parts.push(pick(random, TOKENS));
  return parts.join("");
}

/** Parses; a tree must round-trip, a refusal must be an XmlError. Returns whether it parsed. */
function check(text: string, limits = LIMITS): boolean {
  let tree: XmlElement;
  try {
    tree = parseXml(text, limits);
  } catch (error) {
    if (error instanceof XmlError) {
      assert(Number.isInteger(error.offset) && error.offset >= 0 && error.offset <= text.length);
      return false;
    }
    throw new Error(`non-XmlError ${error} for ${JSON.stringify(text.slice(0, 200))}`);
  }
  assertEquals(parseXml(toXml(tree), BIG), tree, `round trip of ${JSON.stringify(text)}`);
  return true;
}

function timed(label: string, run: () => void): void {
  try {
    run();
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`, { cause: error });
  }
}

function refused(text: string, limits: typeof LIMITS, pattern: RegExp): void {
  try {
    parseXml(text, limits);
  } catch (error) {
    assert(error instanceof XmlError, `expected XmlError, got ${error}`);
    assert(pattern.test(error.message), error.message);
    return;
  }
  throw new Error("accepted");
}

Deno.test("mutated RFC example bodies parse and round-trip or give XmlError", () => {
  let parsed = 0;
  for (const seed of SEEDS) {
    const random = mulberry32(seed);
    for (let i = 0; i < ROUNDS; i++) {
      if (check(mutate(random, pick(random, EXAMPLES)))) parsed++;
    }
  }
  for (const example of EXAMPLES) assert(check(example), example);
  // Mutations must leave some bodies valid, or the round-trip property is never exercised.
  assert(parsed > 100, `only ${parsed} mutated bodies parsed`);
});

Deno.test("random tag soup gives a tree or an XmlError", () => {
  for (const seed of SEEDS) {
    const random = mulberry32(seed * 7919);
    for (let i = 0; i < ROUNDS; i++) {
      const body = soup(random);
      check(body);
      check(`<a xmlns:D="DAV:">${body}</a>`);
    }
  }
});

Deno.test("100k-deep nesting: limit error, unclosed error, or a parse, never a stack overflow", () => {
  const depth = 100_000;
  const open = "<D:a xmlns:D='DAV:'>" + "<D:a>".repeat(depth - 1);
  const balanced = open + "deep" + "</D:a>".repeat(depth);
  timed(
    "deep refusal",
    () => refused(balanced, { ...BIG, maxDepth: 64 }, /nesting deeper than 64/),
  );
  timed("deep unclosed", () => refused(open, BIG, /unclosed element/));
  timed("deep mismatch", () => refused(open + "</D:b>", BIG, /does not match/));
  timed("deep parse", () => {
    let node = parseXml(balanced, BIG);
    let seen = 1;
    while (node.children.length > 0) {
      node = node.children[0];
      seen++;
    }
    assertEquals([seen, node.text], [depth, "deep"]);
  });
  // Scoped namespace declarations at every level unwind without walking the stack.
  const scoped = "<a xmlns:p='urn:p'>".repeat(depth) + "<p:leaf/>" + "</a>".repeat(depth);
  timed("deep scopes", () => assertEquals(parseXml(scoped, BIG).ns, ""));
});

Deno.test("10 MB inputs are refused or parsed in bounded time", () => {
  const tenMb = 10 << 20;
  const cases: [string, string][] = [
    ["text", `<a>${"x".repeat(tenMb)}</a>`],
    ["entities", `<a>${"&amp;".repeat(tenMb / 5)}</a>`],
    ["siblings", `<a>${"<b/>".repeat(tenMb / 4)}</a>`],
    ["attributes", `<a${Array.from({ length: tenMb / 12 }, (_, i) => ` a${i}="1"`).join("")}/>`],
    ["long name", `<${"a".repeat(tenMb)}/>`],
    ["long attribute value", `<a b="${"v".repeat(tenMb)}"/>`],
    ["unterminated attribute", `<a b="${"v".repeat(tenMb)}`],
    ["unterminated comment", `<a><!--${"-".repeat(tenMb)}`],
    ["unterminated CDATA", `<a><![CDATA[${"]".repeat(tenMb)}`],
    ["many comments", `<a>${"<!--c-->x".repeat(tenMb / 9)}</a>`],
    ["many CDATA", `<a>${"<![CDATA[x]]>".repeat(tenMb / 13)}</a>`],
    ["open tags", "<a>".repeat(tenMb / 3)],
    ["ampersands", `<a>${"&".repeat(tenMb)}</a>`],
    ["whitespace", `${" ".repeat(tenMb)}<a/>`],
    ["multibyte", `<a>${"\u20ac".repeat(tenMb / 3)}</a>`],
  ];
  for (const [label, body] of cases) {
    timed(`${label} with small limits`, () => refused(body, LIMITS, /larger than/));
    timed(label, () => {
      try {
        parseXml(body, BIG);
      } catch (error) {
        assert(error instanceof XmlError, `${label}: ${error}`);
      }
    });
  }
  timed("element limit", () => refused(cases[2][1], { ...BIG, maxElements: 1000 }, /elements/));
});
