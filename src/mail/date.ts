/**
 * RFC 5322 3.3 date-time, read leniently: obsolete zone names (RFC 5322 4.3), military zones,
 * two- and three-digit years, missing seconds or zone, comments, asctime order and ISO 8601.
 *
 * Implementation notes:
 * - Unknown alphabetic zones and military letters mean "-0000" (RFC 5322 4.3): UTC.
 * - A missing zone is taken as UTC. Out-of-range fields (31 February, 25:00) give null.
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  cet: 60,
  cest: 120,
  bst: 60,
  jst: 540,
};

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

function build(
  year: number,
  month: number,
  day: number,
  time: number[],
  zone: number,
): Date | null {
  const [h, m, s] = time;
  if (month < 0 || month > 11 || day < 1 || day > daysInMonth(year, month)) return null;
  if (h > 23 || m > 59 || s > 60 || year > 9999) return null;
  const ms = Date.UTC(year, month, day, h, m, Math.min(s, 59)) - zone * 60000;
  const d = new Date(ms);
  if (year < 100) d.setUTCFullYear(year); // Date.UTC maps 0-99 to 1900-1999
  return Number.isNaN(d.getTime()) ? null : d;
}

function parseIso(value: string): Date | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i
      .exec(value);
  if (!m) return null;
  let zone = 0;
  if (m[7] && m[7].toUpperCase() !== "Z") {
    const z = m[7].replace(":", "");
    zone = (z[0] === "-" ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const time = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  return build(Number(m[1]), Number(m[2]) - 1, Number(m[3]), time, zone);
}

/**
 * Parses an RFC 5322 date-time; null when it cannot be read.
 *
 * @example
 * parseDate("Fri, 21 Nov 1997 09:55:06 -0600")?.toISOString(); // "1997-11-21T15:55:06.000Z"
 */
export function parseDate(value: string): Date | null {
  if (typeof value !== "string" || value.length > 256) return null;
  const text = value.replace(/\([^()]*\)/g, " ").replace(/\s+/g, " ").trim();
  const iso = parseIso(text);
  if (iso) return iso;
  let day = -1;
  let month = -1;
  let year = -1;
  let yearDigits = 0;
  let time: number[] | null = null;
  let zone: number | null = null;
  const numbers: string[] = [];
  for (const token of text.split(/[\s,]+/)) {
    if (!token) continue;
    const lower = token.toLowerCase();
    let m: RegExpExecArray | null;
    if ((m = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?$/.exec(token)) && time === null) {
      time = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    } else if ((m = /^([+-])(\d{2}):?(\d{2})$/.exec(token)) && zone === null && time !== null) {
      zone = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    } else if (/^\d+$/.test(token)) {
      numbers.push(token);
    } else if (/^[a-z]+\.?$/i.test(token)) {
      const word = lower.replace(".", "");
      const mi = MONTHS.indexOf(word.slice(0, 3));
      if (mi >= 0 && month < 0) {
        month = mi;
      } else if (DAYS.includes(word.slice(0, 3)) && time === null) {
        // day of week: ignored
      } else if (time !== null && zone === null) {
        zone = ZONES[word] ?? 0;
      } else return null;
    } else if ((m = /^(\d{1,2})-([a-z]{3})-(\d{2,4})$/i.exec(token))) {
      numbers.push(m[1], m[3]);
      month = MONTHS.indexOf(m[2].toLowerCase());
    } else if (time !== null) {
      // trailing junk after the time, e.g. "+0000 (UTC)" leftovers: ignore
    } else return null;
  }
  if (month < 0 || time === null || numbers.length < 2) return null;
  const [a, b] = numbers;
  if (a.length >= 3 && b.length <= 2) {
    year = Number(a);
    yearDigits = a.length;
    day = Number(b);
  } else {
    day = Number(a);
    year = Number(b);
    yearDigits = b.length;
  }
  if (yearDigits <= 2) year += year < 50 ? 2000 : 1900;
  else if (yearDigits === 3) year += 1900;
  return build(year, month, day, time, zone ?? 0);
}
