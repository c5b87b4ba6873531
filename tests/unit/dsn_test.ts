import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "../helpers/assert.ts";
import { decodePartBody, type MimePart, parseMime } from "../../src/mail/mime.ts";
import { parseHeaderFields, unfold } from "../../src/mail/headers.ts";
import { buildDsn, type DsnInput, type DsnRecipient } from "../../src/smtp/dsn.ts";
import { decodeXtext, encodeXtext } from "../../src/smtp/wire/xtext.ts";

const limits = { maxHeaderSize: 1 << 20, maxDepth: 10, maxParts: 100 };
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

const HEADER = "Return-Path: <alice@example.com>\r\n" +
  "From: Alice <alice@example.com>\r\n" +
  "To: bob@example.net, carol@example.org\r\n" +
  "Subject: Lunch\r\n" +
  "Message-ID: <lunch-1@example.com>\r\n";
const ORIGINAL = encoder.encode(HEADER + "\r\nSee you at noon.\r\n");
const ARRIVAL = new Date("2026-03-01T10:00:00Z");
const ATTEMPT = new Date("2026-03-01T10:05:00Z");
const RETRY_UNTIL = new Date("2026-03-06T10:00:00Z");

const BOUNCED: DsnRecipient = {
  address: "bob@example.net",
  action: "failed",
  status: "5.1.1",
  remoteMta: "mx.example.net",
  diagnostic: "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
  lastAttempt: ATTEMPT,
};
const REFUSED: DsnRecipient = {
  address: "carol@example.org",
  action: "failed",
  status: "5.7.1",
  remoteMta: "mx.example.org",
  diagnostic: "554 5.7.1 Message rejected as spam",
  lastAttempt: ATTEMPT,
};

function input(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: "mx.example.com",
    to: "alice@example.com",
    arrivalDate: ARRIVAL,
    recipients: [BOUNCED, REFUSED],
    original: ORIGINAL,
    date: new Date("2026-03-01T10:05:01Z"),
    ...overrides,
  };
}

interface ParsedDsn {
  raw: Uint8Array;
  root: MimePart;
  header: Record<string, string>;
  /** The delivery-status groups: per-message fields first, then one per recipient. */
  groups: Record<string, string>[];
  text: string;
}

function parseDsn(raw: Uint8Array): ParsedDsn {
  assertWireLines(raw);
  const root = parseMime(raw, limits);
  assertEquals(root.type + "/" + root.subtype, "multipart/report");
  assertEquals(root.parts.length, 3);
  const header: Record<string, string> = {};
  for (const field of parseHeaderFields(raw, root.headerStart, root.headerEnd)) {
    header[field.name.toLowerCase()] = unfold(field.raw).trim();
  }
  const report = utf8.decode(decodePartBody(raw, root.parts[1]));
  const groups = report.split("\r\n\r\n").map((group) => {
    const fields: Record<string, string> = {};
    for (const line of group.replace(/\r\n(?=[ \t])/g, "").split("\r\n")) {
      if (line === "") continue;
      const colon = line.indexOf(":");
      fields[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return fields;
  });
  const text = utf8.decode(decodePartBody(raw, root.parts[0]));
  return { raw, root, header, groups, text };
}

/** Every line ends in CRLF and is at most 998 octets (RFC 5322 2.1.1). */
function assertWireLines(raw: Uint8Array) {
  let lineStart = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0d) assertEquals(raw[i + 1], 0x0a, `bare CR at ${i}`);
    if (raw[i] === 0x0a) {
      assertEquals(raw[i - 1], 0x0d, `bare LF at ${i}`);
      assert(i - 1 - lineStart <= 998, `line at ${lineStart} is ${i - 1 - lineStart} octets`);
      lineStart = i + 1;
    }
  }
  assertEquals(lineStart, raw.length, "the message ends with CRLF");
}

function typeOf(part: MimePart): string {
  return `${part.type}/${part.subtype}`;
}

function body(dsn: ParsedDsn, part: MimePart): Uint8Array {
  return dsn.raw.subarray(part.bodyStart, part.bodyEnd);
}

