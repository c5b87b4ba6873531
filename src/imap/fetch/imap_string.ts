/**
 * IMAP strings as Dovecot writes them in ENVELOPE and BODYSTRUCTURE: NIL, a quoted string, or a
 * literal `{n}\r\n...`. Inputs and outputs are byte strings (one char per byte, see
 * `byteString`), so 8-bit header bytes pass through untouched and `{n}` counts octets.
 *
 * Implementation notes:
 * - `nstring`: a literal when the text has CR, LF or a byte >= 0x80, or more than four `"`/`\`
 *   (Dovecot's imap_append_nstring); else quoted with `\` escapes. Length alone never forces a
 *   literal.
 * - `humanString` (subjects and display names): whitespace runs become one space, leading and
 *   trailing whitespace is dropped, NUL becomes 0x80; whenever anything had to change, or the
 *   text has `"`, `\` or 8-bit bytes, it is sent as a literal (Dovecot's
 *   imap_append_string_for_humans). Clients can see this: `"a  b"` arrives as `{3}\r\na b`.
 * - `nstringNoLf` drops CR and LF (a line break not followed by whitespace becomes a space),
 *   as Dovecot does for dates, message ids and Content-ID/Description/Location.
 */

/** Bytes as a byte string: char code i is byte i (ISO-8859-1), so length is the octet count. */
export function byteString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** A byte string back to bytes. */
export function fromByteString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function literal(s: string): string {
  return `{${s.length}}\r\n${s}`;
}

function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * An IMAP nstring: NIL, quoted, or a literal.
 *
 * @example
 * nstring('say "hi"'); // "\"say \\\"hi\\\"\""
 */
export function nstring(s: string | null): string {
  if (s === null) return "NIL";
  let escapes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92) {
      if (++escapes > 4) return literal(s);
    } else if (c === 13 || c === 10 || c >= 0x80) return literal(s);
  }
  return quoted(s);
}

/** CR and LF removed; a line break not followed by whitespace becomes a space. */
export function noLf(s: string): string {
  if (!/[\r\n]/.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== "\r" && c !== "\n") out += c;
    else if (!" \t\r\n".includes(s[i + 1] ?? "")) out += " ";
  }
  return out;
}

/** An nstring with line breaks removed first. */
export function nstringNoLf(s: string | null): string {
  return nstring(s === null ? null : noLf(s));
}

/**
 * A subject or display name: a quoted string when it is plain, else the cleaned-up literal.
 *
 * @example
 * humanString("a  b"); // "{3}\r\na b"
 */
export function humanString(s: string | null): string {
  if (s === null) return "NIL";
  let modify = false;
  let lastSpace = true;
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 9 || c === 32) {
      if (c !== 32 || lastSpace) modify = true;
      lastSpace = true;
    } else {
      if (c === 0 || c === 34 || c === 92 || c >= 0x80) modify = true;
      lastSpace = false;
      leading = false;
    }
  }
  if (lastSpace && s.length > 0 && !leading) modify = true;
  if (!modify) return `"${s}"`;
  let out = "";
  lastSpace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 9 || c === 32) {
      if (!lastSpace) out += " ";
      lastSpace = true;
    } else {
      out += c === 0 ? "\x80" : s[i];
      lastSpace = false;
    }
  }
  if (lastSpace && out.length > 0) out = out.slice(0, -1);
  if (out.length === 0) return '""';
  return literal(out);
}
