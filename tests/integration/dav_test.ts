/**
 * CalDAV, CardDAV and WebDAV over the real HTTP listener: the discovery sequence DAVx5 and iOS
 * replay, objects in and out with their entity tags, queries, sync-collection, and the safety
 * limits (XML bombs, deep documents, path escapes).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";

const LOGIN = "carol@example.com";
const PASSWORD = "carol-dav-password";

interface Dav {
  request(
    method: string,
    path: string,
    body?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; headers: Headers }>;
}

async function davClient(server: TestServer, login = LOGIN, password = PASSWORD): Promise<Dav> {
  const added = await cli(server.configPath, ["account", "add", login, "--password", password]);
  assertEquals(added.code, 0, added.stderr);
  const base = `http://127.0.0.1:${server.ports.http}`;
  const auth = `Basic ${btoa(`${login}:${password}`)}`;
  return {
    async request(method, path, body, headers = {}) {
      const response = await fetch(`${base}${path}`, {
        method,
        body,
        redirect: "manual",
        headers: { authorization: auth, ...headers },
      });
      return { status: response.status, text: await response.text(), headers: response.headers };
    },
  };
}

const XML = { "content-type": "application/xml; charset=utf-8" };

function propfind(props: string): string {
  return `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" ` +
    `xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" ` +
    `xmlns:cs="http://calendarserver.org/ns/"><d:prop>${props}</d:prop></d:propfind>`;
}

/** The text of every element with this local name (any prefix). */
function texts(xml: string, name: string): string[] {
  const pattern = new RegExp(
    `<(?:[A-Za-z0-9]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9]+:)?${name}>`,
    "g",
  );
  return [...xml.matchAll(pattern)].map((m) => m[1]);
}

function hrefs(xml: string): string[] {
  return texts(xml, "href");
}

const EVENT = (uid: string, start: string, extra = "") =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Postern tests//EN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20260101T000000Z",
    `DTSTART:${start}`,
    "DURATION:PT1H",
    `SUMMARY:Event ${uid}`,
    ...(extra ? [extra] : []),
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

const CARD = (uid: string, name: string) =>
  [
    "BEGIN:VCARD",
    "VERSION:3.0",
    `UID:${uid}`,
    `FN:${name}`,
    `EMAIL:${uid}@example.org`,
    "END:VCARD",
    "",
  ]
    .join("\r\n");