Deno.test("dsn: failure with RET=HDRS returns the original header byte for byte", () => {
  const dsn = parseDsn(buildDsn(input()));
  assertEquals(dsn.header["from"], '"Mail Delivery System" <MAILER-DAEMON@mx.example.com>');
  assertEquals(dsn.header["to"], "<alice@example.com>");
  assertEquals(dsn.header["subject"], "Undelivered Mail Returned to Sender");
  assertEquals(dsn.header["date"], "Sun, 1 Mar 2026 10:05:01 +0000");
  assertMatch(dsn.header["message-id"], /^<[0-9a-f]{32}@mx\.example\.com>$/);
  assertEquals(dsn.header["mime-version"], "1.0");
  assertEquals(dsn.header["auto-submitted"], "auto-replied");
  assertEquals(dsn.header["content-transfer-encoding"], undefined);
  assertEquals(dsn.root.params["report-type"], "delivery-status");

  const [text, report, returned] = dsn.root.parts;
  assertEquals(typeOf(text), "text/plain");
  assertEquals(text.params.charset, "utf-8");
  assertEquals(typeOf(report), "message/delivery-status");
  assertEquals(typeOf(returned), "text/rfc822-headers");
  assertEquals(utf8.decode(body(dsn, returned)), HEADER);

  assertEquals(dsn.groups.length, 3);
  assertEquals(dsn.groups[0], {
    "reporting-mta": "dns; mx.example.com",
    "arrival-date": "Sun, 1 Mar 2026 10:00:00 +0000",
  });
  assertEquals(dsn.groups[1], {
    "final-recipient": "rfc822; bob@example.net",
    "action": "failed",
    "status": "5.1.1",
    "remote-mta": "dns; mx.example.net",
    "diagnostic-code":
      "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
    "last-attempt-date": "Sun, 1 Mar 2026 10:05:00 +0000",
  });
  assertEquals(dsn.groups[2]["final-recipient"], "rfc822; carol@example.org");
  assertEquals(dsn.groups[2]["status"], "5.7.1");
  assertEquals(dsn.groups[2]["will-retry-until"], undefined);

  assertStringIncludes(dsn.text, "could not be delivered");
  assertStringIncludes(dsn.text, "<bob@example.net>: delivery failed permanently (5.1.1)");
  assertStringIncludes(dsn.text, "The mail server mx.example.net replied:");
  assertStringIncludes(dsn.text, "    554 5.7.1 Message rejected as spam");
  assertStringIncludes(dsn.text, "The header of your message is attached.");
});

Deno.test("dsn: failure with RET=FULL returns the whole message, 8-bit body labelled 8bit", () => {
  const original = encoder.encode(
    HEADER + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
      "\r\nCafé at noon?\r\n",
  );
  const dsn = parseDsn(buildDsn(input({ original, ret: "FULL" })));
  const returned = dsn.root.parts[2];
  assertEquals(typeOf(returned), "message/rfc822");
  assertEquals(returned.encoding, "8bit");
  assertEquals(dsn.header["content-transfer-encoding"], "8bit");
  assertEquals(body(dsn, returned), original);
  assert(returned.message !== null);
  const inner = parseHeaderFields(
    dsn.raw,
    returned.message.headerStart,
    returned.message.headerEnd,
  );
  assertEquals(inner.find((f) => f.name === "Subject")?.raw.trim(), "Lunch");
  assertStringIncludes(dsn.text, "Your message is attached.");
});

Deno.test("dsn: a 7-bit message returned in full needs no 8bit label", () => {
  const dsn = parseDsn(buildDsn(input({ ret: "FULL" })));
  assertEquals(dsn.root.parts[2].encoding, "7bit");
  assertEquals(dsn.header["content-transfer-encoding"], undefined);
  assertEquals(body(dsn, dsn.root.parts[2]), ORIGINAL);
  assert(!buildDsn(input({ ret: "FULL" })).some((octet) => octet >= 0x80));
});

