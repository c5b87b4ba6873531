/**
 * A VTIMEZONE's transition table is computed once per zone and reach, whatever the times asked
 * (an event late in year 9999 recomputed it for every instance and stalled the server), and
 * observances recurring faster than monthly are not expanded into a transition per second.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { checkCalendarObject, expandInstances, parseICalendar } from "../../src/dav/ical/mod.ts";
import { vtimezoneStats } from "../../src/dav/ical/timezone.ts";

const LIMITS = {
  maxBytes: 1 << 20,
  maxLineBytes: 65536,
  maxProperties: 10_000,
  maxComponents: 1_000,
  maxDepth: 8,
  maxInstances: 10_000,
  expansionBudgetMs: 60_000,
};

const calendar = (standardRule: string, daylightRule: string, event: string[]) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//tests//EN",
    "BEGIN:VTIMEZONE",
    "TZID:Lab",
    "BEGIN:STANDARD",
    "DTSTART:16011028T030000",
    `RRULE:${standardRule}`,
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010325T020000",
    `RRULE:${daylightRule}`,
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
    "BEGIN:VEVENT",
    "UID:late",
    "DTSTAMP:20260101T000000Z",
    ...event,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

Deno.test("vtimezone: hourly instances in year 9999 compute the zone's table once", () => {
  const text = calendar(
    "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    ["DTSTART;TZID=Lab:99990701T100000", "DURATION:PT1M", "RRULE:FREQ=HOURLY;COUNT=2000"],
  );
  const root = parseICalendar(text, LIMITS);
  const before = vtimezoneStats.computations;
  const { instances, truncated } = expandInstances(
    root,
    Date.UTC(9999, 6, 1),
    Date.UTC(9999, 11, 31),
    LIMITS,
  );
  assertEquals(truncated, false);
  assertEquals(instances.length, 2000);
  // Summer in this zone is +02:00: 10:00 local is 08:00Z.
  assertEquals(new Date(instances[0].start).toISOString(), "9999-07-01T08:00:00.000Z");
  assert(vtimezoneStats.computations - before <= 2, `${vtimezoneStats.computations - before}`);
});

Deno.test("vtimezone: observances recurring every second are not expanded", () => {
  const text = calendar("FREQ=SECONDLY", "FREQ=SECONDLY;INTERVAL=2", [
    "DTSTART;TZID=Lab:20260701T100000",
    "DURATION:PT1H",
  ]);
  const before = vtimezoneStats.transitions;
  const check = checkCalendarObject(text, LIMITS, ["VEVENT"]);
  assert(check.ok);
  assert(vtimezoneStats.transitions - before <= 10, `${vtimezoneStats.transitions - before}`);
  // Only the observances' DTSTARTs count: the later one (daylight, +02:00 from 1601-03-25 is
  // earlier than standard's 1601-10-28, so standard +01:00 is in force).
  assertEquals(new Date(check.timeStart!).toISOString(), "2026-07-01T09:00:00.000Z");
});
