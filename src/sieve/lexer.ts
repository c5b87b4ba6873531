/**
 * The Sieve lexer (RFC 5228 2 and 8.1): identifiers, tags, numbers, quoted and multi-line
 * strings, the punctuation, with white space and comments skipped.
 *
 * Implementation notes:
 * - Tokens are read one at a time on demand, so a megabyte of garbage fails at its first bad
 *   token; every loop advances the cursor, so the work is linear in the input.
 * - Line ends are CRLF or a bare LF (scripts uploaded from Unix editors); a bare CR outside a
 *   string is an error. Inside strings every line end becomes CRLF, so a value does not depend
 *   on the uploading client (RFC 5228 2.4.2 speaks of CRLF).
 * - Columns count characters (code points), not UTF-16 units.
 */
import { type Position, SieveError } from "./ast.ts";

export type Token =
  | { type: "identifier"; value: string; position: Position }
  | { type: "tag"; value: string; position: Position }
  | { type: "number"; value: number; position: Position }
  | { type: "string"; value: string; position: Position }
  | { type: "punct"; value: "[" | "]" | "(" | ")" | "{" | "}" | "," | ";"; position: Position }
  | { type: "eof"; position: Position };

/** RFC 5228 2.4.1: K, M, G (case-insensitive, RFC 5234 2.3). */
const QUANTIFIERS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isDigit = (c: string) => c >= "0" && c <= "9";
const isIdentifierStart = (c: string) => isAlpha(c) || c === "_";
const isIdentifierPart = (c: string) => isAlpha(c) || isDigit(c) || c === "_";

export class Lexer {
  #source: string;
  #at = 0;
  #line = 1;
  #column = 1;
  #tokens = 0;
  #maxTokens: number;
  #peeked: Token | null = null;

  constructor(source: string, maxTokens = Infinity) {
    this.#source = source;
    this.#maxTokens = maxTokens;
  }

  /** The next token, left in place. */
  peek(): Token {
    if (this.#peeked === null) this.#peeked = this.#read();
    return this.#peeked;
  }

  /** The next token, consumed. */
  next(): Token {
    const token = this.peek();
    this.#peeked = null;
    return token;
  }

  #position(): Position {
    return { line: this.#line, column: this.#column };
  }

  #error(message: string, position = this.#position()): never {
    throw new SieveError(position, message);
  }

