/**
 * Recurrence sets (RFC 5545 3.8.5): the instances of a VEVENT, VTODO or VJOURNAL with its
 * overrides, as UTC intervals.
 *
 * Implementation notes:
 * - DTSTART is always the first instance and counts toward COUNT (RFC 5545 3.3.10); RDATEs
 *   (DATE, DATE-TIME or PERIOD) are added, EXDATEs removed, and an instance whose
 *   RECURRENCE-ID matches an override is replaced by that override's own DTSTART/DTEND
 *   (RFC 5545 3.8.4.4). A RANGE=THISANDFUTURE override also replaces every later instance,
 *   moved by the same offset and given its duration (RFC 5545 3.2.13).
 * - Durations follow RFC 5545 3.8.5.3 and RFC 4791 9.9: DTEND (or DUE) gives the exact duration
 *   of every instance; DURATION's days are nominal (same local time after a DST change) and its
 *   time part exact; a DATE start without either lasts one day, a DATE-TIME start zero.
 * - Every expansion shares one `Expansion`: it stops, marking `truncated`, after
 *   `limits.maxInstances` instances or `limits.expansionBudgetMs` of wall time, whatever the
 *   rule. Without COUNT, iteration starts at the period holding the window's start, so a
 *   query 100 years after DTSTART costs no more than one next to it (Stalwart's
 *   CVE-2025-59045 was an unbounded expansion).
 * - Instances are yielded lazily so a filter can stop at its first match; order is not
 *   guaranteed (callers that need it sort).
 */
import {
  ICalError,
  type ICalLimits,
  param,
  propertiesNamed,
  property,
  type VComponent,
} from "./component.ts";
import { parseRecurRule, recurrenceCivil, type RecurRule } from "./recur.ts";
import { ZoneResolver } from "./timezone.ts";
import {
  DAY,
  type Duration,
  HOUR,
  type ICalTime,
  parseDuration,
  parsePeriod,
  parseTimeText,
  propertyTime,
} from "./values.ts";

/** One occurrence, in UTC epoch ms; `recurrenceId` is null for a non-recurring component. */
export interface Instance {
  start: number;
  end: number;
  recurrenceId: number | null;
  component: VComponent;
}

/** The shared state and bounds of one expansion. */
export interface Expansion {
  zones: ZoneResolver;
  limits: ICalLimits;
  deadline: number;
  produced: number;
  truncated: boolean;
}

export function newExpansion(
  root: VComponent,
  limits: ICalLimits,
  floatingZone?: string,
): Expansion {
  return {
    zones: new ZoneResolver(root, floatingZone),
    limits,
    deadline: Date.now() + limits.expansionBudgetMs,
    produced: 0,
    truncated: false,
  };
}

/** A master (no RECURRENCE-ID) and its overrides, sharing one UID. */
export interface RecurrenceGroup {
  master: VComponent | null;
  overrides: VComponent[];
}

export const RECURRING_COMPONENTS = ["VEVENT", "VTODO", "VJOURNAL"];

