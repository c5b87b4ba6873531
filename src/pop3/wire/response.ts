/**
 * POP3 responses (RFC 1939 3): status lines with optional response codes (RFC 2449 8, RFC 3206),
 * multi-line responses, and message data with byte-stuffing.
 *
 * Implementation notes:
 * - Message data is sent as stored: CRLF line ends, sizes exact. Each line that starts with "."
 *   gets one more "." in front (RFC 1939 3); the terminator is CRLF "." CRLF, with a CRLF added
 *   first when the data does not end in one.
 * - A message without "." at a line start is sent without copying it (one subarray per chunk).
 */

/** RFC 2449 8 / RFC 3206 response codes. */
export type ResponseCode = "IN-USE" | "LOGIN-DELAY" | "SYS/TEMP" | "SYS/PERM" | "AUTH" | "UTF8";

const encoder = new TextEncoder();
const TERMINATOR = encoder.encode(".\r\n");
const CRLF_TERMINATOR = encoder.encode("\r\n.\r\n");
const DOT = 0x2e;
const LF = 0x0a;

/** `+OK text` CRLF. */
export function ok(text: string): string {
  return text === "" ? "+OK\r\n" : `+OK ${text}\r\n`;
}

/**
 * `-ERR [CODE] text` CRLF.
 *
 * @example
 * err("Mailbox is locked by another POP3 session", "IN-USE");
 * // "-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n"
 */
export function err(text: string, code?: ResponseCode): string {
  return code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`;
}

/** `+OK text`, then each line (byte-stuffed), then the terminating ".". */
export function multiline(text: string, lines: string[]): string {
  let out = ok(text);
  for (const line of lines) out += line.startsWith(".") ? `.${line}\r\n` : `${line}\r\n`;
  return out + ".\r\n";
}

/**
 * The chunks that carry `data` as a multi-line response body: byte-stuffed, terminated.
 *
 * @example
 * dotStuff(new TextEncoder().encode("a\r\n.b\r\n")); // chunks of "a\r\n", ".", ".b\r\n", ".\r\n"
 */
export function dotStuff(data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  if (data.length > 0 && data[0] === DOT) {
    chunks.push(TERMINATOR.subarray(0, 1));
  }
  for (let lf = data.indexOf(LF); lf >= 0 && lf + 1 < data.length; lf = data.indexOf(LF, lf + 1)) {
    if (data[lf + 1] !== DOT) continue;
    chunks.push(data.subarray(start, lf + 1), TERMINATOR.subarray(0, 1));
    start = lf + 1;
  }
  if (start < data.length) chunks.push(data.subarray(start));
  const endsWithLineEnd = data.length === 0 || data[data.length - 1] === LF;
  chunks.push(endsWithLineEnd ? TERMINATOR : CRLF_TERMINATOR);
  return chunks;
}

/**
 * TOP (RFC 1939 7): the header, the blank line after it, and the first `lines` lines of the
 * body. A message without a blank line is all header.
 */
export function topOf(data: Uint8Array, lines: number): Uint8Array {
  let bodyStart = -1;
  if (data.length >= 2 && data[0] === 0x0d && data[1] === LF) bodyStart = 2;
  else if (data.length >= 1 && data[0] === LF) bodyStart = 1;
  for (let lf = data.indexOf(LF); bodyStart < 0 && lf >= 0; lf = data.indexOf(LF, lf + 1)) {
    const next = lf + 1;
    if (data[next] === LF) bodyStart = next + 1;
    else if (data[next] === 0x0d && data[next + 1] === LF) bodyStart = next + 2;
  }
  if (bodyStart < 0) return data;
  let end = bodyStart;
  for (let taken = 0; taken < lines && end < data.length; taken++) {
    const lf = data.indexOf(LF, end);
    end = lf < 0 ? data.length : lf + 1;
  }
  return data.subarray(0, end);
}
