/**
 * CardDAV addressbook-query filters (RFC 6352 10.5) and address-data selection (10.4), driven by
 * the XML a client sends: the RFC 6352 8.6.4 and 8.6.5 queries, every match type and collation,
 * negate-condition, is-not-defined, param-filter, anyof/allof, grouped properties, the errors a
 * client sees as preconditions, and cards returned byte for byte as stored.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  AddressDataConversionError,
  CardFilterError,
  checkAddressFilter,
  matchAddressFilter,
  renderAddressData,
} from "../../src/dav/card_filter.ts";
import { parseVCards, type VCard } from "../../src/dav/vcard.ts";
import { CARDDAV_NS, child, DAV_NS, parseXml, type XmlElement } from "../../src/dav/xml.ts";

const XML_LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };
const LIMITS = { maxBytes: 1 << 20, maxLineBytes: 64 << 10, maxProperties: 10_000 };
const C = `xmlns:C="${CARDDAV_NS}"`;
const crlf = (lines: string[]) => lines.map((l) => l + "\r\n").join("");

const CARDS: Record<string, string> = {
  daboo: crlf([
    "BEGIN:VCARD",
    "VERSION:3.0",
    "NICKNAME:me",
    "UID:34222-232@example.com",
    "FN:Cyrus Daboo",
    "EMAIL;TYPE=work:daboo@example.com",
    "item1.EMAIL;TYPE=INTERNET,HOME:cyrus@home.example",
    "item1.X-ABLabel:Other",
    "TEL;TYPE=CELL:+1 555 0100",
    "END:VCARD",
  ]),
  boo: crlf([
    "BEGIN:VCARD",
    "VERSION:3.0",
    "UID:34222-233@example.com",
    "FN:David Boo",
    "EMAIL;TYPE=HOME:d.boo@example.org",
    "END:VCARD",
  ]),
  joerg: crlf([
    "BEGIN:VCARD",
    "VERSION:4.0",
    "UID:urn:uuid:joerg",
    "FN:J\u00f6rg M\u00fcller",
    "NICKNAME:Stra\u00dfe",
    'EMAIL;TYPE="home,pref":joerg@example.net',
    "END:VCARD",
  ]),
  nomail: [
    "BEGIN:VCARD",
    "VERSION:3.0",
    "UID:nomail",
    "FN:No Mail",
    "ORG:Example\\, Inc.",
    "TEL;WORK;VOICE:+1 555 0199",
    "END:VCARD",
    "",
  ].join("\n"),
};
const parsed: Record<string, VCard> = Object.fromEntries(
  Object.entries(CARDS).map(([name, text]) => [name, parseVCards(text, LIMITS)[0]]),
);

function filter(body: string, attributes = ""): XmlElement {
  return parseXml(`<C:filter ${C} ${attributes}>${body}</C:filter>`, XML_LIMITS);
}

/** Names of the cards the filter selects, in CARDS order. */
function query(body: string, attributes = ""): string[] {
  const element = filter(body, attributes);
  checkAddressFilter(element);
  return Object.keys(parsed).filter((name) => matchAddressFilter(parsed[name], element));
}

const textMatch = (prop: string, text: string, attributes = "") =>
  `<C:prop-filter name="${prop}"><C:text-match ${attributes}>${text}</C:text-match></C:prop-filter>`;

function refusedFilter(body: string, precondition: string, pattern: RegExp, attributes = "") {
  const element = filter(body, attributes);
  const error = assertThrows(() => checkAddressFilter(element), CardFilterError);
  assertEquals(error.precondition, precondition, error.message);
  assert(pattern.test(error.message), `message ${error.message} does not match ${pattern}`);
  // Matching an unchecked filter fails the same way, never with another error.
  assertThrows(() => matchAddressFilter(parsed.daboo, element), CardFilterError);
}

