/**
 * Sharing a calendar with another local account (RFC 3744 ACL) over the real HTTP listener:
 * the sharee's client finds it in its calendar home, reads it, writes only when allowed, and
 * unsubscribes by deleting it.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";

async function client(server: TestServer, login: string, password: string) {
  const added = await cli(server.configPath, ["account", "add", login, "--password", password]);
  assertEquals(added.code, 0, added.stderr);
  const auth = `Basic ${btoa(`${login}:${password}`)}`;
  return async (
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}${path}`, {
      method,
      body,
      headers: { authorization: auth, "content-type": "application/xml", ...headers },
    });
    return { status: response.status, text: await response.text() };
  };
}

const EVENT = (uid: string) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//tests//EN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20260101T000000Z",
    "DTSTART:20261201T100000Z",
    "DURATION:PT1H",
    `SUMMARY:${uid}`,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

const acl = (principal: string, privileges: string[]) =>
  `<?xml version="1.0"?><d:acl xmlns:d="DAV:"><d:ace><d:principal><d:href>${principal}</d:href>` +
  `</d:principal><d:grant>${
    privileges.map((p) => `<d:privilege><d:${p}/></d:privilege>`).join("")
  }</d:grant></d:ace></d:acl>`;

Deno.test("dav sharing: read-only, then read-write, then unsubscribed", async () => {
  await withServer(async (server) => {
    const alice = await client(server, "alice@example.com", "alice-share-pw");
    const bob = await client(server, "bob@example.com", "bob-share-pw");
    const aliceCalendar = "/dav/calendars/alice@example.com/default/";
    assertEquals((await alice("PUT", `${aliceCalendar}one.ics`, EVENT("one"))).status, 201);

    // Before any grant, bob sees nothing of alice's and cannot reach her paths.
    assertEquals((await bob("PROPFIND", aliceCalendar, undefined, { depth: "0" })).status, 403);
    await bob("PROPFIND", "/dav/calendars/bob@example.com/", undefined, { depth: "0" });
    const noGrant = await bob("PROPFIND", "/dav/calendars/bob@example.com/", undefined, {
      depth: "1",
    });
    assert(!noGrant.text.includes("shared-"), noGrant.text);

    // A grant only the owner can make; a stranger's principal is refused.
    assertEquals(
      (await alice("ACL", aliceCalendar, acl("/dav/principals/nobody@example.com/", ["read"])))
        .status,
      403,
    );
    assertEquals(
      (await alice("ACL", aliceCalendar, acl("/dav/principals/bob@example.com/", ["read"])))
        .status,
      200,
    );
    const aclProp = await alice(
      "PROPFIND",
      aliceCalendar,
      `<d:propfind xmlns:d="DAV:"><d:prop><d:acl/></d:prop></d:propfind>`,
      { depth: "0" },
    );
    assert(aclProp.text.includes("/dav/principals/bob@example.com/"), aclProp.text);

    const home = await bob(
      "PROPFIND",
      "/dav/calendars/bob@example.com/",
      `<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/>` +
        `<d:current-user-privilege-set/></d:prop></d:propfind>`,
      { depth: "1" },
    );
    const mount = /<D:href>(\/dav\/calendars\/bob@example.com\/shared-\d+\/)<\/D:href>/.exec(
      home.text,
    )?.[1];
    assert(mount, home.text);
    assert(home.text.includes("alice@example.com)"), "the display name says whose it is");
    const read = await bob("GET", `${mount}one.ics`);
    assertEquals(read.status, 200);
    assertEquals(read.text, EVENT("one"));
    const refused = await bob("PUT", `${mount}two.ics`, EVENT("two"));
    assertEquals(refused.status, 403);
    assert(refused.text.includes("need-privileges"));

    // Read-write: bob's event lands in alice's calendar.
    assertEquals(
      (await alice(
        "ACL",
        aliceCalendar,
        acl("/dav/principals/bob@example.com/", ["read", "write"]),
      ))
        .status,
      200,
    );
    assertEquals((await bob("PUT", `${mount}two.ics`, EVENT("two"))).status, 201);
    assertEquals((await alice("GET", `${aliceCalendar}two.ics`)).text, EVENT("two"));
    // Bob may not delete the calendar's contents wholesale through the mount's properties.
    assertEquals(
      (await bob(
        "PROPPATCH",
        mount,
        `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>x</d:displayname>` +
          `</d:prop></d:set></d:propertyupdate>`,
      )).status,
      403,
    );

    // Deleting the mount unsubscribes; alice's calendar and events stay.
    assertEquals((await bob("DELETE", mount)).status, 204);
    assertEquals((await bob("GET", `${mount}one.ics`)).status, 404);
    assertEquals((await alice("GET", `${aliceCalendar}one.ics`)).status, 200);
  });
});