Deno.test("dav discovery: well-known, principal, home sets, collections, sync-collection", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const wellKnown = await dav.request("PROPFIND", "/.well-known/caldav", undefined, {
      depth: "0",
    });
    assertEquals(wellKnown.status, 301);
    assertEquals(wellKnown.headers.get("location"), "/dav/");
    const cardWellKnown = await dav.request("GET", "/.well-known/carddav");
    assertEquals(cardWellKnown.status, 301);

    const root = await dav.request("PROPFIND", "/dav/", propfind("<d:current-user-principal/>"), {
      depth: "0",
      ...XML,
    });
    assertEquals(root.status, 207);
    assert(root.headers.get("dav")?.includes("calendar-access"));
    const principal = hrefs(texts(root.text, "current-user-principal")[0])[0];
    assertEquals(principal, `/dav/principals/${LOGIN}/`);

    const homes = await dav.request(
      "PROPFIND",
      principal,
      propfind(
        "<c:calendar-home-set/><cr:addressbook-home-set/><c:calendar-user-address-set/>" +
          "<d:displayname/><c:schedule-inbox-URL/>",
      ),
      { depth: "0", ...XML },
    );
    assertEquals(homes.status, 207);
    const calendarHome = hrefs(texts(homes.text, "calendar-home-set")[0])[0];
    const bookHome = hrefs(texts(homes.text, "addressbook-home-set")[0])[0];
    assertEquals(calendarHome, `/dav/calendars/${LOGIN}/`);
    assertEquals(bookHome, `/dav/addressbooks/${LOGIN}/`);
    assert(hrefs(texts(homes.text, "calendar-user-address-set")[0]).includes(`mailto:${LOGIN}`));

    const calendars = await dav.request(
      "PROPFIND",
      calendarHome,
      propfind(
        "<d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/>" +
          "<c:supported-calendar-component-set/>",
      ),
      { depth: "1", ...XML },
    );
    assertEquals(calendars.status, 207);
    const listed = hrefs(calendars.text);
    assert(listed.includes(`${calendarHome}default/`), listed.join(" "));
    assert(calendars.text.includes("calendar/>") || calendars.text.includes(":calendar/>"));

    const books = await dav.request(
      "PROPFIND",
      bookHome,
      propfind("<d:resourcetype/><d:displayname/>"),
      { depth: "1", ...XML },
    );
    assert(hrefs(books.text).includes(`${bookHome}default/`));

    // An initial sync lists nothing; after a PUT the new token reports exactly that member.
    const calendar = `${calendarHome}default/`;
    const initial = await dav.request(
      "REPORT",
      calendar,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>` +
        `<d:prop><d:getetag/></d:prop></d:sync-collection>`,
      { depth: "0", ...XML },
    );
    assertEquals(initial.status, 207);
    const token = texts(initial.text, "sync-token")[0];
    assert(token);
    const put = await dav.request("PUT", `${calendar}a.ics`, EVENT("a", "20261201T100000Z"), {
      "content-type": "text/calendar",
      "if-none-match": "*",
    });
    assertEquals(put.status, 201);
    const next = await dav.request(
      "REPORT",
      calendar,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token>` +
        `<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
      { depth: "0", ...XML },
    );
    assertEquals(next.status, 207);
    assertEquals(hrefs(next.text), [`${calendar}a.ics`]);
    assertEquals(texts(next.text, "getetag"), [put.headers.get("etag")]);

    // A deletion shows as a 404 member; a stale foreign token is refused.
    const token2 = texts(next.text, "sync-token")[0];
    assertEquals((await dav.request("DELETE", `${calendar}a.ics`)).status, 204);
    const after = await dav.request(
      "REPORT",
      calendar,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token2}</d:sync-token>` +
        `<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
      { depth: "0", ...XML },
    );
    assert(after.text.includes("404"), after.text);
    assertEquals(hrefs(after.text), [`${calendar}a.ics`]);
    const bad = await dav.request(
      "REPORT",
      calendar,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token>urn:postern:sync:999999:1</d:sync-token>` +
        `<d:sync-level>1</d:sync-level><d:prop/></d:sync-collection>`,
      { depth: "0", ...XML },
    );
    assertEquals(bad.status, 403);
    assert(bad.text.includes("valid-sync-token"));
  });
});

Deno.test("dav objects: PUT validates, ETags drive conditional requests, UIDs stay unique", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    const put = await dav.request("PUT", `${calendar}x.ics`, EVENT("x", "20261201T100000Z"));
    assertEquals(put.status, 201);
    const etag = put.headers.get("etag")!;
    const got = await dav.request("GET", `${calendar}x.ics`);
    assertEquals(got.text, EVENT("x", "20261201T100000Z"));
    assertEquals(got.headers.get("etag"), etag);
    assertEquals(
      (await dav.request("GET", `${calendar}x.ics`, undefined, { "if-none-match": etag })).status,
      304,
    );
    // A stale If-Match loses; the right one wins.
    const stale = await dav.request("PUT", `${calendar}x.ics`, EVENT("x", "20261202T100000Z"), {
      "if-match": '"stale"',
    });
    assertEquals(stale.status, 412);
    const update = await dav.request("PUT", `${calendar}x.ics`, EVENT("x", "20261202T100000Z"), {
      "if-match": etag,
    });
    assertEquals(update.status, 204);
    assert(update.headers.get("etag") !== etag);
    // Same UID under another name: no-uid-conflict.
    const twin = await dav.request("PUT", `${calendar}twin.ics`, EVENT("x", "20261203T100000Z"));
    assertEquals(twin.status, 409);
    assert(twin.text.includes("no-uid-conflict"));
    // Not iCalendar at all, and a vCard in a calendar: 403 with the precondition.
    const junk = await dav.request("PUT", `${calendar}junk.ics`, "hello\r\n");
    assertEquals(junk.status, 403);
    assert(junk.text.includes("valid-calendar"), junk.text);
    const book = `/dav/addressbooks/${LOGIN}/default/`;
    const card = await dav.request("PUT", `${book}c.vcf`, CARD("c1", "Ann Example"));
    assertEquals(card.status, 201);
    const badCard = await dav.request("PUT", `${book}d.vcf`, EVENT("d", "20261201T100000Z"));
    assertEquals(badCard.status, 403);
    assert(badCard.text.includes("valid-address-data"), badCard.text);
    // The stored vCard comes back byte for byte through multiget.
    const multiget = await dav.request(
      "REPORT",
      book,
      `<cr:addressbook-multiget xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">` +
        `<d:prop><d:getetag/><cr:address-data/></d:prop><d:href>${book}c.vcf</d:href>` +
        `<d:href>${book}missing.vcf</d:href></cr:addressbook-multiget>`,
      { depth: "1", ...XML },
    );
    assertEquals(multiget.status, 207);
    assertEquals(
      texts(multiget.text, "address-data")[0].replaceAll("&#13;", "\r"),
      CARD("c1", "Ann Example"),
    );
    assert(multiget.text.includes("404"));
  });
});