Deno.test("dsn: a delay names when retries end", () => {
  const delayed: DsnRecipient = {
    address: "bob@example.net",
    action: "delayed",
    status: "4.4.1",
    remoteMta: "mx.example.net",
    diagnostic: "421 4.4.1 Connection timed out",
    lastAttempt: ATTEMPT,
    willRetryUntil: RETRY_UNTIL,
  };
  const dsn = parseDsn(buildDsn(input({ recipients: [delayed] })));
  assertEquals(dsn.header["subject"], "Delayed Mail (still being retried)");
  assertEquals(dsn.groups[1]["action"], "delayed");
  assertEquals(dsn.groups[1]["status"], "4.4.1");
  assertEquals(dsn.groups[1]["will-retry-until"], "Fri, 6 Mar 2026 10:00:00 +0000");
  assertStringIncludes(dsn.text, "has been delayed");
  assertStringIncludes(dsn.text, "Retries end: Fri, 6 Mar 2026 10:00:00 +0000");

  // RFC 3464 2.3.9: Will-Retry-Until only for delayed recipients.
  const failed = parseDsn(
    buildDsn(input({ recipients: [{ ...BOUNCED, willRetryUntil: RETRY_UNTIL }] })),
  );
  assertEquals(failed.groups[1]["will-retry-until"], undefined);
});

Deno.test("dsn: success report subject and actions", () => {
  const delivered: DsnRecipient = {
    address: "bob@example.net",
    action: "delivered",
    status: "2.0.0",
  };
  const relayed: DsnRecipient = {
    address: "carol@example.org",
    action: "relayed",
    status: "2.0.0",
  };
  const dsn = parseDsn(buildDsn(input({ recipients: [delivered, relayed] })));
  assertEquals(dsn.header["subject"], "Successful Mail Delivery Report");
  assertEquals(dsn.groups.map((g) => g["action"]), [undefined, "delivered", "relayed"]);
  // A failure anywhere makes it a bounce.
  const mixed = parseDsn(buildDsn(input({ recipients: [delivered, BOUNCED] })));
  assertEquals(mixed.header["subject"], "Undelivered Mail Returned to Sender");
});

Deno.test("dsn: multi-line replies become continuation lines; long ones are folded", () => {
  const reply = [
    "550-5.1.1 The email account that you tried to reach does not exist. Please try",
    "550-5.1.1 double-checking the recipient's email address for typos or",
    "550 5.1.1 unnecessary spaces. For more information, go to https://support.example/mail/answer/6596 a1-2b3c4d5e6f - gsmtp",
  ].join("\n");
  const raw = buildDsn(input({ recipients: [{ ...BOUNCED, diagnostic: reply }] }));
  const dsn = parseDsn(raw);
  const lines = utf8.decode(raw).split("\r\n");
  const at = lines.findIndex((line) => line.startsWith("Diagnostic-Code: "));
  assertEquals(
    lines[at],
    "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach",
  );
  assertEquals(lines[at + 1], " does not exist. Please try");
  assertEquals(
    lines[at + 2],
    " 550-5.1.1 double-checking the recipient's email address for typos or",
  );
  assert(lines[at + 3].startsWith(" 550 5.1.1 unnecessary spaces."));
  assert(lines[at + 4].startsWith(" "));
  for (let i = at; lines[i].startsWith("Diagnostic-Code") || lines[i].startsWith(" "); i++) {
    assert(lines[i].length <= 78, lines[i]);
  }
  assertEquals(dsn.groups[1]["diagnostic-code"], "smtp; " + reply.replaceAll("\n", " "));
  assertStringIncludes(dsn.text, "    550-5.1.1 double-checking the recipient's email address");
});

Deno.test("dsn: a reply cannot inject fields and a 3000-octet word stays within 998", () => {
  const word = "x".repeat(3000);
  const reply = "550 5.7.1 bad\r\nX-Injected: yes\r\n\r\nAction: delivered\n" + word;
  const raw = buildDsn(input({ recipients: [{ ...BOUNCED, diagnostic: reply }] }));
  const dsn = parseDsn(raw);
  assertEquals(dsn.groups.length, 2);
  assertEquals(dsn.groups[1]["action"], "failed");
  assert(!/\r\n(X-Injected|Action: delivered)/.test(utf8.decode(raw)));
  assertEquals(dsn.groups[1]["x-injected"], undefined);
  assertEquals(
    dsn.groups[1]["diagnostic-code"].replaceAll(" ", ""),
    "smtp;5505.7.1badX-Injected:yesAction:delivered" + word,
  );
});

