/**
 * calendar-query filters (RFC 4791 7.8, 9.7): comp-filter, prop-filter, param-filter,
 * text-match, is-not-defined and time-range, evaluated against one parsed object.
 *
 * Implementation notes:
 * - `checkCalendarFilter` validates the whole tree once per REPORT; `matchCalendarFilter`
 *   re-checks so it can never be handed an unchecked filter, and throws only
 *   CalendarFilterError.
 * - A comp-filter matches when some child component of that name passes its time-range and
 *   all its prop-filters and comp-filters (RFC 4791 9.7.1); is-not-defined matches when none
 *   exists. A prop-filter likewise over properties (9.7.2), a param-filter over parameters
 *   (9.7.3).
 * - time-range on VEVENT, VTODO and VJOURNAL is decided per instance (RFC 4791 9.9): a master
 *   or override matches when one of the instances it contributes overlaps. VALARM matches on
 *   trigger times of its parent's instances; VFREEBUSY on DTSTART/DTEND or FREEBUSY periods.
 *   On a property (DTSTAMP, COMPLETED, ...) the value must fall in [start, end).
 * - text-match is a substring match (match-type, from CardDAV, is honoured if present) under
 *   the requested collation, default i;ascii-casemap (RFC 4791 9.7.5), against the unescaped
 *   TEXT value.
 */
import {
  checkCollation,
  parseMatchType,
  textMatches,
  UnsupportedCollationError,
} from "../collation.ts";
import { CALDAV_NS, type XmlElement } from "../xml.ts";
import {
  type ICalLimits,
  param,
  propertiesNamed,
  property,
  unescapeText,
  type VComponent,
} from "./component.ts";
import {
  type Expansion,
  groupComponents,
  groupInstances,
  type Instance,
  newExpansion,
} from "./instances.ts";
import { alarmReach, alarmTriggers, instanceOverlaps, periodsOf } from "./timerange.ts";
import { parseTimeText, parseUtcAttribute } from "./values.ts";

export class CalendarFilterError extends Error {
  constructor(
    readonly precondition: "valid-filter" | "supported-filter" | "supported-collation",
    message: string,
  ) {
    super(message);
    this.name = "CalendarFilterError";
  }
}

interface Range {
  start: number;
  end: number;
}

function attribute(element: XmlElement, name: string): string | undefined {
  return element.attributes.get(name);
}

function timeRangeOf(element: XmlElement): Range {
  const start = attribute(element, "start");
  const end = attribute(element, "end");
  if (start === undefined && end === undefined) {
    throw new CalendarFilterError("valid-filter", "time-range needs start or end");
  }
  const s = start === undefined ? -Infinity : parseUtcAttribute(start);
  const e = end === undefined ? Infinity : parseUtcAttribute(end);
  if (s === null || e === null) {
    throw new CalendarFilterError(
      "valid-filter",
      "time-range start and end must be UTC date-times",
    );
  }
  if (e <= s) {
    throw new CalendarFilterError("valid-filter", "time-range end must be after its start");
  }
  return { start: s, end: e };
}

function caldavChildren(element: XmlElement): XmlElement[] {
  for (const c of element.children) {
    if (c.ns !== CALDAV_NS) {
      throw new CalendarFilterError("valid-filter", `unexpected element {${c.ns}}${c.name}`);
    }
  }
  return element.children;
}

function checkTextMatch(element: XmlElement): void {
  const collation = attribute(element, "collation") ?? "i;ascii-casemap";
  try {
    checkCollation(collation);
  } catch (error) {
    if (error instanceof UnsupportedCollationError) {
      throw new CalendarFilterError("supported-collation", error.message);
    }
    throw error;
  }
  const negate = attribute(element, "negate-condition");
  if (negate !== undefined && negate !== "yes" && negate !== "no") {
    throw new CalendarFilterError("valid-filter", `negate-condition="${negate}"`);
  }
  if (parseMatchType(attribute(element, "match-type")) === null) {
    throw new CalendarFilterError("valid-filter", "unknown match-type");
  }
}

