/** Modified UTF-7 (RFC 3501 5.1.3): RFC examples, refused forms, and a seeded round-trip fuzz. */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { decodeMutf7, encodeMutf7, isValidMutf7, Mutf7Error } from "../../src/imap/mutf7.ts";

Deno.test("mutf7: the RFC 3501 example and common names", () => {
  assertEquals(encodeMutf7("~peter/mail/日本語/台北"), "~peter/mail/&ZeVnLIqe-/&U,BTFw-");
  assertEquals(decodeMutf7("~peter/mail/&ZeVnLIqe-/&U,BTFw-"), "~peter/mail/日本語/台北");
  assertEquals(encodeMutf7("Entwürfe"), "Entw&APw-rfe");
  assertEquals(encodeMutf7("Gelöschte Elemente"), "Gel&APY-schte Elemente");
  assertEquals(encodeMutf7("Отправленные"), "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
  assertEquals(decodeMutf7("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"), "Отправленные");
  assertEquals(encodeMutf7("INBOX"), "INBOX");
  assertEquals(encodeMutf7(""), "");
});

Deno.test("mutf7: ampersand, non-BMP characters and controls", () => {
  assertEquals(encodeMutf7("Tom & Jerry"), "Tom &- Jerry");
  assertEquals(decodeMutf7("&-"), "&");
  assertEquals(decodeMutf7("&-&-"), "&&");
  assertEquals(encodeMutf7("&é"), "&-&AOk-");
  assertEquals(encodeMutf7("é&"), "&AOk-&-");
  assertEquals(encodeMutf7("😀"), "&2D3eAA-");
  assertEquals(decodeMutf7("&2D3eAA-"), "😀");
  assertEquals(encodeMutf7("a\tb\u007f"), "a&AAk-b&AH8-");
  assertEquals(decodeMutf7("a&AAk-b&AH8-"), "a\tb\u007f");
  assertEquals(encodeMutf7("+,/\\~-"), "+,/\\~-");
});

Deno.test("mutf7: refused wire forms carry a clear Mutf7Error", () => {
  const cases: [string, string][] = [
    ["&AGE-", "not minimal"], // "a" in base64
    ["&ACY-", "not minimal"], // "&" in base64
    ["&AOk", "not terminated"],
    ["a&", "not terminated"],
    ["&AOk-&AOk-", "back to back"],
    ["&A-", "whole number"],
    ["&AO-", "whole number"], // 12 bits: one octet and a half
    ["&AOkA-", "whole number"], // 24 bits: three octets
    ["&AOl-", "padding"],
    ["&AO/-", "not a modified base64"],
    ["&AO=-", "not a modified base64"],
    ["&2D0-", "unpaired high"],
    ["&3gA-", "unpaired low"],
    ["&2D3YPQ-", "unpaired high"],
    ["é", "must be written"],
    ["a\tb", "must be written"],
    ["a\u007f", "must be written"],
  ];
  for (const [wire, text] of cases) {
    const error = assertThrows(() => decodeMutf7(wire), Mutf7Error);
    assert(error.message.includes(text), `${wire}: ${error.message}`);
    assertEquals(isValidMutf7(wire), false, wire);
  }
  assertThrows(() => encodeMutf7("a\ud800b"), Mutf7Error);
  assertThrows(() => encodeMutf7("\udc00"), Mutf7Error);
});

const SAMPLE = [
  "a",
  "&",
  "-",
  "/",
  " ",
  "~",
  "é",
  "ü",
  "日",
  "語",
  "😀",
  "\u0000",
  "\u2028",
  "+",
  ",",
];

function randomString(random: () => number): string {
  let text = "";
  const length = Math.floor(random() * 12);
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.5) text += SAMPLE[Math.floor(random() * SAMPLE.length)];
    else if (r < 0.8) text += String.fromCharCode(0x20 + Math.floor(random() * 0x5f));
    else if (r < 0.95) {
      let unit = Math.floor(random() * 0x10000);
      if (unit >= 0xd800 && unit <= 0xdfff) unit = 0x4e00;
      text += String.fromCharCode(unit);
    } else text += String.fromCodePoint(0x10000 + Math.floor(random() * 0x100000));
  }
  return text;
}

Deno.test("mutf7 fuzz: every well-formed string round-trips, and the encoding is canonical", () => {
  for (const seed of [1, 2, 3]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 5000; i++) {
      const text = randomString(random);
      const wire = encodeMutf7(text);
      assert(/^[\x20-\x7e]*$/.test(wire), JSON.stringify(wire));
      assertEquals(decodeMutf7(wire), text);
      assert(isValidMutf7(wire));
    }
  }
});

const WIRE_PIECES = ["&", "-", "&-", "A", "O", "k", "2D3eAA", "AOk", ",", "+", "/", "=", "a", "é"];

Deno.test("mutf7 fuzz: random wire text decodes or throws Mutf7Error, never anything else", () => {
  for (const seed of [4, 5, 6]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 10000; i++) {
      let wire = "";
      const length = Math.floor(random() * 10);
      for (let k = 0; k < length; k++) {
        wire += random() < 0.7
          ? WIRE_PIECES[Math.floor(random() * WIRE_PIECES.length)]
          : String.fromCharCode(Math.floor(random() * 0x80));
      }
      try {
        const decoded = decodeMutf7(wire);
        // The decoder accepts only what the encoder writes.
        assertEquals(encodeMutf7(decoded), wire);
      } catch (error) {
        if (!(error instanceof Mutf7Error)) throw error;
      }
    }
  }
});
