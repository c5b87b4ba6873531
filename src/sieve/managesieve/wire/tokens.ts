/**
 * ManageSieve command input (RFC 5804 4, "Formal Syntax") as tokens: atoms, numbers, quoted
 * strings and literals, read line by line and literal by literal from a `CommandSource`. Pure
 * apart from the source, so it is fuzzed on its own (tests/unit/managesieve_parser_fuzz_test.ts).
 *
 * Implementation notes:
 * - Tokens are separated by exactly one SP; a command ends at CRLF after its last token.
 * - A literal is `{n+}` (RFC 5804 4 literal-c2s) or `{n}` at the end of a line, followed by n
 *   octets and the rest of the command on the next line. ManageSieve has no continuation
 *   request, so `{n}` is read exactly like `{n+}` (as Dovecot and Cyrus do).
 * - A literal over `maxLiteralSize` is read in chunks and dropped, never held in memory; it
 *   becomes an `oversized` token so the command can answer NO (QUOTA/MAXSIZE) and the session
 *   goes on in step with the client.
 * - After a syntax error the literals the client announced on the same command are still
 *   consumed (and dropped), so their bytes are never taken for commands; then
 *   `ManageSieveSyntaxError` is thrown. It is the only error this module throws for any input.
 * - Quoted strings hold at most 1024 octets (RFC 5804 4 "quoted"), escape only `"` and `\`,
 *   and never CR, LF or NUL. Strings must be UTF-8.
 */
import { LineTooLongError } from "../../../server/errors.ts";

export type Token =
  | { kind: "atom"; value: string }
  | { kind: "number"; value: number }
  | { kind: "string"; value: string; literal: boolean }
  /** A literal longer than the limit, read and dropped. */
  | { kind: "oversized"; size: number };

/** Where the tokens come from: the connection, or bytes in memory for tests. */
export interface CommandSource {
  /** The next line without CRLF, or null at EOF; throws LineTooLongError past the limit. */
  readLine(): Promise<Uint8Array | null>;
  /** Exactly n bytes, or null at EOF. */
  readBytes(n: number): Promise<Uint8Array | null>;
  /** Reads and drops n bytes; false at EOF. */
  skipBytes(n: number): Promise<boolean>;
}

export interface TokenLimits {
  /** Largest literal kept; bigger ones are dropped (an `oversized` token). */
  maxLiteralSize: number;
  /** Tokens in one command, command name included. */
  maxTokens: number;
}

/** Input the client got wrong; the session answers NO with `message`. */
export class ManageSieveSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManageSieveSyntaxError";
  }
}

/** RFC 5804 4: number = 1*DIGIT, 0 to 4,294,967,295. */
const MAX_NUMBER = 4_294_967_295;
/** RFC 5804 4: quoted = DQUOTE *1024QUOTED-CHAR DQUOTE. */
const MAX_QUOTED_OCTETS = 1024;
/** Longer than any command name (the longest, AUTHENTICATE and UNAUTHENTICATE, has 14). */
const MAX_ATOM_LENGTH = 32;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LITERAL_AT_END = /\{(\d{1,20})(\+?)\}$/;

/**
 * Reads one command's tokens; null at EOF (also in the middle of a command).
 *
 * @example
 * const tokens = await readTokens(source, { maxLiteralSize: 65536, maxTokens: 8 });
 * // PUTSCRIPT "a" {4+}␍␊keep␍␊ → [atom PUTSCRIPT, string "a", string "keep" (literal)]
 */
export async function readTokens(
  source: CommandSource,
  limits: TokenLimits,
): Promise<Token[] | null> {
  const tokens: Token[] = [];
  let error: string | null = null;
  let line = await readLine(source);
  if (line === null) return null;
  if (typeof line === "string") return syntaxError(line);
  for (let first = true;; first = false) {
    let literal: { size: number } | null = null;
    if (error === null) {
      const scanned = scanLine(line, first, tokens, limits.maxTokens);
      if (typeof scanned === "string") error = scanned;
      else literal = scanned;
    }
    if (error !== null) literal = literalAtEnd(line);
    if (literal === null) break;
    if (error !== null || literal.size > limits.maxLiteralSize) {
      if (!await source.skipBytes(literal.size)) return null;
      if (error === null) tokens.push({ kind: "oversized", size: literal.size });
    } else {
      const bytes = await source.readBytes(literal.size);
      if (bytes === null) return null;
      const value = decode(bytes);
      if (value === null) error = "String is not UTF-8";
      else tokens.push({ kind: "string", value, literal: true });
    }
    const next = await readLine(source);
    if (next === null) return null;
    if (typeof next === "string") return syntaxError(next);
    line = next;
    if (error === null && line.length > 0 && line[0] !== SP) {
      error = "Expected a space or the end of the command after a literal";
    }
  }
  if (error !== null) return syntaxError(error);
  if (tokens.length === 0) return syntaxError("Empty command");
  return tokens;
}

function syntaxError(message: string): never {
  throw new ManageSieveSyntaxError(message);
}

/** A line, or the text of the error when it was too long. */
async function readLine(source: CommandSource): Promise<Uint8Array | string | null> {
  try {
    return await source.readLine();
  } catch (error) {
    if (error instanceof LineTooLongError) return "Line too long";
    throw error;
  }
}

