/**
 * IMAP sequence sets (RFC 9051 9 `sequence-set`): parsing, resolving against a mailbox,
 * membership, lazy iteration and compact formatting for UIDPLUS (RFC 4315) and ESEARCH
 * (RFC 4731) responses.
 *
 * Implementation notes:
 * - A parsed set keeps "*" symbolic; `resolve` turns it into sorted, merged, inclusive ranges
 *   clipped to 1..max. Nothing here ever materialises a range: `1:4294967295` is one range.
 * - "*" is the largest number in use (RFC 9051 9 `seq-number`). For message sequence numbers
 *   pass the message count; `outOfRange` says when the command deserves a BAD (a number above
 *   the count, or "*" in an empty mailbox). For UIDs pass the highest UID in the mailbox: a
 *   range such as `559:*` then always includes the last message even when 559 is above it
 *   (RFC 9051 6.4.9, RFC 3501 6.4.8 remarks). In an empty mailbox "*" is UIDNEXT, which names
 *   no message, so passing 0 resolves every UID set to nothing, which is the same outcome.
 * - The saved-result marker `$` (RFC 5182, part of RFC 9051) is a whole sequence set of its own;
 *   the command parser recognises it before calling `parseSequenceSet`.
 */

/** The largest nz-number (RFC 9051 9: 0 < n < 4,294,967,296). */
export const MAX_NZ_NUMBER = 4294967295;

/** A number, or "*" for the largest number in use. */
export type SeqNumber = number | "*";

/** One item of a sequence set; a single number has `from === to`. */
export interface SeqRange {
  readonly from: SeqNumber;
  readonly to: SeqNumber;
}

/** A parsed sequence set, items in the client's order. */
export type SequenceSet = readonly SeqRange[];

/** An inclusive range of concrete numbers, `start <= end`. */
export interface NumberRange {
  readonly start: number;
  readonly end: number;
}

export interface SequenceSetLimits {
  /** Longest sequence-set text accepted, in characters. */
  maxLength: number;
}

export const DEFAULT_SEQUENCE_SET_LIMITS: Readonly<SequenceSetLimits> = { maxLength: 65536 };

/** A sequence set the client wrote badly; the message is for a BAD response. */
export class SequenceSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SequenceSetError";
  }
}

/**
 * Parses `sequence-set`; throws SequenceSetError.
 *
 * @example
 * parseSequenceSet("2,4:7,12:*"); // [{from:2,to:2},{from:4,to:7},{from:12,to:"*"}]
 */
export function parseSequenceSet(
  text: string,
  limits: Partial<SequenceSetLimits> = {},
): SequenceSet {
  const { maxLength } = { ...DEFAULT_SEQUENCE_SET_LIMITS, ...limits };
  if (text.length > maxLength) {
    throw new SequenceSetError(`sequence set is longer than ${maxLength} characters`);
  }
  if (text === "") throw new SequenceSetError("empty sequence set");
  const items: SeqRange[] = [];
  for (const item of text.split(",")) {
    if (item === "") throw new SequenceSetError("empty item in sequence set");
    const colon = item.indexOf(":");
    if (colon < 0) {
      const n = parseSeqNumber(item);
      items.push({ from: n, to: n });
      continue;
    }
    const from = item.slice(0, colon);
    const to = item.slice(colon + 1);
    if (from === "" || to === "" || to.includes(":")) {
      throw new SequenceSetError(`bad range ${JSON.stringify(item)} in sequence set`);
    }
    items.push({ from: parseSeqNumber(from), to: parseSeqNumber(to) });
  }
  return items;
}

function parseSeqNumber(text: string): SeqNumber {
  if (text === "*") return "*";
  if (!/^[0-9]+$/.test(text)) {
    throw new SequenceSetError(`${JSON.stringify(text)} is not a number or "*"`);
  }
  if (text[0] === "0") {
    throw new SequenceSetError(
      /^0+$/.test(text) ? "0 is not a valid message number" : `${text}: leading zero in number`,
    );
  }
  if (text.length > 10 || Number(text) > MAX_NZ_NUMBER) {
    throw new SequenceSetError(`${text} is larger than ${MAX_NZ_NUMBER}`);
  }
  return Number(text);
}

