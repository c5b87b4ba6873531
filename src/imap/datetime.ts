/**
 * IMAP `date` and `date-time` (RFC 9051 9) and the day arithmetic of SEARCH BEFORE/ON/SINCE.
 *
 * Implementation notes:
 * - Input is read as the grammar allows: `date-day` is one or two digits (`1-Feb-1994`,
 *   `01-Feb-1994`), `date-day-fixed` is a space or zero and a digit, or two digits; month names
 *   are case-insensitive (ABNF strings are). Every field is range-checked, including the day
 *   against the month (no 30-Feb), and a bad value is an ImapDateError, never a Date that
 *   silently rolled over. Seconds may be 60 (a leap second); it counts as the next minute's :00.
 * - INTERNALDATE is written `dd-Mon-yyyy hh:mm:ss +zzzz` with a zero-padded day: one of the two
 *   `date-day-fixed` forms (RFC 9051 9), fixed width, the form mox writes, and free of the
 *   leading space that clients splitting on spaces trip over. The DQUOTEs are the response
 *   writer's.
 * - A date-time keeps its zone offset. APPEND stores the offset the client gave and FETCH
 *   INTERNALDATE writes it back in that zone, as Dovecot does; delivered mail gets the server's.
 * - SEARCH dates "disregard time and timezone" (RFC 9051 6.4.4). Postern reads that as the
 *   calendar day the message itself shows: the day of INTERNALDATE in its own stored zone (and for
 *   SENT* the day of the Date header in the header's zone). `dayNumber` gives that day for a
 *   message, `dateDayNumber` for the search key, and BEFORE/ON/SINCE compare the two; a store
 *   can keep the day number as a column and search it with an index. `searchDay` gives the
 *   [start, end) instants of a day in a given zone for code that compares instants instead (pass
 *   the message's zone, or the server's for a single range over mail without a stored zone).
 */

/** A calendar date; `month` is 1-12. */
export interface ImapDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** An instant and the zone it was written in, as INTERNALDATE keeps it. */
export interface ImapDateTime {
  /** Milliseconds since the epoch (UTC). */
  readonly epochMs: number;
  /** Offset from UTC in minutes, east positive (`-0700` is -420). */
  readonly zoneOffsetMinutes: number;
}

/** A date or date-time the client wrote badly; the message is for a BAD response. */
export class ImapDateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImapDateError";
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH_NUMBER = new Map(MONTHS.map((name, i) => [name.toLowerCase(), i + 1]));
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

const DATE_TEXT = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/;
const DATE_TIME = new RegExp(
  "^( [0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) " + // date-day-fixed "-" date-month "-" date-year
    "([0-9]{2}):([0-9]{2}):([0-9]{2}) " + // time
    "([+-])([0-9]{2})([0-9]{2})$", // zone
);

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}

function checkDate(dayText: string, monthText: string, yearText: string, input: string): ImapDate {
  const month = MONTH_NUMBER.get(monthText.toLowerCase());
  if (month === undefined) throw new ImapDateError(`${JSON.stringify(monthText)} is not a month`);
  const year = Number(yearText);
  if (year < 1) throw new ImapDateError(`year 0 in ${JSON.stringify(input)}`);
  const day = Number(dayText.trim());
  if (day < 1 || day > daysInMonth(year, month)) {
    throw new ImapDateError(`${MONTHS[month - 1]} ${year} has no day ${day}`);
  }
  return { year, month, day };
}

/** Milliseconds since the epoch of midnight UTC starting the date (years 1-99 included). */
function utcMidnight(date: ImapDate): number {
  const d = new Date(Date.UTC(2000, date.month - 1, date.day));
  d.setUTCFullYear(date.year);
  return d.getTime();
}

/**
 * Parses an IMAP `date` (SEARCH BEFORE/ON/SINCE...), quoted or not; throws ImapDateError.
 *
 * @example
 * parseDate("1-Feb-1994"); // { year: 1994, month: 2, day: 1 }
 */
export function parseDate(text: string): ImapDate {
  const input = unquote(text);
  const m = DATE_TEXT.exec(input);
  if (!m) throw new ImapDateError(`${JSON.stringify(text)} is not a date like 1-Feb-1994`);
  return checkDate(m[1], m[2], m[3], input);
}

