/**
 * calendar-query filters, calendar-data rendering and free-busy over the sample calendar of
 * RFC 4791 Appendix B, with the queries and answers of RFC 4791 7.8 and 7.10, plus the
 * RFC 4791 9.9 time-range table for VTODO and the filter errors a client can cause.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  CalendarFilterError,
  checkCalendarFilter,
  freeBusy,
  type ICalLimits,
  matchCalendarFilter,
  parseICalendar,
  renderCalendarData,
} from "../../src/dav/ical/mod.ts";
import { CALDAV_NS, parseXml, type XmlElement } from "../../src/dav/xml.ts";

const LIMITS: ICalLimits = {
  maxBytes: 1 << 20,
  maxLineBytes: 64 << 10,
  maxProperties: 10_000,
  maxComponents: 1_000,
  maxDepth: 8,
  maxInstances: 10_000,
  expansionBudgetMs: 5_000,
};

const US_EASTERN = `BEGIN:VTIMEZONE
LAST-MODIFIED:20040110T032845Z
TZID:US/Eastern
BEGIN:DAYLIGHT
DTSTART:20000404T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4
TZNAME:EDT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20001026T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZNAME:EST
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
END:VTIMEZONE`;

function ics(body: string, timezone = true): string {
  return `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//CalDAV Client//EN
${timezone ? US_EASTERN + "\n" : ""}${body}
END:VCALENDAR
`.replace(/\n/g, "\r\n");
}

// RFC 4791 Appendix B, the resources of http://cal.example.com/bernard/work/.
const SAMPLE: Record<string, string> = {
  abcd1: ics(`BEGIN:VEVENT
DTSTAMP:20060206T001102Z
DTSTART;TZID=US/Eastern:20060102T100000
DURATION:PT1H
SUMMARY:Event #1
Description:Go Steelers!
UID:74855313FA803DA593CD579A@example.com
END:VEVENT`),
  abcd2: ics(`BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART;TZID=US/Eastern:20060102T120000
DURATION:PT1H
RRULE:FREQ=DAILY;COUNT=5
SUMMARY:Event #2
UID:00959BC664CA650E933C892C@example.com
END:VEVENT
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART;TZID=US/Eastern:20060104T140000
DURATION:PT1H
RECURRENCE-ID;TZID=US/Eastern:20060104T120000
SUMMARY:Event #2 bis
UID:00959BC664CA650E933C892C@example.com
END:VEVENT
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART;TZID=US/Eastern:20060106T140000
DURATION:PT1H
RECURRENCE-ID;TZID=US/Eastern:20060106T120000
SUMMARY:Event #2 bis bis
UID:00959BC664CA650E933C892C@example.com
END:VEVENT`),
  abcd3: ics(`BEGIN:VEVENT
ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:cyrus@example.com
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:lisa@example.com
DTSTAMP:20060206T001220Z
DTSTART;TZID=US/Eastern:20060104T100000
DURATION:PT1H
LAST-MODIFIED:20060206T001330Z
ORGANIZER:mailto:cyrus@example.com
SEQUENCE:1
STATUS:TENTATIVE
SUMMARY:Event #3
UID:DC6C50A017428C5216A2F1CD@example.com
END:VEVENT`),
  abcd4: ics(
    `BEGIN:VTODO
DTSTAMP:20060205T235335Z
DUE;VALUE=DATE:20060104
STATUS:NEEDS-ACTION
SUMMARY:Task #1
UID:DDDEEB7915FA61233B861457@example.com
BEGIN:VALARM
ACTION:AUDIO
TRIGGER;RELATED=START:-PT10M
END:VALARM
END:VTODO`,
    false,
  ),
  abcd5: ics(`BEGIN:VTODO
DTSTAMP:20060205T235300Z
DUE;TZID=US/Eastern:20060106T120000
LAST-MODIFIED:20060205T235308Z
SEQUENCE:1
STATUS:NEEDS-ACTION
SUMMARY:Task #2
UID:E10BA47467C5C69BB74E8720@example.com
BEGIN:VALARM
ACTION:AUDIO
TRIGGER;RELATED=START:-PT10M
END:VALARM
END:VTODO`),
  abcd6: ics(
    `BEGIN:VTODO
COMPLETED:20051223T122322Z
DTSTAMP:20060205T235400Z
DUE;VALUE=DATE:20051225
LAST-MODIFIED:20060205T235308Z
SEQUENCE:1
STATUS:COMPLETED
SUMMARY:Task #3
UID:E10BA47467C5C69BB74E8722@example.com
END:VTODO`,
    false,
  ),
  abcd7: ics(
    `BEGIN:VTODO
DTSTAMP:20060205T235600Z
DUE;VALUE=DATE:20060101
LAST-MODIFIED:20060205T235308Z
SEQUENCE:1
STATUS:CANCELLED
SUMMARY:Task #4
UID:E10BA47467C5C69BB74E8725@example.com
END:VTODO`,
    false,
  ),
  abcd8: ics(
    `BEGIN:VFREEBUSY
ORGANIZER;CN="Bernard Desruisseaux":mailto:bernard@example.com
UID:76ef34-54a3d2@example.com
DTSTAMP:20050530T123421Z
DTSTART:20060101T000000Z
DTEND:20060108T000000Z
FREEBUSY:20050531T230000Z/20050601T010000Z
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060102T100000Z/20060102T120000Z
FREEBUSY:20060103T100000Z/20060103T120000Z
FREEBUSY:20060104T100000Z/20060104T120000Z
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20060105T100000Z/20060105T120000Z
FREEBUSY:20060106T100000Z/20060106T120000Z
END:VFREEBUSY`,
    false,
  ),
};

const XML_LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };

function xml(text: string): XmlElement {
  return parseXml(`<C:x xmlns:C="${CALDAV_NS}" xmlns:D="DAV:">${text}</C:x>`, XML_LIMITS)
    .children[0];
}

/** The sample resources a filter (the inside of comp-filter VCALENDAR) selects. */
function query(inner: string, objects = SAMPLE): string[] {
  const filter = xml(
    `<C:filter><C:comp-filter name="VCALENDAR">${inner}</C:comp-filter></C:filter>`,
  );
  checkCalendarFilter(filter);
  return Object.entries(objects)
    .filter(([, text]) =>
      matchCalendarFilter(parseICalendar(text, LIMITS), filter, { limits: LIMITS })
    )
    .map(([name]) => name);
}