/** The VEVENTs, VTODOs and VJOURNALs of a VCALENDAR grouped by UID. */
export function groupComponents(root: VComponent): RecurrenceGroup[] {
  const groups = new Map<string, RecurrenceGroup>();
  const loose: RecurrenceGroup[] = [];
  for (const c of root.components) {
    if (!RECURRING_COMPONENTS.includes(c.name)) continue;
    const uid = property(c, "UID")?.value;
    const isOverride = property(c, "RECURRENCE-ID") !== undefined;
    if (uid === undefined) {
      loose.push({ master: c, overrides: [] });
      continue;
    }
    const key = `${c.name}\u0000${uid}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = { master: null, overrides: [] });
    if (isOverride) group.overrides.push(c);
    else if (group.master === null) group.master = c;
    else loose.push({ master: c, overrides: [] });
  }
  return [...groups.values(), ...loose];
}

function timeOf(c: VComponent, name: string): ICalTime | null {
  const prop = property(c, name);
  if (prop === undefined) return null;
  try {
    return propertyTime(prop);
  } catch {
    return null;
  }
}

/** How an instance's end follows from its start: an exact span, or a nominal duration. */
type EndRule = { exact: number } | { nominal: Duration };

function endRule(x: Expansion, c: VComponent, start: ICalTime): EndRule {
  const endName = c.name === "VTODO" ? "DUE" : c.name === "VEVENT" ? "DTEND" : null;
  const end = endName ? timeOf(c, endName) : null;
  if (end !== null) return { exact: Math.max(0, x.zones.toUtc(end) - x.zones.toUtc(start)) };
  const durationProp = c.name === "VJOURNAL" ? undefined : property(c, "DURATION");
  const duration = durationProp ? parseDuration(durationProp.value) : null;
  if (duration !== null) return { nominal: duration };
  return start.kind === "date" && c.name !== "VTODO" ? { nominal: { days: 1, ms: 0 } } : {
    exact: 0,
  };
}

function endOf(x: Expansion, start: ICalTime, startUtc: number, rule: EndRule): number {
  if ("exact" in rule) return startUtc + rule.exact;
  const { days, ms } = rule.nominal;
  const shifted = days === 0
    ? startUtc
    : x.zones.toUtc({ ...start, civil: start.civil + days * DAY });
  return Math.max(startUtc, shifted + ms);
}

/** The single interval of a component read on its own (no recurrence). */
export function ownInterval(x: Expansion, c: VComponent): { start: number; end: number } | null {
  const start = timeOf(c, "DTSTART");
  if (start !== null) {
    const startUtc = x.zones.toUtc(start);
    return { start: startUtc, end: endOf(x, start, startUtc, endRule(x, c, start)) };
  }
  if (c.name !== "VTODO") return null;
  const due = timeOf(c, "DUE");
  if (due !== null) {
    const at = x.zones.toUtc(due);
    return { start: at, end: at };
  }
  const completed = timeOf(c, "COMPLETED");
  const created = timeOf(c, "CREATED");
  const points = [completed, created].filter((t) => t !== null).map((t) => x.zones.toUtc(t!));
  if (completed !== null) return { start: Math.min(...points), end: Math.max(...points) };
  if (created !== null) return { start: points[0], end: Infinity };
  return { start: -Infinity, end: Infinity };
}

/** The UTC instant a RECURRENCE-ID names, or null when it does not parse. */
export function recurrenceIdOf(x: Expansion, c: VComponent): number | null {
  const rid = timeOf(c, "RECURRENCE-ID");
  return rid === null ? null : x.zones.toUtc(rid);
}

function untilPassed(rule: RecurRule, start: ICalTime, civil: number, utc: number): boolean {
  const until = rule.until;
  if (until === null) return false;
  if (until.kind === "utc") return utc > until.civil;
  if (until.kind === "date" && start.kind !== "date") return civil >= until.civil + DAY;
  return civil > until.civil;
}

/**
 * The instances of one group whose closed interval meets [windowStart, windowEnd].
 *
 * @example
 * for (const i of groupInstances(x, group, 0, Infinity)) console.log(i.start);
 */
export function* groupInstances(
  x: Expansion,
  group: RecurrenceGroup,
  windowStart: number,
  windowEnd: number,
): Generator<Instance> {
  const inWindow = (start: number, end: number) => start <= windowEnd && end >= windowStart;
  const overridden = new Set<number>();
  const futures: { rid: number; shift: number; length: number; component: VComponent }[] = [];
  for (const c of group.overrides) {
    const rid = recurrenceIdOf(x, c);
    if (rid === null) continue;
    overridden.add(rid);
    const own = ownInterval(x, c) ?? { start: rid, end: rid };
    const range = param(property(c, "RECURRENCE-ID")!, "RANGE")?.toUpperCase();
    if (range === "THISANDFUTURE" && Number.isFinite(own.start) && Number.isFinite(own.end)) {
      futures.push({ rid, shift: own.start - rid, length: own.end - own.start, component: c });
    }
    if (!inWindow(own.start, own.end)) continue;
    if (++x.produced > x.limits.maxInstances) {
      x.truncated = true;
      return;
    }
    yield { ...own, recurrenceId: rid, component: c };
  }
  const master = group.master;
  if (master === null) return;
  const start = timeOf(master, "DTSTART");
  const rrules = propertiesNamed(master, "RRULE");
  const rdates = propertiesNamed(master, "RDATE");
  if (start === null || (rrules.length === 0 && rdates.length === 0)) {
    const own = ownInterval(x, master);
    if (own === null || !inWindow(own.start, own.end)) return;
    if (start !== null && overridden.has(own.start)) return;
    if (++x.produced > x.limits.maxInstances) {
      x.truncated = true;
      return;
    }
    yield { ...own, recurrenceId: null, component: master };
    return;
  }
  const ends = endRule(x, master, start);
  const exdates = new Set<number>();
  const exdateDays = new Set<number>();
  for (const prop of propertiesNamed(master, "EXDATE")) {
    for (const value of prop.value.split(",")) {
      const time = parseTimeText(value.trim(), param(prop, "TZID") ?? null);
      if (time === null) continue;
      if (time.kind === "date" && start.kind !== "date") exdateDays.add(time.civil / DAY);
      else exdates.add(x.zones.toUtc(time));
    }
  }
  const seen = new Set<number>();
  let steps = 0;
  // RFC 5545 3.8.4.4: a RANGE=THISANDFUTURE override shifts and replaces every later instance
  // (the latest such override before an instance wins).
  futures.sort((a, b) => a.rid - b.rid);
  const reach = futures.reduce((r, f) => Math.max(r, Math.abs(f.shift) + f.length), 0);
  const occurrence = (civil: number, startUtc: number, endUtc: number): Instance | null => {
    if (exdates.has(startUtc) || exdateDays.has(Math.floor(civil / DAY))) return null;
    if (overridden.has(startUtc)) return null;
    let instance: Instance = {
      start: startUtc,
      end: endUtc,
      recurrenceId: startUtc,
      component: master,
    };
    const future = futures.findLast((f) => f.rid < startUtc);
    if (future) {
      const shifted = startUtc + future.shift;
      instance = {
        ...instance,
        start: shifted,
        end: shifted + future.length,
        component: future.component,
      };
    }
    if (!inWindow(instance.start, instance.end)) return null;
    if (++x.produced > x.limits.maxInstances) {
      x.truncated = true;
      return null;
    }
    return instance;
  };

  for (const prop of rdates) {
    const tzid = param(prop, "TZID") ?? null;
    for (const value of prop.value.split(",")) {
      const period = value.includes("/") ? parsePeriod(value.trim(), tzid) : null;
      const time = period?.start ?? parseTimeText(value.trim(), tzid);
      if (time === null) continue;
      const startUtc = x.zones.toUtc(time);
      const endUtc = period === null
        ? endOf(x, time, startUtc, ends)
        : period.end !== null
        ? Math.max(startUtc, x.zones.toUtc(period.end))
        : endOf(x, time, startUtc, { nominal: period.duration! });
      if (seen.has(startUtc)) continue;
      seen.add(startUtc);
      const instance = occurrence(time.civil, startUtc, endUtc);
      if (instance) yield instance;
      if (x.truncated) return;
    }
  }

  let rule: RecurRule | null = null;
  if (rrules.length > 0) {
    try {
      rule = parseRecurRule(rrules[0].value);
    } catch (error) {
      if (!(error instanceof ICalError)) throw error;
    }
  }
  const firstUtc = x.zones.toUtc(start);
  if (!seen.has(firstUtc)) {
    seen.add(firstUtc);
    const first = occurrence(start.civil, firstUtc, endOf(x, start, firstUtc, ends));
    if (first) yield first;
    if (x.truncated) return;
  }
  if (rule === null) return;
  const span = reach + ("exact" in ends ? ends.exact : Math.abs(ends.nominal.days) * DAY +
    Math.abs(ends.nominal.ms));
  // Civil time runs ahead of UTC by the zone's offset; 3 hours cover any DST shift near it.
  const offset = start.kind === "utc" || !Number.isFinite(windowStart)
    ? 0
    : x.zones.zoneOf(start).offsetAt(windowStart - span);
  const skipTo = rule.count === null && Number.isFinite(windowStart)
    ? windowStart - span + offset - (start.kind === "utc" ? 0 : 3 * HOUR)
    : undefined;
  const endOffset = start.kind === "utc" || !Number.isFinite(windowEnd)
    ? 0
    : x.zones.zoneOf(start).offsetAt(windowEnd) + 3 * HOUR;
  const stopAfter = windowEnd + endOffset + reach;
  const state = { truncated: false, deadline: x.deadline };
  let count = 1;
  for (const civil of recurrenceCivil(rule, start.civil, state, skipTo)) {
    if (civil === start.civil) continue;
    if ((++steps & 63) === 0 && Date.now() > x.deadline) {
      x.truncated = true;
      return;
    }
    if (rule.count !== null && ++count > rule.count) return;
    if (civil > stopAfter) return;
    const time = { ...start, civil };
    const startUtc = x.zones.toUtc(time);
    if (untilPassed(rule, start, civil, startUtc)) return;
    if (seen.has(startUtc)) continue;
    const instance = occurrence(civil, startUtc, endOf(x, time, startUtc, ends));
    if (instance) yield instance;
    if (x.truncated) return;
  }
  if (state.truncated) x.truncated = true;
}

/** Every instance of every recurring component in a VCALENDAR meeting the closed window. */
export function* rootInstances(
  x: Expansion,
  root: VComponent,
  windowStart: number,
  windowEnd: number,
): Generator<Instance> {
  for (const group of groupComponents(root)) {
    yield* groupInstances(x, group, windowStart, windowEnd);
    if (x.truncated) return;
  }
}
