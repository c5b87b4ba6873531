/**
 * Validation of a calendar object resource a client stores (RFC 4791 4.1, 5.3.2.1), and the
 * UTC span the server indexes it by for time-range queries.
 *
 * Implementation notes:
 * - Lenient like Radicale: refuse only what cannot be interpreted. A missing PRODID or VERSION
 *   is accepted; a VERSION other than 2.0 is not (RFC 5545 3.7.4).
 * - Preconditions (RFC 4791 5.3.2.1): unparseable data, dates, RRULEs or TZIDs are
 *   valid-calendar-data; METHOD, mixed component types or UIDs, a second master, an override
 *   with another UID, a VEVENT without DTSTART, DTEND with DURATION (DUE with DURATION) are
 *   valid-calendar-object-resource; a type the collection does not take is
 *   supported-calendar-component.
 * - The span covers every instance (and VALARM trigger) over the whole recurrence set; an
 *   infinite or truncated set has no end (null). Floating times are read as UTC and widened by
 *   14 hours each way, the largest UTC offset in use, so no floating instance falls outside.
 *   Bounds are inclusive: an object can only match a range [s, e) if timeStart <= e and
 *   timeEnd >= s (zero-length instances sit exactly on their start).
 */
import {
  ICalError,
  type ICalLimits,
  param,
  propertiesNamed,
  property,
  type VComponent,
} from "./component.ts";
import { groupComponents, groupInstances, newExpansion, ownInterval } from "./instances.ts";
import { parseICalendar } from "./parse.ts";
import { parseRecurRule } from "./recur.ts";
import { alarmReach, alarmTriggers, periodsOf } from "./timerange.ts";
import { HOUR, parseDuration, parsePeriod, parseTimeText, propertyTime } from "./values.ts";

export type CalendarObjectCheck =
  | {
    ok: true;
    uid: string;
    componentType: "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY";
    timeStart: number | null;
    timeEnd: number | null;
  }
  | {
    ok: false;
    precondition:
      | "valid-calendar-data"
      | "valid-calendar-object-resource"
      | "supported-calendar-component";
    message: string;
  };

const OBJECT_TYPES = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"] as const;
type ObjectType = typeof OBJECT_TYPES[number];
const DATE_PROPERTIES = [
  "DTSTART",
  "DTEND",
  "DUE",
  "RECURRENCE-ID",
  "COMPLETED",
  "CREATED",
  "DTSTAMP",
  "LAST-MODIFIED",
];
const FLOATING_SLACK = 14 * HOUR;

type Precondition = Extract<CalendarObjectCheck, { ok: false }>["precondition"];

/** A reason to refuse the object, with the precondition to answer it with. */
class Refusal extends Error {
  constructor(readonly precondition: Precondition, message: string) {
    super(message);
  }
}

/** Every TZID a component tree refers to, and whether each date-like value parses. */
function checkValues(component: VComponent, tzids: Set<string>): void {
  for (const prop of component.properties) {
    const tzid = param(prop, "TZID");
    if (tzid !== undefined) tzids.add(tzid);
    if (DATE_PROPERTIES.includes(prop.name)) {
      try {
        propertyTime(prop);
      } catch (error) {
        if (error instanceof ICalError) throw new Refusal("valid-calendar-data", error.message);
        throw error;
      }
    } else if (prop.name === "EXDATE" || prop.name === "RDATE") {
      for (const value of prop.value.split(",")) {
        const v = value.trim();
        const ok = v.includes("/") ? parsePeriod(v, tzid ?? null) : parseTimeText(v, tzid ?? null);
        if (ok === null) throw new Refusal("valid-calendar-data", `${prop.name} value ${v}`);
      }
    } else if (prop.name === "RRULE" && component.name !== "VTIMEZONE") {
      try {
        parseRecurRule(prop.value);
      } catch (error) {
        if (error instanceof ICalError) throw new Refusal("valid-calendar-data", error.message);
        throw error;
      }
    } else if (prop.name === "DURATION" && parseDuration(prop.value) === null) {
      throw new Refusal("valid-calendar-data", `DURATION value ${prop.value}`);
    }
  }
  for (const sub of component.components) checkValues(sub, tzids);
}