Deno.test("RFC 4791 7.8.8: retrieval of events only", () => {
  assertEquals(query(`<C:comp-filter name="VEVENT"/>`), ["abcd1", "abcd2", "abcd3"]);
});

Deno.test("RFC 4791 7.8.1: time-range on VEVENT takes recurrence and overrides into account", () => {
  const range = (s: string, e: string) =>
    query(`<C:comp-filter name="VEVENT"><C:time-range start="${s}" end="${e}"/></C:comp-filter>`);
  assertEquals(range("20060104T000000Z", "20060105T000000Z"), ["abcd2", "abcd3"]);
  // Only a generated instance of abcd2 (Jan 3, 12:00 EST) lies in this range.
  assertEquals(range("20060103T000000Z", "20060104T000000Z"), ["abcd2"]);
  // The Jan 4 instance was moved from 17:00Z to 19:00Z by "Event #2 bis".
  assertEquals(range("20060104T170000Z", "20060104T180000Z"), []);
  assertEquals(range("20060104T190000Z", "20060104T193000Z"), ["abcd2"]);
  // An open-ended range.
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z"/></C:comp-filter>`),
    ["abcd2", "abcd3"],
  );
});

Deno.test("RFC 4791 7.8.6: retrieval of an event by UID, under each collation", () => {
  const byUid = (uid: string, collation: string) =>
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="UID">
      <C:text-match collation="${collation}">${uid}</C:text-match></C:prop-filter></C:comp-filter>`);
  assertEquals(byUid("DC6C50A017428C5216A2F1CD@example.com", "i;octet"), ["abcd3"]);
  assertEquals(byUid("dc6c50a017428c5216a2f1cd@EXAMPLE.com", "i;octet"), []);
  assertEquals(byUid("dc6c50a017428c5216a2f1cd@EXAMPLE.com", "i;ascii-casemap"), ["abcd3"]);
  // text-match is a substring match; property names are case-insensitive ("Description").
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="DESCRIPTION">
      <C:text-match>steelers</C:text-match></C:prop-filter></C:comp-filter>`),
    ["abcd1"],
  );
});

