/**
 * IMAP date and date-time (RFC 9051 9): parsing the grammar's forms, range checks, INTERNALDATE
 * formatting in the stored zone, SEARCH day boundaries, and a seeded fuzz.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  dateDayNumber,
  dayNumber,
  formatDate,
  formatDateTime,
  ImapDateError,
  parseDate,
  parseDateTime,
  searchDay,
} from "../../src/imap/datetime.ts";

Deno.test("date: 1-Feb-1994, 01-Feb-1994, quoted, any month case", () => {
  assertEquals(parseDate("1-Feb-1994"), { year: 1994, month: 2, day: 1 });
  assertEquals(parseDate("01-Feb-1994"), { year: 1994, month: 2, day: 1 });
  assertEquals(parseDate('"1-Feb-1994"'), { year: 1994, month: 2, day: 1 });
  assertEquals(parseDate("31-DEC-2024"), { year: 2024, month: 12, day: 31 });
  assertEquals(parseDate("29-feb-2024"), { year: 2024, month: 2, day: 29 });
  assertEquals(formatDate({ year: 1994, month: 2, day: 1 }), "1-Feb-1994");
  assertEquals(formatDate({ year: 2024, month: 12, day: 31 }), "31-Dec-2024");
});

Deno.test("date: impossible and malformed dates are ImapDateErrors", () => {
  for (
    const text of [
      "",
      "1-Feb-94",
      "001-Feb-1994",
      "1 Feb 1994",
      "1-February-1994",
      "1-Foo-1994",
      "0-Feb-1994",
      "32-Jan-1994",
      "31-Apr-1994",
      "29-Feb-2023",
      "29-Feb-1900",
      "1-Feb-0000",
      "1-Feb-1994 ",
      '"1-Feb-1994',
    ]
  ) {
    const error = assertThrows(() => parseDate(text), ImapDateError);
    assert(error.message.length > 0, text);
  }
  assertEquals(parseDate("29-Feb-2000").day, 29);
});

Deno.test("date-time: the RFC example, space- and zero-padded days, zones", () => {
  const example = parseDateTime('"17-Jul-1996 02:44:25 -0700"');
  assertEquals(example, { epochMs: Date.UTC(1996, 6, 17, 9, 44, 25), zoneOffsetMinutes: -420 });
  assertEquals(
    parseDateTime(" 7-Jul-1996 02:44:25 +0000").epochMs,
    Date.UTC(1996, 6, 7, 2, 44, 25),
  );
  assertEquals(
    parseDateTime("07-Jul-1996 02:44:25 +0000").epochMs,
    Date.UTC(1996, 6, 7, 2, 44, 25),
  );
  assertEquals(parseDateTime("01-Jan-2000 00:30:00 +0530"), {
    epochMs: Date.UTC(1999, 11, 31, 19, 0, 0),
    zoneOffsetMinutes: 330,
  });
  assertEquals(parseDateTime("01-Jan-2000 00:00:00 -0000").zoneOffsetMinutes, 0);
  // A leap second is the next minute's :00.
  assertEquals(parseDateTime("31-Dec-2016 23:59:60 +0000").epochMs, Date.UTC(2017, 0, 1));
});

Deno.test("date-time: malformed or out-of-range values are ImapDateErrors", () => {
  for (
    const text of [
      "7-Jul-1996 02:44:25 -0700", // date-day-fixed needs two characters
      "17-Jul-1996 2:44:25 -0700",
      "17-Jul-1996 02:44:25",
      "17-Jul-1996 02:44:25 0700",
      "17-Jul-1996 02:44:25 -07:00",
      "17-Jul-1996 02:44:25 GMT",
      "17-Jul-1996  02:44:25 -0700",
      "17-Jul-1996 24:00:00 +0000",
      "17-Jul-1996 23:60:00 +0000",
      "17-Jul-1996 23:59:61 +0000",
      "17-Jul-1996 02:44:25 +2400",
      "17-Jul-1996 02:44:25 +0060",
      "31-Jun-1996 02:44:25 +0000",
      "17-Jul-1996T02:44:25 +0000",
    ]
  ) {
    assertThrows(() => parseDateTime(text), ImapDateError);
  }
});

Deno.test("date-time: INTERNALDATE is written in the stored zone, zero-padded", () => {
  const instant = Date.UTC(1996, 6, 17, 9, 44, 25);
  assertEquals(formatDateTime(instant, -420), "17-Jul-1996 02:44:25 -0700");
  assertEquals(formatDateTime(instant), "17-Jul-1996 09:44:25 +0000");
  assertEquals(formatDateTime(instant, 330), "17-Jul-1996 15:14:25 +0530");
  assertEquals(formatDateTime(Date.UTC(2024, 1, 3, 4, 5, 6)), "03-Feb-2024 04:05:06 +0000");
  assertEquals(formatDateTime(Date.UTC(2024, 0, 1, 0, 30), -60), "31-Dec-2023 23:30:00 -0100");
  // APPEND then FETCH gives the client back what it sent (zero-padded day).
  const appended = parseDateTime(" 7-Jul-1996 02:44:25 -0700");
  assertEquals(
    formatDateTime(appended.epochMs, appended.zoneOffsetMinutes),
    "07-Jul-1996 02:44:25 -0700",
  );
  assertThrows(() => formatDateTime(NaN), ImapDateError);
  assertThrows(() => formatDateTime(0, 24 * 60), ImapDateError);
  assertThrows(() => formatDateTime(Date.UTC(10000, 0, 1)), ImapDateError);
});

Deno.test("search day: [start, end) of a date in a zone; day numbers of a message", () => {
  const day = parseDate("1-Feb-1994");
  assertEquals(searchDay(day, 0), { start: Date.UTC(1994, 1, 1), end: Date.UTC(1994, 1, 2) });
  assertEquals(searchDay(day, 60), {
    start: Date.UTC(1994, 0, 31, 23),
    end: Date.UTC(1994, 1, 1, 23),
  });
  assertEquals(searchDay(day, -420).start, Date.UTC(1994, 1, 1, 7));
  // A message received at 05:00 UTC on 17 July in -0700 shows 16-Jul: ON 16-Jul matches it.
  const received = parseDateTime("16-Jul-1996 22:00:00 -0700");
  const shown = dayNumber(received.epochMs, received.zoneOffsetMinutes);
  assertEquals(shown, dateDayNumber(parseDate("16-Jul-1996")));
  assert(shown < dateDayNumber(parseDate("17-Jul-1996"))); // BEFORE 17-Jul
  assertEquals(dayNumber(received.epochMs, 0), dateDayNumber(parseDate("17-Jul-1996")));
  assertEquals(dateDayNumber({ year: 1970, month: 1, day: 2 }), 1);
  assertEquals(dateDayNumber({ year: 1969, month: 12, day: 31 }), -1);
  // Both views agree: the instant lies inside the searchDay of its own day and zone.
  const window = searchDay(parseDate("16-Jul-1996"), received.zoneOffsetMinutes);
  assert(window.start <= received.epochMs && received.epochMs < window.end);
});

const PIECES = ["1", "7", "0", "3", "9", "-", " ", ":", "+", "Jul", "Feb", "feb", "1996", '"'];

Deno.test("datetime fuzz: random text parses or throws ImapDateError; round trips hold", () => {
  for (const seed of [41, 42, 43]) {
    const random = mulberry32(seed);
    for (let i = 0; i < 5000; i++) {
      let text = "";
      const length = Math.floor(random() * 14);
      for (let k = 0; k < length; k++) {
        text += random() < 0.85
          ? PIECES[Math.floor(random() * PIECES.length)]
          : String.fromCharCode(Math.floor(random() * 0x80));
      }
      for (const parse of [parseDate, parseDateTime]) {
        try {
          parse(text);
        } catch (error) {
          if (!(error instanceof ImapDateError)) throw error;
        }
      }
      // Any instant from year 1 to 9999 in any whole-minute zone formats and parses back.
      const epochMs = Math.floor((random() * 2 - 1) * 6e13 / 1000) * 1000;
      const zone = Math.floor((random() * 2 - 1) * (24 * 60 - 1));
      const written = formatDateTime(epochMs, zone);
      assertEquals(parseDateTime(written), { epochMs, zoneOffsetMinutes: zone || 0 }, written);
      const date = {
        year: 1 + Math.floor(random() * 9999),
        month: 1 + Math.floor(random() * 12),
        day: 1 + Math.floor(random() * 28),
      };
      assertEquals(parseDate(formatDate(date)), date);
      const window = searchDay(date, zone);
      assertEquals(dayNumber(window.start, zone), dateDayNumber(date));
      assertEquals(dayNumber(window.end - 1, zone), dateDayNumber(date));
    }
  }
});
