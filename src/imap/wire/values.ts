/**
 * Value syntax shared by IMAP commands (RFC 9051 9): sequence sets, dates, date-times, flags,
 * mailbox names.
 *
 * Implementation notes:
 * - System flags are given in their canonical case (`\seen` → `\Seen`); keywords as sent.
 * - Dates are checked against the calendar (no 31-Feb); date-times accept a one-digit day
 *   without the leading space, which real clients send.
 */
import type { Cursor } from "./cursor.ts";
import type { ImapDate, ImapDateTime, ParserLimits, SeqNumber, SequenceSet } from "./types.ts";

/** seq-number = nz-number / "*" */
function seqNumber(c: Cursor): SeqNumber {
  if (c.take(0x2a)) return "*";
  return c.nzNumber("a message number, UID or *");
}

/** sequence-set / "$" (RFC 9051 9, RFC 5182). */
export function sequenceSet(c: Cursor, limits: ParserLimits, allowStar = true): SequenceSet {
  if (c.take(0x24)) return { kind: "saved" };
  const ranges = [];
  do {
    if (ranges.length >= limits.maxSequenceRanges) {
      c.reject(`sequence set longer than ${limits.maxSequenceRanges} ranges`);
    }
    const start = seqNumber(c);
    const end = c.take(0x3a) ? seqNumber(c) : start;
    if (!allowStar && (start === "*" || end === "*")) c.reject("* is not allowed here");
    ranges.push({ start, end });
  } while (c.take(0x2c));
  return { kind: "ranges", ranges };
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

function digits(c: Cursor, count: number, name: string): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const d = c.peek();
    if (d < 0x30 || d > 0x39) c.fail(name);
    c.take(d);
    value = value * 10 + d - 0x30;
  }
  return value;
}

function dateText(c: Cursor, fixedDay: boolean): ImapDate {
  let day: number;
  if (fixedDay && c.take(0x20)) day = digits(c, 1, "a day");
  else {
    day = digits(c, 1, "a day (1-31)");
    const d = c.peek();
    if (d >= 0x30 && d <= 0x39) day = day * 10 + digits(c, 1, "a day");
  }
  c.expect(0x2d, '"-"');
  let m = "";
  for (let i = 0; i < 3; i++) {
    const x = c.peek();
    if (!((x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a))) c.fail("a month (Jan-Dec)");
    c.take(x);
    m += String.fromCharCode(x);
  }
  const month = MONTHS.indexOf(m.toUpperCase()) + 1;
  if (month === 0) c.reject(`unknown month "${m}"`);
  c.expect(0x2d, '"-"');
  const year = digits(c, 4, "a four-digit year");
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > last) c.reject(`no day ${day} in ${m} ${year}`);
  return { year, month, day };
}

/** date = date-text / DQUOTE date-text DQUOTE */
export function date(c: Cursor): ImapDate {
  const quoted = c.take(0x22);
  const value = dateText(c, false);
  if (quoted) c.expect(0x22, 'closing "');
  return value;
}

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE */
export function dateTime(c: Cursor): ImapDateTime {
  c.expect(0x22, "a date-time");
  const d = dateText(c, true);
  c.sp();
  const hour = digits(c, 2, "hours");
  c.expect(0x3a, '":"');
  const minute = digits(c, 2, "minutes");
  c.expect(0x3a, '":"');
  const second = digits(c, 2, "seconds");
  if (hour > 23 || minute > 59 || second > 60) c.reject("time out of range");
  c.sp();
  const sign = c.take(0x2b) ? 1 : c.take(0x2d) ? -1 : c.fail('a zone ("+" or "-")');
  const hh = digits(c, 2, "zone hours");
  const mm = digits(c, 2, "zone minutes");
  if (mm > 59) c.reject("zone minutes out of range");
  c.expect(0x22, 'closing "');
  const zoneMinutes = sign * (hh * 60 + mm);
  const epochMs = Date.UTC(d.year, d.month - 1, d.day, hour, minute, second) -
    zoneMinutes * 60_000;
  return { ...d, hour, minute, second, zoneMinutes, epochMs };
}

const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent"];
const SYSTEM_BY_UPPER = new Map(SYSTEM_FLAGS.map((f) => [f.toUpperCase(), f]));

/** flag (RFC 9051 9): system flags canonicalised, `\Recent` refused (not settable). */
export function flag(c: Cursor): string {
  if (c.take(0x5c)) {
    const name = "\\" + c.atom("a flag name after \\");
    const system = SYSTEM_BY_UPPER.get(name.toUpperCase());
    if (system === "\\Recent") c.reject("\\Recent cannot be set by a client");
    return system ?? name;
  }
  return c.atom("a flag");
}

/** flag-list = "(" [flag *(SP flag)] ")" */
export function flagList(c: Cursor, limits: ParserLimits): string[] {
  c.expect(0x28, "a flag list");
  const flags: string[] = [];
  if (c.take(0x29)) return flags;
  do {
    if (flags.length >= limits.maxListItems) c.reject(`more than ${limits.maxListItems} flags`);
    flags.push(flag(c));
  } while (c.take(0x20));
  c.expect(0x29, '")"');
  return flags;
}

/** mailbox = "INBOX" / astring, INBOX in any case given as "INBOX". */
export function mailbox(c: Cursor, name = "a mailbox name"): string {
  const text = c.text(c.astring(name), "mailbox name");
  return text.length === 5 && text.toUpperCase() === "INBOX" ? "INBOX" : text;
}

/** A parenthesised list of items read by `item`, at least one unless `allowEmpty`. */
export function list<T>(
  c: Cursor,
  limits: ParserLimits,
  item: () => T,
  what: string,
  allowEmpty = false,
): T[] {
  c.expect(0x28, `"(" opening a list of ${what}`);
  const items: T[] = [];
  if (allowEmpty && c.take(0x29)) return items;
  do {
    if (items.length >= limits.maxListItems) c.reject(`more than ${limits.maxListItems} ${what}`);
    items.push(item());
  } while (c.take(0x20));
  c.expect(0x29, '")"');
  return items;
}
