/**
 * The calendar-data element of a REPORT or PROPFIND (RFC 4791 9.6): which components and
 * properties to return, recurrence expansion and limiting, free-busy limiting.
 *
 * Implementation notes:
 * - Order of work: expand (9.6.5) or limit-recurrence-set (9.6.6), then limit-freebusy-set
 *   (9.6.7), then comp/prop selection (9.6.1-9.6.4), so selection sees the final components.
 * - expand returns one component per instance in the range, with RECURRENCE-ID, DTSTART and
 *   DTEND/DUE in UTC, without RRULE, RDATE, EXDATE, and without VTIMEZONE (9.6.5). Floating
 *   times and DATEs stay floating: they have no UTC form (RFC 5545 3.3.5).
 * - A comp element lists what to keep: no prop children means no properties, no comp children
 *   no subcomponents (the 9.6.1 DTD: prop* and comp* may be empty); allprop/allcomp keep all.
 *   prop novalue="yes" keeps the property with an empty value (9.6.4).
 * - Without child elements the stored text is returned unchanged, byte for byte.
 */
import { CALDAV_NS, type XmlElement } from "../xml.ts";
import {
  cloneComponent,
  type ICalLimits,
  makeProperty,
  param,
  property,
  type VComponent,
  type VProperty,
} from "./component.ts";
import { groupComponents, groupInstances, type Instance, newExpansion } from "./instances.ts";
import { serializeICalendar } from "./parse.ts";
import { expandInstances, instanceOverlaps, periodsOf } from "./timerange.ts";
import { formatDate, formatLocal, formatUtc, parseUtcAttribute, propertyTime } from "./values.ts";

function rangeOf(element: XmlElement): { start: number; end: number } | null {
  const start = parseUtcAttribute(element.attributes.get("start") ?? "");
  const end = parseUtcAttribute(element.attributes.get("end") ?? "");
  return start === null || end === null ? null : { start, end };
}

/** A date-time property rewritten for one instance: UTC if it was anchored, else floating. */
function timeProperty(name: string, original: VProperty | undefined, utc: number): VProperty {
  const time = original ? safeTime(original) : null;
  if (time?.kind === "date") return makeProperty(name, formatDate(utc), [["VALUE", "DATE"]]);
  if (time?.kind === "floating") return makeProperty(name, formatLocal(utc));
  return makeProperty(name, formatUtc(utc));
}

function safeTime(prop: VProperty) {
  try {
    return propertyTime(prop);
  } catch {
    return null;
  }
}

function replace(c: VComponent, name: string, prop: VProperty | null): void {
  const at = c.properties.findIndex((p) => p.name === name);
  c.properties = c.properties.filter((p) => p.name !== name);
  if (prop) c.properties.splice(at < 0 ? c.properties.length : at, 0, prop);
}

function renderInstance(instance: Instance, recurring: boolean): VComponent {
  const c = cloneComponent(instance.component);
  c.properties = c.properties.filter((p) => !["RRULE", "RDATE", "EXDATE"].includes(p.name));
  const original = instance.component;
  if (property(original, "DTSTART")) {
    replace(c, "DTSTART", timeProperty("DTSTART", property(original, "DTSTART"), instance.start));
  }
  for (const name of ["DTEND", "DUE"]) {
    if (property(original, name)) {
      replace(c, name, timeProperty(name, property(original, name), instance.end));
    }
  }
  if (instance.recurrenceId !== null && (recurring || property(original, "RECURRENCE-ID"))) {
    const ridSource = property(original, "RECURRENCE-ID") ?? property(original, "DTSTART");
    replace(c, "RECURRENCE-ID", timeProperty("RECURRENCE-ID", ridSource, instance.recurrenceId));
  }
  return c;
}

function expand(root: VComponent, range: { start: number; end: number }, limits: ICalLimits) {
  const { instances } = expandInstances(root, range.start, range.end, limits);
  const out: VComponent = { name: root.name, properties: root.properties, components: [] };
  for (const instance of instances) {
    const recurring = property(instance.component, "RRULE") !== undefined ||
      property(instance.component, "RDATE") !== undefined;
    out.components.push(renderInstance(instance, recurring));
  }
  for (const c of root.components) {
    if (!["VEVENT", "VTODO", "VJOURNAL", "VTIMEZONE"].includes(c.name)) out.components.push(c);
  }
  return out;
}

