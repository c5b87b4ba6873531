/**
 * checkCalendarObject: what a client may store in a calendar collection (RFC 4791 4.1,
 * 5.3.2.1) and the UTC span the server indexes it under.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  type CalendarObjectCheck,
  checkCalendarObject,
  type ICalLimits,
} from "../../src/dav/ical/mod.ts";

const LIMITS: ICalLimits = {
  maxBytes: 1 << 20,
  maxLineBytes: 64 << 10,
  maxProperties: 10_000,
  maxComponents: 1_000,
  maxDepth: 8,
  maxInstances: 10_000,
  expansionBudgetMs: 5_000,
};
const ALL = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"];

function check(body: string, head = "VERSION:2.0\nPRODID:-//t//EN\n", supported = ALL) {
  return checkCalendarObject(`BEGIN:VCALENDAR\n${head}${body}\nEND:VCALENDAR\n`, LIMITS, supported);
}

function event(lines: string, uid = "u1") {
  return `BEGIN:VEVENT\nUID:${uid}\nDTSTAMP:20260101T000000Z\n${lines}\nEND:VEVENT`;
}

function refused(result: CalendarObjectCheck, precondition: string, pattern?: RegExp) {
  assert(!result.ok, "accepted");
  assertEquals(result.precondition, precondition, result.message);
  if (pattern) assert(pattern.test(result.message), result.message);
}

function span(result: CalendarObjectCheck): [string | null, string | null] {
  assert(result.ok, result.ok ? "" : result.message);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return [iso(result.timeStart), iso(result.timeEnd)];
}

Deno.test("a plain event is accepted with its UID, type and span", () => {
  const result = check(event("DTSTART:20260105T090000Z\nDTEND:20260105T100000Z"));
  assertEquals(result, {
    ok: true,
    uid: "u1",
    componentType: "VEVENT",
    timeStart: Date.UTC(2026, 0, 5, 9),
    timeEnd: Date.UTC(2026, 0, 5, 10),
  });
});

Deno.test("lenient: missing PRODID and VERSION, unknown X- properties, lower-case names", () => {
  assert(check(event("DTSTART:20260105T090000Z\nx-custom;x-p=1:y"), "").ok);
  refused(
    check(event("DTSTART:20260105T090000Z"), "VERSION:1.0\n"),
    "valid-calendar-data",
    /VERSION/,
  );
});

Deno.test("valid-calendar-data: unparsable text, dates, rules and unknown TZIDs", () => {
  refused(
    checkCalendarObject("BEGIN:VCALENDAR\nBEGIN:VEVENT\n", LIMITS, ALL),
    "valid-calendar-data",
  );
  refused(check(event("DTSTART:20260230T090000Z")), "valid-calendar-data", /DTSTART/);
  refused(
    check(event("DTSTART:20260105T090000Z\nRRULE:FREQ=SOMETIMES")),
    "valid-calendar-data",
    /FREQ/,
  );
  refused(
    check(event("DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY;BYMONTH=13")),
    "valid-calendar-data",
  );
  refused(
    check(event("DTSTART:20260105T090000Z\nEXDATE:2026-01-05")),
    "valid-calendar-data",
    /EXDATE/,
  );
  refused(
    check(event("DTSTART;TZID=Mars/Olympus:20260105T090000")),
    "valid-calendar-data",
    /Mars\/Olympus/,
  );
  assert(
    check(event("DTSTART;TZID=Europe/Berlin:20260105T090000")).ok,
    "IANA names resolve through Intl",
  );
  assert(
    check(
      `BEGIN:VTIMEZONE\nTZID:My Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0200\nEND:STANDARD\nEND:VTIMEZONE\n${
        event('DTSTART;TZID="My Zone":20260105T090000')
      }`,
    ).ok,
    "a VTIMEZONE in the object resolves its TZID",
  );
});

Deno.test("valid-calendar-object-resource: METHOD, mixed types or UIDs, structure of VEVENT", () => {
  refused(
    check(event("DTSTART:20260105T090000Z"), "VERSION:2.0\nMETHOD:REQUEST\n"),
    "valid-calendar-object-resource",
    /METHOD/,
  );
  refused(
    check(`${event("DTSTART:20260105T090000Z")}\nBEGIN:VTODO\nUID:u1\nEND:VTODO`),
    "valid-calendar-object-resource",
    /component type/,
  );
  refused(
    check(`${event("DTSTART:20260105T090000Z")}\n${event("DTSTART:20260106T090000Z", "u2")}`),
    "valid-calendar-object-resource",
    /UID/,
  );
  refused(
    check(
      `${event("DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY")}\n${
        event("RECURRENCE-ID:20260106T090000Z\nDTSTART:20260106T100000Z", "other")
      }`,
    ),
    "valid-calendar-object-resource",
  );
  refused(check(event("SUMMARY:no start")), "valid-calendar-object-resource", /DTSTART/);
  refused(
    check(event("DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\nDURATION:PT1H")),
    "valid-calendar-object-resource",
    /DTEND and DURATION/,
  );
  refused(
    check("BEGIN:VTODO\nDUE:20260105T090000Z\nEND:VTODO"),
    "valid-calendar-object-resource",
    /UID/,
  );
  refused(check(""), "valid-calendar-object-resource");
  refused(
    check(`${event("DTSTART:20260105T090000Z")}\n${event("DTSTART:20260106T090000Z")}`),
    "valid-calendar-object-resource",
    /more than one VEVENT without RECURRENCE-ID/,
  );
});

Deno.test("supported-calendar-component: a type the collection does not take", () => {
  refused(
    check("BEGIN:VTODO\nUID:t\nEND:VTODO", undefined, ["VEVENT"]),
    "supported-calendar-component",
    /VTODO/,
  );
  const todo = check("BEGIN:VTODO\nUID:t\nEND:VTODO", undefined, ["VEVENT", "VTODO"]);
  assert(
    todo.ok && todo.componentType === "VTODO" && todo.timeStart === null && todo.timeEnd === null,
  );
});

Deno.test("overrides share the master's UID and widen the span", () => {
  const result = check(
    `${event("DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\nRRULE:FREQ=DAILY;COUNT=3")}
${event("RECURRENCE-ID:20260107T090000Z\nDTSTART:20260120T090000Z\nDTEND:20260120T110000Z")}`,
  );
  assertEquals(span(result), ["2026-01-05T09:00:00.000Z", "2026-01-20T11:00:00.000Z"]);
});

Deno.test("span: infinite rules have no end; truncated expansions neither; alarms widen the start", () => {
  assertEquals(span(check(event("DTSTART:20260105T090000Z\nRRULE:FREQ=WEEKLY"))), [
    "2026-01-05T09:00:00.000Z",
    null,
  ]);
  assertEquals(
    span(check(event("DTSTART:20260105T090000Z\nRRULE:FREQ=SECONDLY;COUNT=100000"))),
    ["2026-01-05T09:00:00.000Z", null],
  );
  assertEquals(
    span(
      check(
        event(
          "DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY;UNTIL=20260107T090000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-P1D\nEND:VALARM",
        ),
      ),
    ),
    ["2026-01-04T09:00:00.000Z", "2026-01-07T09:00:00.000Z"],
  );
});

Deno.test("span: floating times and DATEs are widened by 14 hours each way", () => {
  assertEquals(
    span(check(event("DTSTART;VALUE=DATE:20260105"))),
    ["2026-01-04T10:00:00.000Z", "2026-01-06T14:00:00.000Z"],
  );
  assertEquals(
    span(check(event("DTSTART:20260105T090000"))),
    ["2026-01-04T19:00:00.000Z", "2026-01-05T23:00:00.000Z"],
  );
});

Deno.test("span: VFREEBUSY and VTODO use their own dates", () => {
  const fb = check(
    "BEGIN:VFREEBUSY\nUID:f\nDTSTART:20260101T000000Z\nDTEND:20260108T000000Z\nFREEBUSY:20260110T000000Z/PT1H\nEND:VFREEBUSY",
  );
  assertEquals(span(fb), ["2026-01-01T00:00:00.000Z", "2026-01-10T01:00:00.000Z"]);
  const due = check("BEGIN:VTODO\nUID:t\nDUE:20260110T120000Z\nEND:VTODO");
  assertEquals(span(due), ["2026-01-10T12:00:00.000Z", "2026-01-10T12:00:00.000Z"]);
  const created = check("BEGIN:VTODO\nUID:t\nCREATED:20260101T000000Z\nEND:VTODO");
  assertEquals(span(created), ["2026-01-01T00:00:00.000Z", null]);
});
