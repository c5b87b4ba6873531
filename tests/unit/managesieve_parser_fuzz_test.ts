/**
 * Fuzz test for the ManageSieve command reader and parser (seeded, reproducible): random bytes
 * and mutated valid commands never throw anything but ManageSieveSyntaxError, literals stay
 * within their limit, and the reader always ends (every call consumes input or reports EOF).
 * Also a few exact cases the session relies on.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  type CommandSource,
  ManageSieveSyntaxError,
  memorySource,
  readTokens,
  type Token,
} from "../../src/sieve/managesieve/wire/tokens.ts";
import {
  type ManageSieveCommand,
  MAX_COMMAND_TOKENS,
  parseCommand,
} from "../../src/sieve/managesieve/wire/command.ts";
import { encodeString, response } from "../../src/sieve/managesieve/wire/response.ts";

const SEEDS = [1, 2, 3, 4, 5];
const LIMITS = { maxLiteralSize: 256, maxTokens: MAX_COMMAND_TOKENS };
const MAX_LINE = 300;
const encoder = new TextEncoder();

const VALID = [
  "CAPABILITY\r\n",
  "STARTTLS\r\n",
  'AUTHENTICATE "PLAIN" "AGFsaWNlAHB3"\r\n',
  'AUTHENTICATE "PLAIN" {12+}\r\nAGFsaWNlAHB3\r\n',
  'AUTHENTICATE "LOGIN"\r\n',
  'HAVESPACE "script" 1024\r\n',
  'PUTSCRIPT "script" {9+}\r\nkeep;\r\nx\r\n',
  "PUTSCRIPT {6}\r\nscript {5+}\r\nkeep;\r\n",
  'CHECKSCRIPT "keep;"\r\n',
  "LISTSCRIPTS\r\n",
  'SETACTIVE ""\r\n',
  'GETSCRIPT "a \\"b\\" \\\\ c"\r\n',
  'DELETESCRIPT "x"\r\n',
  'RENAMESCRIPT "old" "new"\r\n',
  'NOOP "tag"\r\n',
  "UNAUTHENTICATE\r\n",
  "LOGOUT\r\n",
];
const PIECES = [
  " ",
  '"',
  "\\",
  "{",
  "}",
  "+",
  "{5+}\r\n",
  "{0}\r\n",
  "{999999+}\r\n",
  "{99999999999999999999+}\r\n",
  "\r\n",
  "\n",
  "\r",
  "\0",
  "é",
  "\u2028",
  "\xff",
  "PUTSCRIPT",
  "4294967296",
  "42",
  "(",
  ")",
];

/** Reads commands until EOF; only ManageSieveSyntaxError may be thrown, by each call. */
async function drain(bytes: Uint8Array): Promise<void> {
  const source = countingSource(memorySource(bytes, MAX_LINE));
  for (let calls = 0;; calls++) {
    assert(calls <= bytes.length + 1, "the reader made no progress");
    let tokens: Token[] | null;
    try {
      tokens = await readTokens(source.source, LIMITS);
    } catch (error) {
      if (!(error instanceof ManageSieveSyntaxError)) throw error;
      assert(!/[\r\n]/.test(error.message), error.message);
      continue;
    }
    if (tokens === null) return;
    assert(tokens.length <= LIMITS.maxTokens);
    for (const token of tokens) {
      if (token.kind === "string") {
        assert(encoder.encode(token.value).length <= LIMITS.maxLiteralSize * 4);
      }
      if (token.kind === "number") assert(token.value >= 0 && token.value <= 4_294_967_295);
    }
    let command: ManageSieveCommand;
    try {
      command = parseCommand(tokens);
    } catch (error) {
      if (!(error instanceof ManageSieveSyntaxError)) throw error;
      // The text of a NO must not break the response framing.
      assert(response("NO", null, error.message).endsWith("\r\n"));
      continue;
    }
    assert(typeof command.name === "string");
    assert(source.kept() <= LIMITS.maxLiteralSize, "an oversized literal was kept");
  }
}

/** Wraps a source to record the largest literal it handed out. */
function countingSource(inner: CommandSource) {
  let largest = 0;
  const source: CommandSource = {
    readLine: () => inner.readLine(),
    readBytes: async (n) => {
      largest = Math.max(largest, n);
      return await inner.readBytes(n);
    },
    skipBytes: (n) => inner.skipBytes(n),
  };
  return { source, kept: () => largest };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    // Mostly printable, with CR, LF, quotes and braces over-represented.
    const r = random();
    bytes[i] = r < 0.1
      ? [0x0d, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x2b, 0x20][Math.floor(random() * 8)]
      : Math.floor(random() * 256);
  }
  return bytes;
}

function mutate(random: () => number, text: string): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const r = random();
    if (r < 0.4) {
      out = out.slice(0, at) + PIECES[Math.floor(random() * PIECES.length)] + out.slice(at);
    } else if (r < 0.7) {
      out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 5));
    } else {
      out = out.slice(0, at) + VALID[Math.floor(random() * VALID.length)] + out.slice(at);
    }
  }
  return out;
}