Deno.test("dsn: ORCPT (given decoded) and ENVID are reported", () => {
  const recipient = { ...BOUNCED, originalRecipient: "rfc822;bob+lunch@example.net" };
  const dsn = parseDsn(buildDsn(input({ recipients: [recipient], envelopeId: "QQ314159" })));
  assertEquals(dsn.groups[0]["original-envelope-id"], "QQ314159");
  assertEquals(dsn.groups[1]["original-recipient"], "rfc822; bob+lunch@example.net");
  assertEquals(dsn.groups[1]["final-recipient"], "rfc822; bob@example.net");
});

Deno.test("dsn: SMTPUTF8 recipients use the RFC 6533 global types", () => {
  const recipient: DsnRecipient = {
    ...BOUNCED,
    address: "用户@例子.广告",
    originalRecipient: "utf-8;用户@例子.广告",
    diagnostic: "550 5.1.1 用户 unknown",
  };
  const raw = buildDsn(input({ recipients: [recipient] }));
  const dsn = parseDsn(raw);
  const [text, report, returned] = dsn.root.parts;
  assertEquals(typeOf(report), "message/global-delivery-status");
  assertEquals(report.encoding, "8bit");
  assertEquals(typeOf(returned), "message/global-headers");
  assertEquals(utf8.decode(body(dsn, returned)), HEADER);
  assertEquals(dsn.groups[1]["final-recipient"], "utf-8; 用户@例子.广告");
  assertEquals(dsn.groups[1]["original-recipient"], "utf-8; 用户@例子.广告");
  assertEquals(dsn.groups[1]["diagnostic-code"], "smtp; 550 5.1.1 用户 unknown");
  assertEquals(text.encoding, "quoted-printable");
  assertStringIncludes(dsn.text, "<用户@例子.广告>: delivery failed permanently (5.1.1)");
  assertEquals(dsn.header["content-transfer-encoding"], "8bit");
});

Deno.test("dsn: an 8-bit header returned in full is message/global", () => {
  const original = encoder.encode("From: José <jose@example.com>\r\nSubject: Olá\r\n\r\nOi\r\n");
  const dsn = parseDsn(buildDsn(input({ original, ret: "FULL" })));
  assertEquals(typeOf(dsn.root.parts[1]), "message/global-delivery-status");
  assertEquals(dsn.root.parts[1].encoding, "7bit"); // ASCII recipients: nothing 8-bit in it
  const returned = dsn.root.parts[2];
  assertEquals(typeOf(returned), "message/global");
  assertEquals(returned.encoding, "8bit");
  assertEquals(body(dsn, returned), original);
  assert(returned.message !== null);
});

Deno.test("dsn: non-ASCII stays out of message/delivery-status", () => {
  const recipient = { ...BOUNCED, diagnostic: "550 5.1.1 Benutzer unbekannt – gelöscht" };
  const dsn = parseDsn(buildDsn(input({ recipients: [recipient] })));
  assertEquals(typeOf(dsn.root.parts[1]), "message/delivery-status");
  assertEquals(dsn.groups[1]["diagnostic-code"], "smtp; 550 5.1.1 Benutzer unbekannt ? gel?scht");
  assertEquals(dsn.root.parts[0].encoding, "quoted-printable");
  assertStringIncludes(dsn.text, "Benutzer unbekannt – gelöscht");
  assert(!dsn.raw.some((octet) => octet >= 0x80), "the DSN of a 7-bit message is 7-bit");
});

Deno.test("dsn: the boundary never occurs in the returned content", () => {
  const original = encoder.encode(HEADER + "\r\n--postern-dsn-collide\r\nhello\r\n");
  const tokens = ["collide", "fresh", "message"];
  const raw = buildDsn(input({ original, ret: "FULL", randomToken: () => tokens.shift()! }));
  const dsn = parseDsn(raw);
  assertEquals(dsn.root.params.boundary, "postern-dsn-fresh");
  assertEquals(dsn.header["message-id"], "<message@mx.example.com>");
  assertEquals(body(dsn, dsn.root.parts[2]), original);

  const random = parseDsn(buildDsn(input({ ret: "FULL" })));
  assert(!utf8.decode(ORIGINAL).includes(random.root.params.boundary));
  assertMatch(random.root.params.boundary, /^postern-dsn-[0-9a-f]{32}$/);
});

