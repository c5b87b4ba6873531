/**
 * xtext (RFC 3461 4), the encoding of the DSN parameters ENVID and ORCPT (and of AUTH=):
 * "+" and two hex digits stand for one octet. Decoded octets are read as UTF-8; raw UTF-8 is
 * accepted too (SMTPUTF8 sessions, RFC 6533 3).
 */

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The decoded value, or null for malformed xtext (a stray "+" or "=", spaces or controls,
 * octets that are not UTF-8).
 *
 * @example
 * decodeXtext("bob+2Blunch@example.net") // "bob+lunch@example.net"
 */
export function decodeXtext(text: string): string | null {
  const octets: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "+") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      octets.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    const code = c.charCodeAt(0);
    // xchar = %d33-42 / %d44-60 / %d62-126, plus UTF-8 in SMTPUTF8 values.
    if (code < 33 || c === "=" || code === 127) return null;
    octets.push(...encoder.encode(c));
  }
  let out: string;
  try {
    out = strictUtf8.decode(new Uint8Array(octets));
  } catch {
    return null;
  }
  // deno-lint-ignore no-control-regex
  return /[\x00-\x1f\x7f]/.test(out) ? null : out;
}

/**
 * UTF-8 octets outside "!".."~", and "+" and "=", as "+" and two uppercase hex digits.
 *
 * @example
 * encodeXtext("a+b=c d") // "a+2Bb+3Dc+20d"
 */
export function encodeXtext(value: string): string {
  let out = "";
  for (const octet of encoder.encode(value)) {
    out += octet >= 0x21 && octet <= 0x7e && octet !== 0x2b && octet !== 0x3d
      ? String.fromCharCode(octet)
      : `+${octet.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