function checkNamed(element: XmlElement): string {
  const name = attribute(element, "name");
  if (name === undefined || name === "") {
    throw new CalendarFilterError("valid-filter", `${element.name} without name`);
  }
  return name.toUpperCase();
}

function checkFilterNode(element: XmlElement): void {
  const stack = [element];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const kids = caldavChildren(node);
    const names = kids.map((k) => k.name);
    if (
      node.name === "comp-filter" || node.name === "prop-filter" || node.name === "param-filter"
    ) {
      checkNamed(node);
      const allowed = node.name === "comp-filter"
        ? ["is-not-defined", "time-range", "prop-filter", "comp-filter"]
        : node.name === "prop-filter"
        ? ["is-not-defined", "time-range", "text-match", "param-filter"]
        : ["is-not-defined", "text-match"];
      const bad = names.find((n) => !allowed.includes(n));
      if (bad) throw new CalendarFilterError("valid-filter", `${bad} inside ${node.name}`);
      if (names.includes("is-not-defined") && names.length > 1) {
        throw new CalendarFilterError(
          "valid-filter",
          `is-not-defined must be alone in ${node.name}`,
        );
      }
      const single = ["time-range", "text-match"].find((n) =>
        names.filter((x) => x === n).length > 1
      );
      if (single) throw new CalendarFilterError("valid-filter", `more than one ${single}`);
      if (names.includes("time-range") && names.includes("text-match")) {
        throw new CalendarFilterError("valid-filter", "time-range with text-match");
      }
    } else if (node.name === "time-range") {
      timeRangeOf(node);
    } else if (node.name === "text-match") {
      checkTextMatch(node);
    } else if (node.name !== "is-not-defined") {
      throw new CalendarFilterError("valid-filter", `unexpected element ${node.name}`);
    }
    stack.push(...kids);
  }
}

/**
 * Validates a CALDAV:filter element (RFC 4791 9.7); throws CalendarFilterError.
 *
 * @example
 * checkCalendarFilter(child(query, CALDAV_NS, "filter")!);
 */
export function checkCalendarFilter(filter: XmlElement): void {
  if (filter.ns !== CALDAV_NS || filter.name !== "filter") {
    throw new CalendarFilterError("valid-filter", "expected a CALDAV:filter element");
  }
  const kids = caldavChildren(filter);
  if (kids.length !== 1 || kids[0].name !== "comp-filter" || checkNamed(kids[0]) !== "VCALENDAR") {
    throw new CalendarFilterError("valid-filter", "filter must hold one comp-filter for VCALENDAR");
  }
  checkFilterNode(kids[0]);
}

interface Matcher {
  x: Expansion;
  root: VComponent;
  /** Per comp-filter time-range element: the components with an overlapping instance. */
  cache: Map<XmlElement, Set<VComponent>>;
}

function textMatch(element: XmlElement, value: string): boolean {
  const matched = textMatches(
    value,
    element.text,
    attribute(element, "collation") ?? "i;ascii-casemap",
    parseMatchType(attribute(element, "match-type")) ?? "contains",
  );
  return attribute(element, "negate-condition") === "yes" ? !matched : matched;
}

function instancesOf(m: Matcher, c: VComponent, range: Range, reach = 0): Instance[] {
  const group = groupComponents(m.root).find((g) => g.master === c || g.overrides.includes(c));
  if (!group) return [];
  const out: Instance[] = [];
  for (const i of groupInstances(m.x, group, range.start - reach, range.end + reach)) {
    if (i.component === c) out.push(i);
  }
  return out;
}

