/**
 * Fuzz test for the iCalendar module (seeded, reproducible): random and mutated calendars with
 * random recurrence rules, time zones and overrides, random calendar-query filters and
 * calendar-data requests. Only ICalError (data) and CalendarFilterError (filter) may ever be
 * thrown; checkCalendarObject never throws; whatever parses survives a serialize/parse round
 * trip; and every call returns (the suite finishing is the check: expansions are bounded by a
 * small instance cap and budget, whatever the rule).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  CalendarFilterError,
  checkCalendarFilter,
  checkCalendarObject,
  expandInstances,
  freeBusy,
  ICalError,
  type ICalLimits,
  matchCalendarFilter,
  parseICalendar,
  renderCalendarData,
  serializeICalendar,
  type VComponent,
} from "../../src/dav/ical/mod.ts";
import { CALDAV_NS, el, type XmlElement } from "../../src/dav/xml.ts";

const SEEDS = [11, 22, 33];
const ROUNDS = 400;
const LIMITS: ICalLimits = {
  maxBytes: 64 << 10,
  maxLineBytes: 8 << 10,
  maxProperties: 2_000,
  maxComponents: 200,
  maxDepth: 8,
  maxInstances: 300,
  expansionBudgetMs: 30,
};

type Random = () => number;
const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const int = (rand: Random, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "NEVER"];
const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const ZONES = [
  "America/New_York",
  "Europe/Berlin",
  "Asia/Kolkata",
  "Pacific/Apia",
  "Nowhere/Zone",
  "Custom",
];

function list(rand: Random, lo: number, hi: number, signed: boolean): string {
  const n = int(rand, 1, 4);
  return Array.from({ length: n }, () => {
    const v = int(rand, lo, hi);
    return signed && rand() < 0.4 ? -v : v;
  }).join(",");
}

function randomRule(rand: Random): string {
  const parts = [`FREQ=${pick(rand, FREQS)}`];
  const add = (p: number, part: () => string) => rand() < p && parts.push(part());
  add(0.3, () => `INTERVAL=${int(rand, 0, 400)}`);
  add(0.3, () => (rand() < 0.5 ? `COUNT=${int(rand, 0, 100000)}` : `UNTIL=${randomStamp(rand)}`));
  add(0.2, () => `BYSECOND=${list(rand, 0, 61, false)}`);
  add(0.2, () => `BYMINUTE=${list(rand, 0, 60, false)}`);
  add(0.2, () => `BYHOUR=${list(rand, 0, 24, false)}`);
  add(
    0.35,
    () =>
      `BYDAY=${
        Array.from(
          { length: int(rand, 1, 3) },
          () => `${rand() < 0.4 ? int(rand, -60, 60) : ""}${pick(rand, DAYS)}`,
        ).join(",")
      }`,
  );
  add(0.3, () => `BYMONTHDAY=${list(rand, 0, 32, true)}`);
  add(0.2, () => `BYYEARDAY=${list(rand, 0, 367, true)}`);
  add(0.2, () => `BYWEEKNO=${list(rand, 0, 54, true)}`);
  add(0.3, () => `BYMONTH=${list(rand, 0, 13, false)}`);
  add(0.2, () => `BYSETPOS=${list(rand, 0, 367, true)}`);
  add(0.1, () => `WKST=${pick(rand, DAYS)}`);
  return parts.join(";");
}

function randomStamp(rand: Random): string {
  const y = int(rand, 1990, 2040);
  const p = (n: number) => String(n).padStart(2, "0");
  const date = `${y}${p(int(rand, 1, 12))}${p(int(rand, 1, 31))}`;
  if (rand() < 0.2) return date;
  return `${date}T${p(int(rand, 0, 23))}${p(int(rand, 0, 59))}${p(int(rand, 0, 59))}${
    rand() < 0.5 ? "Z" : ""
  }`;
}

function randomTime(rand: Random, name: string): string {
  const stamp = randomStamp(rand);
  if (stamp.endsWith("Z") || rand() < 0.4) {
    return `${name}${stamp.length === 8 ? ";VALUE=DATE" : ""}:${stamp}`;
  }
  return `${name};TZID=${pick(rand, ZONES)}:${stamp}`;
}

function randomComponent(rand: Random, type: string, uid: string, override: boolean): string {
  const lines = [`BEGIN:${type}`, `UID:${uid}`, "DTSTAMP:20260101T000000Z"];
  if (rand() < 0.9) lines.push(randomTime(rand, "DTSTART"));
  if (override) lines.push(randomTime(rand, "RECURRENCE-ID") + (rand() < 0.2 ? "" : ""));
  const end = rand();
  if (end < 0.4) lines.push(randomTime(rand, type === "VTODO" ? "DUE" : "DTEND"));
  else if (end < 0.7) {
    lines.push(`DURATION:${pick(rand, ["PT1H", "P1D", "-PT5M", "P2W", "PT0S", "P"])}`);
  }
  if (!override && rand() < 0.7) lines.push(`RRULE:${randomRule(rand)}`);
  if (rand() < 0.3) lines.push(`EXDATE:${randomStamp(rand)},${randomStamp(rand)}`);
  if (rand() < 0.3) lines.push(`RDATE;VALUE=PERIOD:${randomStamp(rand)}/PT1H`);
  if (rand() < 0.3) lines.push(randomTime(rand, "RDATE"));
  if (rand() < 0.3) {
    lines.push(pick(rand, ["STATUS:CANCELLED", "STATUS:TENTATIVE", "TRANSP:TRANSPARENT"]));
  }
  if (type === "VTODO" && rand() < 0.4) {
    lines.push(`COMPLETED:${randomStamp(rand)}`, `CREATED:${randomStamp(rand)}`);
  }
  lines.push(`SUMMARY;LANGUAGE=fr:Réunion\\, ${int(rand, 0, 99)}`);
  if (rand() < 0.4) {
    lines.push("BEGIN:VALARM", "ACTION:DISPLAY");
    lines.push(
      rand() < 0.3
        ? `TRIGGER;VALUE=DATE-TIME:${randomStamp(rand)}`
        : `TRIGGER;RELATED=${pick(rand, ["START", "END"])}:-PT${int(rand, 0, 90)}M`,
    );
    if (rand() < 0.5) lines.push(`REPEAT:${int(rand, 0, 5000)}`, "DURATION:PT1M");
    lines.push("END:VALARM");
  }
  lines.push(`END:${type}`);
  return lines.join("\r\n");
}

const CUSTOM_ZONE = [
  "BEGIN:VTIMEZONE",
  "TZID:Custom",
  "BEGIN:DAYLIGHT",
  "DTSTART:19900325T020000",
  "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
  "TZOFFSETFROM:+0100",
  "TZOFFSETTO:+0200",
  "END:DAYLIGHT",
  "BEGIN:STANDARD",
  "DTSTART:19901028T030000",
  "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
  "TZOFFSETFROM:+0200",
  "TZOFFSETTO:+0100",
  "END:STANDARD",
  "END:VTIMEZONE",
].join("\r\n");

function randomCalendar(rand: Random): string {
  const type = pick(rand, ["VEVENT", "VEVENT", "VTODO", "VJOURNAL"]);
  const parts = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"];
  if (rand() < 0.5) parts.push(CUSTOM_ZONE);
  parts.push(randomComponent(rand, type, "fuzz", false));
  for (let i = int(rand, 0, 2); i > 0; i--) parts.push(randomComponent(rand, type, "fuzz", true));
  if (rand() < 0.2) {
    parts.push(
      "BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTART:20260101T000000Z\r\nDTEND:20260108T000000Z\r\n" +
        `FREEBUSY;FBTYPE=${pick(rand, ["BUSY", "FREE", "BUSY-TENTATIVE", "X-ODD"])}:${
          randomStamp(rand)
        }/PT2H\r\nEND:VFREEBUSY`,
    );
  }
  parts.push("END:VCALENDAR", "");
  return parts.join("\r\n");
}

const NOISE = [
  ":",
  ";",
  ",",
  "=",
  '"',
  "\\",
  "\r\n",
  "\n ",
  " ",
  "BEGIN:",
  "END:",
  "Z",
  "T",
  "é",
  "🗓",
  "^",
  "\u0000",
];

function mutate(rand: Random, text: string): string {
  let out = text;
  for (let n = int(rand, 1, 6); n > 0; n--) {
    const at = int(rand, 0, out.length);
    switch (int(rand, 0, 4)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + int(rand, 1, 20));
        break;
      case 1:
        out = out.slice(0, at) + pick(rand, NOISE) + out.slice(at);
        break;
      case 2: {
        const lines = out.split("\r\n");
        const i = int(rand, 0, lines.length - 1);
        lines.splice(int(rand, 0, lines.length), 0, lines[i]);
        out = lines.join("\r\n");
        break;
      }
      case 3:
        out = out.slice(0, at);
        break;
      default:
        out = out.replace(/\d/, () => String(int(rand, 0, 9)));
    }
  }
  return out;
}

const C = (
  name: string,
  children: XmlElement[] = [],
  attributes: Record<string, string> = {},
  text = "",
) => el(CALDAV_NS, name, [...children, text], attributes);

function randomTimeRange(rand: Random): XmlElement {
  const attrs: Record<string, string> = {};
  if (rand() < 0.8) {
    attrs.start = rand() < 0.9 ? `${randomStamp(rand).slice(0, 8)}T000000Z` : "garbage";
  }
  if (rand() < 0.8) attrs.end = `${randomStamp(rand).slice(0, 8)}T120000Z`;
  return C("time-range", [], attrs);
}

function randomTextMatch(rand: Random): XmlElement {
  const attrs: Record<string, string> = {};
  if (rand() < 0.5) {
    attrs.collation = pick(rand, ["i;octet", "i;ascii-casemap", "i;unicode-casemap", "i;bogus"]);
  }
  if (rand() < 0.4) attrs["negate-condition"] = pick(rand, ["yes", "no", "maybe"]);
  return C("text-match", [], attrs, pick(rand, ["réunion", "FUZZ", "", "cancelled", "1"]));
}

function randomFilterNode(rand: Random, depth: number): XmlElement {
  const roll = rand();
  if (depth > 3 || roll < 0.15) return rand() < 0.5 ? randomTimeRange(rand) : C("is-not-defined");
  if (roll < 0.45) {
    return C(
      "comp-filter",
      Array.from({ length: int(rand, 0, 3) }, () => randomFilterNode(rand, depth + 1)),
      {
        name: pick(rand, ["VEVENT", "VTODO", "VJOURNAL", "VALARM", "VFREEBUSY", "VTIMEZONE"]),
      },
    );
  }
  if (roll < 0.8) {
    const kids = [rand() < 0.5 ? randomTextMatch(rand) : randomTimeRange(rand)];
    if (rand() < 0.3) {
      kids.push(
        C("param-filter", rand() < 0.5 ? [randomTextMatch(rand)] : [], { name: "LANGUAGE" }),
      );
    }
    return C("prop-filter", kids, {
      name: pick(rand, ["SUMMARY", "UID", "DTSTAMP", "STATUS", "COMPLETED", "DTSTART"]),
    });
  }
  return rand() < 0.5 ? randomTextMatch(rand) : C(pick(rand, ["bogus", "filter", "comp-filter"]));
}

function randomFilter(rand: Random): XmlElement {
  const top = C(
    "comp-filter",
    Array.from({ length: int(rand, 0, 3) }, () => randomFilterNode(rand, 1)),
    {
      name: rand() < 0.95 ? "VCALENDAR" : "VEVENT",
    },
  );
  return C("filter", rand() < 0.97 ? [top] : []);
}

function randomCalendarData(rand: Random): XmlElement {
  const kids: XmlElement[] = [];
  const range = () => {
    const start = `${randomStamp(rand).slice(0, 8)}T000000Z`;
    return {
      start,
      end: rand() < 0.8 ? `${String(+start.slice(0, 4) + int(rand, 0, 2))}${start.slice(4)}` : "x",
    };
  };
  if (rand() < 0.4) kids.push(C("expand", [], range()));
  if (rand() < 0.3) kids.push(C("limit-recurrence-set", [], range()));
  if (rand() < 0.2) kids.push(C("limit-freebusy-set", [], range()));
  if (rand() < 0.4) {
    kids.push(
      C("comp", [
        C(rand() < 0.5 ? "allprop" : "prop", [], { name: "VERSION" }),
        C("comp", [C("prop", [], { name: "SUMMARY", novalue: "yes" }), C("allcomp")], {
          name: "VEVENT",
        }),
      ], { name: "VCALENDAR" }),
    );
  }
  return C("calendar-data", kids);
}

function allowed(error: unknown, what: string, sample: string): void {
  if (error instanceof ICalError || error instanceof CalendarFilterError) return;
  throw new Error(`${what} threw ${error} on:\n${sample.slice(0, 2000)}`, { cause: error });
}

function roundTrip(root: VComponent, text: string): void {
  const again = parseICalendar(serializeICalendar(root), {
    ...LIMITS,
    maxBytes: 1 << 22,
    maxLineBytes: 1 << 20,
  });
  assertEquals(again, root, `round trip changed:\n${text.slice(0, 500)}`);
}

for (const seed of SEEDS) {
  Deno.test(`iCalendar fuzz, seed ${seed}: only ICalError/CalendarFilterError, every call returns`, () => {
    const rand = mulberry32(seed);
    let parsed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const generated = randomCalendar(rand);
      const text = rand() < 0.5 ? generated : mutate(rand, generated);
      const check = checkCalendarObject(text, LIMITS, ["VEVENT", "VTODO", "VJOURNAL"]);
      assert(typeof check.ok === "boolean");
      let root: VComponent;
      try {
        root = parseICalendar(text, LIMITS);
      } catch (error) {
        allowed(error, "parseICalendar", text);
        assert(!check.ok, "checkCalendarObject accepted what parseICalendar refused");
        continue;
      }
      parsed++;
      roundTrip(root, text);
      const start = Date.UTC(int(rand, 1995, 2035), int(rand, 0, 11), 1);
      const end = start + int(rand, 1, 400) * 86_400_000;
      try {
        const { instances } = expandInstances(
          root,
          start,
          end,
          LIMITS,
          pick(rand, [undefined, "Asia/Tokyo", "Bad/Zone"]),
        );
        assert(instances.length <= LIMITS.maxInstances);
        for (const i of instances) assert(Number.isFinite(i.start) || i.component.name === "VTODO");
      } catch (error) {
        allowed(error, "expandInstances", text);
      }
      const filter = randomFilter(rand);
      try {
        checkCalendarFilter(filter);
        matchCalendarFilter(root, filter, { limits: LIMITS });
      } catch (error) {
        allowed(error, "matchCalendarFilter", text);
      }
      try {
        renderCalendarData(text, root, randomCalendarData(rand), LIMITS);
        freeBusy([root], start, end, LIMITS);
      } catch (error) {
        allowed(error, "renderCalendarData/freeBusy", text);
      }
    }
    assert(parsed > ROUNDS / 4, `only ${parsed} inputs parsed: the generator is too destructive`);
  });
}