Deno.test("RFC 6352 8.6.4: NICKNAME equals 'me', partial address-data", () => {
  const request = parseXml(
    `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-query xmlns:D="DAV:" ${C}>
  <D:prop>
    <D:getetag/>
    <C:address-data>
      <C:prop name="VERSION"/>
      <C:prop name="UID"/>
      <C:prop name="NICKNAME"/>
      <C:prop name="EMAIL"/>
      <C:prop name="FN"/>
    </C:address-data>
  </D:prop>
  <C:filter>
    <C:prop-filter name="NICKNAME">
      <C:text-match collation="i;unicode-casemap" match-type="equals">me</C:text-match>
    </C:prop-filter>
  </C:filter>
</C:addressbook-query>`,
    XML_LIMITS,
  );
  const filterElement = child(request, CARDDAV_NS, "filter")!;
  checkAddressFilter(filterElement);
  const hits = Object.keys(parsed).filter((n) => matchAddressFilter(parsed[n], filterElement));
  assertEquals(hits, ["daboo"]);
  const addressData = child(child(request, DAV_NS, "prop")!, CARDDAV_NS, "address-data");
  assertEquals(
    renderAddressData(CARDS.daboo, parsed.daboo, addressData),
    crlf([
      "BEGIN:VCARD",
      "VERSION:3.0",
      "NICKNAME:me",
      "UID:34222-232@example.com",
      "FN:Cyrus Daboo",
      "EMAIL;TYPE=work:daboo@example.com",
      "item1.EMAIL;TYPE=INTERNET,HOME:cyrus@home.example",
      "END:VCARD",
    ]),
  );
});

Deno.test("RFC 6352 8.6.5: FN or EMAIL contains 'daboo' (anyof)", () => {
  const body = textMatch("FN", "daboo", 'collation="i;unicode-casemap" match-type="contains"') +
    textMatch("EMAIL", "daboo", 'collation="i;unicode-casemap" match-type="contains"');
  assertEquals(query(body, 'test="anyof"'), ["daboo"]);
  assertEquals(query(body), ["daboo"]);
  // "boo" is in David Boo's FN and both EMAILs; allof needs both on one card.
  const boo = textMatch("FN", "boo") + textMatch("EMAIL", "boo");
  assertEquals(query(boo, 'test="allof"'), ["daboo", "boo"]);
  assertEquals(query(textMatch("FN", "boo") + textMatch("EMAIL", "d.boo"), 'test="allof"'), [
    "boo",
  ]);
});

Deno.test("match types: equals, contains (default), starts-with, ends-with", () => {
  assertEquals(query(textMatch("FN", "cyrus daboo", 'match-type="equals"')), ["daboo"]);
  assertEquals(query(textMatch("FN", "cyrus", 'match-type="equals"')), []);
  assertEquals(query(textMatch("FN", "o")), ["daboo", "boo", "joerg", "nomail"]);
  assertEquals(query(textMatch("FN", "DA", 'match-type="starts-with"')), ["boo"]);
  assertEquals(query(textMatch("FN", "BOO", 'match-type="ends-with"')), ["daboo", "boo"]);
  assertEquals(query(textMatch("EMAIL", "example", 'match-type="ends-with"')), ["daboo"]);
});

Deno.test("collations: i;octet, i;ascii-casemap, i;unicode-casemap, default", () => {
  assertEquals(query(textMatch("FN", "cyrus", 'collation="i;octet"')), []);
  assertEquals(query(textMatch("FN", "Cyrus", 'collation="i;octet"')), ["daboo"]);
  assertEquals(query(textMatch("FN", "CYRUS", 'collation="i;ascii-casemap"')), ["daboo"]);
  // ASCII case mapping leaves Ö alone; Unicode case mapping (the default) folds it.
  assertEquals(query(textMatch("FN", "J\u00d6RG", 'collation="i;ascii-casemap"')), []);
  assertEquals(query(textMatch("FN", "J\u00d6RG", 'collation="i;unicode-casemap"')), ["joerg"]);
  assertEquals(query(textMatch("FN", "J\u00d6RG M\u00dcLLER", 'match-type="equals"')), [
    "joerg",
  ]);
  assertEquals(query(textMatch("FN", "m\u00fcller", 'collation="default"')), ["joerg"]);
  refusedFilter(
    textMatch("FN", "x", 'collation="i;basic"'),
    "supported-collation",
    /i;basic/,
  );
  refusedFilter(textMatch("FN", "x", 'collation="*"'), "supported-collation", /\*/);
});