function componentInRange(m: Matcher, c: VComponent, parent: VComponent, element: XmlElement) {
  const range = timeRangeOf(element);
  switch (c.name) {
    case "VEVENT":
    case "VTODO":
    case "VJOURNAL": {
      let matched = m.cache.get(element);
      if (!matched) {
        matched = new Set();
        for (const group of groupComponents(m.root)) {
          // Stop once every member of the group matched: an open range over an infinite rule
          // then costs one instance, not maxInstances.
          let unmatched = group.overrides.length + (group.master ? 1 : 0);
          for (const i of groupInstances(m.x, group, range.start, range.end)) {
            if (!matched.has(i.component) && instanceOverlaps(i, range.start, range.end)) {
              matched.add(i.component);
              if (--unmatched === 0) break;
            }
          }
        }
        m.cache.set(element, matched);
      }
      return matched.has(c);
    }
    case "VALARM": {
      if (!["VEVENT", "VTODO"].includes(parent.name)) return false;
      for (const i of instancesOf(m, parent, range, alarmReach(c))) {
        if (alarmTriggers(m.x, c, i).some((t) => t >= range.start && t < range.end)) return true;
      }
      return false;
    }
    case "VFREEBUSY":
      return freeBusyInRange(m.x, c, range);
    default:
      return false;
  }
}

function freeBusyInRange(x: Expansion, c: VComponent, range: Range): boolean {
  const periods = propertiesNamed(c, "FREEBUSY").flatMap((prop) => periodsOf(x, prop));
  if (periods.length > 0) return periods.some(([s, e]) => range.start < e && range.end > s);
  const start = timeOf(x, c, "DTSTART");
  const end = timeOf(x, c, "DTEND");
  if (start !== null && end !== null) return range.start <= end && range.end > start;
  return false;
}

function timeOf(x: Expansion, c: VComponent, name: string): number | null {
  const prop = property(c, name);
  if (!prop) return null;
  const time = parseTimeText(prop.value.trim(), param(prop, "TZID") ?? null);
  return time === null ? null : x.zones.toUtc(time);
}

function matchComp(m: Matcher, element: XmlElement, parent: VComponent): boolean {
  const name = checkNamed(element);
  const candidates = parent.components.filter((c) => c.name === name);
  return element.children.some((k) => k.name === "is-not-defined")
    ? candidates.length === 0
    : candidates.some((c) => compSatisfies(m, element, c, parent));
}

function compSatisfies(m: Matcher, element: XmlElement, c: VComponent, parent: VComponent) {
  for (const k of element.children) {
    if (k.name === "time-range" && !componentInRange(m, c, parent, k)) return false;
  }
  for (const k of element.children) {
    if (k.name === "prop-filter" && !matchProp(m, k, c)) return false;
    if (k.name === "comp-filter" && !matchComp(m, k, c)) return false;
  }
  return true;
}

function matchProp(m: Matcher, element: XmlElement, c: VComponent): boolean {
  const props = propertiesNamed(c, checkNamed(element));
  if (element.children.some((k) => k.name === "is-not-defined")) return props.length === 0;
  return props.some((prop) =>
    element.children.every((k) => {
      if (k.name === "text-match") return textMatch(k, unescapeText(prop.value));
      if (k.name === "time-range") {
        const range = timeRangeOf(k);
        const time = parseTimeText(prop.value.trim(), param(prop, "TZID") ?? null);
        if (time === null) return false;
        const at = m.x.zones.toUtc(time);
        return at >= range.start && at < range.end;
      }
      if (k.name === "param-filter") {
        const values = prop.params.get(checkNamed(k));
        if (k.children.some((t) => t.name === "is-not-defined")) return values === undefined;
        if (values === undefined) return false;
        const text = k.children.find((t) => t.name === "text-match");
        return text === undefined || values.some((v) => textMatch(text, v));
      }
      return true;
    })
  );
}

/**
 * Whether a parsed object matches a calendar-query filter (RFC 4791 9.7).
 *
 * @example
 * if (matchCalendarFilter(root, filter, { limits })) hrefs.push(href);
 */
export function matchCalendarFilter(
  root: VComponent,
  filter: XmlElement,
  options: { limits: ICalLimits; floatingZone?: string },
): boolean {
  checkCalendarFilter(filter);
  const m: Matcher = {
    x: newExpansion(root, options.limits, options.floatingZone),
    root,
    cache: new Map(),
  };
  const top = filter.children[0];
  return root.name === "VCALENDAR" && compSatisfies(m, top, root, root);
}
