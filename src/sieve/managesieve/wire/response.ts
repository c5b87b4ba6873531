/**
 * ManageSieve responses (RFC 5804 1.2, 1.3, 4): `OK`/`NO`/`BYE` with an optional response code
 * and human-readable string, strings as quoted or literal, capability lines.
 *
 * Implementation notes:
 * - A string goes out quoted when it can (at most 1024 octets, no CR, LF or NUL; `"` and `\`
 *   escaped), otherwise as a literal `{n}` CRLF data (RFC 5804 4 literal-s2c).
 */

/** RFC 5804 1.3 response codes. */
export type ResponseCode =
  | "AUTH-TOO-WEAK"
  | "ENCRYPT-NEEDED"
  | "QUOTA"
  | "QUOTA/MAXSCRIPTS"
  | "QUOTA/MAXSIZE"
  | "TRANSITION-NEEDED"
  | "TRYLATER"
  | "ACTIVE"
  | "NONEXISTENT"
  | "ALREADYEXISTS"
  | "WARNINGS"
  | { code: "TAG" | "SASL"; value: string };

const encoder = new TextEncoder();
const MAX_QUOTED_OCTETS = 1024;

/**
 * A string as it goes on the wire.
 *
 * @example
 * encodeString('say "hi"'); // '"say \\"hi\\""'
 * encodeString("a\r\nb");   // "{4}\r\na\r\nb"
 */
export function encodeString(text: string): string {
  const size = encoder.encode(text).length;
  if (size <= MAX_QUOTED_OCTETS && !/[\r\n\0]/.test(text)) {
    return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  }
  return `{${size}}\r\n${text}`;
}

/**
 * One status line.
 *
 * @example
 * response("NO", "NONEXISTENT", "There is no script named x");
 * // 'NO (NONEXISTENT) "There is no script named x"\r\n'
 */
export function response(
  status: "OK" | "NO" | "BYE",
  code: ResponseCode | null,
  text: string,
): string {
  let line = status;
  if (code !== null) {
    line += typeof code === "string" ? ` (${code})` : ` (${code.code} ${encodeString(code.value)})`;
  }
  if (text !== "") line += ` ${encodeString(text)}`;
  return `${line}\r\n`;
}

/** `"NAME"` or `"NAME" "value"` lines of a capability response (RFC 5804 1.7). */
export function capabilityLines(capabilities: [string, string | null][]): string {
  return capabilities.map(([name, value]) =>
    value === null
      ? `${encodeString(name)}\r\n`
      : `${encodeString(name)} ${encodeString(value)}\r\n`
  ).join("");
}
