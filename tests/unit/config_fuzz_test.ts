/** Fuzz: random and mutated TOML never crash the loader; every failure is a ConfigError. */
import { assert } from "../helpers/assert.ts";
import { ConfigError, parseConfigText } from "../../src/config/load.ts";
import { mulberry32 } from "../helpers/random.ts";

const base = await Deno.readTextFile("./config.toml");

function mutate(text: string, random: () => number): string {
  const chars = [...text];
  const edits = 1 + Math.floor(random() * 8);
  const alphabet = `[]="'#\n.,:{}0123456789abcxyz-_ \t\\\u00e9\u0000`;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * chars.length);
    const kind = random();
    if (kind < 0.4) chars.splice(at, 1);
    else if (kind < 0.8) chars.splice(at, 0, alphabet[Math.floor(random() * alphabet.length)]);
    else chars.splice(at, Math.floor(random() * 40));
  }
  return chars.join("");
}

Deno.test("config loader survives 3,000 mutated and random inputs", () => {
  const random = mulberry32(0x5eed);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const text = i % 10 === 0
      ? Array.from(
        { length: Math.floor(random() * 200) },
        () => String.fromCharCode(Math.floor(random() * 128)),
      ).join("")
      : mutate(base, random);
    try {
      parseConfigText(text, "fuzz.toml");
      accepted++;
    } catch (error) {
      assert(error instanceof ConfigError, `unexpected ${(error as Error)?.name}: ${error}`);
      assert(error.message.startsWith("fuzz.toml: "));
    }
  }
  // Deleting a comment character or whitespace keeps the file valid, so some must pass.
  assert(accepted > 0);
});