Deno.test("RFC 4791 7.8.7: retrieval of events by PARTSTAT (param-filter)", () => {
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE">
      <C:text-match collation="i;ascii-casemap">mailto:lisa@example.com</C:text-match>
      <C:param-filter name="PARTSTAT"><C:text-match collation="i;ascii-casemap">NEEDS-ACTION</C:text-match>
      </C:param-filter></C:prop-filter></C:comp-filter>`),
    ["abcd3"],
  );
  // Cyrus accepted: the same property must satisfy both.
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE">
      <C:text-match>mailto:cyrus@example.com</C:text-match>
      <C:param-filter name="PARTSTAT"><C:text-match>NEEDS-ACTION</C:text-match></C:param-filter>
      </C:prop-filter></C:comp-filter>`),
    [],
  );
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE">
      <C:param-filter name="ROLE"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter>`),
    ["abcd3"],
  );
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="ORGANIZER">
      <C:param-filter name="CN"/></C:prop-filter></C:comp-filter>`),
    [],
  );
});

Deno.test("RFC 4791 7.8.9: pending to-dos (is-not-defined and negate-condition)", () => {
  assertEquals(
    query(`<C:comp-filter name="VTODO">
      <C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>
      <C:prop-filter name="STATUS"><C:text-match negate-condition="yes">CANCELLED</C:text-match>
      </C:prop-filter></C:comp-filter>`),
    ["abcd4", "abcd5"],
  );
  assertEquals(
    query(`<C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:is-not-defined/>
      </C:comp-filter></C:comp-filter>`),
    ["abcd6", "abcd7"],
  );
});

Deno.test("RFC 4791 7.8.5: to-dos with an alarm in a time range (trigger times, 9.9)", () => {
  assertEquals(
    query(`<C:comp-filter name="VTODO"><C:comp-filter name="VALARM">
      <C:time-range start="20060106T100000Z" end="20060107T100000Z"/></C:comp-filter></C:comp-filter>`),
    ["abcd5"],
  );
  // abcd4's alarm: 10 minutes before its DUE date (midnight UTC, floating) = Jan 3 23:50Z.
  assertEquals(
    query(`<C:comp-filter name="VTODO"><C:comp-filter name="VALARM">
      <C:time-range start="20060103T234500Z" end="20060103T235500Z"/></C:comp-filter></C:comp-filter>`),
    ["abcd4"],
  );
});

Deno.test("VALARM time-range: RELATED=END, REPEAT and alarms on recurring events", () => {
  const event = ics(
    `BEGIN:VEVENT
UID:alarm
DTSTAMP:20260101T000000Z
DTSTART:20260105T090000Z
DTEND:20260105T100000Z
RRULE:FREQ=DAILY;COUNT=3
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;RELATED=END:PT5M
REPEAT:2
DURATION:PT10M
END:VALARM
END:VEVENT`,
    false,
  );
  const alarm = (s: string, e: string) =>
    query(
      `<C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">
        <C:time-range start="${s}" end="${e}"/></C:comp-filter></C:comp-filter>`,
      { event },
    ).length === 1;
  assert(alarm("20260107T100500Z", "20260107T100600Z"), "third instance's first trigger");
  assert(alarm("20260106T102500Z", "20260106T102600Z"), "second instance's last repeat");
  assert(!alarm("20260106T103000Z", "20260107T100000Z"), "between triggers");
  assert(!alarm("20260108T000000Z", "20260109T000000Z"), "after COUNT");
});

Deno.test("RFC 4791 7.8.4: VFREEBUSY time-range, and time-range on a property", () => {
  const fb = (s: string, e: string) =>
    query(
      `<C:comp-filter name="VFREEBUSY"><C:time-range start="${s}" end="${e}"/></C:comp-filter>`,
    );
  assertEquals(fb("20060102T000000Z", "20060103T000000Z"), ["abcd8"]);
  assertEquals(fb("20060102T130000Z", "20060102T140000Z"), []);
  assertEquals(fb("20070101T000000Z", "20070102T000000Z"), []);
  assertEquals(
    query(`<C:comp-filter name="VEVENT"><C:prop-filter name="DTSTAMP">
      <C:time-range start="20060206T001200Z" end="20060206T001300Z"/></C:prop-filter></C:comp-filter>`),
    ["abcd3"],
  );
});

