/**
 * iCalendar date, time, duration and period values (RFC 5545 3.3.4, 3.3.5, 3.3.6, 3.3.9).
 *
 * Implementation notes:
 * - A local ("civil") date-time is a number: the milliseconds `Date.UTC` gives for its fields.
 *   Recurrence arithmetic happens on these; only `timezone.ts` turns them into real instants.
 * - Years are limited to 0000-9999, the range the format can write.
 */
import { ICalError, param, type VProperty } from "./component.ts";

export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** How a date-time is anchored: a DATE, floating local time, UTC, or local time in `tzid`. */
export type TimeKind = "date" | "floating" | "utc" | "zoned";

export interface ICalTime {
  civil: number;
  kind: TimeKind;
  tzid: string | null;
}

/** A duration: nominal days (weeks count as 7) plus exact milliseconds (RFC 5545 3.3.6). */
export interface Duration {
  days: number;
  ms: number;
}

const DATE = /^(\d{4})(\d{2})(\d{2})$/;
const DATE_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/;
const DURATION = /^([+-])?P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)$/;

function civilOf(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number | null {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return null;
  const civil = Date.UTC(y, mo - 1, d, h, mi, s === 60 ? 59 : s);
  const check = new Date(civil);
  if (check.getUTCDate() !== d) return null;
  return y < 100 ? new Date(check.setUTCFullYear(y)).getTime() : civil;
}

/** A DATE value (YYYYMMDD) as civil ms, or null when it is not one. */
export function parseDate(text: string): number | null {
  const m = DATE.exec(text);
  return m ? civilOf(+m[1], +m[2], +m[3]) : null;
}

/** A DATE-TIME value; `tzid` applies unless the value ends in Z. Null when malformed. */
export function parseDateTime(text: string, tzid: string | null): ICalTime | null {
  const m = DATE_TIME.exec(text);
  if (!m) return null;
  const civil = civilOf(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]);
  if (civil === null) return null;
  if (m[7] === "Z") return { civil, kind: "utc", tzid: null };
  return { civil, kind: tzid === null ? "floating" : "zoned", tzid };
}

/** A DATE or DATE-TIME, whichever the text is (VALUE=DATE is a hint, the text decides). */
export function parseTimeText(text: string, tzid: string | null): ICalTime | null {
  const date = parseDate(text);
  if (date !== null) return { civil: date, kind: "date", tzid: null };
  return parseDateTime(text, tzid);
}

/** The single date or date-time of a property such as DTSTART; throws ICalError if invalid. */
export function propertyTime(prop: VProperty): ICalTime {
  const time = parseTimeText(prop.value.trim(), param(prop, "TZID") ?? null);
  if (time === null) throw new ICalError(`${prop.name} has an invalid date: ${prop.value}`);
  return time;
}

export function parseDuration(text: string): Duration | null {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim().endsWith("T") || /^[+-]?P$/.test(text.trim())) return null;
  const sign = m[1] === "-" ? -1 : 1;
  const days = (m[2] ? +m[2] * 7 : 0) + (m[3] ? +m[3] : 0);
  const ms = (m[4] ? +m[4] * HOUR : 0) + (m[5] ? +m[5] * MINUTE : 0) +
    (m[6] ? +m[6] * SECOND : 0);
  if (!Number.isSafeInteger(days * DAY + ms)) return null;
  return { days: sign * days, ms: sign * ms };
}

export function durationIsZero(duration: Duration): boolean {
  return duration.days === 0 && duration.ms === 0;
}

/** A PERIOD value (RFC 5545 3.3.9): explicit start/end, or start/duration. */
export interface Period {
  start: ICalTime;
  end: ICalTime | null;
  duration: Duration | null;
}

export function parsePeriod(text: string, tzid: string | null): Period | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const start = parseDateTime(text.slice(0, slash), tzid);
  if (start === null) return null;
  const rest = text.slice(slash + 1);
  if (/^[+-]?P/.test(rest)) {
    const duration = parseDuration(rest);
    return duration === null ? null : { start, end: null, duration };
  }
  const end = parseDateTime(rest, tzid);
  return end === null ? null : { start, end, duration: null };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

export function formatDate(civil: number): string {
  const d = new Date(civil);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

/** A floating DATE-TIME (no Z) for civil ms. */
export function formatLocal(civil: number): string {
  const d = new Date(civil);
  return `${formatDate(civil)}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${
    pad(d.getUTCSeconds())
  }`;
}

/** A UTC DATE-TIME (with Z) for epoch ms. */
export function formatUtc(utc: number): string {
  return `${formatLocal(utc)}Z`;
}

/** A CalDAV time-range attribute (RFC 4791 9.9): UTC date-time, or null when invalid. */
export function parseUtcAttribute(text: string): number | null {
  const time = parseDateTime(text.trim(), null);
  return time !== null && time.kind === "utc" ? time.civil : null;
}
