/**
 * Implicit scheduling (RFC 6638) over the real server: an organizer's PUT invites a local
 * attendee (their calendar and schedule inbox) and an external one (iMIP mail through the
 * queue to a peer MX); the local attendee's answer reaches the organizer's copy; a delete
 * cancels both ways.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startRemoteDomain } from "../helpers/smtp_peer.ts";
import { cliAll } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const PASSWORD = "schedule-test-pw-1";

function dav(server: TestServer, login: string) {
  const auth = `Basic ${btoa(`${login}:${PASSWORD}`)}`;
  return async (
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}${path}`, {
      method,
      body,
      headers: { authorization: auth, ...headers },
    });
    return { status: response.status, text: await response.text(), headers: response.headers };
  };
}

const INVITE = [
  "BEGIN:VCALENDAR",
  "VERSION:2.0",
  "PRODID:-//tests//EN",
  "BEGIN:VEVENT",
  "UID:meeting-1",
  "DTSTAMP:20260101T000000Z",
  "DTSTART:20261210T140000Z",
  "DURATION:PT1H",
  "SUMMARY:Planning",
  `ORGANIZER;CN=Alice:mailto:${ALICE}`,
  `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${ALICE}`,
  `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${BOB}`,
  "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@remote.test",
  "END:VEVENT",
  "END:VCALENDAR",
  "",
].join("\r\n");

const unfold = (text: string) => text.replace(/\r\n[ \t]/g, "");

Deno.test("dav scheduling: invitations, a local answer, iMIP out, and a cancellation", async () => {
  const { peer, dns, serverOptions } = await startRemoteDomain();
  const server = await startServer(serverOptions);
  try {
    await cliAll(server, [
      ["account", "add", ALICE, "--password", PASSWORD],
      ["account", "add", BOB, "--password", PASSWORD],
    ]);
    const alice = dav(server, ALICE);
    const bob = dav(server, BOB);
    // Bob's client has looked once (his calendar exists before the invitation arrives).
    assertEquals(
      (await bob("PROPFIND", `/dav/calendars/${BOB}/`, undefined, { depth: "0" })).status,
      207,
    );

    const put = await alice("PUT", `/dav/calendars/${ALICE}/default/meeting.ics`, INVITE);
    assertEquals(put.status, 201);
    assertEquals(put.headers.get("etag"), null, "the stored copy differs: no ETag");
    const organizerCopy = unfold(
      (await alice("GET", `/dav/calendars/${ALICE}/default/meeting.ics`)).text,
    );
    assertMatch(organizerCopy, new RegExp(`SCHEDULE-STATUS=1\\.2[^\\r]*mailto:${BOB}`));
    assertMatch(organizerCopy, /SCHEDULE-STATUS=1\.1[^\r]*mailto:carol@remote\.test/);

    // Bob: the event is in his default calendar (still to answer) and a REQUEST in his inbox.
    const listing = await bob(
      "REPORT",
      `/dav/calendars/${BOB}/default/`,
      `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` +
        `<d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/>` +
        `</c:filter></c:calendar-query>`,
      { depth: "1", "content-type": "application/xml" },
    );
    assertEquals(listing.status, 207);
    const href = /<D:href>([^<]+\.ics)<\/D:href>/.exec(listing.text)?.[1];
    assert(href, listing.text);
    const bobCopy = unfold((await bob("GET", href)).text);
    assert(bobCopy.includes("UID:meeting-1"));
    assertMatch(bobCopy, new RegExp(`PARTSTAT=NEEDS-ACTION[^\\r]*mailto:${BOB}`));
    const inbox = await bob(
      "PROPFIND",
      `/dav/calendars/${BOB}/inbox/`,
      `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`,
      { depth: "1", "content-type": "application/xml" },
    );
    const inboxItem = [...inbox.text.matchAll(/<D:href>([^<]+\.ics)<\/D:href>/g)].map((m) => m[1]);
    assertEquals(inboxItem.length, 1);
    assert((await bob("GET", inboxItem[0])).text.includes("METHOD:REQUEST"));

    // Carol gets an iMIP invitation by mail, sent as Alice.
    await eventually(() => peer.accepted.length >= 1, "the iMIP invitation to reach the peer");
    const mail = peer.accepted[0];
    assertEquals(mail.from, ALICE);
    assertEquals(mail.recipients, ["carol@remote.test"]);
    assertMatch(mail.data, /Content-Type: text\/calendar; method=REQUEST/);
    assertMatch(mail.data, /Subject: Invitation: Planning/);
    assertMatch(mail.data, /DKIM-Signature:/);

    // Bob accepts: Alice's copy records it.
    const accepted = bobCopy.replace(
      new RegExp(`PARTSTAT=NEEDS-ACTION([^\\r]*mailto:${BOB})`),
      "PARTSTAT=ACCEPTED$1",
    );
    assertEquals((await bob("PUT", href, accepted)).status, 204);
    const answered = unfold(
      (await alice("GET", `/dav/calendars/${ALICE}/default/meeting.ics`)).text,
    );
    assertMatch(answered, new RegExp(`PARTSTAT=ACCEPTED[^\\r]*mailto:${BOB}`));

    // Alice asks for free-busy through her outbox: Bob is busy at the meeting; an unknown
    // user is refused per recipient.
    const freeBusy = await alice(
      "POST",
      `/dav/calendars/${ALICE}/outbox/`,
      [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "METHOD:REQUEST",
        "BEGIN:VFREEBUSY",
        "UID:fb-1",
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20261210T000000Z",
        "DTEND:20261211T000000Z",
        `ORGANIZER:mailto:${ALICE}`,
        `ATTENDEE:mailto:${BOB}`,
        "ATTENDEE:mailto:nobody@example.com",
        "END:VFREEBUSY",
        "END:VCALENDAR",
        "",
      ].join("\r\n"),
      { "content-type": "text/calendar" },
    );
    assertEquals(freeBusy.status, 200);
    assertMatch(freeBusy.text, /2\.0;Success/);
    assertMatch(freeBusy.text, /FREEBUSY[^:]*:20261210T140000Z\/(20261210T150000Z|PT1H)/);
    assertMatch(freeBusy.text, /3\.7;Invalid calendar user/);

    // Alice cancels: Bob's copy is marked cancelled, Carol gets a CANCEL.
    assertEquals(
      (await alice("DELETE", `/dav/calendars/${ALICE}/default/meeting.ics`)).status,
      204,
    );
    assertMatch((await bob("GET", href)).text, /STATUS:CANCELLED/);
    await eventually(() => peer.accepted.length >= 2, "the iMIP cancellation");
    assertMatch(peer.accepted[1].data, /method=CANCEL/);
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
});
