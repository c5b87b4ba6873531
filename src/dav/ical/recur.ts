/**
 * RRULE (RFC 5545 3.3.10): parsing, and the instants a rule generates in local ("civil") time.
 *
 * Implementation notes:
 * - The generator walks periods of FREQ, INTERVAL apart (RFC 5545 3.3.10 "BYxxx rule parts"
 *   table). In each period it takes the days that pass every day-level BYxxx part (BYMONTH,
 *   BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) and the times the BYHOUR/BYMINUTE/BYSECOND parts
 *   allow, so a period's set is days x times, already in order. BYSETPOS indexes that product
 *   without building it: a YEARLY rule with every BYSECOND costs no memory.
 * - Invalid dates are never generated (Feb 30 is simply not a day of February).
 * - Sub-daily frequencies jump over whole days (hours, minutes) a day-level part rejects, so
 *   FREQ=SECONDLY;BYMONTH=2 costs one step per day, not one per second.
 * - A rule that yields nothing for 400 years of periods (the Gregorian calendar's cycle) never
 *   will, e.g. BYMONTH=2;BYMONTHDAY=31: the generator stops. It also stops past year 9999 and
 *   when `deadline` (Date.now() ms) passes, setting `state.truncated`.
 * - COUNT, UNTIL and DTSTART-as-first-instance are the caller's (`instances.ts`): this module
 *   knows nothing of time zones.
 */
import { ICalError } from "./component.ts";
import { dateOf, dayNumOf, daysInMonth, isLeapYear, weekdayOf, weekMatches } from "./gregorian.ts";
import { DAY, HOUR, type ICalTime, MINUTE, parseTimeText, SECOND } from "./values.ts";

export type Frequency =
  | "SECONDLY"
  | "MINUTELY"
  | "HOURLY"
  | "DAILY"
  | "WEEKLY"
  | "MONTHLY"
  | "YEARLY";

/** A BYDAY entry: weekday 0 = MO .. 6 = SU, `ordinal` 0 when absent. */
export interface WeekdayNum {
  ordinal: number;
  weekday: number;
}

export interface RecurRule {
  freq: Frequency;
  interval: number;
  count: number | null;
  until: ICalTime | null;
  bySecond: number[] | null;
  byMinute: number[] | null;
  byHour: number[] | null;
  byDay: WeekdayNum[] | null;
  byMonthDay: number[] | null;
  byYearDay: number[] | null;
  byWeekNo: number[] | null;
  byMonth: number[] | null;
  bySetPos: number[] | null;
  wkst: number;
}

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const FREQUENCIES = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];
const YEAR = 365.2425 * DAY;
const GREGORIAN_CYCLE_YEARS = 400;
const END_OF_9999 = Date.UTC(9999, 11, 31, 23, 59, 59);

function numberList(text: string, min: number, max: number, signed: boolean, part: string) {
  return text.split(",").map((item) => {
    if (!/^[+-]?\d{1,3}$/.test(item)) throw new ICalError(`RRULE ${part} value ${item}`);
    const n = parseInt(item, 10);
    const abs = Math.abs(n);
    if ((n < 0 && !signed) || abs < min || abs > max || (signed && n === 0)) {
      throw new ICalError(`RRULE ${part} value ${item} out of range`);
    }
    return n;
  });
}

/**
 * Parses an RRULE value; throws ICalError when a part is unknown-and-required or malformed.
 *
 * @example
 * parseRecurRule("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3");
 */
