/**
 * The request sequences DAVx5 (Android) and iOS/macOS Calendar send to set up an account,
 * replayed over the real HTTP listener with their request bodies (tests/fixtures/dav/): the
 * well-known redirect, the principal, the home sets, the collections and a first and a no-op
 * sync. Each step takes its URL from the previous answer, as the clients do.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";
import { DAV_NS, parseXml, type XmlElement } from "../../src/dav/xml.ts";

const LOGIN = "dora@example.com";
const PASSWORD = "dora-discovery-pw";
const FIXTURES = new URL("../fixtures/dav/", import.meta.url);

const fixture = (name: string) => Deno.readTextFile(new URL(name, FIXTURES));

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  url: string;
}

async function setup(server: TestServer) {
  const added = await cli(server.configPath, ["account", "add", LOGIN, "--password", PASSWORD]);
  assertEquals(added.code, 0, added.stderr);
  const base = `http://127.0.0.1:${server.ports.http}`;
  const auth = `Basic ${btoa(`${LOGIN}:${PASSWORD}`)}`;
  /** One request; redirects are followed the way the clients do (same method and body). */
  return async function send(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    let url = new URL(path, base).href;
    for (let hops = 0; hops < 5; hops++) {
      const response = await fetch(url, {
        method,
        body,
        redirect: "manual",
        headers: {
          authorization: auth,
          "content-type": "application/xml; charset=utf-8",
          ...headers,
        },
      });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        url = new URL(location, url).href;
        continue;
      }
      return {
        status: response.status,
        headers: response.headers,
        text: await response.text(),
        url,
      };
    }
    throw new Error("too many redirects");
  };
}

const XML_LIMITS = { maxBytes: 50 << 20, maxDepth: 100, maxElements: 1_000_000 };

/** The multistatus responses as href → (property Clark name → { status, element }). */
function multistatus(text: string) {
  const root = parseXml(text, XML_LIMITS);
  assertEquals(`${root.ns} ${root.name}`, "DAV: multistatus");
  const out = new Map<string, Map<string, { status: string; element: XmlElement }>>();
  for (const response of root.children.filter((c) => c.name === "response")) {
    const href = response.children.find((c) => c.name === "href")!.text;
    const props = new Map<string, { status: string; element: XmlElement }>();
    for (const propstat of response.children.filter((c) => c.name === "propstat")) {
      const status = propstat.children.find((c) => c.name === "status")!.text;
      for (const element of propstat.children.find((c) => c.name === "prop")!.children) {
        props.set(`{${element.ns}}${element.name}`, { status, element });
      }
    }
    out.set(href, props);
  }
  return { responses: out, root };
}

function found(
  props: Map<string, { status: string; element: XmlElement }> | undefined,
  name: string,
) {
  const prop = props?.get(name);
  assert(prop, `property ${name} missing`);
  assert(prop.status.includes(" 200 "), `${name}: ${prop.status}`);
  return prop.element;
}

function hrefIn(element: XmlElement): string {
  const href = element.children.find((c) => c.ns === DAV_NS && c.name === "href");
  assert(href, `no href in ${element.name}`);
  return href.text;
}

const C = "urn:ietf:params:xml:ns:caldav";
const CR = "urn:ietf:params:xml:ns:carddav";
const CS = "http://calendarserver.org/ns/";

const EVENT = [
  "BEGIN:VCALENDAR",
  "VERSION:2.0",
  "PRODID:DAVx5/4.4",
  "BEGIN:VEVENT",
  "UID:phone-1",
  "DTSTAMP:20261101T000000Z",
  "DTSTART;TZID=Europe/Berlin:20261105T090000",
  "DTEND;TZID=Europe/Berlin:20261105T100000",
  "SUMMARY:Dentist",
  "END:VEVENT",
  "END:VCALENDAR",
  "",
].join("\r\n");