Deno.test("dav calendar-query: time ranges honour recurrence; addressbook-query matches text", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    assertEquals(
      (await dav.request("PUT", `${calendar}once.ics`, EVENT("once", "20261201T100000Z"))).status,
      201,
    );
    assertEquals(
      (await dav.request(
        "PUT",
        `${calendar}weekly.ics`,
        EVENT("weekly", "20260105T090000Z", "RRULE:FREQ=WEEKLY"),
      )).status,
      201,
    );
    const query = (start: string, end: string) =>
      dav.request(
        "REPORT",
        calendar,
        `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
          `<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">` +
          `<c:comp-filter name="VEVENT"><c:time-range start="${start}" end="${end}"/>` +
          `</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
        { depth: "1", ...XML },
      );
    // 2030-03-04 is a Monday: only the weekly series has an instance then.
    const far = await query("20300304T000000Z", "20300305T000000Z");
    assertEquals(far.status, 207);
    assertEquals(hrefs(far.text), [`${calendar}weekly.ics`]);
    // A Tuesday: nothing.
    assertEquals(hrefs((await query("20300305T000000Z", "20300306T000000Z")).text), []);
    const december = await query("20261201T000000Z", "20261202T000000Z");
    assertEquals(hrefs(december.text), [`${calendar}once.ics`]);

    const book = `/dav/addressbooks/${LOGIN}/default/`;
    await dav.request("PUT", `${book}ann.vcf`, CARD("ann", "Ann Example"));
    await dav.request("PUT", `${book}bob.vcf`, CARD("bob", "Bob Other"));
    const cards = await dav.request(
      "REPORT",
      book,
      `<cr:addressbook-query xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">` +
        `<d:prop><d:getetag/></d:prop><cr:filter><cr:prop-filter name="FN">` +
        `<cr:text-match match-type="contains">ann</cr:text-match></cr:prop-filter></cr:filter>` +
        `</cr:addressbook-query>`,
      { depth: "1", ...XML },
    );
    assertEquals(cards.status, 207);
    assertEquals(hrefs(cards.text), [`${book}ann.vcf`]);
  });
});