Deno.test("ManageSieve reader: random bytes throw nothing but ManageSieveSyntaxError", async () => {
  for (const seed of SEEDS) {
    const random = mulberry32(seed);
    for (let i = 0; i < 400; i++) {
      await drain(randomBytes(random, Math.floor(random() * 600)));
    }
  }
});

Deno.test("ManageSieve reader: mutated valid commands throw nothing but ManageSieveSyntaxError", async () => {
  for (const seed of SEEDS) {
    const random = mulberry32(seed * 7919);
    for (let i = 0; i < 1000; i++) {
      const session = Array.from(
        { length: 1 + Math.floor(random() * 5) },
        () => mutate(random, VALID[Math.floor(random() * VALID.length)]),
      ).join("");
      await drain(encoder.encode(session));
    }
  }
});

Deno.test("ManageSieve parser: every valid command parses", async () => {
  for (const text of VALID) {
    const tokens = await readTokens(memorySource(encoder.encode(text), MAX_LINE), LIMITS);
    assert(tokens !== null, text);
    parseCommand(tokens);
  }
  const source = memorySource(encoder.encode(VALID.join("")), MAX_LINE);
  const names: string[] = [];
  for (let tokens; (tokens = await readTokens(source, LIMITS)) !== null;) {
    names.push(parseCommand(tokens).name);
  }
  assertEquals(names.length, VALID.length);
});

Deno.test("ManageSieve parser: exact cases", async () => {
  const parse = async (text: string | Uint8Array) => {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    const tokens = await readTokens(memorySource(bytes, MAX_LINE), LIMITS);
    return parseCommand(tokens!);
  };
  const error = async (text: string | Uint8Array) => {
    try {
      await parse(text);
    } catch (error) {
      if (error instanceof ManageSieveSyntaxError) return error.message;
      throw error;
    }
    throw new Error(`no error for ${JSON.stringify(text)}`);
  };
  assertEquals(await parse('putscript "a" {5+}\r\nkeep;\r\n'), {
    name: "PUTSCRIPT",
    script: "a",
    content: { content: "keep;" },
  });
  assertEquals(await parse('GETSCRIPT "q\\"uo\\\\te"\r\n'), {
    name: "GETSCRIPT",
    script: 'q"uo\\te',
  });
  assertEquals(await parse(`CHECKSCRIPT {300+}\r\n${"x".repeat(300)}\r\n`), {
    name: "CHECKSCRIPT",
    content: { oversized: 300 },
  });
  assertEquals(await parse('AUTHENTICATE "PLAIN"\r\n'), {
    name: "AUTHENTICATE",
    mechanism: "PLAIN",
    initialResponse: null,
  });
  assertEquals(await parse('HAVESPACE "a" 4294967295\r\n'), {
    name: "HAVESPACE",
    script: "a",
    size: 4294967295,
  });
  assertEquals(await error('HAVESPACE "a" 4294967296\r\n'), "Number too large");
  assertEquals(
    await error(`GETSCRIPT {300+}\r\n${"x".repeat(300)}\r\n`),
    "GETSCRIPT: argument too long",
  );
  assertEquals(await error('GETSCRIPT "a\\n"\r\n'), 'Only \\" and \\\\ may be escaped');
  assertEquals(
    await error(Uint8Array.from([...encoder.encode('GETSCRIPT "'), 0xff, 0x22, 0x0d, 0x0a])),
    "String is not UTF-8",
  );
  assertEquals(await error('GETSCRIPT  "a"\r\n'), "Unexpected character");
  assertEquals(await error('GETSCRIPT "a" \r\n'), "Trailing space");
  assertEquals(
    await error('GETSCRIPT {3+}\r\nabc"x"\r\n'),
    "Expected a space or the end of the command after a literal",
  );

  // A literal announced after an error is consumed: the next command is the one after it.
  const source = memorySource(encoder.encode("BAD( {8+}\r\nLOGOUT\r\n\r\nNOOP\r\n"), MAX_LINE);
  await readTokens(source, LIMITS).then(
    () => assert(false, "expected an error"),
    (e) => assert(e instanceof ManageSieveSyntaxError),
  );
  assertEquals(parseCommand((await readTokens(source, LIMITS))!), { name: "NOOP", tag: null });
});

Deno.test("ManageSieve responses: strings quoted or literal", () => {
  assertEquals(encodeString('a "b" \\'), '"a \\"b\\" \\\\"');
  assertEquals(encodeString("a\r\nb"), "{4}\r\na\r\nb");
  assertEquals(encodeString("x".repeat(1025)), `{1025}\r\n${"x".repeat(1025)}`);
  assertEquals(
    response("NO", { code: "TAG", value: "t" }, "Done"),
    'NO (TAG "t") "Done"\r\n',
  );
  assertEquals(response("OK", "QUOTA/MAXSIZE", ""), "OK (QUOTA/MAXSIZE)\r\n");
});
