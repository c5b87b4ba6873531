/**
 * SMTP replies on the wire (RFC 5321 4.2, enhanced status codes RFC 2034 / RFC 3463).
 *
 * Implementation notes:
 * - Text is sanitised: CR, LF and every other control character but TAB become a space, so an
 *   address or a message quoted back to the client can never start a reply line of its own.
 * - The enhanced code is repeated on every line of a multi-line reply (RFC 2034 4).
 * - A bad code is a programming error and throws `RangeError`.
 */

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/g;

function sanitize(text: string): string {
  return text.replace(CONTROL, " ");
}

function checkCodes(code: number, enhanced: string | null): void {
  if (!Number.isInteger(code) || code < 200 || code > 599) {
    throw new RangeError(`invalid SMTP reply code ${code}`);
  }
  if (enhanced === null) return;
  const match = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(enhanced);
  if (!match || match[1] !== String(code)[0]) {
    throw new RangeError(`invalid enhanced status code ${enhanced} for ${code}`);
  }
}

/**
 * One reply: a single line for a string, the multi-line form for an array.
 *
 * @example
 * reply(250, "2.1.0", "Sender OK") // "250 2.1.0 Sender OK\r\n"
 * reply(550, "5.1.1", ["No such user", "Try another"])
 * // "550-5.1.1 No such user\r\n550 5.1.1 Try another\r\n"
 */
export function reply(code: number, enhanced: string | null, text: string | string[]): string {
  checkCodes(code, enhanced);
  const lines = typeof text === "string" ? [text] : text.length === 0 ? [""] : text;
  const prefix = enhanced === null ? "" : `${enhanced} `;
  let out = "";
  lines.forEach((line, index) => {
    const separator = index === lines.length - 1 ? " " : "-";
    const body = `${prefix}${sanitize(line)}`.trimEnd();
    out += body === ""
      ? `${code}${separator === "-" ? "-" : ""}\r\n`
      : `${code}${separator}${body}\r\n`;
  });
  return out;
}

/**
 * The EHLO reply: the greeting line, then one line per extension keyword (no enhanced codes,
 * RFC 5321 4.1.1.1).
 *
 * @example
 * ehloReply("mx.example.com", "Hello client.example", ["PIPELINING", "SIZE 10240000"])
 * // "250-mx.example.com Hello client.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
 */
export function ehloReply(hostname: string, greetingText: string, extensions: string[]): string {
  const first = greetingText === "" ? hostname : `${hostname} ${greetingText}`;
  return reply(250, null, [first, ...extensions]);
}