Deno.test("dav safety: XML bombs, deep documents, an infinite RRULE and path escapes", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
      `<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
      `<d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&lol2;</d:displayname></d:prop></d:propfind>`;
    const bomb = await dav.request("PROPFIND", `/dav/files/${LOGIN}/`, laughs, {
      depth: "0",
      ...XML,
    });
    assertEquals(bomb.status, 400);
    assert(/DOCTYPE/i.test(bomb.text), bomb.text);
    const deep = "<a>".repeat(10_000) + "</a>".repeat(10_000);
    const nested = await dav.request("PROPFIND", `/dav/files/${LOGIN}/`, deep, {
      depth: "0",
      ...XML,
    });
    assertEquals(nested.status, 400);
    for (
      const path of [
        "/dav/files/x/../../etc/passwd",
        "/dav/files/%2e%2e%2fetc",
        "/dav/files/a%2Fb",
        "/dav/files/a%00b",
      ]
    ) {
      const response = await dav.request("GET", path);
      assert(response.status === 400 || response.status === 404, `${path}: ${response.status}`);
    }
    const other = await dav.request("PROPFIND", "/dav/calendars/someone@example.com/", undefined, {
      depth: "0",
    });
    assertEquals(other.status, 403);
    // An every-second series without end, queried over 100 years: answered, and the server lives.
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    const infinite = EVENT("forever", "20260101T000000Z", "RRULE:FREQ=SECONDLY").replace(
      "DURATION:PT1H",
      "DURATION:PT1S",
    );
    assertEquals((await dav.request("PUT", `${calendar}forever.ics`, infinite)).status, 201);
    const query = await dav.request(
      "REPORT",
      calendar,
      `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
        `<d:prop><c:calendar-data><c:expand start="20260101T000000Z" end="21260101T000000Z"/>` +
        `</c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR">` +
        `<c:comp-filter name="VEVENT"><c:time-range start="20260101T000000Z" end="21260101T000000Z"/>` +
        `</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
      { depth: "1", ...XML },
    );
    assertEquals(query.status, 207);
    const health = await fetch(`http://127.0.0.1:${server.ports.http}/healthz/live`);
    assertEquals(health.status, 200);
    await health.body?.cancel();
  });
});

Deno.test("dav files: streamed uploads, ranges, the quota and the size limit", async () => {
  await withServer(async (server) => {
    const added = await cli(server.configPath, [
      "account",
      "add",
      "erin@example.com",
      "--password",
      "erin-files-pw",
      "--quota",
      "3M",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const base = `http://127.0.0.1:${server.ports.http}/dav/files/erin@example.com`;
    const auth = { authorization: `Basic ${btoa("erin@example.com:erin-files-pw")}` };
    const bytes = new Uint8Array(2 * 1024 * 1024 + 7).map((_, i) => (i * 31 + 7) & 0xff);
    // Sent as a stream in uneven chunks (no Content-Length).
    const chunks = [
      bytes.subarray(0, 1000),
      bytes.subarray(1000, 1_500_000),
      bytes.subarray(1_500_000),
    ];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const put = await fetch(`${base}/big.bin`, { method: "PUT", body: stream, headers: auth });
    assertEquals(put.status, 201);
    await put.body?.cancel();
    const got = new Uint8Array(
      await (await fetch(`${base}/big.bin`, { headers: auth })).arrayBuffer(),
    );
    assertEquals(got.length, bytes.length);
    assertEquals(got, bytes);
    const ranged = await fetch(`${base}/big.bin`, {
      headers: { ...auth, range: "bytes=1000-1009" },
    });
    assertEquals(ranged.status, 206);
    assertEquals(ranged.headers.get("content-range"), `bytes 1000-1009/${bytes.length}`);
    assertEquals(new Uint8Array(await ranged.arrayBuffer()), bytes.subarray(1000, 1010));
    const unsatisfiable = await fetch(`${base}/big.bin`, {
      headers: { ...auth, range: "bytes=9999999-" },
    });
    assertEquals(unsatisfiable.status, 416);
    await unsatisfiable.body?.cancel();
    // The quota counts files: a second copy does not fit (3 MiB), a small file does.
    const copy = await fetch(`${base}/big.bin`, {
      method: "COPY",
      headers: { ...auth, destination: `${base}/copy.bin` },
    });
    assertEquals(copy.status, 507);
    assert((await copy.text()).includes("quota-not-exceeded"));
    const again = await fetch(`${base}/other.bin`, { method: "PUT", body: bytes, headers: auth });
    assertEquals(again.status, 507);
    await again.body?.cancel();
    const quota = await fetch(`${base}/`, {
      method: "PROPFIND",
      headers: { ...auth, depth: "0" },
      body: `<d:propfind xmlns:d="DAV:"><d:prop><d:quota-used-bytes/><d:quota-available-bytes/>` +
        `</d:prop></d:propfind>`,
    });
    const text = await quota.text();
    const used = Number(texts(text, "quota-used-bytes")[0]);
    assert(used >= bytes.length, text);
    assertEquals(Number(texts(text, "quota-available-bytes")[0]), 3 * 1024 * 1024 - used);
    // Deleting gives the space back.
    assertEquals((await fetch(`${base}/big.bin`, { method: "DELETE", headers: auth })).status, 204);
    const small = await fetch(`${base}/other.bin`, { method: "PUT", body: bytes, headers: auth });
    assertEquals(small.status, 201);
    await small.body?.cancel();
  });
});

Deno.test("dav sync-collection: DAV:limit pages through the changes with intermediate tokens", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const book = `/dav/addressbooks/${LOGIN}/default/`;
    for (let i = 0; i < 5; i++) {
      assertEquals(
        (await dav.request("PUT", `${book}p${i}.vcf`, CARD(`p${i}`, `Person ${i}`))).status,
        201,
      );
    }
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    for (; pages < 10; pages++) {
      const page = await dav.request(
        "REPORT",
        book,
        `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token>` +
          `<d:sync-level>1</d:sync-level><d:limit><d:nresults>2</d:nresults></d:limit>` +
          `<d:prop><d:getetag/></d:prop></d:sync-collection>`,
        { depth: "0", ...XML },
      );
      assertEquals(page.status, 207);
      token = texts(page.text, "sync-token")[0];
      const members = hrefs(page.text).filter((h) => h !== book);
      seen.push(...members);
      if (!page.text.includes("number-of-matches-within-limits")) break;
      assertEquals(members.length, 2);
    }
    assertEquals(pages, 2);
    assertEquals(seen.sort(), [0, 1, 2, 3, 4].map((i) => `${book}p${i}.vcf`));
  });
});