Deno.test("dsn: RET=FULL over the size limit falls back to the header", () => {
  const big = encoder.encode(HEADER + "\r\n" + "0123456789abcdef\r\n".repeat(70_000)); // > 1 MiB
  const dsn = parseDsn(buildDsn(input({ original: big, ret: "FULL" })));
  assertEquals(typeOf(dsn.root.parts[2]), "text/rfc822-headers");
  assertEquals(utf8.decode(body(dsn, dsn.root.parts[2])), HEADER);
  assertStringIncludes(dsn.text, "too large to return in full");

  const small = parseDsn(buildDsn(input({ ret: "FULL", maxReturnSize: 100 })));
  assertEquals(typeOf(small.root.parts[2]), "text/rfc822-headers");
  const fits = parseDsn(buildDsn(input({ ret: "FULL", maxReturnSize: ORIGINAL.length })));
  assertEquals(typeOf(fits.root.parts[2]), "message/rfc822");
});

Deno.test("dsn: no DSN to the null sender, none without recipients", () => {
  assertThrows(() => buildDsn(input({ to: "" })));
  assertThrows(() => buildDsn(input({ recipients: [] })));
});

Deno.test("xtext: round trip, UTF-8, malformed values", () => {
  for (const value of ["", "plain@example.com", "a+b=c d", "José", "用户@例子.广告"]) {
    const encoded = encodeXtext(value);
    assertMatch(encoded, /^([!-*,-<>-~]|\+[0-9A-F]{2})*$/);
    assertEquals(decodeXtext(encoded), value);
  }
  assertEquals(encodeXtext("a+b=c d"), "a+2Bb+3Dc+20d");
  assertEquals(decodeXtext("bob+2Blunch@example.net"), "bob+lunch@example.net");
  assertEquals(decodeXtext("a+2bb"), "a+b"); // lowercase hex accepted on input
  assertEquals(decodeXtext("J+C3+A9r"), "Jér"); // octets read as UTF-8
  // Controls are refused even when encoded: they would end up in headers.
  for (const value of ["+", "+2", "a+ZZ", "a=b", "a b", "+C3", "\r\n", "+00", "tab+09x"]) {
    assertEquals(decodeXtext(value), null, value);
  }
});

const PYTHON_CHECK = `
import email, json, sys
raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw)
parts = m.get_payload()
report = parts[1].get_payload()
returned = parts[2].get_payload()
print(json.dumps({
  "type": m.get_content_type(),
  "reportType": m.get_param("report-type"),
  "parts": [p.get_content_type() for p in parts],
  "groups": [dict((k.lower(), v) for k, v in g.items()) for g in report],
  "returnedSubject": returned[0]["Subject"],
  "returnedBody": returned[0].get_payload(),
  "defects": [str(d) for p in m.walk() for d in p.defects],
}))
`;

Deno.test("dsn: Python's email parser reads the DSN", async () => {
  const raw = buildDsn(input({ ret: "FULL", envelopeId: "QQ314159" }));
  let child;
  try {
    child = new Deno.Command("python3", {
      args: ["-c", PYTHON_CHECK],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.warn("python3 is not installed; skipping the Python parser check");
      return;
    }
    throw error;
  }
  const writer = child.stdin.getWriter();
  await writer.write(raw);
  await writer.close();
  const output = await child.output();
  assert(output.success, utf8.decode(output.stderr));
  const parsed = JSON.parse(utf8.decode(output.stdout));
  assertEquals(parsed.type, "multipart/report");
  assertEquals(parsed.reportType, "delivery-status");
  assertEquals(parsed.parts, ["text/plain", "message/delivery-status", "message/rfc822"]);
  assertEquals(parsed.groups.length, 3);
  assertEquals(parsed.groups[0]["reporting-mta"], "dns; mx.example.com");
  assertEquals(parsed.groups[0]["original-envelope-id"], "QQ314159");
  assertEquals(parsed.groups[1]["final-recipient"], "rfc822; bob@example.net");
  assertEquals(parsed.groups[2]["status"], "5.7.1");
  assertEquals(parsed.returnedSubject, "Lunch");
  assertEquals(parsed.returnedBody, "See you at noon.\r\n");
  assertEquals(parsed.defects, []);
});
