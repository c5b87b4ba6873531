/**
 * The POP3 wire layer alone: command lines to typed commands (RFC 1939 3, 7; RFC 2449; RFC 5034),
 * status lines with response codes, byte-stuffing of message data and TOP's cut.
 */
import { assertEquals } from "../helpers/assert.ts";
import { parseCommand } from "../../src/pop3/wire/command.ts";
import { dotStuff, err, multiline, ok, topOf } from "../../src/pop3/wire/response.ts";
import { uidl } from "../../src/pop3/maildrop.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const stuffed = (text: string) => {
  const chunks = dotStuff(encoder.encode(text));
  return chunks.map((c) => decoder.decode(c)).join("");
};

Deno.test("parseCommand: every command, arguments and case", () => {
  assertEquals(parseCommand("user alice@example.com"), { verb: "USER", user: "alice@example.com" });
  assertEquals(parseCommand("PASS  two  spaces "), { verb: "PASS", password: " two  spaces " });
  assertEquals(parseCommand("PASS"), { verb: "INVALID", text: "PASS needs a password" });
  assertEquals(parseCommand("APOP a 0123"), { verb: "APOP" });
  assertEquals(parseCommand("AUTH"), { verb: "AUTH", mechanism: null, initialResponse: null });
  assertEquals(parseCommand("AUTH plain ="), {
    verb: "AUTH",
    mechanism: "plain",
    initialResponse: "=",
  });
  assertEquals(parseCommand("AUTH a b c").verb, "INVALID");
  for (const verb of ["STAT", "NOOP", "RSET", "QUIT", "CAPA", "STLS", "UTF8"]) {
    assertEquals(parseCommand(verb.toLowerCase()), { verb } as never);
    assertEquals(parseCommand(`${verb} x`), {
      verb: "INVALID",
      text: `${verb} takes no arguments`,
    });
  }
  assertEquals(parseCommand("LIST"), { verb: "LIST", message: null });
  assertEquals(parseCommand("uidl 7"), { verb: "UIDL", message: 7 });
  assertEquals(parseCommand("LIST 1 2").verb, "INVALID");
  assertEquals(parseCommand("RETR 12"), { verb: "RETR", message: 12 });
  assertEquals(parseCommand("DELE 1 "), { verb: "DELE", message: 1 });
  for (const bad of ["RETR", "RETR 0", "RETR -1", "RETR +1", "RETR 1.0", "RETR 1234567890"]) {
    assertEquals(parseCommand(bad), { verb: "INVALID", text: "RETR needs a message number" });
  }
  assertEquals(parseCommand("TOP 1 0"), { verb: "TOP", message: 1, lines: 0 });
  assertEquals(parseCommand("TOP 1").verb, "INVALID");
  assertEquals(parseCommand(""), { verb: "INVALID", text: "Empty command" });
  assertEquals(parseCommand("X\x01Y"), { verb: "INVALID", text: "Unknown command X?Y" });
  assertEquals(parseCommand("A".repeat(40)), {
    verb: "INVALID",
    text: `Unknown command ${"A".repeat(20)}...`,
  });
});

Deno.test("responses: status lines, codes, multi-line with stuffing", () => {
  assertEquals(ok(""), "+OK\r\n");
  assertEquals(ok("2 320"), "+OK 2 320\r\n");
  assertEquals(err("locked", "IN-USE"), "-ERR [IN-USE] locked\r\n");
  assertEquals(err("no"), "-ERR no\r\n");
  assertEquals(multiline("", ["TOP", ".x"]), "+OK\r\nTOP\r\n..x\r\n.\r\n");
});

Deno.test("dotStuff: every line starting with '.' gets one more; CRLF before the end", () => {
  assertEquals(stuffed(""), ".\r\n");
  assertEquals(stuffed("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
  assertEquals(stuffed(".\r\n"), "..\r\n.\r\n");
  assertEquals(stuffed("a\r\n.\r\n..b\r\n.c"), "a\r\n..\r\n...b\r\n..c\r\n.\r\n");
  assertEquals(stuffed("no final line end"), "no final line end\r\n.\r\n");
  assertEquals(stuffed("x.\r\n y\r\n"), "x.\r\n y\r\n.\r\n");
  // Without a dot at a line start the data is passed through, not copied.
  const data = encoder.encode("a\r\nb\r\n");
  assertEquals(dotStuff(data)[0].buffer, data.buffer);
});

Deno.test("topOf: header, blank line, first n body lines", () => {
  const message = "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree";
  const top = (n: number, m = message) => decoder.decode(topOf(encoder.encode(m), n));
  assertEquals(top(0), "A: 1\r\nB: 2\r\n\r\n");
  assertEquals(top(2), "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n");
  assertEquals(top(9), message);
  assertEquals(top(1, "A: 1\r\nB: 2\r\n"), "A: 1\r\nB: 2\r\n");
  assertEquals(top(1, "\r\nbody\r\nmore\r\n"), "\r\nbody\r\n");
  assertEquals(top(1, "A: 1\n\nbody\nmore\n"), "A: 1\n\nbody\n");
});

Deno.test("uidl: Dovecot's %08Xu%08Xv", () => {
  assertEquals(uidl(1700000000, 42), "0000002A6553F100");
  assertEquals(uidl(0xffffffff, 1), "00000001FFFFFFFF");
});