export function parseRecurRule(text: string): RecurRule {
  const rule: RecurRule = {
    freq: "DAILY",
    interval: 1,
    count: null,
    until: null,
    bySecond: null,
    byMinute: null,
    byHour: null,
    byDay: null,
    byMonthDay: null,
    byYearDay: null,
    byWeekNo: null,
    byMonth: null,
    bySetPos: null,
    wkst: 0,
  };
  let freq: string | null = null;
  for (const part of text.trim().split(";")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) throw new ICalError(`RRULE part without value: ${part}`);
    const name = part.slice(0, eq).toUpperCase();
    const value = part.slice(eq + 1).toUpperCase();
    switch (name) {
      case "FREQ":
        if (!FREQUENCIES.includes(value)) throw new ICalError(`RRULE FREQ ${value}`);
        freq = value;
        break;
      case "INTERVAL":
        if (!/^\d{1,6}$/.test(value) || +value === 0) {
          throw new ICalError(`RRULE INTERVAL ${value}`);
        }
        rule.interval = +value;
        break;
      case "COUNT":
        if (!/^\d{1,9}$/.test(value)) throw new ICalError(`RRULE COUNT ${value}`);
        rule.count = +value;
        break;
      case "UNTIL":
        rule.until = parseTimeText(value, null);
        if (rule.until === null) throw new ICalError(`RRULE UNTIL ${value}`);
        break;
      case "BYSECOND":
        rule.bySecond = numberList(value, 0, 60, false, name);
        break;
      case "BYMINUTE":
        rule.byMinute = numberList(value, 0, 59, false, name);
        break;
      case "BYHOUR":
        rule.byHour = numberList(value, 0, 23, false, name);
        break;
      case "BYMONTHDAY":
        rule.byMonthDay = numberList(value, 1, 31, true, name);
        break;
      case "BYYEARDAY":
        rule.byYearDay = numberList(value, 1, 366, true, name);
        break;
      case "BYWEEKNO":
        rule.byWeekNo = numberList(value, 1, 53, true, name);
        break;
      case "BYMONTH":
        rule.byMonth = numberList(value, 1, 12, false, name);
        break;
      case "BYSETPOS":
        rule.bySetPos = numberList(value, 1, 366, true, name);
        break;
      case "BYDAY":
        rule.byDay = value.split(",").map((item) => {
          const m = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/.exec(item);
          const ordinal = m?.[1] ? parseInt(m[1], 10) : 0;
          if (!m || Math.abs(ordinal) > 53 || (m[1] && ordinal === 0)) {
            throw new ICalError(`RRULE BYDAY value ${item}`);
          }
          return { ordinal, weekday: WEEKDAYS.indexOf(m[2]) };
        });
        break;
      case "WKST":
        if (!WEEKDAYS.includes(value)) throw new ICalError(`RRULE WKST ${value}`);
        rule.wkst = WEEKDAYS.indexOf(value);
        break;
      default:
        if (!name.startsWith("X-")) throw new ICalError(`RRULE part ${name}`);
    }
  }
  if (freq === null) throw new ICalError("RRULE without FREQ");
  rule.freq = freq as Frequency;
  if (rule.count !== null && rule.until !== null) {
    throw new ICalError("RRULE with both COUNT and UNTIL");
  }
  return rule;
}

