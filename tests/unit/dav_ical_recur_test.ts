/**
 * RRULE expansion against every example of RFC 5545 3.8.5.3 (America/New_York, as the RFC
 * assumes), plus the rule parts the examples leave out, DST gaps and overlaps, and the bounds
 * that stop runaway rules (CVE-2025-59045: an unbounded expansion in Stalwart).
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

const NY = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "America/New_York",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function calendar(lines: string[]): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//test//EN",
    "BEGIN:VEVENT",
    "UID:rfc",
    "DTSTAMP:20260101T000000Z",
    ...lines,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}

/** New York local start times ("1997-09-02 09:00") of the instances before `until` (UTC). */
function expandNY(lines: string[], until = "2030-01-01"): string[] {
  const root = parseICalendar(calendar(lines), LIMITS);
  const { instances, truncated } = expandInstances(root, 0, Date.parse(until), LIMITS);
  assert(!truncated, "expansion truncated");
  return instances.map((i) => NY.format(i.start));
}

/** "1997-09-" + each day, at 09:00. */
function days(prefix: string, list: number[], time = "09:00"): string[] {
  return list.map((d) => `${prefix}${String(d).padStart(2, "0")} ${time}`);
}

function range(from: number, to: number, step = 1): number[] {
  const out = [];
  for (let d = from; d <= to; d += step) out.push(d);
  return out;
}

const START = "DTSTART;TZID=America/New_York:19970902T090000";

Deno.test("RFC 5545 3.8.5.3: daily for 10 occurrences", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=DAILY;COUNT=10"]), days("1997-09-", range(2, 11)));
});

Deno.test("RFC 5545 3.8.5.3: daily until December 24, 1997 (UTC UNTIL across the DST end)", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=DAILY;UNTIL=19971224T000000Z"]), [
    ...days("1997-09-", range(2, 30)),
    ...days("1997-10-", range(1, 31)),
    ...days("1997-11-", range(1, 30)),
    ...days("1997-12-", range(1, 23)),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every other day, forever", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=DAILY;INTERVAL=2"], "1998-01-01"), [
    ...days("1997-09-", range(2, 30, 2)),
    ...days("1997-10-", range(2, 30, 2)),
    ...days("1997-11-", range(1, 29, 2)),
    ...days("1997-12-", range(1, 31, 2)),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every 10 days, 5 occurrences", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=DAILY;INTERVAL=10;COUNT=5"]), [
    ...days("1997-09-", [2, 12, 22]),
    ...days("1997-10-", [2, 12]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every day in January for 3 years, both forms", () => {
  const expected = ["1998", "1999", "2000"].flatMap((y) => days(`${y}-01-`, range(1, 31)));
  const start = "DTSTART;TZID=America/New_York:19980101T090000";
  assertEquals(
    expandNY([
      start,
      "RRULE:FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
    ]),
    expected,
  );
  assertEquals(expandNY([start, "RRULE:FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1"]), expected);
});

Deno.test("RFC 5545 3.8.5.3: weekly for 10 occurrences", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=WEEKLY;COUNT=10"]), [
    ...days("1997-09-", [2, 9, 16, 23, 30]),
    ...days("1997-10-", [7, 14, 21, 28]),
    ...days("1997-11-", [4]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: weekly until December 24, 1997", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=WEEKLY;UNTIL=19971224T000000Z"]), [
    ...days("1997-09-", [2, 9, 16, 23, 30]),
    ...days("1997-10-", [7, 14, 21, 28]),
    ...days("1997-11-", [4, 11, 18, 25]),
    ...days("1997-12-", [2, 9, 16, 23]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every other week, forever", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=WEEKLY;INTERVAL=2;WKST=SU"], "1998-02-18"), [
    ...days("1997-09-", [2, 16, 30]),
    ...days("1997-10-", [14, 28]),
    ...days("1997-11-", [11, 25]),
    ...days("1997-12-", [9, 23]),
    ...days("1998-01-", [6, 20]),
    ...days("1998-02-", [3, 17]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: weekly on Tuesday and Thursday for five weeks, both forms", () => {
  const expected = [
    ...days("1997-09-", [2, 4, 9, 11, 16, 18, 23, 25, 30]),
    ...days("1997-10-", [2]),
  ];
  assertEquals(
    expandNY([START, "RRULE:FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH"]),
    expected,
  );
  assertEquals(expandNY([START, "RRULE:FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH"]), expected);
});

