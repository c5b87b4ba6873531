/**
 * Parameterised header values: Content-Type and Content-Disposition (RFC 2045 5.1, RFC 2183),
 * with RFC 2231 continuations, charsets and languages.
 *
 * Implementation notes:
 * - Lenient: whitespace around "=", unquoted values with spaces (read up to ";"), unterminated
 *   quotes and comments are accepted; names without "=" are skipped.
 * - The first occurrence of a parameter wins; an RFC 2231 form wins over the plain form.
 * - RFC 2047 encoded-words in values (not RFC-conformant, but common for filenames) are
 *   decoded, except in "boundary", which must stay byte-exact.
 */
import { decodeCharset } from "./charset.ts";
import { decodeEncodedWords } from "./encoded_words.ts";

export interface ParameterisedValue {
  /** The value before the first ";", comments and whitespace removed; case kept. */
  value: string;
  /** Lowercased names to decoded values. */
  params: Record<string, string>;
}

interface Segment {
  text: string;
  encoded: boolean;
}

const encoder = new TextEncoder();

function skipComment(text: string, i: number): number {
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return i;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\r" || c === "\n") i++;
    else if (c === "(") i = skipComment(text, i);
    else break;
  }
  return i;
}

function toBytes(text: string, percent: boolean): Uint8Array {
  if (!percent) return encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 128) out.push(c);
    else out.push(...encoder.encode(text[i]));
  }
  return new Uint8Array(out);
}

function joinSegments(segments: Map<number, Segment>): string {
  const order = [...segments.keys()].sort((a, b) => a - b);
  let charset = "utf-8";
  const chunks: Uint8Array[] = [];
  order.forEach((index, n) => {
    const seg = segments.get(index)!;
    let text = seg.text;
    if (n === 0 && seg.encoded) {
      const first = text.indexOf("'");
      const second = first < 0 ? -1 : text.indexOf("'", first + 1);
      if (second >= 0) {
        charset = text.slice(0, first) || "utf-8";
        text = text.slice(second + 1);
      }
    }
    chunks.push(toBytes(text, seg.encoded));
  });
  let size = 0;
  for (const c of chunks) size += c.length;
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return decodeCharset(all, charset);
}

/**
 * Parses `type/subtype; name=value; ...` or `attachment; filename*=utf-8''a%20b.txt`.
 *
 * @example
 * parseParameterised('text/plain; charset="UTF-8"; format=flowed');
 * // { value: "text/plain", params: { charset: "UTF-8", format: "flowed" } }
 */
export function parseParameterised(text: string): ParameterisedValue {
  let i = 0;
  let value = "";
  while (i < text.length && text[i] !== ";") {
    const c = text[i];
    if (c === "(") i = skipComment(text, i);
    else {
      if (c !== " " && c !== "\t" && c !== "\r" && c !== "\n" && c !== '"') value += c;
      i++;
    }
  }
  const plain = new Map<string, string>();
  const extended = new Map<string, Map<number, Segment>>();
  while (i < text.length) {
    i = skipSpace(text, i);
    if (text[i] === ";") {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < text.length && !"=; \t\r\n(".includes(text[i])) i++;
    const name = text.slice(nameStart, i).toLowerCase();
    i = skipSpace(text, i);
    if (text[i] !== "=" || name === "") {
      while (i < text.length && text[i] !== ";") i++;
      continue;
    }
    i = skipSpace(text, i + 1);
    let val = "";
    if (text[i] === '"') {
      i++;
      const parts: string[] = [];
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        if (text[i] !== "\r" && text[i] !== "\n") parts.push(text[i]);
        i++;
      }
      val = parts.join("");
      while (i < text.length && text[i] !== ";") i++;
    } else {
      const start = i;
      while (i < text.length && text[i] !== ";") i++;
      val = text.slice(start, i).trim();
      // A trailing comment: "7bit (comment)".
      const open = val.endsWith(")") ? val.lastIndexOf("(") : -1;
      if (open > 0) val = val.slice(0, open).trim();
    }
    const star = /^(.+?)\*(?:(\d{1,4})(\*)?)?$/.exec(name);
    if (star) {
      const base = star[1];
      const index = star[2] === undefined ? 0 : Number(star[2]);
      const encoded = star[2] === undefined || star[3] === "*";
      let segs = extended.get(base);
      if (!segs) extended.set(base, segs = new Map());
      if (!segs.has(index)) segs.set(index, { text: val, encoded });
    } else if (!plain.has(name)) plain.set(name, val);
  }
  for (const [name, segs] of extended) plain.set(name, joinSegments(segs));
  for (const [name, val] of plain) {
    if (name !== "boundary" && val.includes("=?")) plain.set(name, decodeEncodedWords(val));
  }
  // fromEntries defines own properties, so a parameter named "__proto__" stays plain data.
  return { value, params: Object.fromEntries(plain) };
}