  /** Advances one character (a surrogate pair counts as one column). */
  #advance(): void {
    const code = this.#source.charCodeAt(this.#at);
    if (code === 0x0a) {
      this.#line++;
      this.#column = 1;
      this.#at++;
      return;
    }
    this.#at++;
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = this.#source.charCodeAt(this.#at);
      if (low >= 0xdc00 && low <= 0xdfff) this.#at++;
    }
    this.#column++;
  }

  /** Skips a line end (CRLF or LF) at the cursor; false if there is none. */
  #skipLineEnd(): boolean {
    const s = this.#source;
    if (s[this.#at] === "\n") {
      this.#advance();
      return true;
    }
    if (s[this.#at] === "\r" && s[this.#at + 1] === "\n") {
      this.#at++;
      this.#advance();
      return true;
    }
    return false;
  }

  #skipSpaceAndComments(): void {
    const s = this.#source;
    while (this.#at < s.length) {
      const c = s[this.#at];
      if (c === " " || c === "\t") {
        this.#advance();
      } else if (c === "\n" || c === "\r") {
        if (!this.#skipLineEnd()) this.#error("a bare CR (line ends are CRLF or LF)");
      } else if (c === "#") {
        this.#skipHashComment();
      } else if (c === "/" && s[this.#at + 1] === "*") {
        const start = this.#position();
        const end = s.indexOf("*/", this.#at + 2);
        if (end < 0) this.#error("unterminated /* comment", start);
        while (this.#at < end + 2) this.#advance();
      } else {
        return;
      }
    }
  }

  /** `#` to the end of the line, the line end included (or the end of the script). */
  #skipHashComment(): void {
    const s = this.#source;
    while (this.#at < s.length && s[this.#at] !== "\n" && s[this.#at] !== "\r") this.#advance();
    if (this.#at < s.length && !this.#skipLineEnd()) {
      this.#error("a bare CR (line ends are CRLF or LF)");
    }
  }

  #read(): Token {
    this.#skipSpaceAndComments();
    const position = this.#position();
    const s = this.#source;
    if (this.#at >= s.length) return { type: "eof", position };
    if (++this.#tokens > this.#maxTokens) {
      this.#error(`script has more than ${this.#maxTokens} tokens`, position);
    }
    const c = s[this.#at];
    switch (c) {
      case "[":
      case "]":
      case "(":
      case ")":
      case "{":
      case "}":
      case ",":
      case ";":
        this.#advance();
        return { type: "punct", value: c, position };
      case '"':
        return { type: "string", value: this.#readQuoted(), position };
      case ":": {
        this.#advance();
        if (!isIdentifierStart(s[this.#at] ?? "")) this.#error("expected a tag name after ':'");
        return { type: "tag", value: this.#readIdentifier().toLowerCase(), position };
      }
    }
    if (isDigit(c)) return { type: "number", value: this.#readNumber(), position };
    if (isIdentifierStart(c)) {
      const name = this.#readIdentifier().toLowerCase();
      if (name === "text" && s[this.#at] === ":") {
        this.#advance();
        return { type: "string", value: this.#readMultiLine(), position };
      }
      return { type: "identifier", value: name, position };
    }
    if (c === "/" && s[this.#at + 1] !== "*") this.#error("unexpected '/'");
    const printable = c >= " " && c !== "\x7f"
      ? `'${String.fromCodePoint(s.codePointAt(this.#at)!)}'`
      : `character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    this.#error(`unexpected ${printable}`);
  }

  #readIdentifier(): string {
    const s = this.#source;
    const start = this.#at;
    while (this.#at < s.length && isIdentifierPart(s[this.#at])) this.#at++;
    this.#column += this.#at - start;
    return s.slice(start, this.#at);
  }

  /** RFC 5228 2.4.1; values beyond 2^53 - 1 are refused rather than rounded. */
  #readNumber(): number {
    const s = this.#source;
    const position = this.#position();
    const start = this.#at;
    while (this.#at < s.length && isDigit(s[this.#at])) this.#at++;
    this.#column += this.#at - start;
    const digits = s.slice(start, this.#at);
    let value = Number(digits);
    const quantifier = QUANTIFIERS[(s[this.#at] ?? "").toLowerCase()];
    if (quantifier !== undefined) {
      this.#advance();
      value *= quantifier;
    }
    if (!Number.isSafeInteger(value)) this.#error(`number ${digits} is too large`, position);
    if (isIdentifierPart(s[this.#at] ?? "")) {
      this.#error("a number must be followed by a space or punctuation");
    }
    return value;
  }

  /** RFC 5228 2.4.2: `\"` and `\\` are escapes; any other backslash is dropped. */
  #readQuoted(): string {
    const s = this.#source;
    const start = this.#position();
    this.#advance();
    let value = "";
    let from = this.#at;
    for (;;) {
      if (this.#at >= s.length) this.#error("unterminated quoted string", start);
      const c = s[this.#at];
      if (c === '"') {
        value += s.slice(from, this.#at);
        this.#advance();
        return value;
      }
      if (c === "\\") {
        value += s.slice(from, this.#at);
        this.#advance();
        if (this.#at >= s.length) this.#error("unterminated quoted string", start);
        from = this.#at;
        if (s[this.#at] === "\r" || s[this.#at] === "\n") continue;
        this.#advance();
      } else if (c === "\n" || (c === "\r" && s[this.#at + 1] === "\n")) {
        value += s.slice(from, this.#at) + "\r\n";
        this.#skipLineEnd();
        from = this.#at;
      } else {
        this.#advance();
      }
    }
  }

  /** RFC 5228 2.4.2 and 8.1: `text:`, optional hash comment, lines, "." alone; ".." unstuffed. */
  #readMultiLine(): string {
    const s = this.#source;
    while (s[this.#at] === " " || s[this.#at] === "\t") this.#advance();
    if (s[this.#at] === "#") {
      this.#skipHashComment();
    } else if (!this.#skipLineEnd()) {
      this.#error("expected a line end or a # comment after 'text:'");
    }
    const start = this.#position();
    const lines: string[] = [];
    for (;;) {
      if (this.#at >= s.length) {
        this.#error("unterminated multi-line string (no line with a single '.')", start);
      }
      let end = this.#at;
      while (end < s.length && s[end] !== "\n") end++;
      let line = s.slice(this.#at, end);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      this.#line++;
      this.#column = 1;
      this.#at = end < s.length ? end + 1 : end;
      if (line === ".") return lines.map((l) => l + "\r\n").join("");
      lines.push(line.startsWith("..") ? line.slice(1) : line);
    }
  }
}
