/**
 * vCard parsing and the PUT check for CardDAV: the RFC 2426 and RFC 6350 examples parse to the
 * content lines a filter reads, folded and LF-only input unfolds (multi-byte characters intact),
 * vCard 2.1 leftovers are tolerated, and each bad body gives the precondition a client would see
 * in the 403/409 response (RFC 6352 6.3.2.1).
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  checkAddressObject,
  formatContentLine,
  paramText,
  parseVCards,
  propertyText,
  type VCard,
  VCardError,
  type VCardProperty,
  VCardVersionError,
} from "../../src/dav/vcard.ts";

const LIMITS = { maxBytes: 1 << 20, maxLineBytes: 64 << 10, maxProperties: 10_000 };
const crlf = (lines: string[]) => lines.map((l) => l + "\r\n").join("");

// RFC 2426 7 (with a UID added, as RFC 6352 5.1 requires one); "BEGIN:vCard" as in the RFC.
const RFC2426_CARD = crlf([
  "BEGIN:vCard",
  "VERSION:3.0",
  "FN:Frank Dawson",
  "ORG:Lotus Development Corporation",
  "ADR;TYPE=WORK,POSTAL,PARCEL:;;6544 Battleford Drive",
  " ;Raleigh;NC;27613-3502;U.S.A.",
  "TEL;TYPE=VOICE,MSG,WORK:+1-919-676-9515",
  "TEL;TYPE=FAX,WORK:+1-919-676-9564",
  "EMAIL;TYPE=INTERNET,PREF:Frank_Dawson@Lotus.com",
  "EMAIL;TYPE=INTERNET:fdawson@earthlink.net",
  "URL:http://home.earthlink.net/~fdawson",
  "UID:frank-dawson-1",
  "END:vCard",
]);

// RFC 6350 8 (with a UID added).
const RFC6350_CARD = crlf([
  "BEGIN:VCARD",
  "VERSION:4.0",
  "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
  "FN:Simon Perreault",
  "N:Perreault;Simon;;;ing. jr,M.Sc.",
  "BDAY:--0203",
  "GENDER:M",
  "LANG;PREF=1:fr",
  "LANG;PREF=2:en",
  "ORG;TYPE=work:Viagenie",
  "ADR;TYPE=work:;Suite D2-630;2875 Laurier;",
  " Quebec;QC;G1V 2M2;Canada",
  'TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+1-418-656-9254;ext=102',
  "EMAIL;TYPE=work:simon.perreault@viagenie.ca",
  "GEO;TYPE=work:geo:46.772673,-71.282945",
  "KEY;TYPE=work;VALUE=uri:",
  " http://www.viagenie.ca/simon.perreault/simon.asc",
  "TZ:-0500",
  "URL;TYPE=home:http://nomis80.org",
  "END:VCARD",
]);

const parseOne = (text: string): VCard => {
  const cards = parseVCards(text, LIMITS);
  assertEquals(cards.length, 1);
  return cards[0];
};
const find = (card: VCard, name: string): VCardProperty[] =>
  card.properties.filter((p) => p.name === name);

function refused(text: string, precondition: string, pattern: RegExp, limits = LIMITS): void {
  const result = checkAddressObject(text, limits);
  assert(!result.ok, `accepted: ${JSON.stringify(text.slice(0, 80))}`);
  assertEquals(result.precondition, precondition, result.message);
  assert(pattern.test(result.message), `message ${result.message} does not match ${pattern}`);
}

Deno.test("RFC 2426 example: 3.0 card, folded ADR, multi-valued TYPE, lower-case BEGIN", () => {
  const card = parseOne(RFC2426_CARD);
  assertEquals(card.version, "3.0");
  assertEquals(card.properties.map((p) => p.name), [
    "VERSION",
    "FN",
    "ORG",
    "ADR",
    "TEL",
    "TEL",
    "EMAIL",
    "EMAIL",
    "URL",
    "UID",
  ]);
  assertEquals(find(card, "ADR")[0], {
    group: null,
    name: "ADR",
    params: new Map([["TYPE", ["WORK", "POSTAL", "PARCEL"]]]),
    value: ";;6544 Battleford Drive;Raleigh;NC;27613-3502;U.S.A.",
  });
  assertEquals(checkAddressObject(RFC2426_CARD, LIMITS), {
    ok: true,
    uid: "frank-dawson-1",
    version: "3.0",
  });
});

Deno.test("RFC 6350 example: 4.0 card, quoted parameter value, URI value folded after ':'", () => {
  const card = parseOne(RFC6350_CARD);
  assertEquals(card.version, "4.0");
  const [tel] = find(card, "TEL");
  assertEquals(tel.params.get("TYPE"), ["work,voice"]);
  assertEquals(tel.params.get("VALUE"), ["uri"]);
  assertEquals(tel.value, "tel:+1-418-656-9254;ext=102");
  assertEquals(find(card, "KEY")[0].value, "http://www.viagenie.ca/simon.perreault/simon.asc");
  assertEquals(find(card, "LANG").map((p) => p.params.get("PREF")), [["1"], ["2"]]);
  assertEquals(checkAddressObject(RFC6350_CARD, LIMITS), {
    ok: true,
    uid: "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
    version: "4.0",
  });
});

Deno.test("groups, lower-case names and parameter names, quoted ':' and ';' in parameters", () => {
  const card = parseOne(crlf([
    "BEGIN:VCARD",
    "version:3.0",
    "uid:g1",
    "item1.email;type=INTERNET:a@example.com",
    "item1.X-ABLabel:_$!<Other>!$_",
    'X-SOCIAL;x-label="a:b;c",plain:value:with:colons',
    "END:VCARD",
  ]));
  assertEquals(card.properties[2], {
    group: "item1",
    name: "EMAIL",
    params: new Map([["TYPE", ["INTERNET"]]]),
    value: "a@example.com",
  });
  assertEquals(card.properties[3].name, "X-ABLABEL");
  assertEquals(card.properties[4].params.get("X-LABEL"), ["a:b;c", "plain"]);
  assertEquals(card.properties[4].value, "value:with:colons");
});

Deno.test("folded lines with multi-byte UTF-8, LF-only and CR-only ends, tab folds, BOM", () => {
  const lines = [
    "BEGIN:VCARD",
    "VERSION:4.0",
    "UID:u\u00e9",
    // Folds between the characters of é, €, 😀 and Hangul, with a space and a tab.
    "FN:Ren\u00e9e \u20ac",
    " \u20ac\u{1F600}",
    "\t\u{1F600}\uD55C",
    " \uAE00",
    "END:VCARD",
  ];
  for (const text of [lines.join("\r\n"), lines.join("\n"), lines.join("\r")]) {
    const card = parseOne("\uFEFF" + text + "\n\n");
    assertEquals(
      find(card, "FN")[0].value,
      "Ren\u00e9e \u20ac\u20ac\u{1F600}\u{1F600}\uD55C\uAE00",
    );
    assertEquals(find(card, "UID")[0].value, "u\u00e9");
  }
});

Deno.test("formatContentLine folds at 75 octets and never inside a character", () => {
  const value = "\u00e9\u20ac\u{1F600}x".repeat(40);
  const property: VCardProperty = {
    group: "item2",
    name: "NOTE",
    params: new Map([["LANGUAGE", ["fr"]], ["X-LIST", ["a,b", "c"]]]),
    value,
  };
  const text = formatContentLine(property);
  assert(text.endsWith("\r\n"));
  const physical = text.slice(0, -2).split("\r\n");
  assert(physical.length > 5, `${physical.length} lines`);
  for (const [i, line] of physical.entries()) {
    const octets = new TextEncoder().encode(line).length;
    assert(octets <= 75, `line ${i} has ${octets} octets`);
    assert(i === 0 || line.startsWith(" "), `line ${i} is not a continuation`);
    assert(line.isWellFormed(), `line ${i} splits a surrogate pair`);
  }
  const card = parseOne(`BEGIN:VCARD\r\nVERSION:4.0\r\n${text}END:VCARD\r\n`);
  assertEquals(card.properties[1], property);
  assertEquals(
    formatContentLine({ ...property, value: "short" }, true),
    `item2.NOTE;LANGUAGE=fr;X-LIST="a,b",c:\r\n`,
  );
});

Deno.test("vCard 2.1 leftovers in a 3.0 card: nameless parameters and quoted-printable", () => {
  const card = parseOne(crlf([
    "BEGIN:VCARD",
    "VERSION:3.0",
    "UID:qp",
    "TEL;WORK;VOICE:+1 555 0100",
    "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Caf=C3=A9 au lait,=0D=0A=",
    "deux lignes=",
    "",
    "LABEL;HOME;QUOTED-PRINTABLE:Stra=DFe 1",
    "X-MOOD;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:=E9t=E9 \u{1F600} =ZZ =",
    "",
    "FN:Qp",
    "END:VCARD",
  ]));
  const [tel] = find(card, "TEL");
  assertEquals(tel.params.get("TYPE"), ["WORK", "VOICE"]);
  const [note] = find(card, "NOTE");
  assertEquals(note.value, "Caf=C3=A9 au lait,=0D=0Adeux lignes");
  assertEquals(propertyText(note), "Caf\u00e9 au lait,\r\ndeux lignes");
  const [label] = find(card, "LABEL");
  assertEquals(label.params.get("ENCODING"), ["QUOTED-PRINTABLE"]);
  // No CHARSET: UTF-8, so the lone Latin-1 octet becomes U+FFFD instead of failing.
  assertEquals(propertyText(label), "Stra\uFFFDe 1");
  assertEquals(find(card, "FN")[0].value, "Qp");
  // A declared charset decodes its octets; raw characters and bad escapes pass through.
  assertEquals(propertyText(find(card, "X-MOOD")[0]), "\u00e9t\u00e9 \u{1F600} =ZZ ");
});

Deno.test("a fold right after a quoted-printable '=' is a fold, not a soft line break", () => {
  const card = parseOne(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:f\r\nNOTE;ENCODING=QUOTED-PRINTABLE:Caf=\r\n C3=A9\r\n" +
      "END:VCARD\r\n",
  );
  assertEquals(find(card, "NOTE")[0].value, "Caf=C3=A9");
  assertEquals(propertyText(find(card, "NOTE")[0]), "Caf\u00e9");
});

Deno.test("propertyText undoes text escapes; paramText undoes RFC 6868 carets", () => {
  const property: VCardProperty = {
    group: null,
    name: "NOTE",
    params: new Map(),
    value: "a\\, b\\; c\\\\n\\nd\\Ne",
  };
  assertEquals(propertyText(property), "a, b; c\\n\nd\ne");
  assertEquals(paramText("^'Stra^^e^' ^nx"), '"Stra^e" \nx');
});

Deno.test("several vCards in one text parse in order; a PUT of two is refused", () => {
  const two = RFC2426_CARD + RFC6350_CARD;
  assertEquals(parseVCards(two, LIMITS).map((c) => c.version), ["3.0", "4.0"]);
  assertEquals(parseVCards("\r\n \r\n", LIMITS), []);
  refused(two, "valid-address-data", /exactly one vCard, found 2/);
  refused("", "valid-address-data", /no vCard/);
});

Deno.test("missing UID, empty UID, two UIDs: valid-address-data; missing FN and N tolerated", () => {
  const card = (lines: string[]) => crlf(["BEGIN:VCARD", ...lines, "END:VCARD"]);
  refused(card(["VERSION:3.0", "FN:No Uid"]), "valid-address-data", /no UID/);
  refused(card(["VERSION:4.0", "FN:x", "UID: "]), "valid-address-data", /no UID/);
  refused(card(["VERSION:4.0", "UID:a", "UID:b"]), "valid-address-data", /more than one UID/);
  assertEquals(checkAddressObject(card(["VERSION:3.0", "UID:only"]), LIMITS), {
    ok: true,
    uid: "only",
    version: "3.0",
  });
  assertEquals(checkAddressObject(card(["VERSION:4.0", "UID:only4"]), LIMITS).ok, true);
});

Deno.test("VERSION 2.1 and other versions: supported-address-data; no VERSION: valid", () => {
  const card = (version: string) =>
    crlf(["BEGIN:VCARD", `VERSION:${version}`, "UID:v", "FN:v", "END:VCARD"]);
  refused(card("2.1"), "supported-address-data", /version "2.1" is not supported/);
  refused(card("5.0"), "supported-address-data", /"5.0"/);
  const error = assertThrows(() => parseVCards(card("2.1"), LIMITS), VCardVersionError);
  assertEquals(error.version, "2.1");
  refused(crlf(["BEGIN:VCARD", "UID:v", "END:VCARD"]), "valid-address-data", /found 0/);
  refused(
    crlf(["BEGIN:VCARD", "VERSION:3.0", "VERSION:4.0", "UID:v", "END:VCARD"]),
    "valid-address-data",
    /found 2/,
  );
});

Deno.test("malformed structure is valid-address-data with the line it was noticed on", () => {
  refused(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\n",
    "valid-address-data",
    /^BEGIN:VCARD on line 1 has no END:VCARD$/,
  );
  refused("VERSION:3.0\r\n", "valid-address-data", /line 1: VERSION outside BEGIN:VCARD/);
  refused("END:VCARD\r\n", "valid-address-data", /outside BEGIN:VCARD/);
  refused(
    "BEGIN:VCARD\r\nBEGIN:VCARD\r\nEND:VCARD\r\nEND:VCARD\r\n",
    "valid-address-data",
    /line 2: BEGIN:VCARD inside a vCard/,
  );
  refused(
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    "valid-address-data",
    /BEGIN:VCALENDAR is not a vCard/,
  );
  refused("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nEND:VEVENT\r\n", "valid-address-data", /END/);
  refused(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN no colon\r\nEND:VCARD\r\n",
    "valid-address-data",
    /line 4: expected ":"/,
  );
  refused(
    'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nTEL;TYPE="work:1\r\nEND:VCARD\r\n',
    "valid-address-data",
    /unterminated quote/,
  );
  refused(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\na.b.TEL:1\r\nEND:VCARD\r\n",
    "valid-address-data",
    /expected ":"/,
  );
  refused(" folded first\r\n", "valid-address-data", /nothing to continue/);
  refused("BEGIN:VCARD\r\n:value\r\nEND:VCARD\r\n", "valid-address-data", /property name/);
});

Deno.test("binary junk and control characters are refused as valid-address-data", () => {
  const junk = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => (i * 37) % 256));
  refused(junk, "valid-address-data", /control character|outside|expected/);
  refused(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\u0000b\r\nEND:VCARD\r\n",
    "valid-address-data",
    /line 3: control character/,
  );
  refused("BEGIN:VCARD\r\nUID:\uD800\r\n", "valid-address-data", /surrogate/);
  refused("\x89PNG\r\n\x1a\n", "valid-address-data", /control character|expected/);
});

Deno.test("limits: total octets, octets per physical line, properties", () => {
  const big = crlf([
    "BEGIN:VCARD",
    "VERSION:3.0",
    "UID:big",
    "NOTE:" + "\u20ac".repeat(100),
    "END:VCARD",
  ]);
  refused(big, "valid-address-data", /larger than 300 octets/, { ...LIMITS, maxBytes: 300 });
  refused(big, "valid-address-data", /line 4: line longer than 200/, {
    ...LIMITS,
    maxLineBytes: 200,
  });
  // Folded at 75 octets the same value fits a 200-octet line limit.
  const card = parseOne(big);
  const folded = crlf(["BEGIN:VCARD", "VERSION:3.0", "UID:big"]) +
    formatContentLine(find(card, "NOTE")[0]) + "END:VCARD\r\n";
  assertEquals(checkAddressObject(folded, { ...LIMITS, maxLineBytes: 200 }).ok, true);
  refused(big, "valid-address-data", /more than 2 properties/, { ...LIMITS, maxProperties: 2 });
  assertEquals(checkAddressObject(big, { ...LIMITS, maxProperties: 3 }).ok, true);
});

Deno.test("parseVCards throws only VCardError, with the line number in the message", () => {
  const error = assertThrows(
    () => parseVCards("BEGIN:VCARD\nVERSION:3.0\nX;=:1\nEND:VCARD\n", LIMITS),
    VCardError,
  );
  assertEquals(error.line, 3);
  assert(error.message.startsWith("line 3: "), error.message);
});
