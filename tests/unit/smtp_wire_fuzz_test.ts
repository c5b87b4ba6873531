/**
 * Fuzz tests for the SMTP wire layer: random and mutated command lines never throw and always
 * yield a command or a well-formed error reply; random DATA streams end exactly where a simple
 * reference says (the first CRLF.CRLF, counting the start as after a CRLF), store exactly the
 * unstuffed bytes, and give the same result however the stream is chunked.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { parseCommand } from "../../src/smtp/wire/command.ts";
import { DataReader } from "../../src/smtp/wire/data.ts";
import { reply } from "../../src/smtp/wire/reply.ts";

const SEEDS = [1, 2, 3];

const VALID = [
  "EHLO client.example.com",
  "HELO [192.0.2.1]",
  "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME",
  "MAIL FROM:<> RET=HDRS ENVID=x+2By AUTH=<> REQUIRETLS",
  'MAIL FROM:<@r.example:"q d"@b.example> SMTPUTF8',
  "MAIL FROM:<用户@例子.测试> SMTPUTF8",
  "RCPT TO:<Postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+40b.example",
  "RCPT TO:<user@[IPv6:2001:db8::1]>",
  "BDAT 100 LAST",
  "AUTH PLAIN AGEAYg==",
  "DATA",
  "NOOP x",
  "VRFY postmaster",
];
const PIECES = [
  "MAIL",
  "RCPT",
  " FROM:",
  " TO:",
  "<",
  ">",
  "@",
  '"',
  "\\",
  ":",
  ",",
  ".",
  " ",
  "=",
  "+",
  "+4",
  "[",
  "]",
  "IPv6:",
  "SIZE",
  "BODY",
  "NOTIFY",
  "ORCPT",
  "ENVID",
  "AUTH",
  "SMTPUTF8",
  "a",
  "xn--",
  "ü",
  "用",
  "\r",
  "\x00",
  "\t",
  "\ufffd",
  "\ud800",
];

function randomLine(random: () => number): string {
  if (random() < 0.5) {
    // Mutate a valid line.
    let line = VALID[Math.floor(random() * VALID.length)];
    const edits = 1 + Math.floor(random() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(random() * (line.length + 1));
      const piece = PIECES[Math.floor(random() * PIECES.length)];
      const op = random();
      if (op < 0.4) line = line.slice(0, at) + piece + line.slice(at);
      else if (op < 0.7) line = line.slice(0, at) + line.slice(at + 1);
      else line = line.slice(0, at) + piece + line.slice(at + piece.length);
    }
    return line;
  }
  let line = "";
  const n = Math.floor(random() * 20);
  for (let i = 0; i < n; i++) {
    line += random() < 0.8
      ? PIECES[Math.floor(random() * PIECES.length)]
      : String.fromCharCode(Math.floor(random() * 0x3000));
  }
  return line;
}

const VERBS = new Set([
  "EHLO",
  "HELO",
  "MAIL",
  "RCPT",
  "DATA",
  "BDAT",
  "RSET",
  "NOOP",
  "QUIT",
  "VRFY",
  "EXPN",
  "HELP",
  "STARTTLS",
  "AUTH",
]);

Deno.test("fuzz: command lines never throw and errors are well-formed replies", () => {
  let errors = 0;
  let commands = 0;
  for (const seed of SEEDS) {
    const random = mulberry32(seed);
    for (let i = 0; i < 3000; i++) {
      const line = randomLine(random);
      for (const smtputf8Allowed of [false, true]) {
        const result = parseCommand(line, { smtputf8Allowed });
        assertEquals(parseCommand(line, { smtputf8Allowed }), result, "deterministic");
        if (result.verb === "INVALID") {
          errors++;
          assert([500, 501, 553, 555].includes(result.code), JSON.stringify(result));
          const wire = reply(result.code, result.enhanced, result.text);
          assert(/^[45]\d\d [45]\.\d\.\d [^\r\n]*\r\n$/.test(wire), wire);
        } else {
          commands++;
          assert(VERBS.has(result.verb), JSON.stringify(line));
          if (result.verb === "MAIL" || result.verb === "RCPT") {
            const path = result.path;
            if (path.kind === "mailbox") {
              // A non-ASCII address only ever passes in an SMTPUTF8 context.
              if (!smtputf8Allowed) assert(!path.mailbox.utf8, line);
              assert(
                !/[\r\n]/.test(path.mailbox.address) && !path.mailbox.address.includes("\0"),
                line,
              );
            }
          }
        }
      }
    }
  }
  // Both outcomes are exercised, so the loop above tested something.
  assert(errors > 1000 && commands > 1000, `errors ${errors}, commands ${commands}`);
});

/** Random stream biased towards CR, LF and dots, sometimes with a real terminator inside. */
function randomStream(random: () => number): Uint8Array {
  const alphabet = [13, 10, 46, 97, 13, 10, 46, 0xff];
  const n = Math.floor(random() * 60);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(alphabet[Math.floor(random() * alphabet.length)]);
  if (random() < 0.5) {
    const at = Math.floor(random() * (out.length + 1));
    out.splice(at, 0, 13, 10, 46, 13, 10);
  }
  return new Uint8Array(out);
}

