/**
 * The free-busy-query REPORT's answer (RFC 4791 7.10): one VCALENDAR with a VFREEBUSY covering
 * the requested range.
 *
 * Implementation notes:
 * - VEVENT instances overlapping the range count as busy unless TRANSP:TRANSPARENT or
 *   STATUS:CANCELLED; STATUS:TENTATIVE makes them BUSY-TENTATIVE (RFC 4791 7.10, RFC 5545
 *   3.2.9). Zero-length instances block no time.
 * - FREEBUSY periods of stored VFREEBUSY components keep their FBTYPE (default BUSY); FREE
 *   periods are dropped.
 * - Periods are clipped to the range, then merged per type where they overlap or touch, and
 *   written as UTC start/end periods sorted by start (RFC 5545 3.3.9).
 */
import {
  type ICalLimits,
  makeProperty,
  param,
  propertiesNamed,
  property,
  type VComponent,
} from "./component.ts";
import { newExpansion } from "./instances.ts";
import { serializeICalendar } from "./parse.ts";
import { expandInstances, periodsOf } from "./timerange.ts";
import { formatUtc } from "./values.ts";

const BUSY_TYPES = ["BUSY", "BUSY-UNAVAILABLE", "BUSY-TENTATIVE"] as const;

function merge(periods: [number, number][]): [number, number][] {
  const sorted = [...periods].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/**
 * The VCALENDAR text answering a free-busy-query over [start, end) for these objects.
 *
 * @example
 * const body = freeBusy(objects, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 8), limits);
 */
export function freeBusy(
  objects: VComponent[],
  start: number,
  end: number,
  limits: ICalLimits,
): string {
  const busy = new Map<string, [number, number][]>(BUSY_TYPES.map((t) => [t, []]));
  const add = (type: string, s: number, e: number) => {
    const from = Math.max(s, start);
    const to = Math.min(e, end);
    if (to > from) busy.get(busy.has(type) ? type : "BUSY")!.push([from, to]);
  };
  for (const root of objects) {
    const { instances } = expandInstances(root, start, end, limits);
    for (const instance of instances) {
      const c = instance.component;
      if (c.name !== "VEVENT") continue;
      if ((property(c, "TRANSP")?.value ?? "").trim().toUpperCase() === "TRANSPARENT") continue;
      const status = (property(c, "STATUS")?.value ?? "").trim().toUpperCase();
      if (status === "CANCELLED") continue;
      add(status === "TENTATIVE" ? "BUSY-TENTATIVE" : "BUSY", instance.start, instance.end);
    }
    const x = newExpansion(root, limits);
    for (const c of root.components) {
      if (c.name !== "VFREEBUSY") continue;
      for (const prop of propertiesNamed(c, "FREEBUSY")) {
        const type = (param(prop, "FBTYPE") ?? "BUSY").toUpperCase();
        if (type === "FREE") continue;
        for (const [s, e] of periodsOf(x, prop)) add(type, s, e);
      }
    }
  }
  const vfreebusy: VComponent = {
    name: "VFREEBUSY",
    properties: [
      makeProperty("DTSTAMP", formatUtc(Math.floor(Date.now() / 1000) * 1000)),
      makeProperty("DTSTART", formatUtc(start)),
      makeProperty("DTEND", formatUtc(end)),
    ],
    components: [],
  };
  for (const type of BUSY_TYPES) {
    const periods = merge(busy.get(type)!);
    if (periods.length === 0) continue;
    vfreebusy.properties.push(
      makeProperty(
        "FREEBUSY",
        periods.map(([s, e]) => `${formatUtc(s)}/${formatUtc(e)}`).join(","),
        [
          ["FBTYPE", type],
        ],
      ),
    );
  }
  return serializeICalendar({
    name: "VCALENDAR",
    properties: [makeProperty("VERSION", "2.0"), makeProperty("PRODID", "-//Postern//CalDAV//EN")],
    components: [vfreebusy],
  });
}
