/**
 * Time zones: turning local ("civil") date-times into UTC instants (RFC 5545 3.3.5, 3.6.5).
 *
 * Implementation notes:
 * - A TZID resolves to the object's own VTIMEZONE first, then to an IANA name via
 *   Intl.DateTimeFormat (Deno ships full ICU). Unknown TZIDs resolve to nothing; validation
 *   refuses them, and expansion treats such times as floating.
 * - Local times in a gap are shifted forward by the gap's length; in an overlap the first
 *   occurrence is meant (RFC 5545 3.3.5, "FORM #3").
 * - An IANA zone's offsets are read from Intl once per year and zone: sampled weekly, each change
 *   located to the second by bisection (a change undone within a week would be missed; none
 *   zone has had one since 1970). Lookups are then a table scan, not an Intl call.
 * - A VTIMEZONE's transitions are computed lazily, decades at a time, from each STANDARD and
 *   DAYLIGHT observance's DTSTART, RRULE and RDATE; onsets are local in TZOFFSETFROM.
 * - Floating times and DATEs use `floatingZone` (an IANA name) or UTC.
 */
import { propertiesNamed, property, type VComponent } from "./component.ts";
import { parseRecurRule, recurrenceCivil } from "./recur.ts";
import { DAY, HOUR, type ICalTime, MINUTE, parseDateTime, SECOND } from "./values.ts";

/** A time zone: the UTC offset (ms, local minus UTC) in force at an instant. */
export interface Zone {
  offsetAt(utc: number): number;
}

export const UTC_ZONE: Zone = { offsetAt: () => 0 };

const ianaZones = new Map<string, Zone>();
/** The last instant a Date can hold, less a day so local fields stay representable. */
const MAX_INSTANT = 8.64e15 - DAY;
const WEEK = 7 * DAY;
/** Transitions one VTIMEZONE observance may produce (12,000 = monthly for 1,000 years). */
const MAX_OBSERVANCE_TRANSITIONS = 12_000;

/** The IANA zone `name` as Intl knows it, or null. */
export function ianaZone(name: string): Zone | null {
  const cached = ianaZones.get(name);
  if (cached) return cached;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: name,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
  } catch {
    return null;
  }
  const rawOffset = (utc: number): number => {
    const fields: Record<string, number> = {};
    let bc = false;
    for (const part of format.formatToParts(utc)) {
      if (part.type === "era") bc = part.value.startsWith("B");
      else if (part.type !== "literal") fields[part.type] = parseInt(part.value, 10);
    }
    const local = new Date(
      Date.UTC(2000, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second),
    );
    local.setUTCFullYear(bc ? 1 - fields.year : fields.year);
    return local.getTime() - utc;
  };
  const years = new Map<number, { starts: number[]; offsets: number[] }>();
  const yearTable = (year: number) => {
    const cached = years.get(year);
    if (cached) return cached;
    const from = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(year);
    const to = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(year + 1);
    const table = { starts: [from], offsets: [rawOffset(from)] };
    let previous = from;
    for (let t = from + WEEK; previous < to; t += WEEK) {
      const at = Math.min(t, to);
      const offset = rawOffset(at);
      const before = table.offsets[table.offsets.length - 1];
      if (offset !== before) {
        let lo = previous;
        let hi = at;
        while (hi - lo > SECOND) {
          const mid = Math.floor((lo + hi) / 2 / SECOND) * SECOND;
          if (rawOffset(mid) === before) lo = mid;
          else hi = mid;
        }
        table.starts.push(hi);
        table.offsets.push(offset);
      }
      previous = at;
    }
    years.set(year, table);
    return table;
  };
  const zone: Zone = {
    offsetAt(utc: number): number {
      if (Number.isNaN(utc)) return 0;
      const at = Math.floor(Math.min(Math.max(utc, -MAX_INSTANT), MAX_INSTANT) / SECOND) * SECOND;
      const { starts, offsets } = yearTable(new Date(at).getUTCFullYear());
      let i = starts.length - 1;
      while (i > 0 && starts[i] > at) i--;
      return offsets[i];
    },
  };
  ianaZones.set(name, zone);
  return zone;
}