Deno.test("dav calendar-query: floating times are read in the calendar's time zone", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    // 09:00 floating on 2026-12-01 is 14:00Z in New York (EST).
    assertEquals(
      (await dav.request("PUT", `${calendar}f.ics`, EVENT("f", "20261201T090000"))).status,
      201,
    );
    const query = () =>
      dav.request(
        "REPORT",
        calendar,
        `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
          `<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">` +
          `<c:comp-filter name="VEVENT"><c:time-range start="20261201T133000Z" end="20261201T143000Z"/>` +
          `</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
        { depth: "1", ...XML },
      );
    assertEquals(hrefs((await query()).text), [], "read as UTC, 09:00 is outside the range");
    const patch = await dav.request(
      "PROPPATCH",
      calendar,
      `<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>` +
        `<c:calendar-timezone-id>America/New_York</c:calendar-timezone-id></d:prop></d:set>` +
        `</d:propertyupdate>`,
      XML,
    );
    assertEquals(patch.status, 207);
    assert(patch.text.includes("200 OK"), patch.text);
    assertEquals(hrefs((await query()).text), [`${calendar}f.ics`]);
  });
});

Deno.test("dav PUT: of clients racing to create one name with If-None-Match: *, one wins", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const path = `/dav/calendars/${LOGIN}/default/race.ics`;
    const answers = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          dav.request("PUT", path, EVENT("race", `2026120${i + 1}T100000Z`), {
            "if-none-match": "*",
          }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assertEquals(statuses, [201, 412, 412, 412, 412, 412, 412, 412]);
    const winner = answers.find((a) => a.status === 201)!;
    assertEquals((await dav.request("GET", path)).headers.get("etag"), winner.headers.get("etag"));
  });
});

Deno.test("dav calendar-query: text-match on a folded SUMMARY, with and without negation", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    const folded = EVENT("b", "20261201T100000Z").replace(
      "SUMMARY:Event b",
      "SUMMARY:Quarterly BUD\r\n GET review",
    );
    assertEquals((await dav.request("PUT", `${calendar}b.ics`, folded)).status, 201);
    assertEquals(
      (await dav.request("PUT", `${calendar}l.ics`, EVENT("l", "20261201T120000Z"))).status,
      201,
    );
    const query = (match: string) =>
      dav.request(
        "REPORT",
        calendar,
        `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
          `<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">` +
          `<c:comp-filter name="VEVENT"><c:prop-filter name="SUMMARY">${match}</c:prop-filter>` +
          `</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
        { depth: "1", ...XML },
      );
    assertEquals(hrefs((await query("<c:text-match>budget</c:text-match>")).text), [
      `${calendar}b.ics`,
    ]);
    assertEquals(
      hrefs((await query('<c:text-match negate-condition="yes">budget</c:text-match>')).text),
      [`${calendar}l.ics`],
    );
    assertEquals(
      hrefs((await query('<c:text-match collation="i;octet">budget</c:text-match>')).text),
      [],
    );
  });
});

Deno.test("dav addressbook-query: anyof and allof, folded and case-folded names", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const book = `/dav/addressbooks/${LOGIN}/default/`;
    const folded = CARD("k", "Katrin Kleinberg").replace(
      "FN:Katrin Kleinberg",
      "FN:Katrin KLEIN\r\n BERG",
    );
    assertEquals((await dav.request("PUT", `${book}k.vcf`, folded)).status, 201);
    assertEquals((await dav.request("PUT", `${book}m.vcf`, CARD("m", "Max Muster"))).status, 201);
    const query = (test: string, filters: string) =>
      dav.request(
        "REPORT",
        book,
        `<cr:addressbook-query xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">` +
          `<d:prop><d:getetag/></d:prop><cr:filter test="${test}">${filters}</cr:filter>` +
          `</cr:addressbook-query>`,
        { depth: "1", ...XML },
      );
    const fn = (text: string) =>
      `<cr:prop-filter name="FN"><cr:text-match>${text}</cr:text-match></cr:prop-filter>`;
    assertEquals(hrefs((await query("anyof", fn("kleinberg"))).text), [`${book}k.vcf`]);
    assertEquals(
      hrefs((await query("anyof", fn("kleinberg") + fn("muster"))).text).sort(),
      [`${book}k.vcf`, `${book}m.vcf`],
    );
    assertEquals(hrefs((await query("allof", fn("kleinberg") + fn("muster"))).text), []);
    assertEquals(hrefs((await query("allof", fn("katrin") + fn("berg"))).text), [`${book}k.vcf`]);
  });
});