/**
 * Sorts ranges and merges the overlapping and adjacent ones.
 *
 * @example
 * normaliseRanges([{ start: 5, end: 7 }, { start: 1, end: 4 }]); // [{ start: 1, end: 7 }]
 */
export function normaliseRanges(ranges: readonly NumberRange[]): NumberRange[] {
  const sorted = ranges.filter((r) => r.start <= r.end).sort((a, b) =>
    a.start - b.start || a.end - b.end
  );
  const merged: NumberRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end + 1) {
      if (range.end > last.end) merged[merged.length - 1] = { start: last.start, end: range.end };
    } else {
      merged.push({ start: range.start, end: range.end });
    }
  }
  return merged;
}

/**
 * Resolves a set against the largest number in use: "*" becomes `max`, `n:m` with n > m is
 * turned around, everything is clipped to 1..max, sorted and merged.
 *
 * @example
 * resolve(parseSequenceSet("*:4,5:7,20"), 10); // [{ start: 4, end: 10 }]
 */
export function resolve(set: SequenceSet, max: number): NumberRange[] {
  const ranges: NumberRange[] = [];
  for (const item of set) {
    const a = item.from === "*" ? max : item.from;
    const b = item.to === "*" ? max : item.to;
    const start = Math.max(1, Math.min(a, b));
    const end = Math.min(max, Math.max(a, b));
    if (start <= end) ranges.push({ start, end });
  }
  return normaliseRanges(ranges);
}

/**
 * True when a message-sequence-number set names a message that does not exist, which RFC 9051
 * 9 (`seq-number`) answers with BAD: a number above `max`, or "*" when the mailbox is empty.
 *
 * @example
 * outOfRange(parseSequenceSet("1:5"), 3); // true
 */
export function outOfRange(set: SequenceSet, max: number): boolean {
  for (const { from, to } of set) {
    for (const n of [from, to]) {
      if (n === "*" ? max === 0 : n > max) return true;
    }
  }
  return false;
}

/** True when `set` uses "*". */
export function usesStar(set: SequenceSet): boolean {
  return set.some((r) => r.from === "*" || r.to === "*");
}

/**
 * True when `n` is in sorted, merged ranges (as `resolve` returns); O(log ranges).
 *
 * @example
 * contains([{ start: 1, end: 3 }, { start: 7, end: 9 }], 8); // true
 */
export function contains(ranges: readonly NumberRange[], n: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const range = ranges[mid];
    if (n < range.start) high = mid - 1;
    else if (n > range.end) low = mid + 1;
    else return true;
  }
  return false;
}

/**
 * How many numbers the ranges hold.
 *
 * @example
 * count([{ start: 1, end: 3 }, { start: 7, end: 7 }]); // 4
 */
export function count(ranges: readonly NumberRange[]): number {
  let total = 0;
  for (const r of ranges) total += r.end - r.start + 1;
  return total;
}

/**
 * Yields the numbers of the ranges in order, one at a time (nothing is materialised).
 *
 * @example
 * [...iterate([{ start: 1, end: 3 }])]; // [1, 2, 3]
 */
export function* iterate(ranges: readonly NumberRange[]): Generator<number> {
  for (const { start, end } of ranges) {
    for (let n = start; n <= end; n++) yield n;
  }
}

/**
 * Writes numbers or ranges as a compact sequence set, sorted and merged (`1:3,5,7:9`); an empty
 * input gives "". The result is ascending, which is what UIDPLUS COPYUID needs when the
 * destination UIDs were assigned in the ascending order of the source UIDs.
 *
 * @example
 * formatSequenceSet([9, 1, 2, 3, 5, 7, 8]); // "1:3,5,7:9"
 */
export function formatSequenceSet(input: Iterable<number> | readonly NumberRange[]): string {
  const ranges: NumberRange[] = [];
  for (const item of input as Iterable<number | NumberRange>) {
    ranges.push(typeof item === "number" ? { start: item, end: item } : item);
  }
  return normaliseRanges(ranges)
    .map((r) => (r.start === r.end ? `${r.start}` : `${r.start}:${r.end}`))
    .join(",");
}
