import { assertEquals } from "../helpers/assert.ts";
import { normalizeLineEnds } from "../../src/mail/ingest.ts";
import { mulberry32 } from "../helpers/random.ts";

const text = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The obvious implementation, to compare the fast one against. */
function reference(input: string): string {
  return input.replace(/\r\n|\r|\n/g, "\r\n");
}

Deno.test("bare LF and bare CR become CRLF; clean input is returned as is", () => {
  const cases: [string, string][] = [
    ["a\nb", "a\r\nb"],
    ["a\rb", "a\r\nb"],
    ["a\r\nb", "a\r\nb"],
    ["\n\n", "\r\n\r\n"],
    ["\r\r\n\n", "\r\n\r\n\r\n"],
    ["x\r", "x\r\n"],
    ["\nx", "\r\nx"],
    ["", ""],
  ];
  for (const [input, expected] of cases) {
    assertEquals(text(normalizeLineEnds(bytes(input))), expected, JSON.stringify(input));
  }
  const clean = bytes("Subject: x\r\n\r\nbody\r\n");
  assertEquals(normalizeLineEnds(clean) === clean, true);
});

Deno.test("fuzz: matches the reference on 5,000 random CR/LF-heavy inputs", () => {
  const random = mulberry32(42);
  const alphabet = "\r\n\r\nab.";
  for (let i = 0; i < 5000; i++) {
    const input = Array.from(
      { length: Math.floor(random() * 40) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    ).join("");
    assertEquals(text(normalizeLineEnds(bytes(input))), reference(input), JSON.stringify(input));
  }
});