Deno.test("RFC 4791 9.9: time-range on VTODO, row by row", () => {
  const todo = (lines: string) =>
    ics(`BEGIN:VTODO\nUID:t\nDTSTAMP:20260101T000000Z\n${lines}\nEND:VTODO`, false);
  const todos = {
    startDuration: todo("DTSTART:20260110T100000Z\nDURATION:PT2H"),
    startDue: todo("DTSTART:20260110T100000Z\nDUE:20260110T120000Z"),
    startOnly: todo("DTSTART:20260110T100000Z"),
    dueOnly: todo("DUE:20260110T120000Z"),
    completedCreated: todo("CREATED:20260101T000000Z\nCOMPLETED:20260105T000000Z"),
    completedOnly: todo("COMPLETED:20260105T000000Z"),
    createdOnly: todo("CREATED:20260101T000000Z"),
    undated: todo("SUMMARY:someday"),
  };
  const inRange = (s: string, e: string) =>
    query(
      `<C:comp-filter name="VTODO"><C:time-range start="${s}" end="${e}"/></C:comp-filter>`,
      todos,
    );
  assertEquals(inRange("20260110T110000Z", "20260110T113000Z"), [
    "startDuration",
    "startDue",
    "createdOnly",
    "undated",
  ]);
  // DUE only: (start < DUE) AND (end >= DUE); DTSTART+DUE needs start < DUE too.
  assertEquals(inRange("20260110T113000Z", "20260110T120000Z"), [
    "startDuration",
    "startDue",
    "dueOnly",
    "createdOnly",
    "undated",
  ]);
  assertEquals(inRange("20260110T090000Z", "20260110T100001Z"), [
    "startDuration",
    "startDue",
    "startOnly",
    "createdOnly",
    "undated",
  ]);
  assertEquals(inRange("20260103T000000Z", "20260104T000000Z"), [
    "completedCreated",
    "createdOnly",
    "undated",
  ]);
  assertEquals(inRange("20260105T000000Z", "20260106T000000Z"), [
    "completedCreated",
    "completedOnly",
    "createdOnly",
    "undated",
  ]);
  assertEquals(inRange("20260110T120000Z", "20260110T130000Z"), [
    "startDuration",
    "createdOnly",
    "undated",
  ]);
  assertEquals(inRange("20251201T000000Z", "20251202T000000Z"), ["undated"]);
});

Deno.test("text-match: i;unicode-casemap folds non-ASCII, i;ascii-casemap does not", () => {
  const event = ics(
    `BEGIN:VEVENT
UID:u
DTSTAMP:20260101T000000Z
DTSTART:20260105T090000Z
SUMMARY:Réunion ÉQUIPE\\, salle 2
END:VEVENT`,
    false,
  );
  const summary = (needle: string, collation: string) =>
    query(
      `<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">
        <C:text-match collation="${collation}">${needle}</C:text-match></C:prop-filter></C:comp-filter>`,
      { event },
    ).length === 1;
  assert(summary("équipe", "i;unicode-casemap"));
  assert(!summary("équipe", "i;ascii-casemap"));
  assert(summary("ÉQUIPE, salle", "i;octet"), "TEXT escapes are undone before matching");
});

Deno.test("filter errors: each is a CalendarFilterError with its precondition", () => {
  const refused = (text: string, precondition: string) => {
    try {
      checkCalendarFilter(xml(text));
    } catch (error) {
      assert(error instanceof CalendarFilterError, String(error));
      assertEquals(error.precondition, precondition, error.message);
      return;
    }
    throw new Error(`accepted ${text}`);
  };
  refused(`<C:filter><C:comp-filter name="VEVENT"/></C:filter>`, "valid-filter");
  refused(`<C:filter/>`, "valid-filter");
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
      <C:time-range start="2006"/></C:comp-filter></C:comp-filter></C:filter>`,
    "valid-filter",
  );
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
      <C:time-range/></C:comp-filter></C:comp-filter></C:filter>`,
    "valid-filter",
  );
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID">
      <C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter>
      </C:comp-filter></C:filter>`,
    "supported-collation",
  );
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID">
      <C:text-match negate-condition="maybe">x</C:text-match></C:prop-filter></C:comp-filter>
      </C:comp-filter></C:filter>`,
    "valid-filter",
  );
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:is-not-defined/>
      <C:prop-filter name="UID"/></C:comp-filter></C:comp-filter></C:filter>`,
    "valid-filter",
  );
  refused(
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter/></C:comp-filter></C:filter>`,
    "valid-filter",
  );
});

