/**
 * Bytes to text for mail: charset labels as they appear in the wild, UTF-7 (which `TextDecoder`
 * lacks), and the "UTF-8 if it is valid, else Latin-1" rule for raw header bytes.
 *
 * Implementation notes:
 * - Nothing here throws for any input; an unknown charset falls back to UTF-8, then Latin-1.
 * - Decoders are cached per label; a label TextDecoder rejects is cached as unknown.
 */

const decoders = new Map<string, TextDecoder | null>();
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder("utf-8");
const windows1252 = new TextDecoder("windows-1252");

/** Labels seen in mail that WHATWG does not know, mapped to ones it does. */
const aliases: Record<string, string> = {
  "utf8": "utf-8",
  "ks_c_5601": "euc-kr",
  "ks_c_5601-1989": "euc-kr",
  "x-sjis": "shift_jis",
  "sjis": "shift_jis",
  "x-euc-jp": "euc-jp",
  "cp932": "shift_jis",
  "cp936": "gbk",
  "cp949": "euc-kr",
  "cp950": "big5",
  "x-gbk": "gbk",
  "latin-1": "iso-8859-1",
  "iso-8859-8i": "iso-8859-8-i",
  "ansi_x3.4-1968": "us-ascii",
  "iso_8859-1": "iso-8859-1",
  "cp-1252": "windows-1252",
  "x-user-defined": "windows-1252",
};

function normaliseLabel(label: string): string {
  const l = label.trim().toLowerCase().replace(/^["']|["']$/g, "");
  return aliases[l] ?? l;
}

/** Whether the label names UTF-7 (RFC 2152), which TextDecoder cannot decode. */
export function isUtf7(label: string): boolean {
  const l = normaliseLabel(label);
  return l === "utf-7" || l === "unicode-1-1-utf-7" || l === "x-utf-7" || l === "utf7";
}

/**
 * A non-fatal TextDecoder for a charset label, or null when the label is unknown.
 *
 * @example
 * getDecoder("ISO-8859-1")?.decode(new Uint8Array([0xe9])); // "é"
 */
export function getDecoder(label: string): TextDecoder | null {
  const l = normaliseLabel(label);
  let d = decoders.get(l);
  if (d !== undefined) return d;
  try {
    d = new TextDecoder(l);
  } catch {
    d = null;
  }
  if (decoders.size < 256) decoders.set(l, d);
  return d;
}

function hasHighByte(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return true;
  return false;
}

/** ISO-8859-1: each byte is one code point, so the text maps back to the same bytes. */
export function latin1(bytes: Uint8Array): string {
  if (bytes.length < 64) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  const chunks: string[] = [];
  for (let i = 0; i < bytes.length; i += 8192) {
    chunks.push(
      String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]),
    );
  }
  return chunks.join("");
}

/**
 * Raw header bytes as text: ASCII as is, UTF-8 if valid, else ISO-8859-1.
 *
 * @example
 * headerBytesToString(new Uint8Array([0xc3, 0xa9])); // "é"
 */
export function headerBytesToString(bytes: Uint8Array): string {
  if (!hasHighByte(bytes)) return latin1(bytes);
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

/** UTF-8 when valid, else windows-1252 (the WHATWG meaning of "latin1"). */
function utf8OrLatin1(bytes: Uint8Array): string {
  if (!hasHighByte(bytes)) return latin1(bytes);
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return windows1252.decode(bytes);
  }
}

/**
 * Decodes bytes in the given charset. A missing, ASCII or unknown charset tries UTF-8 and falls
 * back to windows-1252; UTF-7 is decoded by hand. Never throws.
 *
 * @example
 * decodeCharset(new Uint8Array([0xe9]), "iso-8859-1"); // "é"
 */
export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string {
  if (!charset) return utf8OrLatin1(bytes);
  if (isUtf7(charset)) return decodeUtf7(bytes);
  const l = normaliseLabel(charset);
  if (l === "us-ascii" || l === "ascii" || l === "us" || l === "iso646-us") {
    return utf8OrLatin1(bytes);
  }
  const d = getDecoder(l);
  if (d === null) return utf8OrLatin1(bytes);
  if (d.encoding === "utf-8") return lossyUtf8.decode(bytes);
  try {
    return d.decode(bytes);
  } catch {
    return utf8OrLatin1(bytes);
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const b64Value = new Int8Array(256).fill(-1);
for (let i = 0; i < B64.length; i++) b64Value[B64.charCodeAt(i)] = i;

/**
 * RFC 2152 UTF-7. Malformed shifts end at the first non-base64 byte; nothing throws.
 *
 * @example
 * decodeUtf7(new TextEncoder().encode("Hi Mom -+Jjo--!")); // "Hi Mom -☺-!"
 */
export function decodeUtf7(bytes: Uint8Array): string {
  const units: number[] = [];
  const out: string[] = [];
  const flush = () => {
    for (let i = 0; i < units.length; i += 8192) {
      out.push(String.fromCharCode.apply(null, units.slice(i, i + 8192)));
    }
    units.length = 0;
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b !== 0x2b) {
      units.push(b);
      i++;
    } else if (bytes[i + 1] === 0x2d) {
      units.push(0x2b);
      i += 2;
    } else {
      i++;
      let bits = 0;
      let nbits = 0;
      while (i < bytes.length && b64Value[bytes[i]] >= 0) {
        bits = ((bits << 6) | b64Value[bytes[i]]) & 0xffffff;
        nbits += 6;
        if (nbits >= 16) {
          nbits -= 16;
          units.push((bits >> nbits) & 0xffff);
        }
        i++;
      }
      if (bytes[i] === 0x2d) i++;
    }
    if (units.length > 65536) flush();
  }
  flush();
  return out.join("");
}