Deno.test("dav PROPFIND Depth 1 returns each member's calendar-data as stored", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const calendar = `/dav/calendars/${LOGIN}/default/`;
    for (const uid of ["p1", "p2", "p3"]) {
      const start = `202612${uid.slice(1).padStart(2, "0")}T100000Z`;
      assertEquals(
        (await dav.request("PUT", `${calendar}${uid}.ics`, EVENT(uid, start))).status,
        201,
      );
    }
    const listing = await dav.request(
      "PROPFIND",
      calendar,
      propfind("<d:getetag/><c:calendar-data/>"),
      { depth: "1", ...XML },
    );
    assertEquals(listing.status, 207);
    const data = texts(listing.text, "calendar-data").map((t) => t.replaceAll("&#13;", "\r"));
    assertEquals(
      data.sort(),
      ["p1", "p2", "p3"].map((uid) => EVENT(uid, `202612${uid.slice(1).padStart(2, "0")}T100000Z`)),
    );
  });
});

Deno.test("dav limits from [dav]: file size (413, nothing kept) and object size (max-resource-size)", async () => {
  await withServer(async (server) => {
    const dav = await davClient(server);
    const file = `/dav/files/${LOGIN}/big.bin`;
    const tooBig = "x".repeat(2048);
    // Streamed without Content-Length, so the limit is found while reading.
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(tooBig));
        controller.close();
      },
    });
    const base = `http://127.0.0.1:${server.ports.http}`;
    const auth = { authorization: `Basic ${btoa(`${LOGIN}:${PASSWORD}`)}` };
    const refused = await fetch(`${base}${file}`, { method: "PUT", body: streamed, headers: auth });
    assertEquals(refused.status, 413);
    await refused.body?.cancel();
    assertEquals((await dav.request("GET", file)).status, 404);
    const incoming = [...Deno.readDirSync(`${server.dir}/data/blobs/incoming`)];
    assertEquals(incoming, [], "the refused upload's partial file is gone");
    assertEquals((await dav.request("PUT", file, "x".repeat(1024))).status, 201);
    const event = EVENT("long", "20261201T100000Z", `DESCRIPTION:${"y".repeat(3000)}`);
    const object = await dav.request("PUT", `/dav/calendars/${LOGIN}/default/long.ics`, event);
    assertEquals(object.status, 403);
    assert(object.text.includes("max-resource-size"), object.text);
  }, { extra: ["[dav]", "max_file_size = 1024", "max_object_size = 2048"].join("\n") });
});