/**
 * Writes an IMAP `date` (`date-text`, day without padding).
 *
 * @example
 * formatDate({ year: 1994, month: 2, day: 1 }); // "1-Feb-1994"
 */
export function formatDate(date: ImapDate): string {
  return `${date.day}-${MONTHS[date.month - 1]}-${String(date.year).padStart(4, "0")}`;
}

/**
 * Parses an IMAP `date-time` (APPEND), quoted or not; throws ImapDateError.
 *
 * @example
 * parseDateTime('"17-Jul-1996 02:44:25 -0700"');
 * // { epochMs: Date.UTC(1996, 6, 17, 9, 44, 25), zoneOffsetMinutes: -420 }
 */
export function parseDateTime(text: string): ImapDateTime {
  const input = unquote(text);
  const m = DATE_TIME.exec(input);
  if (!m) {
    throw new ImapDateError(
      `${JSON.stringify(text)} is not a date-time like "17-Jul-1996 02:44:25 -0700"`,
    );
  }
  const date = checkDate(m[1], m[2], m[3], input);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (hour > 23 || minute > 59 || second > 60) {
    throw new ImapDateError(`${m[4]}:${m[5]}:${m[6]} is not a time of day`);
  }
  const zoneHours = Number(m[8]);
  const zoneMinutes = Number(m[9]);
  if (zoneHours > 23 || zoneMinutes > 59) {
    throw new ImapDateError(`${m[7]}${m[8]}${m[9]} is not a zone offset`);
  }
  const zoneOffsetMinutes = (m[7] === "-" ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  const local = utcMidnight(date) + ((hour * 60 + minute) * 60 + second) * 1000;
  return {
    epochMs: local - zoneOffsetMinutes * MINUTE_MS,
    zoneOffsetMinutes: zoneOffsetMinutes || 0,
  };
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * Writes a `date-time` for INTERNALDATE, in the given zone (default UTC), without the DQUOTEs.
 *
 * @example
 * formatDateTime(Date.UTC(1996, 6, 17, 9, 44, 25), -420); // "17-Jul-1996 02:44:25 -0700"
 */
export function formatDateTime(epochMs: number, zoneOffsetMinutes = 0): string {
  if (!Number.isFinite(epochMs) || !Number.isInteger(zoneOffsetMinutes)) {
    throw new ImapDateError("date-time out of range");
  }
  const local = new Date(epochMs + zoneOffsetMinutes * MINUTE_MS);
  const year = local.getUTCFullYear();
  if (Number.isNaN(year) || year < 1 || year > 9999 || Math.abs(zoneOffsetMinutes) >= 24 * 60) {
    throw new ImapDateError("date-time out of range");
  }
  const sign = zoneOffsetMinutes < 0 ? "-" : "+";
  const zone = Math.abs(zoneOffsetMinutes);
  return `${two(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${
    String(year).padStart(4, "0")
  } ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${
    two(local.getUTCSeconds())
  } ${sign}${two(Math.floor(zone / 60))}${two(zone % 60)}`;
}

/**
 * The calendar day an instant falls on in a zone, as a day count from 1970-01-01.
 *
 * @example
 * dayNumber(Date.UTC(1996, 6, 17, 5), -420); // the day of 16-Jul-1996
 */
export function dayNumber(epochMs: number, zoneOffsetMinutes: number): number {
  return Math.floor((epochMs + zoneOffsetMinutes * MINUTE_MS) / DAY_MS);
}

/**
 * The day count from 1970-01-01 of a SEARCH date, comparable with `dayNumber`.
 *
 * @example
 * dateDayNumber({ year: 1970, month: 1, day: 2 }); // 1
 */
export function dateDayNumber(date: ImapDate): number {
  return Math.floor(utcMidnight(date) / DAY_MS);
}

/**
 * The [start, end) instants (epoch milliseconds) of a calendar day in a zone: ON is
 * start <= t < end, BEFORE is t < start, SINCE is t >= start.
 *
 * @example
 * searchDay({ year: 1994, month: 2, day: 1 }, 60);
 * // { start: Date.UTC(1994, 0, 31, 23), end: Date.UTC(1994, 1, 1, 23) }
 */
export function searchDay(
  date: ImapDate,
  zoneOffsetMinutes: number,
): { start: number; end: number } {
  const start = utcMidnight(date) - zoneOffsetMinutes * MINUTE_MS;
  return { start, end: start + DAY_MS };
}