Deno.test("dav discovery: the DAVx5 sequence finds, lists and syncs the calendar and address book", async () => {
  await withServer(async (server) => {
    const send = await setup(server);
    // 1. Service detection from the well-known URI (followed to the context path).
    const detect = await send(
      "PROPFIND",
      "/.well-known/caldav",
      await fixture("davx5/1-service-detection.xml"),
      {
        depth: "0",
      },
    );
    assertEquals(detect.status, 207);
    assert(detect.url.endsWith("/dav/"), detect.url);
    const [rootProps] = multistatus(detect.text).responses.values();
    const principal = hrefIn(found(rootProps, `{DAV:}current-user-principal`));
    // 2. The principal's home sets.
    const principalAnswer = await send(
      "PROPFIND",
      principal,
      await fixture("davx5/2-principal.xml"),
      { depth: "0" },
    );
    assertEquals(principalAnswer.status, 207);
    const principalProps = multistatus(principalAnswer.text).responses.get(principal);
    const calendarHome = hrefIn(found(principalProps, `{${C}}calendar-home-set`));
    const bookHome = hrefIn(found(principalProps, `{${CR}}addressbook-home-set`));
    // 3. The collections in each home.
    const calendars = multistatus(
      (await send("PROPFIND", calendarHome, await fixture("davx5/3-home-collections.xml"), {
        depth: "1",
      })).text,
    ).responses;
    const calendar = [...calendars].find(([, props]) =>
      found(props, "{DAV:}resourcetype").children.some((c) => c.ns === C && c.name === "calendar")
    )?.[0];
    assert(calendar, [...calendars.keys()].join(" "));
    const components = found(calendars.get(calendar), `{${C}}supported-calendar-component-set`)
      .children.map((c) => c.attributes.get("name"));
    assert(components.includes("VEVENT") && components.includes("VTODO"), components.join());
    const privileges = found(calendars.get(calendar), "{DAV:}current-user-privilege-set").children
      .flatMap((p) => p.children.map((c) => c.name));
    assert(privileges.includes("write") && privileges.includes("read"), privileges.join());
    const books = multistatus(
      (await send("PROPFIND", bookHome, await fixture("davx5/3-home-collections.xml"), {
        depth: "1",
      })).text,
    ).responses;
    assert(
      [...books.values()].some((props) =>
        found(props, "{DAV:}resourcetype").children.some((c) =>
          c.ns === CR && c.name === "addressbook"
        )
      ),
    );
    // 4. Collection state, then the first sync (empty token), an upload, and the next syncs.
    const state = multistatus(
      (await send("PROPFIND", calendar, await fixture("davx5/4-collection-state.xml"), {
        depth: "0",
      })).text,
    ).responses.get(calendar);
    found(state, `{${CS}}getctag`);
    const reports = found(state, "{DAV:}supported-report-set").children
      .map((r) => r.children[0]?.children[0]?.name);
    assert(
      reports.includes("sync-collection") && reports.includes("calendar-multiget"),
      reports.join(),
    );
    const syncBody = await fixture("davx5/5-sync-collection.xml");
    const first = await send("REPORT", calendar, syncBody.replace("{token}", ""), { depth: "0" });
    assertEquals(first.status, 207);
    const firstSync = multistatus(first.text);
    assertEquals(firstSync.responses.size, 0);
    const token = firstSync.root.children.find((c) => c.name === "sync-token")!.text;
    const uploaded = await send("PUT", `${calendar}phone-1.ics`, EVENT, {
      "content-type": "text/calendar; charset=utf-8",
      "if-none-match": "*",
    });
    assertEquals(uploaded.status, 201);
    const second = multistatus(
      (await send("REPORT", calendar, syncBody.replace("{token}", token), { depth: "0" })).text,
    );
    assertEquals([...second.responses.keys()], [`${calendar}phone-1.ics`]);
    const token2 = second.root.children.find((c) => c.name === "sync-token")!.text;
    // 5. Multiget of what changed returns the object as uploaded.
    const multiget = await send(
      "REPORT",
      calendar,
      (await fixture("davx5/6-multiget.xml")).replace(
        "{hrefs}",
        `<d:href>${calendar}phone-1.ics</d:href>`,
      ),
      { depth: "0" },
    );
    const data = found(
      multistatus(multiget.text).responses.get(`${calendar}phone-1.ics`),
      `{${C}}calendar-data`,
    );
    assertEquals(data.text.replaceAll("\n", "\r\n").replaceAll("\r\r\n", "\r\n"), EVENT);
    // 6. A no-op sync: nothing changed, same token.
    const noop = multistatus(
      (await send("REPORT", calendar, syncBody.replace("{token}", token2), { depth: "0" })).text,
    );
    assertEquals(noop.responses.size, 0);
    assertEquals(noop.root.children.find((c) => c.name === "sync-token")!.text, token2);
  });
});