function limitRecurrenceSet(
  root: VComponent,
  range: { start: number; end: number },
  limits: ICalLimits,
) {
  const x = newExpansion(root, limits);
  const keep = new Set<VComponent>();
  for (const group of groupComponents(root)) {
    if (group.master) keep.add(group.master);
    for (const i of groupInstances(x, group, range.start, range.end)) {
      if (i.component !== group.master && instanceOverlaps(i, range.start, range.end)) {
        keep.add(i.component);
      }
    }
    for (const o of group.overrides) {
      // RANGE=THISANDFUTURE overrides affect later instances too; keep those starting before the end.
      const rid = property(o, "RECURRENCE-ID");
      if (rid && (param(rid, "RANGE") ?? "").toUpperCase() === "THISANDFUTURE") keep.add(o);
    }
  }
  return {
    ...root,
    components: root.components.filter((c) =>
      !["VEVENT", "VTODO", "VJOURNAL"].includes(c.name) || keep.has(c)
    ),
  };
}

function limitFreeBusy(
  root: VComponent,
  range: { start: number; end: number },
  limits: ICalLimits,
): VComponent {
  const x = newExpansion(root, limits);
  const overlaps = ([s, e]: [number, number]) => range.start < e && range.end > s;
  return {
    ...root,
    components: root.components.map((c) => {
      if (c.name !== "VFREEBUSY") return c;
      const copy = cloneComponent(c);
      copy.properties = copy.properties.flatMap((p) => {
        if (p.name !== "FREEBUSY") return [p];
        const kept = p.value.split(",").filter((value) =>
          periodsOf(x, { ...p, value }).some(overlaps)
        );
        return kept.length === 0 ? [] : [{ ...p, value: kept.join(",") }];
      });
      return copy;
    }),
  };
}

function select(c: VComponent, comp: XmlElement): VComponent {
  const kids = comp.children.filter((k) => k.ns === CALDAV_NS);
  const allprop = kids.some((k) => k.name === "allprop");
  const allcomp = kids.some((k) => k.name === "allcomp");
  const props = kids.filter((k) => k.name === "prop");
  const comps = kids.filter((k) => k.name === "comp");
  const wanted = new Map(
    props.map((p) => [
      (p.attributes.get("name") ?? "").toUpperCase(),
      p.attributes.get("novalue") === "yes",
    ]),
  );
  const properties = allprop ? c.properties : c.properties.filter((p) => wanted.has(p.name))
    .map((p) => (wanted.get(p.name) ? { ...p, value: "" } : p));
  const components = allcomp ? c.components : c.components.flatMap((sub) => {
    const sel = comps.find((k) => (k.attributes.get("name") ?? "").toUpperCase() === sub.name);
    return sel ? [select(sub, sel)] : [];
  });
  return { name: c.name, properties, components };
}

/**
 * The calendar data to return for one object under a calendar-data request element.
 *
 * @example
 * const body = renderCalendarData(stored, parseICalendar(stored, limits), calendarData, limits);
 */
export function renderCalendarData(
  text: string,
  root: VComponent,
  calendarData: XmlElement | undefined,
  limits: ICalLimits,
): string {
  const kids = calendarData?.children.filter((k) => k.ns === CALDAV_NS) ?? [];
  if (kids.length === 0) return text;
  let out = root;
  const expandElement = kids.find((k) => k.name === "expand");
  const limitElement = kids.find((k) => k.name === "limit-recurrence-set");
  const freeBusyElement = kids.find((k) => k.name === "limit-freebusy-set");
  const expandRange = expandElement ? rangeOf(expandElement) : null;
  const limitRange = limitElement ? rangeOf(limitElement) : null;
  const freeBusyRange = freeBusyElement ? rangeOf(freeBusyElement) : null;
  if (expandRange) out = expand(out, expandRange, limits);
  else if (limitRange) out = limitRecurrenceSet(out, limitRange, limits);
  if (freeBusyRange) out = limitFreeBusy(out, freeBusyRange, limits);
  const comp = kids.find((k) => k.name === "comp");
  if (comp) out = select(out, comp);
  return serializeICalendar(out);
}