Deno.test("negate-condition: per property instance, never on a card without the property", () => {
  // daboo has an EMAIL without "daboo" (cyrus@home); nomail has no EMAIL at all.
  assertEquals(query(textMatch("EMAIL", "daboo", 'negate-condition="yes"')), [
    "daboo",
    "boo",
    "joerg",
  ]);
  assertEquals(query(textMatch("EMAIL", "example", 'negate-condition="yes"')), []);
  assertEquals(query(textMatch("FN", "daboo", 'negate-condition="no"')), ["daboo"]);
});

Deno.test("is-not-defined on a property", () => {
  const body = `<C:prop-filter name="EMAIL"><C:is-not-defined/></C:prop-filter>`;
  assertEquals(query(body), ["nomail"]);
  assertEquals(query(`<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>`), [
    "boo",
    "nomail",
  ]);
});

Deno.test("a prop-filter without tests matches cards having the property", () => {
  assertEquals(query(`<C:prop-filter name="NICKNAME"/>`), ["daboo", "joerg"]);
  assertEquals(query(`<C:prop-filter name="nickname"/>`), ["daboo", "joerg"]);
});

Deno.test("param-filter: TYPE=work, multi-valued and quoted TYPE, 2.1 nameless, is-not-defined", () => {
  const param = (prop: string, inner: string) =>
    `<C:prop-filter name="${prop}"><C:param-filter name="TYPE">${inner}</C:param-filter></C:prop-filter>`;
  assertEquals(query(param("EMAIL", `<C:text-match match-type="equals">work</C:text-match>`)), [
    "daboo",
  ]);
  assertEquals(query(param("EMAIL", `<C:text-match match-type="equals">home</C:text-match>`)), [
    "daboo",
    "boo",
    "joerg",
  ]);
  assertEquals(query(param("EMAIL", `<C:text-match match-type="equals">pref</C:text-match>`)), [
    "joerg",
  ]);
  // TEL;WORK;VOICE (vCard 2.1 leftover) is TYPE=WORK,VOICE.
  assertEquals(query(param("TEL", `<C:text-match match-type="equals">voice</C:text-match>`)), [
    "nomail",
  ]);
  assertEquals(query(param("EMAIL", "")), ["daboo", "boo", "joerg"]);
  assertEquals(query(param("ORG", "<C:is-not-defined/>")), ["nomail"]);
  // Negated: an EMAIL whose TYPE has no "home" value.
  assertEquals(
    query(param("EMAIL", `<C:text-match negate-condition="yes">home</C:text-match>`)),
    ["daboo"],
  );
  assertEquals(
    query(
      `<C:prop-filter name="EMAIL"><C:param-filter name="PREF"><C:is-not-defined/>` +
        `</C:param-filter></C:prop-filter>`,
    ),
    ["daboo", "boo", "joerg"],
  );
});

Deno.test("prop-filter test: anyof and allof over text-match and param-filter on one instance", () => {
  const body = (test: string) =>
    `<C:prop-filter name="EMAIL" test="${test}"><C:text-match>cyrus</C:text-match>` +
    `<C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match>` +
    `</C:param-filter></C:prop-filter>`;
  assertEquals(query(body("anyof")), ["daboo"]);
  // No single EMAIL of daboo both contains "cyrus" and has TYPE=work.
  assertEquals(query(body("allof")), []);
  const boo = `<C:prop-filter name="EMAIL" test="allof"><C:text-match>boo</C:text-match>` +
    `<C:param-filter name="TYPE"><C:text-match>home</C:text-match></C:param-filter>` +
    `</C:prop-filter>`;
  assertEquals(query(boo), ["boo"]);
});

