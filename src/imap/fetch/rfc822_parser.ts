/**
 * A cursor over one header value with the RFC 822 tokens Dovecot's parser reads (atoms, dot
 * atoms, quoted strings, MIME tokens, domains, comments), so ENVELOPE and BODYSTRUCTURE read
 * malformed values exactly as Dovecot does. Values are byte strings (see imap_string.ts).
 *
 * Implementation notes:
 * - Every read skips the whitespace and comments after it and returns 1 when more input
 *   follows, 0 at the end, -1 on a syntax error; callers branch on these as Dovecot does.
 * - `lastComment` holds the text of the last comment skipped (a name for `a@b (Name)`).
 * - Bytes >= 0x80 count as atom characters (UTF-8 names and local parts).
 */

/** A growing string the readers append to. */
export interface Str {
  s: string;
}

const ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";
const TSPECIALS = '()<>@,;:\\"/[]?=';

export function isAtext(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code >= 0x80) return true;
  if ((code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122)) {
    return true;
  }
  return ATEXT_SPECIALS.includes(c);
}

function isMimeTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 32 && code !== 127 && !TSPECIALS.includes(c);
}

export class Rfc822Cursor {
  pos = 0;
  lastComment = "";

  constructor(readonly text: string) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  cur(): string | undefined {
    return this.text[this.pos];
  }

  /** Skips whitespace, line breaks and comments. */
  skipLwsp(): number {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === " " || c === "\t" || c === "\r" || c === "\n") {
        this.pos++;
      } else if (c === "(") {
        if (!this.skipComment()) return -1;
      } else return 1;
    }
    return 0;
  }

  private skipComment(): boolean {
    const t = this.text;
    let depth = 0;
    let comment = "";
    for (; this.pos < t.length; this.pos++) {
      const c = t[this.pos];
      if (c === "(") {
        if (depth++ > 0) comment += c;
      } else if (c === ")") {
        if (--depth === 0) {
          this.pos++;
          this.lastComment = comment;
          return true;
        }
        comment += c;
      } else if (c === "\\") {
        this.pos++;
        if (this.pos >= t.length) return false;
        comment += t[this.pos];
      } else if (c !== "\r" && c !== "\n") comment += c;
    }
    return false;
  }

  /** A MIME token (RFC 2045 5.1), possibly empty; appended to out.s. */
  mimeToken(out: Str): number {
    const start = this.pos;
    while (this.pos < this.text.length && isMimeTokenChar(this.text[this.pos])) this.pos++;
    out.s += this.text.slice(start, this.pos);
    return this.skipLwsp();
  }

  /**
   * A quoted string, unescaped and unfolded, appended to out.s. Unterminated, it returns -1
   * and keeps what came before its last backslash or line break (as Dovecot's parser).
   */
  quotedString(out: Str): number {
    const t = this.text;
    this.pos++;
    let pending = "";
    for (; this.pos < t.length; this.pos++) {
      const c = t[this.pos];
      if (c === '"') {
        this.pos++;
        out.s += pending;
        return this.skipLwsp();
      }
      if (c === "\\") {
        this.pos++;
        if (this.pos >= t.length) return -1;
        out.s += pending;
        pending = t[this.pos];
      } else if (c === "\n") {
        // Seen with Dovecot: a line break with only blanks after it keeps nothing.
        if (/[^ \t\r\n]/.test(t.slice(this.pos))) {
          out.s += pending.endsWith("\r") ? pending.slice(0, -1) : pending;
        }
        pending = "";
      } else pending += c;
    }
    return -1;
  }

  /** Atom characters and dots; appended to out.s. */
  atomOrDot(out: Str): number {
    const start = this.pos;
    while (this.pos < this.text.length && (isAtext(this.cur()) || this.cur() === ".")) this.pos++;
    out.s += this.text.slice(start, this.pos);
    return this.skipLwsp();
  }

  /** An atom (no dots); appended to out.s. */
  atom(out: Str): number {
    if (!isAtext(this.cur())) return -1;
    const start = this.pos;
    while (this.pos < this.text.length && isAtext(this.cur())) this.pos++;
    out.s += this.text.slice(start, this.pos);
    return this.skipLwsp();
  }

  /** A phrase: words joined by one space, quoted strings unquoted. */
  phrase(out: Str): number {
    if (this.atEnd) return 0;
    if (this.cur() === ".") return -1;
    for (;;) {
      const ret = this.cur() === '"' ? this.quotedString(out) : this.atomOrDot(out);
      if (ret <= 0) return ret;
      const c = this.cur();
      if (!isAtext(c) && c !== '"' && c !== ".") break;
      out.s += " ";
    }
    return this.skipLwsp();
  }

  /** dot-atom (a domain), allowing whitespace and comments around the dots (obs forms). */
  dotAtom(out: Str): number {
    const t = this.text;
    if (this.atEnd || !isAtext(this.cur())) return -1;
    let start = this.pos++;
    while (this.pos < t.length) {
      if (isAtext(t[this.pos])) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.s += t.slice(start, this.pos);
      let ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (this.cur() !== ".") return 1;
      this.pos++;
      out.s += ".";
      ret = this.skipLwsp();
      if (ret <= 0) return ret;
      start = this.pos;
    }
    out.s += t.slice(start, this.pos);
    return this.skipLwsp();
  }

  /** "@" domain: a dot-atom or a [domain literal] (brackets kept). */
  domain(out: Str): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.cur() !== "[") return this.dotAtom(out);
    const t = this.text;
    const start = this.pos;
    for (; this.pos < t.length; this.pos++) {
      const c = t[this.pos];
      if (c === "\\") this.pos++;
      else if (c === "]") {
        this.pos++;
        out.s += t.slice(start, this.pos).replace(/\r?\n/g, "");
        return this.skipLwsp();
      }
    }
    return -1;
  }
}