// calendar-data (RFC 4791 9.6)

function render(name: string, inner: string): string {
  const text = SAMPLE[name];
  const calendarData = xml(`<C:calendar-data>${inner}</C:calendar-data>`);
  return renderCalendarData(text, parseICalendar(text, LIMITS), calendarData, LIMITS)
    .replace(/\r\n/g, "\n");
}

Deno.test("RFC 4791 7.8.3: expand returns UTC instances with RECURRENCE-ID, no VTIMEZONE", () => {
  const expand = `<C:expand start="20060103T000000Z" end="20060105T000000Z"/>`;
  assertEquals(
    render("abcd2", expand),
    `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//CalDAV Client//EN
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART:20060103T170000Z
DURATION:PT1H
SUMMARY:Event #2
UID:00959BC664CA650E933C892C@example.com
RECURRENCE-ID:20060103T170000Z
END:VEVENT
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART:20060104T190000Z
DURATION:PT1H
RECURRENCE-ID:20060104T170000Z
SUMMARY:Event #2 bis
UID:00959BC664CA650E933C892C@example.com
END:VEVENT
END:VCALENDAR
`,
  );
  const single = render("abcd3", expand);
  assertStringIncludes(single, "\nDTSTART:20060104T150000Z\n");
  assert(!single.includes("RECURRENCE-ID") && !single.includes("VTIMEZONE"), single);
});

Deno.test("RFC 4791 7.8.2: limit-recurrence-set keeps the master and overrides in range", () => {
  const out = render(
    "abcd2",
    `<C:limit-recurrence-set start="20060103T000000Z" end="20060105T000000Z"/>`,
  );
  assertStringIncludes(out, "RRULE:FREQ=DAILY;COUNT=5");
  assertStringIncludes(out, "SUMMARY:Event #2 bis\n");
  assert(!out.includes("Event #2 bis bis"), out);
  assertStringIncludes(out, "BEGIN:VTIMEZONE");
});

Deno.test("RFC 4791 7.8.1: comp/prop selection keeps only the named parts", () => {
  const out = render(
    "abcd3",
    `<C:comp name="VCALENDAR"><C:prop name="VERSION"/>
      <C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID"/><C:prop name="DTSTART"/>
      <C:prop name="ATTENDEE" novalue="yes"/></C:comp><C:comp name="VTIMEZONE"/></C:comp>`,
  );
  assertEquals(
    out,
    `BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VTIMEZONE
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:
ATTENDEE;PARTSTAT=NEEDS-ACTION:
DTSTART;TZID=US/Eastern:20060104T100000
SUMMARY:Event #3
UID:DC6C50A017428C5216A2F1CD@example.com
END:VEVENT
END:VCALENDAR
`,
  );
  const all = render("abcd5", `<C:comp name="VCALENDAR"><C:allprop/><C:allcomp/></C:comp>`);
  assertEquals(all, SAMPLE.abcd5.replace(/\r\n/g, "\n"));
});

Deno.test("RFC 4791 7.8.4: limit-freebusy-set keeps the FREEBUSY periods in range", () => {
  const out = render(
    "abcd8",
    `<C:limit-freebusy-set start="20060102T000000Z" end="20060103T000000Z"/>`,
  );
  assertEquals(out.match(/^FREEBUSY.*$/gm), [
    "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060102T100000Z/20060102T120000Z",
  ]);
});

