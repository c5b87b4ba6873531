/**
 * Interop: the python `caldav` library (python3-caldav, what many sync scripts and bots use)
 * against Postern's CalDAV: principal discovery from the server root, MKCALENDAR, saving a
 * single event, a weekly series with an EXDATE and one instance moved by a RECURRENCE-ID
 * override, an event with a DURATION crossing midnight and an all-day event, then time-range
 * searches over ranges chosen to hit the edges (an excluded date, a moved instance's old and new
 * slot, an event ending exactly at the range start). The UIDs, and with expand the instances,
 * each search returns are compared with a brute-force expansion done in python with
 * dateutil + icalendar from the same source text.
 * Needs python3-caldav, python3-dateutil and python3-icalendar (scripts/install-dav-peers.sh).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";

const LOGIN = "alice@example.com";
const PASSWORD = "pw-alice-dav";

const SCRIPT = String.raw`
import json, sys
from datetime import date, datetime, timedelta, timezone
import caldav
import icalendar
from dateutil.rrule import rrulestr

root, user, password, cal_id = sys.argv[1:5]
UTC = timezone.utc

def vcal(*lines):
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Postern//interop//EN",
                        *lines, "END:VCALENDAR", ""])

EVENTS = {
    "single-1@example.com": vcal(
        "BEGIN:VEVENT", "UID:single-1@example.com", "DTSTAMP:20300101T000000Z",
        "DTSTART:20300110T100000Z", "DTEND:20300110T110000Z", "SUMMARY:Single",
        "END:VEVENT"),
    # Mondays from 7 January, ten times; the 21st excluded, the 28th moved to 27 February.
    "weekly-1@example.com": vcal(
        "BEGIN:VEVENT", "UID:weekly-1@example.com", "DTSTAMP:20300101T000000Z",
        "DTSTART:20300107T090000Z", "DTEND:20300107T093000Z", "SUMMARY:Weekly",
        "RRULE:FREQ=WEEKLY;COUNT=10", "EXDATE:20300121T090000Z", "END:VEVENT",
        "BEGIN:VEVENT", "UID:weekly-1@example.com", "DTSTAMP:20300101T000000Z",
        "RECURRENCE-ID:20300128T090000Z", "DTSTART:20300227T150000Z",
        "DTEND:20300227T153000Z", "SUMMARY:Weekly (moved)", "END:VEVENT"),
    "duration-1@example.com": vcal(
        "BEGIN:VEVENT", "UID:duration-1@example.com", "DTSTAMP:20300101T000000Z",
        "DTSTART:20300131T233000Z", "DURATION:PT1H", "SUMMARY:Over midnight", "END:VEVENT"),
    # All day on 15 and 16 February (DTEND is exclusive).
    "allday-1@example.com": vcal(
        "BEGIN:VEVENT", "UID:allday-1@example.com", "DTSTAMP:20300101T000000Z",
        "DTSTART;VALUE=DATE:20300215", "DTEND;VALUE=DATE:20300217", "SUMMARY:All day",
        "END:VEVENT"),
    "daily-1@example.com": vcal(
        "BEGIN:VEVENT", "UID:daily-1@example.com", "DTSTAMP:20300101T000000Z",
        "DTSTART:20300320T080000Z", "DTEND:20300320T083000Z", "SUMMARY:Daily",
        "RRULE:FREQ=DAILY;UNTIL=20300324T080000Z", "END:VEVENT"),
}

def d(text):
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

RANGES = [
    ("first week", "20300101T000000Z", "20300108T000000Z"),
    ("excluded date", "20300120T000000Z", "20300122T000000Z"),
    ("moved instance's old slot", "20300128T000000Z", "20300129T000000Z"),
    ("moved instance's new slot", "20300227T000000Z", "20300228T000000Z"),
    ("tail of an event over midnight", "20300201T000000Z", "20300202T000000Z"),
    ("inside an all-day event", "20300216T000000Z", "20300217T000000Z"),
    ("all-day event ends at range start", "20300217T000000Z", "20300218T000000Z"),
    ("inside a single event", "20300110T103000Z", "20300110T104500Z"),
    ("single event ends at range start", "20300110T110000Z", "20300110T120000Z"),
    ("after the weekly series", "20300312T000000Z", "20310101T000000Z"),
    ("whole year", "20300101T000000Z", "20301231T000000Z"),
    ("nothing", "20290101T000000Z", "20291231T000000Z"),
]

def utc(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)  # all day, floating as UTC

def span(component):
    start = utc(component.decoded("DTSTART"))
    if "DTEND" in component:
        return start, utc(component.decoded("DTEND"))
    if "DURATION" in component:
        return start, start + component.decoded("DURATION")
    one_day = not isinstance(component.decoded("DTSTART"), datetime)
    return start, start + (timedelta(days=1) if one_day else timedelta(0))

def brute_force_instances():
    """(uid, start, end) of every instance, expanded by hand from the source text."""
    out = []
    for uid, text in EVENTS.items():
        components = list(icalendar.Calendar.from_ical(text).walk("VEVENT"))
        overrides = {utc(c.decoded("RECURRENCE-ID")): c for c in components
                     if "RECURRENCE-ID" in c}
        for master in (c for c in components if "RECURRENCE-ID" not in c):
            start, end = span(master)
            if "RRULE" not in master:
                out.append((uid, start, end))
                continue
            rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=start)
            exdates = master.get("EXDATE", [])
            exdates = exdates if isinstance(exdates, list) else [exdates]
            excluded = {utc(x.dt) for e in exdates for x in e.dts}
            for occurrence in rule:
                if occurrence in excluded:
                    continue
                if occurrence in overrides:
                    out.append((uid, *span(overrides[occurrence])))
                else:
                    out.append((uid, occurrence, occurrence + (end - start)))
    return out

def overlaps(instance, start, end):
    # RFC 4791 9.9: start < range end and end > range start.
    return instance[1] < end and instance[2] > start

def uids(objects):
    return sorted({str(c["UID"]) for o in objects
                   for c in icalendar.Calendar.from_ical(o.data).walk("VEVENT")})

def starts(objects):
    return sorted(f'{c["UID"]} {utc(c.decoded("DTSTART")).strftime("%Y%m%dT%H%M%SZ")}'
                  for o in objects for c in icalendar.Calendar.from_ical(o.data).walk("VEVENT"))

client = caldav.DAVClient(url=root, username=user, password=password)
principal = client.principal()
calendar = principal.make_calendar(name="Interop", cal_id=cal_id)
result = {"principal": str(principal.url), "calendar": str(calendar.url)}
result["calendars"] = [str(c.url) for c in principal.calendars()]
for text in EVENTS.values():
    calendar.save_event(text)
result["saved"] = uids(calendar.events())

instances = brute_force_instances()
result["ranges"] = []
for name, start_text, end_text in RANGES:
    start, end = d(start_text), d(end_text)
    hits = [i for i in instances if overlaps(i, start, end)]
    row = {"name": name, "start": start_text, "end": end_text,
           "expected": sorted({i[0] for i in hits}),
           "expected_instances": sorted(f'{i[0]} {i[1].strftime("%Y%m%dT%H%M%SZ")}'
                                        for i in hits)}
    row["date_search"] = uids(calendar.date_search(start, end, expand=False))
    row["search"] = uids(calendar.search(start=start, end=end, event=True, expand=False))
    expanded = calendar.search(start=start, end=end, event=True, expand=True)
    row["search_expand"] = uids(expanded)
    row["search_expand_instances"] = starts(expanded)
    # The same REPORT without the library's client-side fallback: what the server expanded.
    query, comp_class = calendar.build_search_xml_query(
        start=start, end=end, event=True, expand=True)
    _, raw = calendar._request_report_build_resultlist(query, comp_class)
    row["server_expand_instances"] = starts(raw)
    row["server_expand_left_rules"] = sorted(
        str(c["UID"]) for o in raw for c in icalendar.Calendar.from_ical(o.data).walk("VEVENT")
        if "RRULE" in c or "EXDATE" in c)
    result["ranges"].append(row)
print(json.dumps(result))
`;

interface RangeResult {
  name: string;
  start: string;
  end: string;
  expected: string[];
  expected_instances: string[];
  date_search: string[];
  search: string[];
  search_expand: string[];
  search_expand_instances: string[];
  server_expand_instances: string[];
  server_expand_left_rules: string[];
}

export interface CaldavResult {
  principal: string;
  calendar: string;
  calendars: string[];
  saved: string[];
  ranges: RangeResult[];
}

/** Runs the script against `root` and returns what it found. */
export async function pythonCaldav(
  root: string,
  user: string,
  password: string,
): Promise<CaldavResult> {
  const output = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", SCRIPT, root, user, password, "interop"],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const decoder = new TextDecoder();
  const stderr = decoder.decode(output.stderr);
  assertEquals(output.code, 0, stderr);
  return JSON.parse(decoder.decode(output.stdout));
}

