/**
 * Fuzz test for the vCard module (seeded, reproducible): mutated vCards, token soup, mutated
 * filter and address-data XML, and 2 MiB pathological bodies. Only the declared errors
 * ever escape (VCardError from parseVCards, CardFilterError from filters,
 * AddressDataConversionError from renderAddressData; checkAddressObject never throws), every
 * parsed property serializes and parses back to itself, and every partial address-data parses
 * back to one card. Every call terminating is checked by the suite finishing; nothing is timed.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  AddressDataConversionError,
  CardFilterError,
  checkAddressFilter,
  matchAddressFilter,
  renderAddressData,
} from "../../src/dav/card_filter.ts";
import {
  checkAddressObject,
  formatContentLine,
  parseVCards,
  type VCard,
  VCardError,
  type VCardLimits,
} from "../../src/dav/vcard.ts";
import { CARDDAV_NS, parseXml, type XmlElement, XmlError } from "../../src/dav/xml.ts";

const SEEDS = [1, 2, 3, 4];
const ROUNDS = 1_500;
const LIMITS: VCardLimits = { maxBytes: 1 << 20, maxLineBytes: 64 << 10, maxProperties: 10_000 };
const BIG: VCardLimits = { maxBytes: 16 << 20, maxLineBytes: 16 << 20, maxProperties: 4 << 20 };
const XML_LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };
const C = `xmlns:C="${CARDDAV_NS}"`;

const EXAMPLES = [
  "BEGIN:vCard\r\nVERSION:3.0\r\nFN:Frank Dawson\r\nORG:Lotus Development Corporation\r\n" +
  "ADR;TYPE=WORK,POSTAL,PARCEL:;;6544 Battleford Drive\r\n ;Raleigh;NC;27613-3502;U.S.A.\r\n" +
  "TEL;TYPE=VOICE,MSG,WORK:+1-919-676-9515\r\nEMAIL;TYPE=INTERNET,PREF:Frank_Dawson@Lotus.com\r\n" +
  "UID:frank\r\nEND:vCard\r\n",
  "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971\r\nFN:Simon Perreault\r\n" +
  'TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+1-418-656-9254;ext=102\r\n' +
  "KEY;TYPE=work;VALUE=uri:\r\n http://www.viagenie.ca/simon.perreault/simon.asc\r\n" +
  "NOTE:Gr\u00fc\u00dfe \u{1F600} a\\, b\\n\r\nEND:VCARD\r\n",
  "BEGIN:VCARD\nVERSION:3.0\nUID:qp\nTEL;WORK;VOICE:+1 555\n" +
  "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Caf=C3=A9=\nau lait\n" +
  "item1.EMAIL;type=INTERNET:a@example.com\nitem1.X-ABLabel:Other\n" +
  'X-SOCIAL;X-LABEL="a:b;c",plain:v\nEND:VCARD\n',
];

const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  ":",
  ";",
  ",",
  "=",
  '"',
  ".",
  "\\",
  "^",
  "^'",
  "BEGIN:VCARD\r\n",
  "END:VCARD\r\n",
  "VERSION:3.0\r\n",
  "VERSION:4.0\r\n",
  "VERSION:2.1\r\n",
  "UID:x\r\n",
  "item1.",
  ";TYPE=",
  ";QUOTED-PRINTABLE",
  "ENCODING=QUOTED-PRINTABLE:",
  "=\r\n",
  "=C3=A9",
  "\r\n ",
  "\u0000",
  "\u007f",
  "\uD800",
  "\uFEFF",
  "\u{1F600}",
  "\u00e9",
  "EMAIL",
  "x",
];

const FILTERS = [
  `<C:prop-filter name="FN"><C:text-match>a</C:text-match></C:prop-filter>`,
  `<C:prop-filter name="EMAIL" test="allof"><C:text-match negate-condition="yes">x</C:text-match>` +
  `<C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match>` +
  `</C:param-filter></C:prop-filter>`,
  `<C:prop-filter name="item1.EMAIL"><C:is-not-defined/></C:prop-filter>` +
  `<C:prop-filter name="NOTE"><C:text-match collation="i;octet" match-type="ends-with">` +
  `\u00e9</C:text-match></C:prop-filter>`,
  `<C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter>` +
  `</C:prop-filter><C:prop-filter name="UID"><C:text-match collation="i;ascii-casemap" ` +
  `match-type="starts-with">X</C:text-match></C:prop-filter>`,
];
const FILTER_ATTRIBUTES = ["", `test="allof"`, `test="anyof"`];

const ADDRESS_DATA = [
  "",
  "<C:allprop/>",
  `<C:prop name="EMAIL"/><C:prop name="NOTE" novalue="yes"/>`,
  `<C:prop name="item1.EMAIL"/><C:prop name="UID"/><C:prop name="TEL"/><C:prop name="KEY"/>`,
];
const ADDRESS_DATA_ATTRIBUTES = ["", `version="3.0"`, `version="4.0"`, `content-type="text/x"`];

function pick<T>(random: () => number, items: T[]): T {
  return items[Math.floor(random() * items.length)];
}

function mutate(random: () => number, text: string, tokens: string[]): string {
  let out = text;
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const length = Math.floor(random() * 12);
    switch (Math.floor(random() * 5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + length);
        break;
      case 1:
        out = out.slice(0, at) + pick(random, tokens) + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + out.slice(at, at + length).repeat(2) + out.slice(at + length);
        break;
      case 3:
        out = out.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) +
          out.slice(at + 1);
        break;
      default:
        out = out.slice(0, at);
    }
  }
  return out;
}

function describe(text: string): string {
  return JSON.stringify(text.length > 300 ? text.slice(0, 300) + "..." : text);
}

/** Parses; refusals must be VCardError, properties must round-trip. Returns the cards. */
function parseChecked(text: string, limits = LIMITS): VCard[] {
  let cards: VCard[];
  try {
    cards = parseVCards(text, limits);
  } catch (error) {
    if (error instanceof VCardError) return [];
    throw new Error(`non-VCardError ${error} for ${describe(text)}`);
  }
  const result = checkAddressObject(text, limits);
  if (result.ok) {
    assertEquals(cards.length, 1, describe(text));
    assertEquals(result.version, cards[0].version);
  } else {
    assert(cards.length !== 1 || result.message.includes("UID"), describe(text));
  }
  for (const card of cards) {
    for (const property of card.properties) {
      const line = formatContentLine(property);
      const version = property.name === "VERSION" ? "" : "VERSION:4.0\r\n";
      const back = parseVCards(`BEGIN:VCARD\r\n${version}${line}END:VCARD\r\n`, BIG);
      assertEquals(back[0]?.properties.at(-1), property, `round trip of ${describe(line)}`);
    }
  }
  return cards;
}

