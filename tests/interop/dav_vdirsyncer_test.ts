/**
 * Interop: vdirsyncer syncs Postern's default calendar (CalDAV) and address book (CardDAV) with
 * local vdir folders, both ways, and khal and khard read what it synced:
 * - `discover` finds both collections from the server root (principal, then the homes);
 * - local .ics/.vcf files go up on `sync` and are then on the server;
 * - an event changed and a contact added on the server with plain HTTP PUTs come down;
 * - a further sync reports no change and leaves every local file as it was;
 * - `khal list` shows the changed event and `khard list` both contacts.
 * Needs vdirsyncer, khal and khard (scripts/install-dav-peers.sh).
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";

const LOGIN = "alice@example.com";
const PASSWORD = "pw-alice-dav";
const COMMAND_TIMEOUT_MS = 120_000;

/** A DAV server account and the two collections the scenario syncs. */
export interface VdirsyncerTarget {
  /** Server root URL; discovery starts here. */
  root: string;
  user: string;
  password: string;
  /** URL of an existing, empty calendar collection (trailing slash). */
  calendar: string;
  /** URL of an existing, empty address book collection (trailing slash). */
  addressbook: string;
}

const LOCAL_EVENT = [
  "BEGIN:VCALENDAR",
  "VERSION:2.0",
  "PRODID:-//Postern//interop//EN",
  "BEGIN:VEVENT",
  "UID:vdir-event-1@example.com",
  "DTSTAMP:20300101T000000Z",
  "DTSTART:20300315T090000Z",
  "DTEND:20300315T100000Z",
  "SUMMARY:Local meeting",
  "END:VEVENT",
  "END:VCALENDAR",
  "",
].join("\r\n");
const SERVER_EVENT = LOCAL_EVENT.replace("DTEND:20300315T100000Z", "DTEND:20300315T110000Z")
  .replace("SUMMARY:Local meeting", "SUMMARY:Meeting moved by the server");
const LOCAL_CARD = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "UID:vdir-card-1@example.com",
  "FN:Ada Lovelace",
  "N:Lovelace;Ada;;;",
  "EMAIL:ada@example.org",
  "END:VCARD",
  "",
].join("\r\n");
const SERVER_CARD = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "UID:server-card-2@example.com",
  "FN:Grace Hopper",
  "N:Hopper;Grace;;;",
  "EMAIL:grace@example.org",
  "END:VCARD",
  "",
].join("\r\n");

