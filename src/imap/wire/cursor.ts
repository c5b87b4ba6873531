/**
 * The lexical layer of the IMAP command parser (RFC 9051 9): a read position over an assembled
 * command and the tokens of the formal syntax (atom, astring, quoted, literal, number, ...).
 *
 * Implementation notes:
 * - Every failure is a `ParseError` naming what was expected and the octet position in the
 *   command as sent (lines with their CRLF, literals inline), never another exception.
 * - Literals are not copied: `lines[i]` ends with the announcement of `literals[i]`, so reading a
 *   literal takes the assembled octets and moves to the start of the next line.
 * - Atoms are ASCII; quoted strings may carry UTF-8 (RFC 9051 9 QUOTED-CHAR); non-binary literals
 *   may not carry NUL (RFC 9051 9 CHAR8), binary ones only where the grammar allows literal8.
 */
import type { AssembledCommand } from "./assembler.ts";

/** A client's syntax error: the session answers `tag BAD [code] message` (or `* BAD`). */
export class ParseError extends Error {
  override name = "ParseError";
  /** The command's tag, or null when none could be read (answer untagged). */
  readonly tag: string | null;
  /** Octet offset in the command where parsing stopped, or -1. */
  readonly position: number;
  /** Response code to send, e.g. `BADCHARSET`, or null. */
  readonly code: string | null;

  constructor(tag: string | null, position: number, message: string, code: string | null = null) {
    super(message);
    this.tag = tag;
    this.position = position;
    this.code = code;
  }
}

const ATOM = 1;
const ASTRING = 2;
const LIST = 4;

/** Character classes of RFC 9051 9: ATOM-CHAR, ASTRING-CHAR, list-char. */
const CLASS = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) {
  if ('(){%*"\\]'.includes(String.fromCharCode(c))) continue;
  CLASS[c] = ATOM | ASTRING | LIST;
}
CLASS[0x5d] = ASTRING | LIST; // "]"
CLASS[0x25] = LIST; // "%"
CLASS[0x2a] = LIST; // "*"

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function isAtomChar(c: number): boolean {
  return (CLASS[c] & ATOM) !== 0;
}

function describe(c: number): string {
  if (c < 0) return "end of command";
  if (c >= 0x21 && c < 0x7f) return `"${String.fromCharCode(c)}"`;
  return `octet 0x${c.toString(16).padStart(2, "0")}`;
}

/** A read position over an assembled command. */
export class Cursor {
  readonly #lines: Uint8Array[];
  readonly #literals: AssembledCommand["literals"];
  #line = 0;
  #pos = 0;
  #cur: Uint8Array;
  tag: string | null = null;
  /** Prefix of error messages, e.g. the command name. */
  context = "";

  constructor(command: AssembledCommand) {
    this.#lines = command.lines.length > 0 ? command.lines : [new Uint8Array(0)];
    this.#literals = command.literals;
    this.#cur = this.#lines[0];
  }

  /** Octet offset in the command as sent. */
  get position(): number {
    let offset = this.#pos;
    for (let i = 0; i < this.#line; i++) {
      offset += this.#lines[i].length + 2 + (this.#literals[i]?.data.length ?? 0);
    }
    return offset;
  }

  fail(expected: string, code: string | null = null): never {
    const where = this.context ? `${this.context}: ` : "";
    throw new ParseError(
      this.tag,
      this.position,
      `${where}expected ${expected} at position ${this.position}, found ${describe(this.peek())}`,
      code,
    );
  }

  /** A failure that is not about the next octet. */
  reject(text: string, code: string | null = null): never {
    const where = this.context ? `${this.context}: ` : "";
    throw new ParseError(this.tag, this.position, `${where}${text}`, code);
  }

  /** The next octet, or -1 at the end of a line. */
  peek(offset = 0): number {
    const i = this.#pos + offset;
    return i < this.#cur.length ? this.#cur[i] : -1;
  }

  atEnd(): boolean {
    return this.#pos >= this.#cur.length && this.#line === this.#lines.length - 1;
  }

  /** Consumes `c` when it is next. */
  take(c: number): boolean {
    if (this.peek() !== c) return false;
    this.#pos++;
    return true;
  }

  expect(c: number, name = `"${String.fromCharCode(c)}"`): void {
    if (!this.take(c)) this.fail(name);
  }

  sp(): void {
    this.expect(0x20, "SP");
  }

  /** Consumes a case-insensitive ASCII word when it is next and not followed by an atom char. */
  takeWord(word: string): boolean {
    for (let i = 0; i < word.length; i++) {
      const c = this.peek(i);
      if (c < 0 || (c | 0x20) !== (word.charCodeAt(i) | 0x20)) return false;
    }
    if (
      isAtomChar(this.peek(word.length)) &&
      !"[<".includes(String.fromCharCode(this.peek(word.length)))
    ) {
      return false;
    }
    this.#pos += word.length;
    return true;
  }

  /** Consumes SP and `word` when both are next (an optional keyword after SP). */
  takeSpaceWord(word: string): boolean {
    if (this.peek() !== 0x20) return false;
    this.#pos++;
    if (this.takeWord(word)) return true;
    this.#pos--;
    return false;
  }

  /** Octets of the current line while `accept` holds. */
  #run(accept: (c: number) => boolean): Uint8Array {
    const start = this.#pos;
    while (this.#pos < this.#cur.length && accept(this.#cur[this.#pos])) this.#pos++;
    return this.#cur.subarray(start, this.#pos);
  }