/**
 * Asserts every search agreed with the brute-force expansion. With `serverExpands`, the server
 * itself must expand (RFC 4791 9.6.5): the library expands on the client when the server sends
 * back RRULEs, which would hide a server that ignores <C:expand>.
 */
export function assertCaldavAgrees(
  result: CaldavResult,
  calendarHome: string,
  serverExpands: boolean,
): void {
  assertEquals(decodeURIComponent(result.calendar), decodeURIComponent(`${calendarHome}interop/`));
  assert(result.calendars.includes(result.calendar), JSON.stringify(result.calendars));
  assertEquals(result.saved, [
    "allday-1@example.com",
    "daily-1@example.com",
    "duration-1@example.com",
    "single-1@example.com",
    "weekly-1@example.com",
  ]);
  // The ranges were chosen so that these hold; if the python side changes, they catch it.
  const expected = Object.fromEntries(result.ranges.map((r) => [r.name, r.expected]));
  assertEquals(expected["excluded date"], []);
  assertEquals(expected["moved instance's old slot"], []);
  assertEquals(expected["moved instance's new slot"], ["weekly-1@example.com"]);
  assertEquals(expected["whole year"], result.saved);
  for (const range of result.ranges) {
    assertEquals({
      name: range.name,
      date_search: range.date_search,
      search: range.search,
      search_expand: range.search_expand,
      search_expand_instances: range.search_expand_instances,
    }, {
      name: range.name,
      date_search: range.expected,
      search: range.expected,
      search_expand: range.expected,
      search_expand_instances: range.expected_instances,
    });
    if (!serverExpands) continue;
    assertEquals({
      name: range.name,
      server_expand_instances: range.server_expand_instances,
      server_expand_left_rules: range.server_expand_left_rules,
    }, {
      name: range.name,
      server_expand_instances: range.expected_instances,
      server_expand_left_rules: [],
    });
  }
}

Deno.test("python caldav discovers, makes a calendar, saves events and finds them by time range", async () => {
  const server = await startServer();
  try {
    const added = await cli(server.configPath, ["account", "add", LOGIN, "--password", PASSWORD]);
    assertEquals(added.code, 0, added.stderr);
    const root = `http://127.0.0.1:${server.ports.http}/`;
    const result = await pythonCaldav(root, LOGIN, PASSWORD);
    assertEquals(decodeURIComponent(result.principal), `${root}dav/principals/${LOGIN}/`);
    assertCaldavAgrees(result, `${root}dav/calendars/${LOGIN}/`, true);
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