function decode(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** The literal a line announces at its end (also a line with errors before it), or null. */
function literalAtEnd(line: Uint8Array): { size: number } | null {
  const tail = String.fromCharCode(...line.subarray(Math.max(0, line.length - 24)));
  const match = LITERAL_AT_END.exec(tail);
  if (!match) return null;
  const size = Number(match[1]);
  return Number.isSafeInteger(size) ? { size } : null;
}

/**
 * Appends the tokens of one line (the command's first line, or what follows a literal) and
 * returns the literal announced at its end, null for the command's end, or an error text.
 */
function scanLine(
  line: Uint8Array,
  first: boolean,
  tokens: Token[],
  maxTokens: number,
): { size: number } | null | string {
  let at = 0;
  if (first && line.length === 0) return "Empty command";
  if (!first) {
    if (line.length === 0) return null;
    at = 1; // the SP after the literal, checked by the caller
    if (at >= line.length) return "Expected a token after the space";
  }
  for (;;) {
    if (tokens.length >= maxTokens) return "Too many arguments";
    const byte = line[at];
    if (byte === DQUOTE) {
      const quoted = scanQuoted(line, at + 1);
      if (typeof quoted === "string") return quoted;
      tokens.push({ kind: "string", value: quoted.value, literal: false });
      at = quoted.end;
    } else if (byte === 0x7b /* { */) {
      const rest = line.length - at <= 24 ? String.fromCharCode(...line.subarray(at)) : "";
      const match = /^\{(\d{1,20})(\+?)\}$/.exec(rest);
      if (!match) return "Invalid literal: expected {n+} at the end of the line";
      const size = Number(match[1]);
      if (!Number.isSafeInteger(size)) return "Literal size too large";
      return { size };
    } else {
      let end = at;
      while (end < line.length && isAtomChar(line[end])) end++;
      if (end === at) return at >= line.length ? "Unexpected end of line" : "Unexpected character";
      if (end - at > MAX_ATOM_LENGTH) return "Unknown command or argument";
      const text = String.fromCharCode(...line.subarray(at, end));
      if (/^\d+$/.test(text)) {
        const value = Number(text);
        if (text.length > 10 || value > MAX_NUMBER) return "Number too large";
        tokens.push({ kind: "number", value });
      } else tokens.push({ kind: "atom", value: text });
      at = end;
    }
    if (at === line.length) return null;
    if (line[at] !== SP) return "Expected a space between arguments";
    at++;
    if (at === line.length) return "Trailing space";
  }
}

/** RFC 5804 4 ATOM-CHAR: any CHAR but atom-specials (SP, CTL, ( ) { " \ % * ]). */
function isAtomChar(byte: number): boolean {
  if (byte <= 0x20 || byte >= 0x7f) return false;
  return byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== DQUOTE &&
    byte !== BACKSLASH && byte !== 0x25 && byte !== 0x2a && byte !== 0x5d;
}

function scanQuoted(line: Uint8Array, start: number): { value: string; end: number } | string {
  const out: number[] = [];
  for (let at = start; at < line.length; at++) {
    let byte = line[at];
    if (byte === DQUOTE) {
      const value = decode(Uint8Array.from(out));
      if (value === null) return "String is not UTF-8";
      return { value, end: at + 1 };
    }
    if (byte === BACKSLASH) {
      byte = line[++at];
      if (byte !== DQUOTE && byte !== BACKSLASH) return 'Only \\" and \\\\ may be escaped';
    }
    if (byte === 0 || byte === 0x0d || byte === 0x0a) return "Invalid character in a string";
    if (out.length >= MAX_QUOTED_OCTETS) return "Quoted string too long; send a literal";
    out.push(byte);
  }
  return "Unterminated string";
}

/**
 * A source over bytes in memory, with the connection's line rules (LF or CRLF ends a line,
 * lines over `maxLineLength` throw LineTooLongError and are skipped). For tests.
 *
 * @example
 * const source = memorySource(new TextEncoder().encode('NOOP "x"\r\n'), 1000);
 */
export function memorySource(bytes: Uint8Array, maxLineLength: number): CommandSource {
  let at = 0;
  return {
    readLine() {
      if (at >= bytes.length) return Promise.resolve(null);
      const lf = bytes.indexOf(0x0a, at);
      if (lf < 0) {
        at = bytes.length;
        return Promise.resolve(null); // a fragment without LF at EOF is not a line
      }
      let end = lf;
      if (end > at && bytes[end - 1] === 0x0d) end--;
      const line = bytes.subarray(at, end);
      at = lf + 1;
      if (line.length > maxLineLength) {
        return Promise.reject(new LineTooLongError(maxLineLength));
      }
      return Promise.resolve(line);
    },
    readBytes(n) {
      if (at + n > bytes.length) {
        at = bytes.length;
        return Promise.resolve(null);
      }
      const out = bytes.subarray(at, at + n);
      at += n;
      return Promise.resolve(out);
    },
    skipBytes(n) {
      const enough = at + n <= bytes.length;
      at = Math.min(bytes.length, at + n);
      return Promise.resolve(enough);
    },
  };
}