function filterElement(body: string, attributes: string): XmlElement | null {
  try {
    return parseXml(`<C:filter ${C} ${attributes}>${body}</C:filter>`, XML_LIMITS);
  } catch (error) {
    if (error instanceof XmlError) return null;
    throw error;
  }
}

function matchChecked(card: VCard, filter: XmlElement): void {
  try {
    checkAddressFilter(filter);
  } catch (error) {
    if (error instanceof CardFilterError) return;
    throw error;
  }
  assertEquals(typeof matchAddressFilter(card, filter), "boolean");
}

function renderChecked(text: string, card: VCard, inner: string, attributes: string): void {
  let addressData: XmlElement;
  try {
    addressData = parseXml(
      `<C:address-data ${C} ${attributes}>${inner}</C:address-data>`,
      XML_LIMITS,
    );
  } catch (error) {
    if (error instanceof XmlError) return;
    throw error;
  }
  let out: string;
  try {
    out = renderAddressData(text, card, addressData);
  } catch (error) {
    if (error instanceof AddressDataConversionError) return;
    throw new Error(`${error} rendering ${describe(text)} with ${inner}`);
  }
  if (out === text) return;
  const back = parseVCards(out, BIG);
  assertEquals([back.length, back[0].version], [1, card.version], describe(out));
}

Deno.test("mutated vCards: VCardError or cards whose properties round-trip", () => {
  let parsed = 0;
  for (const seed of SEEDS) {
    const random = mulberry32(seed);
    for (let i = 0; i < ROUNDS; i++) {
      const text = mutate(random, pick(random, EXAMPLES), TOKENS);
      const cards = parseChecked(text);
      if (cards.length > 0) parsed++;
      for (const card of cards) {
        for (const body of FILTERS) matchChecked(card, filterElement(body, "")!);
        renderChecked(
          text,
          card,
          pick(random, ADDRESS_DATA),
          pick(random, ADDRESS_DATA_ATTRIBUTES),
        );
      }
    }
  }
  for (const example of EXAMPLES) assertEquals(parseChecked(example).length, 1, example);
  // Mutations must leave some cards valid, or the round-trip property is never exercised.
  assert(parsed > 500, `only ${parsed} mutated bodies parsed`);
});

