/**
 * CalDAV time-range semantics (RFC 4791 9.9): when an instance overlaps a range, when a VALARM
 * triggers, and the public `expandInstances`.
 *
 * Implementation notes:
 * - A range is [start, end) in UTC ms; a missing bound is -Infinity or +Infinity.
 * - Instances come from `instances.ts` for a slightly larger closed window; the exact
 *   comparisons of the RFC 4791 9.9 tables are made here, per component type.
 */
import { type ICalLimits, param, property, type VComponent, type VProperty } from "./component.ts";
import {
  type Expansion,
  groupComponents,
  groupInstances,
  type Instance,
  newExpansion,
} from "./instances.ts";
import { DAY, parseDuration, parsePeriod, propertyTime } from "./values.ts";

/** Whether an instance overlaps [rangeStart, rangeEnd) by the RFC 4791 9.9 table for its type. */
export function instanceOverlaps(
  instance: Instance,
  rangeStart: number,
  rangeEnd: number,
): boolean {
  const { start, end, component } = instance;
  const has = (name: string) => property(component, name) !== undefined;
  if (component.name === "VTODO") {
    if (has("DTSTART")) {
      if (has("DURATION")) return rangeStart <= end && (rangeEnd > start || rangeEnd >= end);
      if (has("DUE")) {
        return (rangeStart < end || rangeStart <= start) && (rangeEnd > start || rangeEnd >= end);
      }
      return rangeStart <= start && rangeEnd > start;
    }
    if (has("DUE")) return rangeStart < end && rangeEnd >= end;
    if (has("COMPLETED")) return rangeStart <= end && rangeEnd >= start;
    if (has("CREATED")) return rangeEnd > start;
    return true;
  }
  if (end > start) return rangeStart < end && rangeEnd > start;
  return rangeStart <= start && rangeEnd > start;
}

/** The UTC [start, end) of each PERIOD value of a property such as FREEBUSY (RFC 5545 3.3.9). */
export function periodsOf(x: Expansion, prop: VProperty): [number, number][] {
  const periods: [number, number][] = [];
  for (const value of prop.value.split(",")) {
    const period = parsePeriod(value.trim(), param(prop, "TZID") ?? null);
    if (period === null) continue;
    const start = x.zones.toUtc(period.start);
    const end = period.end !== null
      ? x.zones.toUtc(period.end)
      : start + period.duration!.days * DAY + period.duration!.ms;
    periods.push([start, Math.max(start, end)]);
  }
  return periods;
}

/**
 * The trigger instants of a VALARM for one instance of its parent (RFC 5545 3.8.6.3, with
 * REPEAT and DURATION repetitions, 3.8.6.2); [] when TRIGGER is missing or malformed.
 */
export function alarmTriggers(x: Expansion, alarm: VComponent, instance: Instance): number[] {
  const trigger = property(alarm, "TRIGGER");
  if (trigger === undefined) return [];
  let first: number;
  if ((param(trigger, "VALUE") ?? "").toUpperCase() === "DATE-TIME") {
    try {
      first = x.zones.toUtc(propertyTime(trigger));
    } catch {
      return [];
    }
  } else {
    const offset = parseDuration(trigger.value);
    if (offset === null) return [];
    const related = (param(trigger, "RELATED") ?? "START").toUpperCase();
    const anchor = related === "END" ? instance.end : instance.start;
    if (!Number.isFinite(anchor)) return [];
    first = anchor + offset.days * DAY + offset.ms;
  }
  const triggers = [first];
  const repeat = parseInt(property(alarm, "REPEAT")?.value ?? "0", 10);
  const every = parseDuration(property(alarm, "DURATION")?.value ?? "");
  if (repeat > 0 && every !== null) {
    const step = every.days * DAY + every.ms;
    for (let i = 1; i <= Math.min(repeat, 1000) && step > 0; i++) triggers.push(first + i * step);
  }
  return triggers;
}

/** How far from its instance an alarm can trigger, to widen an expansion window. */
export function alarmReach(alarm: VComponent): number {
  const trigger = property(alarm, "TRIGGER");
  if (trigger === undefined) return 0;
  if ((param(trigger, "VALUE") ?? "").toUpperCase() === "DATE-TIME") return Infinity;
  const offset = parseDuration(trigger.value);
  const every = parseDuration(property(alarm, "DURATION")?.value ?? "");
  const repeat = Math.min(1000, parseInt(property(alarm, "REPEAT")?.value ?? "0", 10) || 0);
  const size = (d: { days: number; ms: number } | null) =>
    d === null ? 0 : Math.abs(d.days * DAY + d.ms);
  return size(offset) + repeat * size(every);
}

/**
 * The instances of the VEVENTs, VTODOs and VJOURNALs in `root` overlapping [rangeStart,
 * rangeEnd) (RFC 4791 9.9), sorted by start; `truncated` when a limit stopped the expansion.
 *
 * @example
 * const { instances } = expandInstances(root, Date.UTC(2026, 0), Date.UTC(2027, 0), limits);
 */
export function expandInstances(
  root: VComponent,
  rangeStart: number,
  rangeEnd: number,
  limits: ICalLimits,
  floatingZone?: string,
): { instances: Instance[]; truncated: boolean } {
  const x = newExpansion(root, limits, floatingZone);
  const instances: Instance[] = [];
  for (const group of groupComponents(root)) {
    for (const instance of groupInstances(x, group, rangeStart, rangeEnd)) {
      if (instanceOverlaps(instance, rangeStart, rangeEnd)) instances.push(instance);
    }
    if (x.truncated) break;
  }
  instances.sort((a, b) => a.start - b.start || (a.recurrenceId ?? 0) - (b.recurrenceId ?? 0));
  return { instances, truncated: x.truncated };
}