function structure(root: VComponent, supported: string[]): { uid: string; type: ObjectType } {
  const version = property(root, "VERSION");
  if (version !== undefined && version.value.trim() !== "2.0") {
    throw new Refusal("valid-calendar-data", `VERSION ${version.value} is not 2.0`);
  }
  if (property(root, "METHOD") !== undefined) {
    throw new Refusal("valid-calendar-object-resource", "METHOD is not allowed in a stored object");
  }
  const objects = root.components.filter((c) =>
    (OBJECT_TYPES as readonly string[]).includes(c.name)
  );
  if (objects.length === 0) {
    throw new Refusal("valid-calendar-object-resource", "no VEVENT, VTODO, VJOURNAL or VFREEBUSY");
  }
  const type = objects[0].name as ObjectType;
  if (objects.some((c) => c.name !== type)) {
    throw new Refusal("valid-calendar-object-resource", "more than one component type");
  }
  const uids = new Set(objects.map((c) => property(c, "UID")?.value));
  if (uids.has(undefined)) {
    throw new Refusal("valid-calendar-object-resource", `${type} without UID`);
  }
  if (uids.size > 1) {
    throw new Refusal(
      "valid-calendar-object-resource",
      "components with different UIDs (or an override of another UID)",
    );
  }
  const masters = objects.filter((c) => property(c, "RECURRENCE-ID") === undefined);
  if (masters.length > 1) {
    throw new Refusal(
      "valid-calendar-object-resource",
      `more than one ${type} without RECURRENCE-ID`,
    );
  }
  const rids = objects.map((c) => property(c, "RECURRENCE-ID")?.value).filter((v) =>
    v !== undefined
  );
  if (new Set(rids).size !== rids.length) {
    throw new Refusal(
      "valid-calendar-object-resource",
      "two overrides with the same RECURRENCE-ID",
    );
  }
  for (const c of objects) {
    if (type === "VEVENT" && property(c, "DTSTART") === undefined) {
      throw new Refusal("valid-calendar-object-resource", "VEVENT without DTSTART");
    }
    const end = type === "VTODO" ? "DUE" : "DTEND";
    if (property(c, end) !== undefined && property(c, "DURATION") !== undefined) {
      throw new Refusal("valid-calendar-object-resource", `${type} with both ${end} and DURATION`);
    }
  }
  if (!supported.map((s) => s.toUpperCase()).includes(type)) {
    throw new Refusal("supported-calendar-component", `${type} is not supported by this calendar`);
  }
  return { uid: [...uids][0]!, type };
}

/** The inclusive UTC span of every instance and alarm (see the notes above). */
function span(root: VComponent, limits: ICalLimits): { start: number | null; end: number | null } {
  const x = newExpansion(root, limits);
  let start = Infinity;
  let end = -Infinity;
  let floating = false;
  let unbounded = false;
  const see = (s: number, e: number) => {
    start = Math.min(start, s);
    end = Math.max(end, e);
  };
  for (const c of root.components) {
    if (c.name === "VFREEBUSY") {
      for (const name of ["DTSTART", "DTEND"]) {
        const prop = property(c, name);
        if (prop) {
          const t = propertyTime(prop);
          floating ||= t.kind === "floating" || t.kind === "date";
          see(x.zones.toUtc(t), x.zones.toUtc(t));
        }
      }
      for (const prop of propertiesNamed(c, "FREEBUSY")) {
        for (const [s, e] of periodsOf(x, prop)) see(s, e);
      }
    }
    for (const prop of c.properties) {
      if (["DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "RDATE"].includes(prop.name)) {
        floating ||= param(prop, "TZID") === undefined && !prop.value.trim().endsWith("Z");
      }
    }
  }
  for (const group of groupComponents(root)) {
    const rrule = group.master ? property(group.master, "RRULE") : undefined;
    const rule = rrule ? parseRecurRule(rrule.value) : null;
    const infinite = rule !== null && rule.count === null && rule.until === null;
    // An infinite set has no end; its earliest instance starts no later than DTSTART.
    const own = infinite ? ownInterval(x, group.master!) : null;
    unbounded ||= infinite;
    for (const instance of groupInstances(x, group, -Infinity, own ? own.start : Infinity)) {
      let lead = 0;
      for (const alarm of instance.component.components) {
        if (alarm.name !== "VALARM") continue;
        for (const t of alarmTriggers(x, alarm, instance)) see(t, t);
        if (infinite) lead = Math.max(lead, alarmReach(alarm));
      }
      see(Number.isFinite(lead) ? instance.start - lead : instance.start, instance.end);
    }
  }
  if (unbounded || x.truncated) end = Infinity;
  const slack = floating ? FLOATING_SLACK : 0;
  return {
    start: Number.isFinite(start) ? start - slack : null,
    end: Number.isFinite(end) ? end + slack : null,
  };
}

/**
 * Checks an object a client PUTs into a calendar collection.
 *
 * @example
 * const check = checkCalendarObject(body, limits, ["VEVENT", "VTODO"]);
 * if (!check.ok) return precondition(check.precondition, check.message);
 */
export function checkCalendarObject(
  text: string,
  limits: ICalLimits,
  supportedComponents: string[],
): CalendarObjectCheck {
  let root: VComponent;
  try {
    root = parseICalendar(text, limits);
  } catch (error) {
    if (error instanceof ICalError) {
      return { ok: false, precondition: "valid-calendar-data", message: error.message };
    }
    throw error;
  }
  try {
    const tzids = new Set<string>();
    checkValues(root, tzids);
    const { uid, type } = structure(root, supportedComponents);
    const zones = newExpansion(root, limits).zones;
    for (const tzid of tzids) {
      if (zones.zone(tzid) === null) {
        throw new Refusal("valid-calendar-data", `unknown TZID ${tzid}`);
      }
    }
    const { start, end } = span(root, limits);
    return { ok: true, uid, componentType: type, timeStart: start, timeEnd: end };
  } catch (error) {
    if (error instanceof Refusal) {
      return { ok: false, precondition: error.precondition, message: error.message };
    }
    if (error instanceof ICalError) {
      return { ok: false, precondition: "valid-calendar-data", message: error.message };
    }
    throw error;
  }
}