  /** atom = 1*ATOM-CHAR, as a string. */
  atom(name = "an atom"): string {
    const bytes = this.#run(isAtomChar);
    if (bytes.length === 0) this.fail(name);
    return ascii(bytes);
  }

  /** An atom, upper-cased (command names, keywords of the grammar). */
  keyword(name = "a keyword"): string {
    return this.atom(name).toUpperCase();
  }

  /** A run of letters, digits and dots (FETCH attribute names, before `[` or `<`). */
  word(name: string): string {
    const bytes = this.#run((c) =>
      (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
      c === 0x2e || c === 0x2d
    );
    if (bytes.length === 0) this.fail(name);
    return ascii(bytes).toUpperCase();
  }

  /** number = 1*DIGIT, at most `max`; `nonZero` for nz-number (no leading zero). */
  number(name = "a number", max = 0xffffffff, nonZero = false): number {
    const start = this.#pos;
    if (nonZero && this.peek() === 0x30) this.fail(name);
    let value = 0;
    while (this.#pos < this.#cur.length) {
      const c = this.#cur[this.#pos];
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      this.#pos++;
      if (value > max) {
        this.#pos = start;
        this.reject(`${name} at position ${this.position} is too large (at most ${max})`);
      }
    }
    if (this.#pos === start) this.fail(name);
    if (nonZero && value === 0) {
      this.#pos = start;
      this.fail(name);
    }
    return value;
  }

  nzNumber(name = "a non-zero number"): number {
    return this.number(name, 0xffffffff, true);
  }

  /** number64 / mod-sequence-value, limited to what a JS number holds exactly. */
  number64(name = "a number", nonZero = false): number {
    return this.number(name, Number.MAX_SAFE_INTEGER, nonZero);
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE, unescaped. */
  quoted(): Uint8Array {
    this.expect(0x22, "a quoted string");
    const line = this.#cur;
    let i = this.#pos;
    let escapes = 0;
    for (;;) {
      if (i >= line.length) {
        this.#pos = i;
        this.fail('closing "');
      }
      const c = line[i];
      if (c === 0x22) break;
      if (c === 0x5c) {
        const next = i + 1 < line.length ? line[i + 1] : -1;
        if (next !== 0x22 && next !== 0x5c) {
          this.#pos = i;
          this.fail('\\" or \\\\ after a backslash in a quoted string');
        }
        escapes++;
        i += 2;
        continue;
      }
      if (c === 0x00 || c === 0x0d || c === 0x0a) {
        this.#pos = i;
        this.fail("a TEXT-CHAR in a quoted string");
      }
      i++;
    }
    const raw = line.subarray(this.#pos, i);
    this.#pos = i + 1;
    if (escapes === 0) return raw;
    const out = new Uint8Array(raw.length - escapes);
    let o = 0;
    for (let k = 0; k < raw.length; k++) {
      if (raw[k] === 0x5c) k++;
      out[o++] = raw[k];
    }
    return out;
  }

  /** True when a literal (`{`, or `~{` for literal8) is next. */
  atLiteral(): boolean {
    return this.peek() === 0x7b || (this.peek() === 0x7e && this.peek(1) === 0x7b);
  }

  /** literal / literal8: the octets, and whether it was `~{n}`. */
  literal(binaryAllowed = false): { data: Uint8Array; binary: boolean } {
    const binary = this.take(0x7e);
    if (binary && !binaryAllowed) this.fail("a literal without ~ (literal8 is not allowed here)");
    this.expect(0x7b, "a literal");
    const size = this.number("a literal size", Number.MAX_SAFE_INTEGER);
    this.take(0x2b);
    this.expect(0x7d, '"}"');
    if (this.#pos !== this.#cur.length) this.fail("CRLF after a literal announcement");
    const literal = this.#literals[this.#line];
    if (literal === undefined || this.#line + 1 >= this.#lines.length) {
      this.fail("the literal's octets");
    }
    if (literal.data.length !== size) {
      this.reject(`literal of ${literal.data.length} octets where ${size} were announced`);
    }
    if (!binary && literal.data.includes(0)) {
      this.reject("NUL octet in a literal (use ~{n} where binary data is allowed)");
    }
    this.#line++;
    this.#pos = 0;
    this.#cur = this.#lines[this.#line];
    return { data: literal.data, binary };
  }

  /** string = quoted / literal */
  string(name = "a string"): Uint8Array {
    if (this.peek() === 0x22) return this.quoted();
    if (this.peek() === 0x7b) return this.literal().data;
    this.fail(name);
  }

  /** astring = 1*ASTRING-CHAR / string */
  astring(name = "an astring"): Uint8Array {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b) return this.string(name);
    const bytes = this.#run((x) => (CLASS[x] & ASTRING) !== 0);
    if (bytes.length === 0) this.fail(name);
    return bytes;
  }

  /** list-mailbox = 1*list-char / string */
  listMailbox(name = "a mailbox pattern"): Uint8Array {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b) return this.string(name);
    const bytes = this.#run((x) => (CLASS[x] & LIST) !== 0);
    if (bytes.length === 0) this.fail(name);
    return bytes;
  }

  /** True (and consumed) for NIL. */
  nil(): boolean {
    return this.takeWord("NIL");
  }

  /** nstring = string / nil */
  nstring(name = "a string or NIL"): Uint8Array | null {
    if (this.nil()) return null;
    return this.string(name);
  }

  /** UTF-8 text of a string value. */
  text(bytes: Uint8Array, what = "string"): string {
    try {
      return utf8.decode(bytes);
    } catch {
      return this.reject(`${what} is not valid UTF-8`);
    }
  }
}

export function ascii(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}
