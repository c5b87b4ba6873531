/**
 * Header fields (RFC 5322 2.2), encoded-words (RFC 2047), message ids and base subjects
 * (RFC 5256). Address lists and dates live in address.ts and date.ts and are re-exported here.
 *
 * Implementation notes:
 * - Every function here is total: garbage in gives a best-effort value out, never a throw.
 * - A header block ends at the first empty line; CRLF, bare LF and bare CR all end a line.
 * - Field offsets refer to the original bytes; nothing is normalised in place.
 */
import { headerBytesToString, latin1 } from "./charset.ts";
import { decodeEncodedWords } from "./encoded_words.ts";

export {
  type AddressGroup,
  type EmailAddress,
  parseAddressList,
  parseGroupedAddresses,
} from "./address.ts";
export { parseDate } from "./date.ts";
export { decodeEncodedWords } from "./encoded_words.ts";

export interface HeaderField {
  /** The field name as written (case kept, trailing whitespace before the colon removed). */
  name: string;
  /** Raw value bytes after the colon, decoded as UTF-8 if valid else ISO-8859-1; not unfolded. */
  raw: string;
  /** Byte offset of the first byte of the field name. */
  start: number;
  /** Byte offset just after the line end that terminates the field (its last folded line). */
  end: number;
}

/** Offsets of one field: name [start, nameEnd), value [valueStart, valueEnd), field [start, end). */
export interface FieldSpan {
  start: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  end: number;
}

const CR = 13;
const LF = 10;

function isWsp(b: number): boolean {
  return b === 32 || b === 9;
}

/**
 * Splits a header block into field spans. Stops at the first empty line or at `end`. Lines
 * without a colon, or whose name is not printable ASCII, are skipped with their continuations.
 */
export function scanFieldSpans(raw: Uint8Array, start: number, end: number): FieldSpan[] {
  const spans: FieldSpan[] = [];
  let current: FieldSpan | null = null;
  let p = Math.max(0, start);
  end = Math.min(end, raw.length);
  while (p < end) {
    let le = p;
    while (le < end && raw[le] !== CR && raw[le] !== LF) le++;
    let next = le;
    if (next < end) next += raw[next] === CR && next + 1 < end && raw[next + 1] === LF ? 2 : 1;
    if (le === p) break;
    if (isWsp(raw[p])) {
      if (current) {
        current.valueEnd = le;
        current.end = next;
      }
    } else {
      current = null;
      let colon = p;
      while (colon < le && raw[colon] !== 58) colon++;
      if (colon < le) {
        let nameEnd = colon;
        while (nameEnd > p && isWsp(raw[nameEnd - 1])) nameEnd--;
        let valid = nameEnd > p;
        for (let i = p; i < nameEnd && valid; i++) valid = raw[i] > 32 && raw[i] < 127;
        if (valid) {
          current = { start: p, nameEnd, valueStart: colon + 1, valueEnd: le, end: next };
          spans.push(current);
        }
      }
    }
    p = next;
  }
  return spans;
}

/**
 * Parses the header fields in raw[start, end).
 *
 * @example
 * parseHeaderFields(bytes, 0, bytes.length); // [{ name: "Subject", raw: " hi", start: 0, end: 14 }]
 */
export function parseHeaderFields(raw: Uint8Array, start: number, end: number): HeaderField[] {
  return scanFieldSpans(raw, start, end).map((s) => ({
    name: latin1(raw.subarray(s.start, s.nameEnd)),
    raw: headerBytesToString(raw.subarray(s.valueStart, s.valueEnd)),
    start: s.start,
    end: s.end,
  }));
}

/**
 * Unfolds a header value (RFC 5322 2.2.3): removes the line breaks, keeps the whitespace.
 *
 * @example
 * unfold(" a\r\n b"); // " a b"
 */
export function unfold(value: string): string {
  return value.replace(/\r\n|\r|\n/g, "");
}

/**
 * Message ids from Message-ID, In-Reply-To or References, without angle brackets. Values
 * without brackets fall back to the whitespace-separated words that contain "@".
 *
 * @example
 * parseMessageIds("<a@b> (comment) <c@d>"); // ["a@b", "c@d"]
 */
export function parseMessageIds(value: string): string[] {
  const ids: string[] = [];
  const text = unfold(value);
  let i = 0;
  while (true) {
    const open = text.indexOf("<", i);
    if (open < 0) break;
    const close = text.indexOf(">", open + 1);
    if (close < 0) break;
    const id = text.slice(open + 1, close).replace(/[\s"]/g, "");
    if (id) ids.push(id);
    i = close + 1;
  }
  if (ids.length > 0) return ids;
  for (const word of text.replace(/\([^()]*\)/g, " ").split(/[\s,]+/)) {
    if (!word.includes("@")) continue;
    let from = 0;
    let to = word.length;
    while (from < to && (word[from] === "<" || word[from] === '"')) from++;
    while (to > from && (word[to - 1] === ">" || word[to - 1] === '"')) to--;
    ids.push(word.slice(from, to));
  }
  return ids;
}

const TRAILER = /(?:[ \t]|\(fwd\))+$/i;
const LEADER = /^(?:[ \t]+|(?:\[[^[\]]*\][ \t]*)*(?:re|fwd?)[ \t]*(?:\[[^[\]]*\][ \t]*)?:)/i;
const BLOB = /^\[[^[\]]*\][ \t]*/;

/**
 * The base subject of RFC 5256 3: encoded-words decoded, whitespace collapsed, "Re:", "Fwd:",
 * "[list]" prefixes and "(fwd)" trailers removed, "[fwd: ...]" unwrapped. Case is kept.
 *
 * @example
 * baseSubject("Re: [dev] Fwd: Hello (fwd)"); // "Hello"
 */
export function baseSubject(subject: string): string {
  // Subjects longer than this are not real; the cap keeps the prefix loop cheap.
  let s = decodeEncodedWords(unfold(subject.slice(0, 4096))).replace(/[ \t]+/g, " ");
  for (;;) {
    s = s.replace(TRAILER, "");
    for (;;) {
      const before = s;
      s = s.replace(LEADER, "");
      const blob = BLOB.exec(s);
      if (blob && blob[0].length < s.length) s = s.slice(blob[0].length);
      if (s === before) break;
    }
    if (/^\[fwd:/i.test(s) && s.endsWith("]")) {
      s = s.slice(5, -1);
      continue;
    }
    return s.trim();
  }
}