Deno.test("RFC 5545 3.8.5.3: every other week on MO, WE, FR until December 24, 1997", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970901T090000",
      "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
    ]),
    [
      ...days("1997-09-", [1, 3, 5, 15, 17, 19, 29]),
      ...days("1997-10-", [1, 3, 13, 15, 17, 27, 29, 31]),
      ...days("1997-11-", [10, 12, 14, 24, 26, 28]),
      ...days("1997-12-", [8, 10, 12, 22]),
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every other week on TU and TH, 8 occurrences", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH"]), [
    ...days("1997-09-", [2, 4, 16, 18, 30]),
    ...days("1997-10-", [2, 14, 16]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: monthly on the first Friday, COUNT and UNTIL", () => {
  const start = "DTSTART;TZID=America/New_York:19970905T090000";
  assertEquals(expandNY([start, "RRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR"]), [
    "1997-09-05 09:00",
    "1997-10-03 09:00",
    "1997-11-07 09:00",
    "1997-12-05 09:00",
    "1998-01-02 09:00",
    "1998-02-06 09:00",
    "1998-03-06 09:00",
    "1998-04-03 09:00",
    "1998-05-01 09:00",
    "1998-06-05 09:00",
  ]);
  assertEquals(expandNY([start, "RRULE:FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR"]), [
    "1997-09-05 09:00",
    "1997-10-03 09:00",
    "1997-11-07 09:00",
    "1997-12-05 09:00",
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every other month on the first and last Sunday, 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970907T090000",
      "RRULE:FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
    ]),
    [
      "1997-09-07 09:00",
      "1997-09-28 09:00",
      "1997-11-02 09:00",
      "1997-11-30 09:00",
      "1998-01-04 09:00",
      "1998-01-25 09:00",
      "1998-03-01 09:00",
      "1998-03-29 09:00",
      "1998-05-03 09:00",
      "1998-05-31 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: monthly on the second-to-last Monday for 6 months", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970922T090000",
      "RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
    ]),
    [
      "1997-09-22 09:00",
      "1997-10-20 09:00",
      "1997-11-17 09:00",
      "1997-12-22 09:00",
      "1998-01-19 09:00",
      "1998-02-16 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: monthly on the third-to-the-last day, forever", () => {
  assertEquals(
    expandNY(
      ["DTSTART;TZID=America/New_York:19970928T090000", "RRULE:FREQ=MONTHLY;BYMONTHDAY=-3"],
      "1998-03-01",
    ),
    [
      "1997-09-28 09:00",
      "1997-10-29 09:00",
      "1997-11-28 09:00",
      "1997-12-29 09:00",
      "1998-01-29 09:00",
      "1998-02-26 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: monthly on the 2nd and 15th for 10 occurrences", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15"]), [
    ...["1997-09-", "1997-10-", "1997-11-", "1997-12-", "1998-01-"].flatMap((m) =>
      days(m, [2, 15])
    ),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: monthly on the first and last day for 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970930T090000",
      "RRULE:FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
    ]),
    [
      "1997-09-30 09:00",
      "1997-10-01 09:00",
      "1997-10-31 09:00",
      "1997-11-01 09:00",
      "1997-11-30 09:00",
      "1997-12-01 09:00",
      "1997-12-31 09:00",
      "1998-01-01 09:00",
      "1998-01-31 09:00",
      "1998-02-01 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every 18 months on the 10th thru 15th for 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970910T090000",
      "RRULE:FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
    ]),
    [...days("1997-09-", range(10, 15)), ...days("1999-03-", range(10, 13))],
  );
});

Deno.test("RFC 5545 3.8.5.3: every Tuesday, every other month", () => {
  assertEquals(expandNY([START, "RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=TU"], "1998-04-01"), [
    ...days("1997-09-", [2, 9, 16, 23, 30]),
    ...days("1997-11-", [4, 11, 18, 25]),
    ...days("1998-01-", [6, 13, 20, 27]),
    ...days("1998-03-", [3, 10, 17, 24, 31]),
  ]);
});

Deno.test("RFC 5545 3.8.5.3: yearly in June and July for 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970610T090000",
      "RRULE:FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
    ]),
    ["1997", "1998", "1999", "2000", "2001"].flatMap((
      y,
    ) => [`${y}-06-10 09:00`, `${y}-07-10 09:00`]),
  );
});