Deno.test("dav discovery: the iOS sequence finds the principal, homes, inbox/outbox and syncs", async () => {
  await withServer(async (server) => {
    const send = await setup(server);
    const first = await send(
      "PROPFIND",
      "/.well-known/caldav",
      await fixture("ios/1-principal-url.xml"),
      {
        depth: "0",
      },
    );
    assertEquals(first.status, 207);
    const [props] = multistatus(first.text).responses.values();
    const principal = hrefIn(found(props, "{DAV:}current-user-principal"));
    const principalAnswer = await send(
      "PROPFIND",
      principal,
      await fixture("ios/2-principal.xml"),
      { depth: "0" },
    );
    const principalProps = multistatus(principalAnswer.text).responses.get(principal);
    const home = hrefIn(found(principalProps, `{${C}}calendar-home-set`));
    const inbox = hrefIn(found(principalProps, `{${C}}schedule-inbox-URL`));
    const outbox = hrefIn(found(principalProps, `{${C}}schedule-outbox-URL`));
    const addresses = found(principalProps, `{${C}}calendar-user-address-set`).children.map((c) =>
      c.text
    );
    assert(addresses.includes(`mailto:${LOGIN}`));
    // Properties this server does not have come back 404, not as an error.
    assert(principalProps?.get(`{${CS}}dropbox-home-URL`)?.status.includes("404"));
    const options = await send("OPTIONS", principal);
    assertEquals(options.status, 200);
    const dav = options.headers.get("dav") ?? "";
    for (const feature of ["1", "access-control", "calendar-access", "calendar-auto-schedule"]) {
      assert(dav.split(/,\s*/).includes(feature), dav);
    }
    const listing = multistatus(
      (await send("PROPFIND", home, await fixture("ios/3-home.xml"), { depth: "1" })).text,
    ).responses;
    assert(listing.has(inbox) && listing.has(outbox), [...listing.keys()].join(" "));
    const types = (href: string) =>
      found(listing.get(href), "{DAV:}resourcetype").children.map((c) => c.name);
    assert(types(inbox).includes("schedule-inbox"));
    assert(types(outbox).includes("schedule-outbox"));
    const calendar = [...listing.keys()].find((href) => types(href).includes("calendar"));
    assert(calendar);
    found(listing.get(calendar), "{DAV:}sync-token");
    found(listing.get(calendar), `{${CS}}getctag`);
    const sync = await send(
      "REPORT",
      calendar,
      (await fixture("ios/4-sync-collection.xml")).replace("{token}", ""),
      { depth: "1" },
    );
    assertEquals(sync.status, 207);
    // A wrong password is a 401 with a Basic challenge, whatever the path.
    const wrong = await fetch(`http://127.0.0.1:${server.ports.http}${calendar}`, {
      method: "PROPFIND",
      headers: { authorization: `Basic ${btoa(`${LOGIN}:nope`)}`, depth: "0" },
    });
    assertEquals(wrong.status, 401);
    assert(wrong.headers.get("www-authenticate")?.startsWith("Basic"));
    await wrong.body?.cancel();
  });
});
