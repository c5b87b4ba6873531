/**
 * Fuzz test for the POP3 command parser (seeded, reproducible): random and mutated lines never
 * throw, always give a known verb, keep message numbers in range, and an INVALID's text is one
 * printable line that cannot break the response framing.
 */
import { assert } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { parseCommand } from "../../src/pop3/wire/command.ts";
import { err } from "../../src/pop3/wire/response.ts";

const SEEDS = [1, 2, 3, 4];
const VERBS = new Set([
  "USER",
  "PASS",
  "APOP",
  "AUTH",
  "STAT",
  "NOOP",
  "RSET",
  "QUIT",
  "CAPA",
  "STLS",
  "UTF8",
  "LIST",
  "UIDL",
  "RETR",
  "DELE",
  "TOP",
  "INVALID",
]);
const VALID = [
  "USER alice@example.com",
  "PASS secret words",
  "AUTH PLAIN AGFsaWNlAHB3",
  "AUTH LOGIN",
  "LIST 1",
  "UIDL",
  "RETR 3",
  "TOP 2 10",
  "DELE 4",
  "STAT",
  "QUIT",
  "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
];
const PIECES = [
  "USER",
  "PASS",
  "RETR",
  "TOP",
  "list",
  "uidl",
  "AUTH",
  " ",
  "  ",
  "0",
  "1",
  "999999999",
  "9999999999",
  "-1",
  "+",
  "=",
  "*",
  "\t",
  "\0",
  "\r",
  "\x7f",
  "é",
  "用户",
  "\u{1f4e7}",
  "AGFsaWNl",
  ".",
];

function randomLine(random: () => number): string {
  const kind = random();
  if (kind < 0.4) {
    const base = VALID[Math.floor(random() * VALID.length)];
    const chars = [...base];
    for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) {
      const at = Math.floor(random() * (chars.length + 1));
      const op = random();
      if (op < 0.33) chars.splice(at, 1);
      else if (op < 0.66) chars.splice(at, 0, PIECES[Math.floor(random() * PIECES.length)]);
      else chars.splice(at, 1, String.fromCharCode(Math.floor(random() * 256)));
    }
    return chars.join("");
  }
  if (kind < 0.8) {
    let line = "";
    for (let i = 0, n = Math.floor(random() * 8); i < n; i++) {
      line += PIECES[Math.floor(random() * PIECES.length)];
    }
    return line;
  }
  return Array.from(
    { length: Math.floor(random() * 80) },
    () => String.fromCharCode(Math.floor(random() * 0x3000)),
  ).join("");
}

for (const seed of SEEDS) {
  Deno.test(`POP3 command parser fuzz, seed ${seed}`, () => {
    const random = mulberry32(seed);
    for (let i = 0; i < 20_000; i++) {
      const line = randomLine(random);
      const command = parseCommand(line);
      assert(VERBS.has(command.verb), `${JSON.stringify(line)} → ${command.verb}`);
      if (command.verb === "INVALID") {
        const response = err(command.text);
        assert(
          response.indexOf("\n") === response.length - 1 && !response.slice(0, -2).includes("\r"),
          `${JSON.stringify(line)} → ${JSON.stringify(response)}`,
        );
      }
      if ("message" in command && command.message !== null) {
        assert(Number.isSafeInteger(command.message) && command.message >= 1, JSON.stringify(line));
      }
      if (command.verb === "TOP") assert(command.lines >= 0, JSON.stringify(line));
      if (command.verb === "USER") assert(command.user.length > 0, JSON.stringify(line));
    }
  });
}