Deno.test("grouped properties: a bare name matches any group, a grouped name only its group", () => {
  assertEquals(query(textMatch("EMAIL", "cyrus@")), ["daboo"]);
  assertEquals(query(textMatch("item1.EMAIL", "cyrus@")), ["daboo"]);
  assertEquals(query(textMatch("ITEM1.email", "cyrus@")), ["daboo"]);
  assertEquals(query(textMatch("item1.EMAIL", "daboo@")), []);
  assertEquals(query(textMatch("item2.EMAIL", "@")), []);
  assertEquals(query(`<C:prop-filter name="item1.X-ABLABEL"/>`), ["daboo"]);
});

Deno.test("values compare unescaped: ORG 'Example, Inc.'", () => {
  assertEquals(query(textMatch("ORG", "Example, Inc.", 'match-type="equals"')), ["nomail"]);
  assertEquals(query(textMatch("NICKNAME", "STRASSE")), []);
  assertEquals(query(textMatch("NICKNAME", "STRA\u00dfE")), ["joerg"]);
});

Deno.test("an empty filter matches every card, anyof or allof", () => {
  assertEquals(query(""), Object.keys(CARDS));
  assertEquals(query("", 'test="allof"'), Object.keys(CARDS));
  // Elements of other namespaces are ignored (RFC 4918 17).
  assertEquals(query(`<X:hint xmlns:X="urn:x"/>`), Object.keys(CARDS));
});

Deno.test("malformed filters: valid-filter; impossible names: supported-filter", () => {
  refusedFilter("", "valid-filter", /xor/, 'test="xor"');
  refusedFilter(`<C:prop-filter/>`, "valid-filter", /without a name/);
  refusedFilter(`<C:prop-filter name="FN" test="some"/>`, "valid-filter", /some/);
  refusedFilter(textMatch("FN", "x", 'match-type="regex"'), "valid-filter", /match-type/);
  refusedFilter(textMatch("FN", "x", 'negate-condition="maybe"'), "valid-filter", /maybe/);
  refusedFilter(
    `<C:prop-filter name="FN"><C:is-not-defined/><C:text-match>x</C:text-match></C:prop-filter>`,
    "valid-filter",
    /is-not-defined with other tests/,
  );
  refusedFilter(
    `<C:prop-filter name="FN"><C:param-filter name="TYPE"><C:is-not-defined/>` +
      `<C:text-match>x</C:text-match></C:param-filter></C:prop-filter>`,
    "valid-filter",
    /more than one test/,
  );
  refusedFilter(`<C:comp-filter name="VCARD"/>`, "valid-filter", /comp-filter/);
  refusedFilter(`<C:prop-filter name="FN"><C:time-range/></C:prop-filter>`, "valid-filter", /time/);
  refusedFilter(`<C:prop-filter name="EMAIL;TYPE"/>`, "supported-filter", /EMAIL;TYPE/);
  refusedFilter(`<C:prop-filter name="a.b.EMAIL"/>`, "supported-filter", /a\.b\.EMAIL/);
  refusedFilter(
    `<C:prop-filter name="EMAIL"><C:param-filter name="TYPE=x"/></C:prop-filter>`,
    "supported-filter",
    /TYPE=x/,
  );
  const notAFilter = parseXml(`<C:prop-filter ${C} name="FN"/>`, XML_LIMITS);
  const error = assertThrows(() => checkAddressFilter(notAFilter), CardFilterError);
  assertEquals(error.precondition, "valid-filter");
});

function addressData(inner: string, attributes = ""): XmlElement {
  return parseXml(`<C:address-data ${C} ${attributes}>${inner}</C:address-data>`, XML_LIMITS);
}