/** The reference: end of data is the first CRLF.CRLF of CRLF + stream. */
function referenceEnd(stream: Uint8Array): number | null {
  const s = [13, 10, ...stream];
  for (let i = 0; i + 5 <= s.length; i++) {
    if (s[i] === 13 && s[i + 1] === 10 && s[i + 2] === 46 && s[i + 3] === 13 && s[i + 4] === 10) {
      return i + 5 - 2;
    }
  }
  return null;
}

/** The reference message in "reject" mode: data before the final ".CRLF", dots unstuffed. */
function referenceMessage(data: Uint8Array): { message: number[]; bare: boolean } {
  const message: number[] = [];
  let lineStart = true;
  let bare = false;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte === 13 && data[i + 1] !== 10) bare = true;
    if (byte === 10 && data[i - 1] !== 13) bare = true;
    const skip = lineStart && byte === 46;
    lineStart = byte === 10 && data[i - 1] === 13;
    if (!skip) message.push(byte);
  }
  return { message, bare };
}

function run(stream: Uint8Array, cuts: number[], mode: "reject" | "normalize", maxSize: number) {
  const reader = new DataReader({ maxSize, bareLineEnds: mode });
  const bounds = [0, ...cuts, stream.length];
  let consumed: number | null = null;
  for (let k = 0; k + 1 < bounds.length; k++) {
    const pushed = reader.push(stream.subarray(bounds[k], bounds[k + 1]));
    if (pushed.done) {
      consumed = bounds[k] + pushed.consumed;
      break;
    }
  }
  const result = reader.result();
  return { consumed, ...result, message: Array.from(result.message) };
}

Deno.test("fuzz: DATA streams end where the reference says, whatever the chunking", () => {
  let ended = 0;
  let bare = 0;
  for (const seed of SEEDS) {
    const random = mulberry32(seed * 7919);
    for (let i = 0; i < 2000; i++) {
      const stream = randomStream(random);
      const maxSize = random() < 0.2 ? Math.floor(random() * 20) : 1 << 20;
      const cuts: number[] = [];
      for (let p = 1; p < stream.length; p++) if (random() < 0.3) cuts.push(p);
      for (const mode of ["reject", "normalize"] as const) {
        const whole = run(stream, [], mode, maxSize);
        const bytewise = run(
          stream,
          Array.from({ length: stream.length }, (_, p) => p),
          mode,
          maxSize,
        );
        const chunked = run(stream, cuts, mode, maxSize);
        assertEquals(chunked, whole, `seed ${seed} case ${i} ${mode}`);
        assertEquals(bytewise, whole, `seed ${seed} case ${i} ${mode} bytewise`);
        assertEquals(whole.consumed, referenceEnd(stream), `seed ${seed} case ${i} end`);
        if (whole.consumed !== null && mode === "reject") {
          ended++;
          // The message is what precedes ".\r\n" of the terminator.
          const reference = referenceMessage(stream.subarray(0, whole.consumed - 3));
          assertEquals(whole.bareLineEnd, reference.bare, `seed ${seed} case ${i} bare`);
          if (reference.bare) bare++;
          assertEquals(whole.size, reference.message.length);
          assertEquals(whole.tooLarge, reference.message.length > maxSize);
          assertEquals(whole.message, whole.tooLarge ? [] : reference.message);
        }
        if (mode === "normalize" && !whole.tooLarge) {
          // Normalised output has no bare CR or LF.
          const m = whole.message;
          for (let j = 0; j < m.length; j++) {
            if (m[j] === 13) assertEquals(m[j + 1], 10);
            if (m[j] === 10) assertEquals(m[j - 1], 13);
          }
        }
      }
    }
  }
  assert(ended > 1000 && bare > 300, `ended ${ended}, bare ${bare}`);
});