function fieldsOf(civil: number) {
  const d = new Date(civil);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** The rule with RFC 5545's implied parts filled in from DTSTART. */
function withDefaults(rule: RecurRule, start: ReturnType<typeof fieldsOf>, startDay: number) {
  const r = { ...rule };
  const dayParts = r.byWeekNo || r.byYearDay || r.byMonthDay || r.byDay;
  if (r.freq === "YEARLY") {
    if (!dayParts) {
      r.byMonth ??= [start.month];
      r.byMonthDay = [start.day];
    } else if (r.byWeekNo && !r.byYearDay && !r.byMonthDay && !r.byDay) {
      r.byDay = [{ ordinal: 0, weekday: weekdayOf(startDay) }];
    }
  } else if (r.freq === "MONTHLY" && !dayParts) {
    r.byMonthDay = [start.day];
  } else if (r.freq === "WEEKLY" && !r.byDay && !r.byMonthDay && !r.byYearDay) {
    r.byDay = [{ ordinal: 0, weekday: weekdayOf(startDay) }];
  }
  return r;
}

export interface GeneratorState {
  truncated: boolean;
  deadline: number;
}

/**
 * Civil instants of `rule` from `dtstart` on, in increasing order, `dtstart` itself only if the
 * rule generates it. `skipTo` (civil) starts at the period holding it; only valid without COUNT.
 *
 * @example
 * for (const t of recurrenceCivil(rule, Date.UTC(1997, 8, 2, 9), state)) console.log(t);
 */
export function* recurrenceCivil(
  ruleIn: RecurRule,
  dtstart: number,
  state: GeneratorState,
  skipTo?: number,
): Generator<number> {
  const start = fieldsOf(dtstart);
  const startDay = Math.floor(dtstart / DAY);
  const rule = withDefaults(ruleIn, start, startDay);
  const { freq, interval } = rule;
  const seconds = (rule.bySecond ?? [start.second]).filter((s) => s < 60).sort((a, b) => a - b);
  const minutes = [...(rule.byMinute ?? [start.minute])].sort((a, b) => a - b);
  const hours = [...(rule.byHour ?? [start.hour])].sort((a, b) => a - b);
  const ordinalScope = freq === "MONTHLY" || (freq === "YEARLY" && rule.byMonth)
    ? "month"
    : freq === "YEARLY" && !rule.byWeekNo
    ? "year"
    : null;

  const dayMatches = (dayNum: number): boolean => {
    const [y, m, d] = dateOf(dayNum);
    if (rule.byMonth && !rule.byMonth.includes(m)) return false;
    if (rule.byWeekNo && !weekMatches(dayNum, rule.wkst, rule.byWeekNo)) return false;
    const jan1 = dayNumOf(y, 1, 1);
    const yearDay = dayNum - jan1 + 1;
    const yearLength = isLeapYear(y) ? 366 : 365;
    if (rule.byYearDay) {
      const neg = yearDay - yearLength - 1;
      if (!rule.byYearDay.some((n) => n === yearDay || n === neg)) return false;
    }
    const monthLength = daysInMonth(y, m);
    if (rule.byMonthDay) {
      const neg = d - monthLength - 1;
      if (!rule.byMonthDay.some((n) => n === d || n === neg)) return false;
    }
    if (rule.byDay) {
      const weekday = weekdayOf(dayNum);
      return rule.byDay.some(({ ordinal, weekday: wanted }) => {
        if (wanted !== weekday) return false;
        if (ordinal === 0 || ordinalScope === null) return true;
        const [pos, length] = ordinalScope === "month" ? [d, monthLength] : [yearDay, yearLength];
        return ordinal > 0
          ? Math.floor((pos - 1) / 7) + 1 === ordinal
          : -(Math.floor((length - pos) / 7) + 1) === ordinal;
      });
    }
    return true;
  };

  const product = (a: number[], b: number[], c: number[], ua: number, ub: number, uc: number) => {
    const out: number[] = [];
    for (const x of a) for (const y of b) for (const z of c) out.push(x * ua + y * ub + z * uc);
    return out;
  };
  const dailyTimes = product(hours, minutes, seconds, HOUR, MINUTE, SECOND);

  // Period bases: a year, a month index (y*12+m-1), a week's first day, or a unit count.
  const unit = freq === "HOURLY" ? HOUR : freq === "MINUTELY" ? MINUTE : SECOND;
  const base = freq === "YEARLY"
    ? start.year
    : freq === "MONTHLY"
    ? start.year * 12 + start.month - 1
    : freq === "WEEKLY"
    ? startDay - ((weekdayOf(startDay) - rule.wkst + 7) % 7)
    : freq === "DAILY"
    ? startDay
    : Math.floor(dtstart / unit);
  const step = freq === "WEEKLY" ? 7 * interval : interval;
  const periodYears = freq === "YEARLY"
    ? interval
    : freq === "MONTHLY"
    ? interval / 12
    : freq === "WEEKLY"
    ? (7 * interval * DAY) / YEAR
    : freq === "DAILY"
    ? (interval * DAY) / YEAR
    : (interval * unit) / YEAR;
  const silentLimit = GREGORIAN_CYCLE_YEARS * Math.max(1, periodYears) * YEAR;

  let k = 0;
  if (skipTo !== undefined && skipTo > dtstart) {
    const to = fieldsOf(skipTo);
    const toDay = Math.floor(skipTo / DAY);
    const position = freq === "YEARLY"
      ? to.year
      : freq === "MONTHLY"
      ? to.year * 12 + to.month - 1
      : freq === "WEEKLY"
      ? toDay - ((weekdayOf(toDay) - rule.wkst + 7) % 7)
      : freq === "DAILY"
      ? toDay
      : Math.floor(skipTo / unit);
    k = Math.max(0, Math.floor((position - base) / step));
  }
  let lastHit = Math.max(dtstart, skipTo ?? dtstart);
  let cachedDay = NaN;
  let cachedDayMatches = false;
  let periods = 0;

  for (;; k++) {
    if ((++periods & 255) === 0 && Date.now() > state.deadline) {
      state.truncated = true;
      return;
    }
    let days: number[];
    let times = dailyTimes;
    let periodStart: number;
    if (freq === "YEARLY" || freq === "MONTHLY") {
      const index = base + k * step;
      const [y, firstMonth, lastMonth] = freq === "YEARLY"
        ? [index, 1, 12]
        : [Math.floor(index / 12), (index % 12) + 1, (index % 12) + 1];
      if (y > 9999) return;
      periodStart = dayNumOf(y, firstMonth, 1) * DAY;
      days = [];
      for (let m = firstMonth; m <= lastMonth; m++) {
        if (rule.byMonth && !rule.byMonth.includes(m)) continue;
        const first = dayNumOf(y, m, 1);
        const length = daysInMonth(y, m);
        for (let d = 0; d < length; d++) if (dayMatches(first + d)) days.push(first + d);
      }
    } else if (freq === "WEEKLY" || freq === "DAILY") {
      const first = base + k * step;
      periodStart = first * DAY;
      days = [];
      for (let d = 0; d < (freq === "WEEKLY" ? 7 : 1); d++) {
        if (dayMatches(first + d)) days.push(first + d);
      }
    } else {
      periodStart = (base + k * step) * unit;
      const day = Math.floor(periodStart / DAY);
      if (day !== cachedDay) {
        cachedDay = day;
        cachedDayMatches = dayMatches(day);
      }
      const msOfDay = periodStart - day * DAY;
      const f = {
        hour: Math.floor(msOfDay / HOUR),
        minute: Math.floor((msOfDay % HOUR) / MINUTE),
        second: Math.floor((msOfDay % MINUTE) / SECOND),
      };
      let skipUntil: number | null = null;
      if (!cachedDayMatches) skipUntil = (day + 1) * DAY;
      else if (rule.byHour && !rule.byHour.includes(f.hour)) {
        skipUntil = Math.floor(periodStart / HOUR + 1) * HOUR;
      } else if (freq === "SECONDLY" && rule.byMinute && !rule.byMinute.includes(f.minute)) {
        skipUntil = Math.floor(periodStart / MINUTE + 1) * MINUTE;
      }
      days = [day];
      const offset = periodStart - day * DAY;
      if (skipUntil !== null) {
        times = [];
        const next = Math.ceil((skipUntil / unit - base) / step);
        k = Math.max(k, next - 1);
      } else if (freq === "HOURLY") {
        times = product([offset], minutes, seconds, 1, MINUTE, SECOND);
      } else if (freq === "MINUTELY") {
        times = rule.byMinute && !rule.byMinute.includes(f.minute)
          ? []
          : product([offset], [0], seconds, 1, 0, SECOND);
      } else {
        times = rule.bySecond && !rule.bySecond.includes(f.second) ? [] : [offset];
      }
    }
    if (periodStart >= END_OF_9999) return;

    const total = days.length * times.length;
    let hit = false;
    const emit = (index: number) =>
      days[Math.floor(index / times.length)] * DAY +
      times[index % times.length];
    if (total > 0 && rule.bySetPos) {
      const picked = [...new Set(rule.bySetPos.map((p) => (p > 0 ? p - 1 : total + p)))]
        .filter((i) => i >= 0 && i < total)
        .sort((a, b) => a - b);
      for (const index of picked) {
        const t = emit(index);
        if (t >= dtstart) {
          hit = true;
          lastHit = t;
          yield t;
        }
      }
    } else {
      for (let index = 0; index < total; index++) {
        const t = emit(index);
        if (t >= dtstart) {
          hit = true;
          lastHit = t;
          yield t;
        }
      }
    }
    if (!hit && periodStart - lastHit > silentLimit) return;
  }
}
