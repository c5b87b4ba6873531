/**
 * Strings in IMAP responses (RFC 9051 4.3): a quoted string when the text allows it, else a
 * literal; NIL for null.
 */

/**
 * `"text"` with `\` and `"` escaped, or a literal `{n}\r\n…` when the text has CR, LF, NUL or
 * more than 1,000 characters (quoted strings must stay on one line).
 *
 * @example
 * quoted('a "b"') // '"a \\"b\\""'
 */
export function quoted(text: string): string {
  // deno-lint-ignore no-control-regex -- control characters force a literal on purpose
  if (text.length > 1000 || /[\r\n\x00]/.test(text)) {
    return `{${new TextEncoder().encode(text).length}}\r\n${text}`;
  }
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `quoted(text)`, or NIL. */
export function nstring(text: string | null | undefined): string {
  return text === null || text === undefined ? "NIL" : quoted(text);
}