Deno.test("address-data: absent, empty or allprop returns the stored card byte for byte", () => {
  for (const name of Object.keys(CARDS)) {
    const text = CARDS[name];
    const card = parsed[name];
    assertEquals(renderAddressData(text, card, undefined), text);
    assertEquals(renderAddressData(text, card, addressData("")), text);
    assertEquals(renderAddressData(text, card, addressData("<C:allprop/>")), text);
    assertEquals(renderAddressData(text, card, addressData("", `version="${card.version}"`)), text);
  }
  // LF-only stays LF-only; 4.0 stays 4.0.
  assert(!renderAddressData(CARDS.nomail, parsed.nomail, addressData("")).includes("\r"));
});

Deno.test("address-data props: BEGIN, VERSION, END framing; groups; novalue; no UID unless asked", () => {
  const render = (name: string, inner: string) =>
    renderAddressData(CARDS[name], parsed[name], addressData(inner));
  assertEquals(
    render("daboo", `<C:prop name="item1.EMAIL"/><C:prop name="TEL" novalue="yes"/>`),
    crlf([
      "BEGIN:VCARD",
      "VERSION:3.0",
      "item1.EMAIL;TYPE=INTERNET,HOME:cyrus@home.example",
      "TEL;TYPE=CELL:",
      "END:VCARD",
    ]),
  );
  assertEquals(
    render("joerg", `<C:prop name="email"/><C:prop name="FN" novalue="no"/><C:prop/>`),
    crlf([
      "BEGIN:VCARD",
      "VERSION:4.0",
      "FN:J\u00f6rg M\u00fcller",
      'EMAIL;TYPE="home,pref":joerg@example.net',
      "END:VCARD",
    ]),
  );
  assertEquals(
    render("nomail", `<C:prop name="TEL"/>`),
    crlf(["BEGIN:VCARD", "VERSION:3.0", "TEL;TYPE=WORK,VOICE:+1 555 0199", "END:VCARD"]),
  );
  assertEquals(
    render("boo", `<C:prop name="PHOTO"/>`),
    crlf(["BEGIN:VCARD", "VERSION:3.0", "END:VCARD"]),
  );
});

Deno.test("address-data props: long multi-byte values come back folded and unfold to the same", () => {
  const note = "Gr\u00fc\u00dfe aus K\u00f6ln \u{1F600} ".repeat(12);
  const text = crlf(["BEGIN:VCARD", "VERSION:4.0", "UID:long", `NOTE:${note}`, "END:VCARD"]);
  const [card] = parseVCards(text, LIMITS);
  const out = renderAddressData(text, card, addressData(`<C:prop name="NOTE"/>`));
  for (const line of out.split("\r\n")) {
    assert(new TextEncoder().encode(line).length <= 75, line);
  }
  const [back] = parseVCards(out, LIMITS);
  assertEquals(back.properties.find((p) => p.name === "NOTE")?.value, note);
});

Deno.test("address-data asking for another version or media type: AddressDataConversionError", () => {
  const { daboo, joerg } = parsed;
  const attempt = (card: VCard, text: string, attributes: string) => () =>
    renderAddressData(text, card, addressData("", attributes));
  const error = assertThrows(
    attempt(daboo, CARDS.daboo, 'version="4.0"'),
    AddressDataConversionError,
  );
  assertEquals([error.contentType, error.version], ["text/vcard", "4.0"]);
  assertThrows(attempt(joerg, CARDS.joerg, 'version="3.0"'), AddressDataConversionError);
  assertThrows(
    attempt(daboo, CARDS.daboo, 'content-type="application/vcard+json"'),
    AddressDataConversionError,
  );
  assertThrows(attempt(daboo, CARDS.daboo, 'version="2.1"'), AddressDataConversionError);
  assertEquals(
    attempt(daboo, CARDS.daboo, 'content-type="text/vcard; charset=utf-8" version="3.0"')(),
    CARDS.daboo,
  );
  assertEquals(
    attempt(joerg, CARDS.joerg, 'content-type="TEXT/VCARD" version="4.0"')(),
    CARDS.joerg,
  );
});