Deno.test("token soup: VCardError or cards, checkAddressObject never throws", () => {
  for (const seed of SEEDS) {
    const random = mulberry32(seed * 7919);
    for (let i = 0; i < ROUNDS; i++) {
      const parts: string[] = [];
      const count = Math.floor(random() * 40);
      for (let j = 0; j < count; j++) parts.push(pick(random, TOKENS));
      const soup = parts.join("");
      parseChecked(soup);
      parseChecked(`BEGIN:VCARD\r\nVERSION:3.0\r\nUID:s\r\n${soup}\r\nEND:VCARD\r\n`);
    }
  }
});

Deno.test("mutated filters and address-data: only CardFilterError or AddressDataConversionError", () => {
  const cards = EXAMPLES.map((text) => parseVCards(text, LIMITS)[0]);
  const xmlTokens = ["<", ">", "/>", '"', "=", "C:", "text-match", "is-not-defined", "name=", "&"]
    .concat([" collation=", "default", "yes", "no", "allof", "i;octet", "prop-filter"]);
  let checked = 0;
  for (const seed of SEEDS) {
    const random = mulberry32(seed * 104729);
    for (let i = 0; i < ROUNDS; i++) {
      const filter = filterElement(
        mutate(random, pick(random, FILTERS), xmlTokens),
        pick(random, FILTER_ATTRIBUTES),
      );
      const index = Math.floor(random() * cards.length);
      if (filter !== null) {
        matchChecked(cards[index], filter);
        checked++;
      }
      renderChecked(
        EXAMPLES[index],
        cards[index],
        mutate(random, pick(random, ADDRESS_DATA), xmlTokens),
        pick(random, ADDRESS_DATA_ATTRIBUTES),
      );
    }
  }
  assert(checked > 200, `only ${checked} mutated filters parsed as XML`);
});

Deno.test("2 MiB pathological bodies finish with a result or a VCardError", () => {
  const big = 2 << 20;
  const open = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\n";
  const cases: [string, string][] = [
    ["one long line", open + "NOTE:" + "x".repeat(big) + "\r\nEND:VCARD\r\n"],
    ["many folds", open + "NOTE:x\r\n" + " y\r\n".repeat(big / 4) + "END:VCARD\r\n"],
    [
      "soft breaks",
      open + "NOTE;QUOTED-PRINTABLE:" + "a=\r\n".repeat(big / 4) + "\r\nEND:VCARD\r\n",
    ],
    ["many properties", open + "X-A:b\r\n".repeat(big / 7) + "END:VCARD\r\n"],
    ["many params", open + "X" + ";A=b".repeat(big / 4) + ":v\r\nEND:VCARD\r\n"],
    ["many values", open + "X;A=" + "b,".repeat(big / 2) + "c:v\r\nEND:VCARD\r\n"],
    ["many quotes", open + "X" + ';A="b"'.repeat(big / 6) + ":v\r\nEND:VCARD\r\n"],
    ["unterminated quote", open + 'X;A="' + "b".repeat(big) + "\r\nEND:VCARD\r\n"],
    ["no colon", open + "X".repeat(big) + "\r\nEND:VCARD\r\n"],
    ["many cards", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nEND:VCARD\r\n".repeat(big / 40)],
    ["blank lines", "\r\n".repeat(big / 2)],
    ["multibyte", open + "NOTE:" + "\u20ac".repeat(big / 3) + "\r\nEND:VCARD\r\n"],
    ["escapes", open + "NOTE:" + "\\,".repeat(big / 2) + "\r\nEND:VCARD\r\n"],
  ];
  for (const [label, text] of cases) {
    for (const limits of [LIMITS, BIG]) {
      try {
        const cards = parseVCards(text, limits);
        const result = checkAddressObject(text, limits);
        assertEquals(typeof result.ok, "boolean");
        for (const card of cards.slice(0, 3)) {
          for (const body of FILTERS) matchAddressFilter(card, filterElement(body, "")!);
        }
      } catch (error) {
        assert(error instanceof VCardError, `${label}: ${error}`);
      }
    }
  }
});