/** The UTC instant of civil time `civil` in `zone`, gaps shifted forward, overlaps first. */
export function localToUtc(zone: Zone, civil: number): number {
  const early = zone.offsetAt(civil - 36 * HOUR);
  const late = zone.offsetAt(civil + 36 * HOUR);
  const first = civil - early;
  if (early === late) {
    const offset = zone.offsetAt(first);
    return offset === early ? first : civil - offset;
  }
  const second = civil - late;
  const firstValid = zone.offsetAt(first) === early;
  const secondValid = zone.offsetAt(second) === late;
  if (firstValid && secondValid) return Math.min(first, second);
  if (firstValid) return first;
  if (secondValid) return second;
  return first;
}

/** Civil time in `zone` at instant `utc`. */
export function utcToLocal(zone: Zone, utc: number): number {
  return utc + zone.offsetAt(utc);
}

function parseOffset(text: string | undefined): number | null {
  const m = /^([+-])(\d{2})(\d{2})(\d{2})?$/.exec(text?.trim() ?? "");
  if (!m) return null;
  const ms = +m[2] * HOUR + +m[3] * MINUTE + (m[4] ? +m[4] * SECOND : 0);
  return m[1] === "-" ? -ms : ms;
}

interface Observance {
  start: number;
  from: number;
  to: number;
  rrule: string | null;
  rdates: number[];
}

/** VTIMEZONE transition tables computed and their entries (tests: the work stays small). */
export const vtimezoneStats = { computations: 0, transitions: 0 };

/** A zone defined by a VTIMEZONE component (RFC 5545 3.6.5); null if it defines nothing. */
export function vtimezoneZone(vtimezone: VComponent): Zone | null {
  const observances: Observance[] = [];
  for (const sub of vtimezone.components) {
    if (sub.name !== "STANDARD" && sub.name !== "DAYLIGHT") continue;
    const dtstart = property(sub, "DTSTART");
    const start = dtstart ? parseDateTime(dtstart.value.trim(), null) : null;
    const from = parseOffset(property(sub, "TZOFFSETFROM")?.value);
    const to = parseOffset(property(sub, "TZOFFSETTO")?.value);
    if (start === null || from === null || to === null) continue;
    const rdates = propertiesNamed(sub, "RDATE").flatMap((p) =>
      p.value.split(",").map((v) => parseDateTime(v.trim().split("/")[0], null)?.civil ?? null)
        .filter((v): v is number => v !== null)
    );
    observances.push({
      start: start.civil,
      from,
      to,
      rrule: property(sub, "RRULE")?.value ?? null,
      rdates,
    });
  }
  if (observances.length === 0) return null;
  let transitions: { at: number; offset: number }[] = [];
  let computedUntil = -Infinity;
  let before = 0;

  const compute = (untilUtc: number) => {
    vtimezoneStats.computations++;
    computedUntil = untilUtc;
    const list: { at: number; offset: number }[] = [];
    for (const o of observances) {
      list.push({ at: o.start - o.from, offset: o.to });
      for (const r of o.rdates) {
        if (r - o.from <= untilUtc) list.push({ at: r - o.from, offset: o.to });
      }
      if (o.rrule === null) continue;
      let rule;
      try {
        rule = parseRecurRule(o.rrule);
      } catch {
        continue;
      }
      // Real observances recur yearly (or monthly at most); a finer rule is not a time zone
      // and would cost a transition per second: only its DTSTART and RDATEs count.
      if (rule.freq !== "YEARLY" && rule.freq !== "MONTHLY") continue;
      const state = { truncated: false, deadline: Infinity };
      let count = 1;
      let produced = 0;
      for (const civil of recurrenceCivil(rule, o.start, state)) {
        const at = civil - o.from;
        if (at > untilUtc || ++produced > MAX_OBSERVANCE_TRANSITIONS) break;
        const until = rule.until;
        if (
          until !== null &&
          (until.kind === "utc"
            ? at > until.civil
            : until.kind === "date"
            ? civil >= until.civil + DAY
            : civil > until.civil)
        ) break;
        if (rule.count !== null && ++count > rule.count) break;
        if (civil !== o.start) list.push({ at, offset: o.to });
      }
    }
    list.sort((a, b) => a.at - b.at);
    vtimezoneStats.transitions += list.length;
    transitions = list;
    const earliest = observances.reduce((a, b) => (b.start - b.from < a.start - a.from ? b : a));
    before = earliest.from;
  };

  return {
    offsetAt(utc: number): number {
      if (utc > computedUntil) {
        const year = new Date(Math.min(utc, 253402300799000)).getUTCFullYear();
        // Fifty years ahead, or to the end once that passes year 9999: never just up to `utc`,
        // which would recompute the table for every later instant asked.
        const horizon = year + 50 > 9999 ? Infinity : Date.UTC(year + 50, 0, 1);
        compute(Math.max(utc, horizon));
      }
      let lo = 0;
      let hi = transitions.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (transitions[mid].at <= utc) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found < 0 ? before : transitions[found].offset;
    },
  };
}