Deno.test("RFC 5545 3.8.5.3: every other year on January, February and March, 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970310T090000",
      "RRULE:FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
    ]),
    [
      "1997-03-10 09:00",
      ...["1999", "2001", "2003"].flatMap((y) =>
        ["01", "02", "03"].map((m) => `${y}-${m}-10 09:00`)
      ),
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every third year on the 1st, 100th and 200th day, 10 occurrences", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970101T090000",
      "RRULE:FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
    ]),
    [
      "1997-01-01 09:00",
      "1997-04-10 09:00",
      "1997-07-19 09:00",
      "2000-01-01 09:00",
      "2000-04-09 09:00",
      "2000-07-18 09:00",
      "2003-01-01 09:00",
      "2003-04-10 09:00",
      "2003-07-19 09:00",
      "2006-01-01 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every 20th Monday of the year, forever", () => {
  assertEquals(
    expandNY(
      ["DTSTART;TZID=America/New_York:19970519T090000", "RRULE:FREQ=YEARLY;BYDAY=20MO"],
      "2000-01-01",
    ),
    ["1997-05-19 09:00", "1998-05-18 09:00", "1999-05-17 09:00"],
  );
});

Deno.test("RFC 5545 3.8.5.3: Monday of week number 20, forever", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970512T090000",
      "RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
    ], "2000-01-01"),
    ["1997-05-12 09:00", "1998-05-11 09:00", "1999-05-17 09:00"],
  );
});

Deno.test("RFC 5545 3.8.5.3: every Thursday in March, forever", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970313T090000",
      "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=TH",
    ], "2000-01-01"),
    [
      ...days("1997-03-", [13, 20, 27]),
      ...days("1998-03-", [5, 12, 19, 26]),
      ...days("1999-03-", [4, 11, 18, 25]),
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every Thursday in June, July and August, forever", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970605T090000",
      "RRULE:FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
    ], "2000-01-01"),
    [
      ...days("1997-06-", [5, 12, 19, 26]),
      ...days("1997-07-", [3, 10, 17, 24, 31]),
      ...days("1997-08-", [7, 14, 21, 28]),
      ...days("1998-06-", [4, 11, 18, 25]),
      ...days("1998-07-", [2, 9, 16, 23, 30]),
      ...days("1998-08-", [6, 13, 20, 27]),
      ...days("1999-06-", [3, 10, 17, 24]),
      ...days("1999-07-", [1, 8, 15, 22, 29]),
      ...days("1999-08-", [5, 12, 19, 26]),
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every Friday the 13th, forever (DTSTART excluded by EXDATE)", () => {
  assertEquals(
    expandNY([
      START,
      "EXDATE;TZID=America/New_York:19970902T090000",
      "RRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
    ], "2001-01-01"),
    [
      "1998-02-13 09:00",
      "1998-03-13 09:00",
      "1998-11-13 09:00",
      "1999-08-13 09:00",
      "2000-10-13 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: the first Saturday that follows the first Sunday, forever", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970913T090000",
      "RRULE:FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
    ], "1998-07-01"),
    [
      "1997-09-13 09:00",
      "1997-10-11 09:00",
      "1997-11-08 09:00",
      "1997-12-13 09:00",
      "1998-01-10 09:00",
      "1998-02-07 09:00",
      "1998-03-07 09:00",
      "1998-04-11 09:00",
      "1998-05-09 09:00",
      "1998-06-13 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: U.S. Presidential Election day, every 4 years", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19961105T090000",
      "RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
    ], "2005-01-01"),
    ["1996-11-05 09:00", "2000-11-07 09:00", "2004-11-02 09:00"],
  );
});

Deno.test("RFC 5545 3.8.5.3: BYSETPOS, third TU/WE/TH and second-to-last weekday", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970904T090000",
      "RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
    ]),
    ["1997-09-04 09:00", "1997-10-07 09:00", "1997-11-06 09:00"],
  );
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:19970929T090000",
      "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
    ], "1998-04-01"),
    [
      "1997-09-29 09:00",
      "1997-10-30 09:00",
      "1997-11-27 09:00",
      "1997-12-30 09:00",
      "1998-01-29 09:00",
      "1998-02-26 09:00",
      "1998-03-30 09:00",
    ],
  );
});

Deno.test("RFC 5545 3.8.5.3: every 3 hours from 9:00 until 17:00Z (13:00 EDT)", () => {
  // The RFC lists 15:00 too, but UNTIL=19970902T170000Z is 13:00 EDT (a known erratum); the
  // UNTIL bound is inclusive and in UTC, so 09:00 and 12:00 are the instances.
  assertEquals(expandNY([START, "RRULE:FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z"]), [
    "1997-09-02 09:00",
    "1997-09-02 12:00",
  ]);
});

