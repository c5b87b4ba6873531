/**
 * POP3 command lines (RFC 1939 3, RFC 2449 4) as typed values. Pure, so it is fuzzed on its own
 * (tests/unit/pop3_command_fuzz_test.ts); the session never looks at raw command text.
 *
 * Implementation notes:
 * - Keywords are case-insensitive; arguments are separated by single spaces, but runs of spaces
 *   and trailing spaces are tolerated (clients in the wild send them).
 * - PASS takes the rest of the line as one argument, spaces included (RFC 1939 7: "a server may
 *   treat spaces in the argument as part of the password").
 * - A message number is 1*DIGIT without a sign and at most 9 digits; a TOP line count is 1*DIGIT
 *   too. Whether the message exists is the session's business.
 * - The parser never throws: anything it does not understand is `{ verb: "INVALID" }` with the
 *   text of the -ERR to send.
 *
 * @example
 * parseCommand("top 3 10"); // { verb: "TOP", message: 3, lines: 10 }
 * parseCommand("RETR x");   // { verb: "INVALID", text: "RETR needs a message number" }
 */

export type Pop3Command =
  | { verb: "USER"; user: string }
  | { verb: "PASS"; password: string }
  | { verb: "APOP" }
  | { verb: "AUTH"; mechanism: string | null; initialResponse: string | null }
  | { verb: "STAT" | "NOOP" | "RSET" | "QUIT" | "CAPA" | "STLS" | "UTF8" }
  | { verb: "LIST" | "UIDL"; message: number | null }
  | { verb: "RETR" | "DELE"; message: number }
  | { verb: "TOP"; message: number; lines: number }
  | { verb: "INVALID"; text: string };

const NUMBER = /^\d{1,9}$/;
const NO_ARGUMENTS = new Set(["STAT", "NOOP", "RSET", "QUIT", "CAPA", "STLS", "UTF8"]);

/**
 * Parses one command line (without CRLF).
 *
 * @example
 * parseCommand("AUTH PLAIN AGFsaWNlAHB3"); // { verb: "AUTH", mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3" }
 */
export function parseCommand(line: string): Pop3Command {
  const space = line.indexOf(" ");
  const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const rest = space < 0 ? "" : line.slice(space + 1);
  if (keyword === "") return invalid("Empty command");
  if (keyword === "PASS") {
    if (rest === "") return invalid("PASS needs a password");
    return { verb: "PASS", password: rest };
  }
  const args = rest.split(" ").filter((arg) => arg !== "");
  if (NO_ARGUMENTS.has(keyword)) {
    // RFC 6856 3: UTF8 takes no argument; nor do the others.
    if (args.length > 0) return invalid(`${keyword} takes no arguments`);
    return { verb: keyword as "STAT" };
  }
  switch (keyword) {
    case "USER":
      if (args.length === 0) return invalid("USER needs a name");
      // A name with spaces is taken whole, as with PASS; trimmed of the separator runs.
      return { verb: "USER", user: rest.replace(/^ +| +$/g, "") };
    case "APOP":
      return { verb: "APOP" };
    case "AUTH":
      if (args.length > 2) return invalid("AUTH takes a mechanism and an initial response");
      return { verb: "AUTH", mechanism: args[0] ?? null, initialResponse: args[1] ?? null };
    case "LIST":
    case "UIDL": {
      if (args.length === 0) return { verb: keyword, message: null };
      if (args.length > 1) return invalid(`${keyword} takes at most one message number`);
      const message = messageNumber(args[0]);
      if (message === null) return invalid(`${keyword} needs a message number`);
      return { verb: keyword, message };
    }
    case "RETR":
    case "DELE": {
      const message = args.length === 1 ? messageNumber(args[0]) : null;
      if (message === null) return invalid(`${keyword} needs a message number`);
      return { verb: keyword, message };
    }
    case "TOP": {
      const message = args.length === 2 ? messageNumber(args[0]) : null;
      const lines = args.length === 2 && NUMBER.test(args[1]) ? Number(args[1]) : null;
      if (message === null || lines === null) {
        return invalid("TOP needs a message number and a number of lines");
      }
      return { verb: "TOP", message, lines };
    }
  }
  return invalid(`Unknown command ${printable(keyword)}`);
}

function messageNumber(text: string): number | null {
  if (!NUMBER.test(text)) return null;
  const value = Number(text);
  return value >= 1 ? value : null;
}

function invalid(text: string): Pop3Command {
  return { verb: "INVALID", text };
}

/** A keyword echoed in an error: at most 20 printable ASCII characters. */
function printable(keyword: string): string {
  const clean = keyword.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 20 ? `${clean.slice(0, 20)}...` : clean;
}
