/**
 * Proleptic Gregorian day arithmetic for recurrence rules (RFC 5545 3.3.10): day numbers,
 * weekdays, month and year lengths, and week numbering with a chosen week start (BYWEEKNO).
 *
 * Implementation notes:
 * - Pure integer arithmetic, no Date objects: these run for every candidate day of every
 *   period of an expansion.
 * - Week 1 of a year is the first week (starting on WKST) with at least four days in that year
 *   (RFC 5545 3.3.10 BYWEEKNO, as ISO 8601 with a movable week start).
 */

/** Day number (days since 1970-01-01) to weekday, 0 = Monday. */
export function weekdayOf(dayNum: number): number {
  return (((dayNum + 3) % 7) + 7) % 7;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (no Date objects: this is hot). */
export function dayNumOf(y: number, m: number, d: number): number {
  const year = m <= 2 ? y - 1 : y;
  const era = Math.floor(year / 400);
  const yearOfEra = year - era * 400;
  const dayOfYear = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) +
    dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** The [year, month, day] of a day number; the inverse of dayNumOf. */
export function dateOf(dayNum: number): [number, number, number] {
  const z = dayNum + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) -
      Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) -
    Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const d = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yearOfEra + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const MONTH_LENGTHS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : MONTH_LENGTHS[m - 1];
}

/** The first day of week 1 of `year` for weeks starting on `wkst` (RFC 5545 3.3.10 BYWEEKNO). */
function week1Start(year: number, wkst: number): number {
  const jan4 = dayNumOf(year, 1, 4);
  return jan4 - ((weekdayOf(jan4) - wkst + 7) % 7);
}

export function weekMatches(dayNum: number, wkst: number, byWeekNo: number[]): boolean {
  const weekStart = dayNum - ((weekdayOf(dayNum) - wkst + 7) % 7);
  const weekYear = dateOf(weekStart + 3)[0];
  const first = week1Start(weekYear, wkst);
  const weekNo = (weekStart - first) / 7 + 1;
  const weeks = (week1Start(weekYear + 1, wkst) - first) / 7;
  return byWeekNo.some((n) => (n > 0 ? n === weekNo : weeks + n + 1 === weekNo));
}
