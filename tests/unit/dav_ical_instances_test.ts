/**
 * Recurrence sets as a client sees them in a calendar: DST gaps and overlaps in
 * America/New_York, a VTIMEZONE agreeing with the IANA zone, all-day events, RDATE and EXDATE,
 * overrides moving instances into and out of a range, DTEND vs DURATION across DST, and the
 * bounds on runaway rules (CVE-2025-59045 was an unbounded expansion in Stalwart).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { expandInstances, type ICalLimits, parseICalendar } from "../../src/dav/ical/mod.ts";

const LIMITS: ICalLimits = {
  maxBytes: 1 << 20,
  maxLineBytes: 64 << 10,
  maxProperties: 10_000,
  maxComponents: 1_000,
  maxDepth: 8,
  maxInstances: 10_000,
  expansionBudgetMs: 5_000,
};

function calendar(body: string): string {
  return `BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n${body}\nEND:VCALENDAR\n`;
}

function event(lines: string, uid = "e"): string {
  return `BEGIN:VEVENT\nUID:${uid}\nDTSTAMP:20260101T000000Z\n${lines}\nEND:VEVENT`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000", "");

function expand(body: string, start: string, end: string, limits = LIMITS, floatingZone?: string) {
  const root = parseICalendar(calendar(body), limits);
  return expandInstances(root, Date.parse(start), Date.parse(end), limits, floatingZone);
}

function starts(body: string, start = "1900-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z") {
  const { instances, truncated } = expand(body, start, end);
  assert(!truncated);
  return instances.map((i) => `${iso(i.start)}/${iso(i.end)}`);
}

Deno.test("DST 2026-03-08 in America/New_York: the same local time, one hour less UTC offset", () => {
  assertEquals(
    starts(
      event(
        "DTSTART;TZID=America/New_York:20260307T090000\nDTEND;TZID=America/New_York:20260307T100000\nRRULE:FREQ=DAILY;COUNT=3",
      ),
    ),
    [
      "2026-03-07T14:00:00Z/2026-03-07T15:00:00Z",
      "2026-03-08T13:00:00Z/2026-03-08T14:00:00Z",
      "2026-03-09T13:00:00Z/2026-03-09T14:00:00Z",
    ],
  );
});

Deno.test("DST gap: 02:30 on 2026-03-08 does not exist and is shifted forward to 03:30 EDT", () => {
  assertEquals(
    starts(event("DTSTART;TZID=America/New_York:20260307T023000\nRRULE:FREQ=DAILY;COUNT=3")),
    [
      "2026-03-07T07:30:00Z/2026-03-07T07:30:00Z",
      "2026-03-08T07:30:00Z/2026-03-08T07:30:00Z",
      "2026-03-09T06:30:00Z/2026-03-09T06:30:00Z",
    ],
  );
});

Deno.test("DST overlap: 01:30 on 2026-11-01 happens twice; the first (EDT) is meant", () => {
  assertEquals(
    starts(event("DTSTART;TZID=America/New_York:20261031T013000\nRRULE:FREQ=DAILY;COUNT=3")),
    [
      "2026-10-31T05:30:00Z/2026-10-31T05:30:00Z",
      "2026-11-01T05:30:00Z/2026-11-01T05:30:00Z",
      "2026-11-02T06:30:00Z/2026-11-02T06:30:00Z",
    ],
  );
});

Deno.test("DURATION's days are nominal across DST, DTEND's span is exact", () => {
  // P1D from 2026-03-07 12:00 EST ends 2026-03-08 12:00 EDT: 23 hours.
  assertEquals(
    starts(event("DTSTART;TZID=America/New_York:20260307T120000\nDURATION:P1D")),
    ["2026-03-07T17:00:00Z/2026-03-08T16:00:00Z"],
  );
  // A 24-hour DTEND span stays 24 hours on every instance.
  assertEquals(
    starts(event(
      "DTSTART;TZID=America/New_York:20260306T120000\nDTEND;TZID=America/New_York:20260307T120000\nRRULE:FREQ=DAILY;COUNT=2;INTERVAL=2",
    )),
    ["2026-03-06T17:00:00Z/2026-03-07T17:00:00Z", "2026-03-08T16:00:00Z/2026-03-09T16:00:00Z"],
  );
});

const NEW_YORK_VTIMEZONE = `BEGIN:VTIMEZONE
TZID:Custom/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE`;

Deno.test("a VTIMEZONE in the object agrees with the IANA zone, gaps and overlaps included", () => {
  for (
    const local of ["20260307T090000", "20260307T023000", "20261031T013000", "20260615T120000"]
  ) {
    const rule = `DTSTART;TZID=%:${local}\nRRULE:FREQ=WEEKLY;COUNT=60`;
    const viaIana = starts(event(rule.replace("%", "America/New_York")));
    const viaVtimezone = starts(
      `${NEW_YORK_VTIMEZONE}\n${event(rule.replace("%", "Custom/New_York"))}`,
    );
    assertEquals(viaVtimezone, viaIana, local);
  }
});

Deno.test("the object's VTIMEZONE wins over an IANA zone of the same name", () => {
  const fixed =
    `BEGIN:VTIMEZONE\nTZID:America/New_York\nBEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE`;
  assertEquals(starts(`${fixed}\n${event("DTSTART;TZID=America/New_York:20260701T120000")}`), [
    "2026-07-01T11:00:00Z/2026-07-01T11:00:00Z",
  ]);
});

Deno.test("all-day events: DATE values last one day, are floating, and recur by date", () => {
  assertEquals(
    starts(event("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;COUNT=2")),
    ["2026-01-01T00:00:00Z/2026-01-02T00:00:00Z", "2027-01-01T00:00:00Z/2027-01-02T00:00:00Z"],
  );
  assertEquals(
    starts(event("DTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20260104")),
    ["2026-01-01T00:00:00Z/2026-01-04T00:00:00Z"],
  );
  const { instances } = expand(
    event("DTSTART;VALUE=DATE:20260101"),
    "2025-12-01T00:00:00Z",
    "2026-02-01T00:00:00Z",
    LIMITS,
    "Europe/Paris",
  );
  assertEquals(instances.map((i) => iso(i.start)), ["2025-12-31T23:00:00Z"]);
});

Deno.test("RDATE (DATE-TIME, PERIOD) adds instances; EXDATE removes one; duplicates count once", () => {
  assertEquals(
    starts(event(`DTSTART:20260105T090000Z
DTEND:20260105T100000Z
RRULE:FREQ=DAILY;COUNT=3
RDATE:20260110T090000Z,20260106T090000Z
RDATE;VALUE=PERIOD:20260112T150000Z/PT30M
EXDATE:20260106T090000Z`)),
    [
      "2026-01-05T09:00:00Z/2026-01-05T10:00:00Z",
      "2026-01-07T09:00:00Z/2026-01-07T10:00:00Z",
      "2026-01-10T09:00:00Z/2026-01-10T10:00:00Z",
      "2026-01-12T15:00:00Z/2026-01-12T15:30:00Z",
    ],
  );
  // EXDATE in another zone naming the same instant, and EXDATE;VALUE=DATE on an all-day rule.
  assertEquals(
    starts(
      event(
        "DTSTART:20260105T140000Z\nRRULE:FREQ=DAILY;COUNT=2\nEXDATE;TZID=America/New_York:20260105T090000",
      ),
    ),
    ["2026-01-06T14:00:00Z/2026-01-06T14:00:00Z"],
  );
  assertEquals(
    starts(
      event("DTSTART;VALUE=DATE:20260105\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20260106"),
    ),
    ["2026-01-05T00:00:00Z/2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z/2026-01-08T00:00:00Z"],
  );
});

const WEEKLY = event(
  "DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\nRRULE:FREQ=WEEKLY;COUNT=4",
  "w",
);

Deno.test("an override moves an instance out of one range and into another", () => {
  const moved = `${WEEKLY}\n${
    event(
      "RECURRENCE-ID:20260112T090000Z\nDTSTART:20260130T090000Z\nDTEND:20260130T100000Z\nSUMMARY:moved",
      "w",
    )
  }`;
  const week2 = expand(moved, "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z");
  assertEquals(week2.instances, []);
  const late = expand(moved, "2026-01-30T00:00:00Z", "2026-01-31T00:00:00Z").instances;
  assertEquals(late.map((i) => [iso(i.start), iso(i.recurrenceId!)]), [
    ["2026-01-30T09:00:00Z", "2026-01-12T09:00:00Z"],
  ]);
  assertEquals(late[0].component.properties.find((p) => p.name === "SUMMARY")?.value, "moved");
});

Deno.test("a RANGE=THISANDFUTURE override moves its instance and every later one", () => {
  const future = `${WEEKLY}\n${
    event(
      "RECURRENCE-ID;RANGE=THISANDFUTURE:20260119T090000Z\nDTSTART:20260119T120000Z\nDTEND:20260119T133000Z\nSUMMARY:later",
      "w",
    )
  }`;
  assertEquals(starts(future), [
    "2026-01-05T09:00:00Z/2026-01-05T10:00:00Z",
    "2026-01-12T09:00:00Z/2026-01-12T10:00:00Z",
    "2026-01-19T12:00:00Z/2026-01-19T13:30:00Z",
    "2026-01-26T12:00:00Z/2026-01-26T13:30:00Z",
  ]);
  const last = expand(future, "2026-01-26T12:30:00Z", "2026-01-26T13:00:00Z").instances;
  assertEquals(last.map((i) => [iso(i.recurrenceId!), i.component.properties.at(-1)?.value]), [
    ["2026-01-26T09:00:00Z", "later"],
  ]);
});

Deno.test("an infinite rule queried 100 years later is cheap; an unbounded one is truncated", () => {
  // CVE-2025-59045: expansion must not walk every instance since DTSTART.
  const secondly = event("DTSTART:20260101T000000Z\nRRULE:FREQ=SECONDLY");
  const later = expand(secondly, "2126-01-01T00:00:00Z", "2126-01-01T00:00:10Z");
  assertEquals(later.instances.length, 10);
  assertEquals(iso(later.instances[0].start), "2126-01-01T00:00:00Z");
  assert(!later.truncated);
  const all = expand(secondly, "2026-01-01T00:00:00Z", "2126-01-01T00:00:00Z");
  assert(all.truncated);
  assertEquals(all.instances.length, LIMITS.maxInstances);
  const budget = expand(
    event("DTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY;COUNT=999999999"),
    "2126-01-01T00:00:00Z",
    "2127-01-01T00:00:00Z",
    { ...LIMITS, expansionBudgetMs: 20 },
  );
  assert(budget.truncated, "a COUNT rule walked from 2026 to 2126 must hit the budget");
});

Deno.test("a rule that never produces an instance gives up (BYMONTHDAY=31;BYMONTH=2)", () => {
  for (const freq of ["YEARLY", "MONTHLY", "DAILY", "HOURLY", "SECONDLY"]) {
    const result = expand(
      event(`DTSTART:20260101T000000Z\nRRULE:FREQ=${freq};BYMONTHDAY=31;BYMONTH=2`),
      "2026-01-02T00:00:00Z",
      "9999-01-01T00:00:00Z",
    );
    assertEquals(result.instances, [], freq);
  }
  // Feb 29 on a Monday is rare but real: 2044, 2072.
  assertEquals(
    starts(
      event("DTSTART:20260101T000000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=3"),
    )
      .map((s) => s.slice(0, 10)),
    ["2026-01-01", "2044-02-29", "2072-02-29"],
  );
});

Deno.test("floating times follow floatingZone", () => {
  const floating = event("DTSTART:20260701T090000");
  const utc = expand(floating, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").instances;
  const tokyo =
    expand(floating, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", LIMITS, "Asia/Tokyo")
      .instances;
  assertEquals([iso(utc[0].start), iso(tokyo[0].start)], [
    "2026-07-01T09:00:00Z",
    "2026-07-01T00:00:00Z",
  ]);
});
