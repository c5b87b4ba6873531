/**
 * The iCalendar wire format (RFC 5545 3.1): unfolding, parameters (quoted, multi-valued,
 * RFC 6868 caret encoding), case-insensitive names, limits and line-numbered errors, and a
 * serializer that folds at 75 octets without splitting a UTF-8 sequence.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  ICalError,
  type ICalLimits,
  parseICalendar,
  serializeICalendar,
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

function refuses(text: string, pattern: RegExp, limits = LIMITS): void {
  try {
    parseICalendar(text, limits);
  } catch (error) {
    assert(error instanceof ICalError, `expected ICalError, got ${error}`);
    assertMatch(error.message, pattern);
    return;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

Deno.test("content lines: folding, parameters, escapes kept, names upper-cased", () => {
  const root = parseICalendar(
    [
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "begin:vevent",
      "UID:1",
      "DESCRIPTION:first line\\nsecond\\, with",
      "  a fold",
      'ATTENDEE;CN="Doe, Jane";ROLE=REQ-PARTICIPANT;DELEGATED-FROM="mailto:a@x","mailto:b@x":',
      "\tmailto:jane@example.com",
      "X-NOTE;X-TITLE=^'quoted^' ^^ caret^nnewline:v",
      "end:vevent",
      "END:VCALENDAR",
      "",
    ].join("\r\n"),
    LIMITS,
  );
  const event = root.components[0];
  assertEquals(event.name, "VEVENT");
  assertEquals(event.properties[1].value, "first line\\nsecond\\, with a fold");
  const attendee = event.properties[2];
  assertEquals(attendee.value, "mailto:jane@example.com");
  assertEquals(attendee.params.get("CN"), ["Doe, Jane"]);
  assertEquals(attendee.params.get("DELEGATED-FROM"), ["mailto:a@x", "mailto:b@x"]);
  assertEquals(event.properties[3].params.get("X-TITLE"), ['"quoted" ^ caret\nnewline']);
});

Deno.test("bare LF line ends and blank lines are accepted", () => {
  const root = parseICalendar("BEGIN:VCALENDAR\n\nVERSION:2.0\nEND:VCALENDAR", LIMITS);
  assertEquals(root.properties.map((p) => p.value), ["2.0"]);
});

Deno.test("serialize: CRLF, folded at 75 octets, never inside a UTF-8 sequence, round trip", () => {
  const summary = "Réunion 🗓️ " + "é".repeat(80) + "x".repeat(30);
  const text = serializeICalendar({
    name: "VCALENDAR",
    properties: [{ name: "VERSION", params: new Map(), value: "2.0" }],
    components: [{
      name: "VEVENT",
      properties: [
        { name: "SUMMARY", params: new Map([["LANGUAGE", ["fr"]]]), value: summary },
        { name: "ATTENDEE", params: new Map([["CN", ['Doe; "J"\n']]]), value: "mailto:j@x" },
      ],
      components: [],
    }],
  });
  assert(text.endsWith("END:VCALENDAR\r\n"));
  const encoder = new TextEncoder();
  for (const line of text.split("\r\n")) {
    assert(encoder.encode(line).length <= 75, `line over 75 octets: ${line}`);
    assert(!line.includes("\uFFFD"));
  }
  const back = parseICalendar(text, LIMITS);
  assertEquals(back.components[0].properties[0].value, summary);
  assertEquals(back.components[0].properties[1].params.get("CN"), ['Doe; "J"\n']);
  assertEquals(serializeICalendar(back), text);
});

Deno.test("malformed input is an ICalError naming the line", () => {
  refuses(
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VEVENT\r\n",
    /END:VEVENT closes VCALENDAR on line 3/,
  );
  refuses("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n", /closes VEVENT on line 3/);
  refuses("BEGIN:VCALENDAR\r\nVERSION\r\nEND:VCALENDAR\r\n", /missing ':'.* line 2/);
  refuses("BEGIN:VCALENDAR\r\nX;P\r\nEND:VCALENDAR\r\n", /parameter without value on line 2/);
  refuses('BEGIN:VCALENDAR\r\nX;P="a:b\r\nEND:VCALENDAR\r\n', /unterminated quoted/);
  refuses("BEGIN:VCALENDAR\r\nBAD NAME:x\r\nEND:VCALENDAR\r\n", /invalid property name on line 2/);
  refuses("BEGIN:VEVENT\r\nEND:VEVENT\r\n", /VEVENT at top level/);
  refuses(
    "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    /second top-level/,
  );
  refuses("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", /never ends/);
  refuses("VERSION:2.0\r\n", /outside a component/);
  refuses("", /no VCALENDAR/);
});

Deno.test("limits: bytes, line length, properties, components, depth", () => {
  const body = (inner: string) => `BEGIN:VCALENDAR\r\n${inner}END:VCALENDAR\r\n`;
  refuses(body("X:" + "é".repeat(600) + "\r\n"), /larger than 1000 bytes/, {
    ...LIMITS,
    maxBytes: 1000,
  });
  refuses(
    body("X:" + "a".repeat(50) + "\r\n " + "a".repeat(50) + "\r\n"),
    /longer than 80 bytes on line 2/,
    {
      ...LIMITS,
      maxLineBytes: 80,
    },
  );
  refuses(body("X:1\r\nX:2\r\nX:3\r\n"), /more than 2 properties/, { ...LIMITS, maxProperties: 2 });
  refuses(body("BEGIN:A\r\nEND:A\r\nBEGIN:B\r\nEND:B\r\n"), /more than 2 components/, {
    ...LIMITS,
    maxComponents: 2,
  });
  refuses(body("BEGIN:A\r\nBEGIN:B\r\nBEGIN:C\r\nEND:C\r\nEND:B\r\nEND:A\r\n"), /deeper than 3/, {
    ...LIMITS,
    maxDepth: 3,
  });
  // 100k nested BEGINs stop at the depth limit, without recursion.
  refuses(body("BEGIN:X\r\n".repeat(100_000)), /deeper than 8/, {
    ...LIMITS,
    maxBytes: 4 << 20,
    maxComponents: 1e6,
  });
});
