/** The vacation responder's "should we reply" decision, one test per RFC 3834 rule. */
import { assertEquals } from "../helpers/assert.ts";
import { parseMime } from "../../src/mail/mime.ts";
import { decodeEncodedWords, parseHeaderFields, unfold } from "../../src/mail/headers.ts";
import type { Account } from "../../src/store/types.ts";
import type { ParsedMessage } from "../../src/mail/ingest.ts";
import {
  buildReply,
  isAutomaticService,
  returnPathOf,
  shouldReply,
  VACATION_DEFAULTS,
  type VacationSettings,
} from "../../src/mail/vacation.ts";

const ME = "alice@example.com";
const enabled: VacationSettings = { ...VACATION_DEFAULTS, isEnabled: true };
const now = new Date("2026-07-01T12:00:00Z");
const own = (address: string) => [ME, "a.alias@example.com"].includes(address.toLowerCase());

function decide(
  fields: [string, string][],
  returnPath: string | null = "bob@remote.test",
  settings = enabled,
) {
  const all: [string, string][] = [["to", ` <${ME}>`], ...fields];
  return shouldReply(settings, { returnPath, fields: all }, now, own);
}

Deno.test("vacation: an ordinary personal message gets a reply", () => {
  assertEquals(decide([["subject", " hi"]]), { reply: true });
});

Deno.test("vacation: disabled, or outside [fromDate, toDate), no reply", () => {
  assertEquals(decide([], undefined, VACATION_DEFAULTS).reply, false);
  const later = { ...enabled, fromDate: "2026-07-02T00:00:00Z" };
  assertEquals(decide([], undefined, later), { reply: false, reason: "not yet" });
  const over = { ...enabled, toDate: "2026-07-01T12:00:00Z" };
  assertEquals(decide([], undefined, over), { reply: false, reason: "period over" });
  const within = { ...enabled, fromDate: "2026-07-01T12:00:00Z", toDate: "2026-07-01T12:00:01Z" };
  assertEquals(decide([], undefined, within), { reply: true });
});

Deno.test("vacation: null or unknown return path, no reply (RFC 3834 2)", () => {
  assertEquals(decide([], ""), { reply: false, reason: "null return path" });
  assertEquals(decide([], null), { reply: false, reason: "null return path" });
});

Deno.test("vacation: Auto-Submitted other than 'no', no reply (RFC 3834 5)", () => {
  assertEquals(decide([["auto-submitted", " auto-replied"]]).reply, false);
  assertEquals(decide([["auto-submitted", " auto-generated; owner-email=x@y"]]).reply, false);
  assertEquals(decide([["auto-submitted", " No "]]), { reply: true });
});

Deno.test("vacation: mailing list fields and Precedence bulk/list/junk, no reply", () => {
  for (const name of ["list-id", "list-unsubscribe", "list-post", "list-help"]) {
    assertEquals(decide([[name, " <x>"]]), { reply: false, reason: "mailing list" });
  }
  for (const value of [" bulk", " List", " junk"]) {
    assertEquals(decide([["precedence", value]]), { reply: false, reason: "precedence" });
  }
  assertEquals(decide([["precedence", " first-class"]]), { reply: true });
});

Deno.test("vacation: automatic services (MAILER-DAEMON, owner-*, *-request), no reply", () => {
  for (const sender of ["MAILER-DAEMON@x.test", "owner-dev@x.test", "dev-request@x.test"]) {
    assertEquals(decide([], sender), { reply: false, reason: "automatic service" });
  }
  assertEquals(isAutomaticService("listserv@x.test"), true);
  assertEquals(isAutomaticService("requests@x.test"), false);
});

Deno.test("vacation: never to itself", () => {
  assertEquals(decide([], ME), { reply: false, reason: "own address" });
  assertEquals(decide([], "A.Alias@example.com").reply, false);
});

Deno.test("vacation: only when one of the recipient's addresses is in To/Cc/Bcc", () => {
  const notMine = shouldReply(
    enabled,
    {
      returnPath: "bob@remote.test",
      fields: [["to", " list@remote.test"]],
    },
    now,
    own,
  );
  assertEquals(notMine, { reply: false, reason: "not addressed to the recipient" });
  const viaCc = shouldReply(
    enabled,
    {
      returnPath: "bob@remote.test",
      fields: [["to", " x@remote.test"], ["cc", ' "A" <a.alias@example.com>']],
    },
    now,
    own,
  );
  assertEquals(viaCc, { reply: true });
});

Deno.test("vacation: the envelope sender is the Return-Path field on top", () => {
  assertEquals(
    returnPathOf([["return-path", " <bob@remote.test>"], ["to", " x"]]),
    "bob@remote.test",
  );
  assertEquals(returnPathOf([["return-path", " <>"]]), "");
  assertEquals(returnPathOf([["received", " x"], ["return-path", " <b@c>"]]), null);
});

Deno.test("vacation: the reply threads, and a long non-ASCII subject stays valid RFC 2047", () => {
  const subject = "Große Überraschung ".repeat(8).trim();
  const account = { address: ME, displayName: "Ålice Ünderwood" } as Account;
  const original = { subject: "hi" } as ParsedMessage;
  const reply = buildReply(
    { ...enabled, subject, textBody: "Away.\n" },
    account,
    "bob@remote.test",
    original,
    [["message-id", "<m1@remote.test>"]],
    now,
  );
  const text = new TextDecoder().decode(reply);
  for (const word of text.match(/=\?[^?]+\?[BQ]\?[^?]*\?=/g) ?? []) {
    assertEquals(word.length <= 75, true, word); // RFC 2047 2
  }
  const mime = parseMime(reply, { maxHeaderSize: 65536, maxDepth: 10, maxParts: 10 });
  const fields = new Map(
    parseHeaderFields(reply, mime.headerStart, mime.headerEnd)
      .map((f) => [f.name.toLowerCase(), decodeEncodedWords(unfold(f.raw)).trim()]),
  );
  assertEquals(fields.get("subject"), subject);
  assertEquals(fields.get("from"), "Ålice Ünderwood <alice@example.com>");
  assertEquals(fields.get("in-reply-to"), "<m1@remote.test>");
  assertEquals(fields.get("auto-submitted"), "auto-replied");
});