/** Zones of VTIMEZONE definitions seen lately, by their observances (see sharedVtimezoneZone). */
const vtimezoneCache = new Map<string, Zone | null>();
const VTIMEZONE_CACHE_SIZE = 256;

/**
 * The zone of a VTIMEZONE, shared by every object carrying the same definition: a calendar's
 * events repeat one VTIMEZONE, and computing its transitions per object cost more than the
 * rest of a calendar-query. Keyed by the observances' defining properties; least recently used
 * definitions go first.
 */
function sharedVtimezoneZone(vtimezone: VComponent): Zone | null {
  const key = vtimezone.components
    .filter((c) => c.name === "STANDARD" || c.name === "DAYLIGHT")
    .map((c) =>
      [
        c.name,
        ...c.properties
          .filter((p) =>
            ["DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "RRULE", "RDATE"].includes(p.name)
          )
          .map((p) => `${p.name}:${p.value}`),
      ].join("\n")
    )
    .join("\n\n");
  if (vtimezoneCache.has(key)) {
    const zone = vtimezoneCache.get(key)!;
    vtimezoneCache.delete(key);
    vtimezoneCache.set(key, zone);
    return zone;
  }
  const zone = vtimezoneZone(vtimezone);
  vtimezoneCache.set(key, zone);
  if (vtimezoneCache.size > VTIMEZONE_CACHE_SIZE) {
    vtimezoneCache.delete(vtimezoneCache.keys().next().value!);
  }
  return zone;
}

/**
 * An IANA zone named by a TZID, also when it ends a path such as Mozilla's
 * "/mozilla.org/20050126_1/America/New_York" (RFC 5545 3.2.19 allows any unique prefix).
 */
function ianaZoneInPath(tzid: string): Zone | null {
  const parts = tzid.split("/").filter((p) => p !== "");
  for (let n = Math.min(3, parts.length); n >= 1; n--) {
    const zone = ianaZone(parts.slice(-n).join("/"));
    if (zone) return zone;
  }
  return null;
}

/** Resolves the TZIDs of one object and converts its times to UTC. */
export class ZoneResolver {
  private readonly zones = new Map<string, Zone | null>();
  private readonly vtimezones = new Map<string, VComponent>();
  readonly floating: Zone;

  constructor(root: VComponent, floatingZone?: string) {
    for (const c of root.components) {
      const tzid = c.name === "VTIMEZONE" ? property(c, "TZID")?.value.trim() : undefined;
      if (tzid !== undefined && !this.vtimezones.has(tzid)) this.vtimezones.set(tzid, c);
    }
    this.floating = (floatingZone && ianaZone(floatingZone)) || UTC_ZONE;
  }

  /** The zone `tzid` names, or null when neither the object nor Intl knows it. */
  zone(tzid: string): Zone | null {
    if (this.zones.has(tzid)) return this.zones.get(tzid)!;
    const vtimezone = this.vtimezones.get(tzid);
    const zone = (vtimezone && sharedVtimezoneZone(vtimezone)) || ianaZoneInPath(tzid);
    this.zones.set(tzid, zone);
    return zone;
  }

  /** The zone a time is interpreted in: its TZID's, UTC, or the floating zone. */
  zoneOf(time: ICalTime): Zone {
    if (time.kind === "utc") return UTC_ZONE;
    if (time.kind === "zoned" && time.tzid !== null) return this.zone(time.tzid) ?? this.floating;
    return this.floating;
  }

  toUtc(time: ICalTime): number {
    return time.kind === "utc" ? time.civil : localToUtc(this.zoneOf(time), time.civil);
  }
}