/** Runs one of the clients with HOME in `dir`; returns exit code and stdout + stderr. */
async function run(
  dir: string,
  command: string,
  args: string[],
  stdin = "",
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(command, {
    args,
    cwd: dir,
    env: { HOME: dir, TZ: "UTC", LC_ALL: "C.UTF-8" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const result = await child.output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

function vdirsyncerConfig(dir: string, target: VdirsyncerTarget): string {
  const remote = (type: string) =>
    [
      `type = "${type}"`,
      `url = ${JSON.stringify(target.root)}`,
      `username = ${JSON.stringify(target.user)}`,
      `password = ${JSON.stringify(target.password)}`,
    ].join("\n");
  return [
    "[general]",
    `status_path = "${dir}/status/"`,
    "",
    "[pair calendars]",
    'a = "calendars_local"',
    'b = "calendars_remote"',
    'collections = ["from b"]',
    "",
    "[storage calendars_local]",
    'type = "filesystem"',
    `path = "${dir}/calendars/"`,
    'fileext = ".ics"',
    "",
    "[storage calendars_remote]",
    remote("caldav"),
    "",
    "[pair contacts]",
    'a = "contacts_local"',
    'b = "contacts_remote"',
    'collections = ["from b"]',
    "",
    "[storage contacts_local]",
    'type = "filesystem"',
    `path = "${dir}/contacts/"`,
    'fileext = ".vcf"',
    "",
    "[storage contacts_remote]",
    remote("carddav"),
    "",
  ].join("\n");
}

function basicAuth(target: VdirsyncerTarget): string {
  const bytes = new TextEncoder().encode(`${target.user}:${target.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** The member resources of a collection (PROPFIND Depth 1), with their bodies and ETags. */
async function listItems(
  collection: string,
  target: VdirsyncerTarget,
): Promise<{ url: string; body: string; etag: string | null }[]> {
  const response = await fetch(collection, {
    method: "PROPFIND",
    headers: {
      authorization: basicAuth(target),
      depth: "1",
      "content-type": "application/xml; charset=utf-8",
    },
    body: '<?xml version="1.0" encoding="utf-8"?>' +
      '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
  });
  const xml = await response.text();
  assertEquals(response.status, 207, xml);
  const hrefs = [...xml.matchAll(/<(?:[\w-]+:)?href>([^<]*)<\/(?:[\w-]+:)?href>/g)]
    .map((m) => new URL(m[1].trim(), collection).href)
    .filter((url) => !url.endsWith("/"));
  const items = [];
  for (const url of new Set(hrefs)) {
    const got = await fetch(url, { headers: { authorization: basicAuth(target) } });
    items.push({ url, body: await got.text(), etag: got.headers.get("etag") });
  }
  return items;
}

async function put(
  url: string,
  target: VdirsyncerTarget,
  body: string,
  type: string,
  condition: Record<string, string>,
): Promise<void> {
  const response = await fetch(url, {
    method: "PUT",
    headers: { authorization: basicAuth(target), "content-type": type, ...condition },
    body,
  });
  const text = await response.text();
  assert(
    response.status === 201 || response.status === 204,
    `PUT ${url}: ${response.status} ${text}`,
  );
}

/** Name → contents and modification time of every file in `dir`. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    const info = await Deno.stat(path);
    files[entry.name] = `${info.mtime?.getTime()} ${await Deno.readTextFile(path)}`;
  }
  return files;
}

/** Last path segment of a collection URL, as vdirsyncer names the local collection. */
function collectionName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/\/$/, "").split("/").pop()!);
}

/** The whole scenario against `target`; throws on the first step that goes wrong. */
export async function vdirsyncerScenario(target: VdirsyncerTarget): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-vdirsyncer-" });
  try {
    const config = `${dir}/vdirsyncer.conf`;
    await Deno.writeTextFile(config, vdirsyncerConfig(dir, target));
    // discover asks whether to create each local collection; answer yes.
    const discover = await run(dir, "vdirsyncer", ["-c", config, "discover"], "y\n".repeat(10));
    assertEquals(discover.code, 0, discover.output);
    const calendarDir = `${dir}/calendars/${collectionName(target.calendar)}`;
    const contactsDir = `${dir}/contacts/${collectionName(target.addressbook)}`;
    assert((await Deno.stat(calendarDir)).isDirectory, discover.output);
    assert((await Deno.stat(contactsDir)).isDirectory, discover.output);
    const first = await run(dir, "vdirsyncer", ["-c", config, "sync"]);
    assertEquals(first.code, 0, first.output);

    // Up: local items are uploaded and the server then holds them.
    await Deno.writeTextFile(`${calendarDir}/vdir-event-1.ics`, LOCAL_EVENT);
    await Deno.writeTextFile(`${contactsDir}/vdir-card-1.vcf`, LOCAL_CARD);
    const up = await run(dir, "vdirsyncer", ["-c", config, "sync"]);
    assertEquals(up.code, 0, up.output);
    assertStringIncludes(up.output, "Copying (uploading) item vdir-event-1@example.com");
    assertStringIncludes(up.output, "Copying (uploading) item vdir-card-1@example.com");
    const events = await listItems(target.calendar, target);
    const event = events.find((item) => item.body.includes("UID:vdir-event-1@example.com"));
    assert(event, `event not on the server: ${JSON.stringify(events)}`);
    assertStringIncludes(event.body, "SUMMARY:Local meeting");
    const cards = await listItems(target.addressbook, target);
    assert(cards.some((item) => item.body.includes("FN:Ada Lovelace")), JSON.stringify(cards));

    // Down: an event changed and a contact added by another client come down.
    await put(event.url, target, SERVER_EVENT, "text/calendar; charset=utf-8", {
      ...(event.etag ? { "if-match": event.etag } : {}),
    });
    await put(`${target.addressbook}server-card-2.vcf`, target, SERVER_CARD, "text/vcard", {
      "if-none-match": "*",
    });
    const down = await run(dir, "vdirsyncer", ["-c", config, "sync"]);
    assertEquals(down.code, 0, down.output);
    assertStringIncludes(down.output, "Copying (updating) item vdir-event-1@example.com");
    assertStringIncludes(down.output, "Copying (uploading) item server-card-2@example.com");
    assertStringIncludes(
      await Deno.readTextFile(`${calendarDir}/vdir-event-1.ics`),
      "SUMMARY:Meeting moved by the server",
    );
    const contacts = await snapshot(contactsDir);
    assertEquals(Object.keys(contacts).length, 2, JSON.stringify(contacts));
    assert(Object.values(contacts).some((text) => text.includes("FN:Grace Hopper")));

    // Again: nothing to do, and no local file is touched.
    const before = { calendar: await snapshot(calendarDir), contacts };
    const again = await run(dir, "vdirsyncer", ["-c", config, "sync"]);
    assertEquals(again.code, 0, again.output);
    assert(!/Copying|Deleting/.test(again.output), again.output);
    assertEquals(
      { calendar: await snapshot(calendarDir), contacts: await snapshot(contactsDir) },
      before,
    );

    // khal and khard read the synced folders.
    await Deno.writeTextFile(
      `${dir}/khal.conf`,
      [
        "[calendars]",
        "[[synced]]",
        `path = ${calendarDir}`,
        "type = calendar",
        "[locale]",
        "timeformat = %H:%M",
        "dateformat = %Y-%m-%d",
        "longdateformat = %Y-%m-%d",
        "datetimeformat = %Y-%m-%d %H:%M",
        "longdatetimeformat = %Y-%m-%d %H:%M",
        "local_timezone = UTC",
        "default_timezone = UTC",
        "[sqlite]",
        `path = ${dir}/khal.db`,
        "",
      ].join("\n"),
    );
    const khal = await run(dir, "khal", [
      "-c",
      `${dir}/khal.conf`,
      "list",
      "--format",
      "{uid} {start} {end} {title}",
      "2030-03-01",
      "2030-03-31",
    ]);
    assertEquals(khal.code, 0, khal.output);
    assertStringIncludes(
      khal.output,
      "vdir-event-1@example.com 2030-03-15 09:00 2030-03-15 11:00 Meeting moved by the server",
    );
    await Deno.writeTextFile(
      `${dir}/khard.conf`,
      [
        "[addressbooks]",
        "[[synced]]",
        `path = ${contactsDir}/`,
        "[general]",
        "default_action = list",
        "editor = /bin/true",
        "merge_editor = /bin/true",
        "",
      ].join("\n"),
    );
    const khard = await run(dir, "khard", ["-c", `${dir}/khard.conf`, "list", "--parsable"]);
    assertEquals(khard.code, 0, khard.output);
    const listed = khard.output.trim().split("\n").map((line) => line.split("\t").slice(0, 2));
    assertEquals(listed.sort(), [
      ["server-card-2@example.com", "Grace Hopper"],
      ["vdir-card-1@example.com", "Ada Lovelace"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vdirsyncer syncs Postern's calendar and address book both ways; khal and khard read them", async () => {
  const server = await startServer();
  try {
    const added = await cli(server.configPath, ["account", "add", LOGIN, "--password", PASSWORD]);
    assertEquals(added.code, 0, added.stderr);
    const root = `http://127.0.0.1:${server.ports.http}/`;
    const login = encodeURIComponent(LOGIN);
    await vdirsyncerScenario({
      root,
      user: LOGIN,
      password: PASSWORD,
      calendar: `${root}dav/calendars/${login}/default/`,
      addressbook: `${root}dav/addressbooks/${login}/default/`,
    });
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
