/**
 * RFC 2047 encoded-words in header text.
 *
 * Implementation notes:
 * - Lenient on purpose: words glued to text are decoded too; broken words stay as written.
 */
import { decodeUtf7, getDecoder, isUtf7, latin1 } from "./charset.ts";

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;
const HEX = /^[0-9a-fA-F]{2}$/;

function decodeQ(text: string): Uint8Array | null {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 95) out[n++] = 32;
    else if (c === 61 && HEX.test(text.slice(i + 1, i + 3))) {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else if (c > 255) return null;
    else out[n++] = c;
  }
  return out.subarray(0, n);
}

function decodeB(text: string): Uint8Array | null {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  const clean = text.slice(0, end);
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) return null;
  try {
    const bin = atob(clean + "===".slice(0, (4 - clean.length % 4) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let n = 0;
  for (const c of chunks) {
    out.set(c, n);
    n += c.length;
  }
  return out;
}

function decodeWithCharset(charset: string, bytes: Uint8Array): string {
  if (isUtf7(charset)) return decodeUtf7(bytes);
  const d = getDecoder(charset);
  if (!d) return latin1(bytes);
  try {
    return d.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

/**
 * Decodes RFC 2047 encoded-words (B and Q, any charset TextDecoder knows, plus UTF-7).
 * Whitespace between adjacent encoded-words is dropped, and adjacent words in the same charset
 * are decoded together so a character split across words survives. Broken words (bad base64,
 * unknown charset) are left as written.
 *
 * @example
 * decodeEncodedWords("=?UTF-8?Q?Caf=C3=A9?= =?utf-8?B?IGNyw6htZQ==?="); // "Café crème"
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes("=?")) return value;
  const out: string[] = [];
  let pendingCharset = "";
  let pending: Uint8Array[] = [];
  const flush = () => {
    if (pending.length) out.push(decodeWithCharset(pendingCharset, concatBytes(pending)));
    pending = [];
  };
  let last = 0;
  let prevWasWord = false;
  for (const m of value.matchAll(ENCODED_WORD)) {
    const index = m.index ?? 0;
    const gap = value.slice(last, index);
    const charset = m[1].split("*")[0].toLowerCase();
    const known = isUtf7(charset) || getDecoder(charset) !== null;
    const bytes = known ? (m[2] === "b" || m[2] === "B" ? decodeB(m[3]) : decodeQ(m[3])) : null;
    last = index + m[0].length;
    if (bytes === null) {
      flush();
      out.push(gap, m[0]);
      prevWasWord = false;
      continue;
    }
    if (!(prevWasWord && /^[ \t\r\n]*$/.test(gap))) {
      flush();
      out.push(gap);
    }
    if (pending.length && pendingCharset !== charset) flush();
    pendingCharset = charset;
    pending.push(bytes);
    prevWasWord = true;
  }
  flush();
  out.push(value.slice(last));
  return out.join("");
}
