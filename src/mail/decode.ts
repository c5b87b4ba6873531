/**
 * Content-Transfer-Encoding (RFC 2045 6) undone, leniently, and part bodies as text.
 *
 * Implementation notes:
 * - Bad input never throws: base64 skips characters outside its alphabet and restarts after
 *   "=" padding; quoted-printable keeps a "=" that is not followed by two hex digits.
 * - Identity encodings return a subarray of the caller's buffer (no copy).
 */
import { decodeCharset } from "./charset.ts";
import type { MimePart } from "./mime.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const b64Value = new Int8Array(256).fill(-1);
for (let i = 0; i < B64.length; i++) b64Value[B64.charCodeAt(i)] = i;
b64Value[45] = 62; // "-" and "_": the URL-safe alphabet, seen from broken encoders
b64Value[95] = 63;

const hexValue = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  hexValue["0123456789abcdef".charCodeAt(i)] = i;
  hexValue["0123456789ABCDEF".charCodeAt(i)] = i;
}

/**
 * Lenient base64 decoding.
 *
 * @example
 * decodeBase64(new TextEncoder().encode("aGk=\r\n")); // Uint8Array [104, 105]
 */
export function decodeBase64(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(input.length * 3 / 4));
  let n = 0;
  let bits = 0;
  let nbits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    const v = b64Value[c];
    if (v >= 0) {
      bits = ((bits << 6) | v) & 0xffffff;
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        out[n++] = (bits >> nbits) & 0xff;
      }
    } else if (c === 61) {
      bits = 0;
      nbits = 0;
    }
  }
  return out.subarray(0, n);
}

/**
 * Lenient quoted-printable decoding; soft line breaks may end in CRLF, LF or CR.
 *
 * @example
 * decodeQuotedPrintable(new TextEncoder().encode("caf=C3=A9=\r\n!")); // bytes of "café!"
 */
export function decodeQuotedPrintable(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  let n = 0;
  const len = input.length;
  for (let i = 0; i < len; i++) {
    const c = input[i];
    if (c !== 61) {
      out[n++] = c;
      continue;
    }
    const h = hexValue[input[i + 1]];
    const l = hexValue[input[i + 2]];
    if (i + 2 < len && h >= 0 && l >= 0) {
      out[n++] = (h << 4) | l;
      i += 2;
      continue;
    }
    // A soft line break, possibly with transport padding before the line end.
    let j = i + 1;
    while (j < len && (input[j] === 32 || input[j] === 9)) j++;
    if (j >= len) {
      i = len;
    } else if (input[j] === 13 || input[j] === 10) {
      i = input[j] === 13 && input[j + 1] === 10 ? j + 1 : j;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/**
 * The body of a part with its Content-Transfer-Encoding undone. Never throws.
 *
 * @example
 * decodePartBody(raw, findSection(root, "2")!); // the attachment's bytes
 */
export function decodePartBody(raw: Uint8Array, part: MimePart): Uint8Array {
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.bodyEnd, raw.length));
  const body = raw.subarray(start, end);
  switch (part.encoding) {
    case "base64":
      return decodeBase64(body);
    case "quoted-printable":
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

/**
 * A part's decoded body as text, using its charset parameter; an unknown or missing charset
 * tries UTF-8, then windows-1252. Never throws.
 *
 * @example
 * partText(raw, root); // "Hello\r\n"
 */
export function partText(raw: Uint8Array, part: MimePart): string {
  return decodeCharset(decodePartBody(raw, part), part.params?.charset);
}