Deno.test("calendar-data without children returns the stored text unchanged", () => {
  const text =
    "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nDTSTART:20260101\nEND:VEVENT\nEND:VCALENDAR\n";
  const root = parseICalendar(text, LIMITS);
  assertEquals(renderCalendarData(text, root, undefined, LIMITS), text);
  assertEquals(renderCalendarData(text, root, xml(`<C:calendar-data/>`), LIMITS), text);
});

// free-busy-query (RFC 4791 7.10)

Deno.test("RFC 4791 7.10.1: free-busy over the sample calendar", () => {
  const objects = Object.values(SAMPLE).map((t) => parseICalendar(t, LIMITS));
  const out = freeBusy(objects, Date.UTC(2006, 0, 4, 14), Date.UTC(2006, 0, 5), LIMITS);
  const lines = out.split("\r\n");
  assert(
    lines.includes("DTSTART:20060104T140000Z") && lines.includes("DTEND:20060105T000000Z"),
    out,
  );
  assertEquals(lines.filter((l) => l.startsWith("FREEBUSY")), [
    "FREEBUSY;FBTYPE=BUSY:20060104T190000Z/20060104T200000Z",
    "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060104T150000Z/20060104T160000Z",
  ]);
});

Deno.test("free-busy: merging, clipping, TRANSPARENT, CANCELLED and stored VFREEBUSY types", () => {
  const event = (uid: string, start: string, end: string, extra = "") =>
    parseICalendar(
      ics(
        `BEGIN:VEVENT\nUID:${uid}\nDTSTAMP:20260101T000000Z\nDTSTART:${start}\nDTEND:${end}${extra}\nEND:VEVENT`,
        false,
      ),
      LIMITS,
    );
  const objects = [
    event("a", "20260105T090000Z", "20260105T100000Z"),
    event("b", "20260105T093000Z", "20260105T110000Z"),
    event("c", "20260105T110000Z", "20260105T113000Z"),
    event("d", "20260105T130000Z", "20260105T140000Z", "\nTRANSP:TRANSPARENT"),
    event("e", "20260105T150000Z", "20260105T160000Z", "\nSTATUS:CANCELLED"),
    event("f", "20260104T230000Z", "20260105T010000Z"),
    parseICalendar(SAMPLE.abcd8.replace(/2006/g, "2026"), LIMITS),
  ];
  const out = freeBusy(objects, Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 6), LIMITS);
  assertEquals(out.replace(/\r\n /g, "").split("\r\n").filter((l) => l.startsWith("FREEBUSY")), [
    "FREEBUSY;FBTYPE=BUSY:20260105T000000Z/20260105T010000Z,20260105T090000Z/20260105T113000Z",
    "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260105T100000Z/20260105T120000Z",
  ]);
});

Deno.test("an open-ended time-range years after an infinite SECONDLY rule starts still matches", () => {
  const daily = ics(
    "BEGIN:VEVENT\nUID:d\nDTSTAMP:20260101T000000Z\nDTSTART:20260105T090000Z\nRRULE:FREQ=SECONDLY\nSUMMARY:tick\nEND:VEVENT",
    false,
  );
  const tiny = { ...LIMITS, maxInstances: 5 };
  const filter = xml(`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20300101T000000Z"/></C:comp-filter></C:comp-filter></C:filter>`);
  // Walking the four years of seconds before the range would exhaust the budget first.
  assert(matchCalendarFilter(parseICalendar(daily, tiny), filter, { limits: tiny }));
});

Deno.test("expand keeps all-day instances as DATEs and floating times floating", () => {
  const text = ics(
    "BEGIN:VEVENT\nUID:a\nDTSTAMP:20260101T000000Z\nDTSTART;VALUE=DATE:20260105\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20260106\nSUMMARY:off\nEND:VEVENT",
    false,
  );
  const calendarData = xml(
    `<C:calendar-data><C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data>`,
  );
  const out = renderCalendarData(text, parseICalendar(text, LIMITS), calendarData, LIMITS);
  assertEquals(out.split("\r\n").filter((l) => /^(DTSTART|RECURRENCE-ID|RRULE|EXDATE)/.test(l)), [
    "DTSTART;VALUE=DATE:20260105",
    "RECURRENCE-ID;VALUE=DATE:20260105",
    "DTSTART;VALUE=DATE:20260107",
    "RECURRENCE-ID;VALUE=DATE:20260107",
  ]);
});