Deno.test("RFC 5545 3.8.5.3: every 15 minutes for 6, every 90 minutes for 4", () => {
  assertEquals(
    expandNY([START, "RRULE:FREQ=MINUTELY;INTERVAL=15;COUNT=6"]),
    ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15"].map((t) => `1997-09-02 ${t}`),
  );
  assertEquals(
    expandNY([START, "RRULE:FREQ=MINUTELY;INTERVAL=90;COUNT=4"]),
    ["09:00", "10:30", "12:00", "13:30"].map((t) => `1997-09-02 ${t}`),
  );
});

Deno.test("RFC 5545 3.8.5.3: every 20 minutes from 9:00 to 16:40, both forms", () => {
  const times = range(9, 16).flatMap((h) =>
    [0, 20, 40].map((m) => `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`)
  );
  const expected = ["1997-09-02", "1997-09-03"].flatMap((d) => times.map((t) => `${d} ${t}`));
  assertEquals(
    expandNY(
      [START, "RRULE:FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40"],
      "1997-09-04",
    ),
    expected,
  );
  assertEquals(
    expandNY(
      [START, "RRULE:FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16"],
      "1997-09-04",
    ),
    expected,
  );
});

Deno.test("RFC 5545 3.8.5.3: WKST changes which days an every-other-week rule generates", () => {
  const start = "DTSTART;TZID=America/New_York:19970805T090000";
  assertEquals(
    expandNY([start, "RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO"]),
    days("1997-08-", [5, 10, 19, 24]),
  );
  assertEquals(
    expandNY([start, "RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU"]),
    days("1997-08-", [5, 17, 19, 31]),
  );
});

Deno.test("RFC 5545 3.8.5.3: an invalid date (February 30) is skipped", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20070115T090000",
      "RRULE:FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
    ]),
    [
      "2007-01-15 09:00",
      "2007-01-30 09:00",
      "2007-02-15 09:00",
      "2007-03-15 09:00",
      "2007-03-30 09:00",
    ],
  );
});

// Rule parts the RFC examples do not exercise.

Deno.test("RRULE: SECONDLY with BYSECOND, BYYEARDAY negative, BYWEEKNO negative, UNTIL as DATE", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20260105T090000",
      "RRULE:FREQ=SECONDLY;BYSECOND=0,30;COUNT=4",
    ]).length,
    4,
  );
  const root = parseICalendar(
    calendar(["DTSTART:20260105T090000Z", "RRULE:FREQ=SECONDLY;BYSECOND=0,30;COUNT=4"]),
    LIMITS,
  );
  assertEquals(
    expandInstances(root, 0, Infinity, LIMITS).instances.map((i) =>
      new Date(i.start).toISOString()
    ),
    [
      "2026-01-05T09:00:00.000Z",
      "2026-01-05T09:00:30.000Z",
      "2026-01-05T09:01:00.000Z",
      "2026-01-05T09:01:30.000Z",
    ],
  );
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20251231T090000",
      "RRULE:FREQ=YEARLY;BYYEARDAY=-1;COUNT=3",
    ]),
    ["2025-12-31 09:00", "2026-12-31 09:00", "2027-12-31 09:00"],
  );
  // The last ISO week of 2026 is week 53 (2026-12-28 .. 2027-01-03).
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20261228T090000",
      "RRULE:FREQ=YEARLY;BYWEEKNO=-1;BYDAY=MO;COUNT=2",
    ]),
    ["2026-12-28 09:00", "2027-12-27 09:00"],
  );
  // A DATE UNTIL includes the whole day.
  assertEquals(
    expandNY(["DTSTART;TZID=America/New_York:20260101T230000", "RRULE:FREQ=DAILY;UNTIL=20260103"]),
    ["2026-01-01 23:00", "2026-01-02 23:00", "2026-01-03 23:00"],
  );
});

Deno.test("RRULE: YEARLY BYDAY ordinal counts within the year, -1SU within BYMONTH", () => {
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20260102T090000",
      "RRULE:FREQ=YEARLY;BYDAY=1FR,-1FR;COUNT=4",
    ]),
    ["2026-01-02 09:00", "2026-12-25 09:00", "2027-01-01 09:00", "2027-12-31 09:00"],
  );
  assertEquals(
    expandNY([
      "DTSTART;TZID=America/New_York:20261025T090000",
      "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=2",
    ]),
    ["2026-10-25 09:00", "2027-10-31 09:00"],
  );
});
