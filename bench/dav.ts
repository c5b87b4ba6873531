/**
 * `deno task bench dav [--events N] [--cards N] [--rounds R] [--warmup W] [--parallel P]
 * [--max-seconds S] [--radicale-puts K] [--seed X]`: CalDAV and CardDAV latency on one large
 * calendar and address book, Postern against Radicale (the reference CalDAV/CardDAV server) in
 * the same run.
 *
 * The same seeded data goes into both, PUT P at a time (default 8), load throughput printed.
 * Radicale gets only the first K of each collection by PUT (--radicale-puts, default 1,000): a
 * new item's PUT there reads every item of the collection to check its UID, so 10,000 PUTs take
 * hours; the rest are written into its storage folder, which Radicale reads on the next request.
 * The data:
 * - a calendar of N events (default 10,000): four in five single events spread over three years
 *   (2025–2027), one in five a WEEKLY or MONTHLY series, ended by COUNT, by UNTIL or not at all,
 *   some with EXDATEs and a RECURRENCE-ID override in the same resource; a few all-day, some in
 *   TZID=Europe/Berlin with its VTIMEZONE. One summary in about twenty-five mentions "budget".
 * - an address book of N vCards 3.0 (default 10,000); about one FN in ten contains "berg", and
 *   some ORGs do too (a server matching outside FN answers too many).
 *
 * Then, on each server, W warm-up rounds and R timed rounds (p50, p99, mean; a query stops
 * early after S seconds, default 60, once it has 3 rounds) of:
 *   1. sync-collection (RFC 6578) on the calendar: initial (empty token, getetag), and
 *      incremental from a token taken before 10 events changed;
 *   2. the same on the address book, 10 cards changed;
 *   3. calendar-query (getetag + calendar-data): a one-week time-range, a one-month time-range,
 *      and a text-match on SUMMARY;
 *   4. addressbook-query, text-match contains "berg" on FN, with address-data;
 *   5. calendar-multiget of 100 hrefs with calendar-data.
 * Each line gives the Postern/Radicale ratio. Results are compared by member name: a warning
 * line with both counts (and a few names found by only one) when the servers disagree;
 * Radicale's recurrence handling may legitimately differ. RSS of both servers after loading and
 * at the end. Without Radicale (scripts/install-dav-peers.sh) only Postern's figures print.
 * Never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { cli, startServer } from "../tests/helpers/server.ts";
import { type RadicalePeer, startRadicale } from "../tests/helpers/radicale.ts";
import { mulberry32 } from "../tests/helpers/random.ts";
import { processTree, statusKiB } from "./procs.ts";

const LOGIN = "bench@example.com";
const PASSWORD = "bench-dav-password";
const CHANGED = 10;
const MULTIGET = 100;
const SUMMARY_WORD = "budget";
const FN_WORD = "berg";
const WEEK = ["20260302T000000Z", "20260309T000000Z"];
const MONTH = ["20260501T000000Z", "20260601T000000Z"];

/** One server under test: where its calendar and address book are, and how to log in. */
interface Peer {
  name: string;
  origin: string;
  calendar: string;
  book: string;
  authorization: string;
  pid: number;
  /** Radicale's collection-root folder (objects past the first PUTs are written there). */
  storage: string | null;
}

interface Figures {
  first: number;
  times: number[];
  status: number;
  /** Member names (last path segment) answered with a 200 propstat, in the last round. */
  names: string[];
}

interface Answer {
  status: number;
  text: string;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      events: { type: "string", default: "10000" },
      cards: { type: "string", default: "10000" },
      rounds: { type: "string", default: "20" },
      warmup: { type: "string", default: "2" },
      parallel: { type: "string", default: "8" },
      "max-seconds": { type: "string", default: "60" },
      seed: { type: "string", default: "20261129" },
      "radicale-puts": { type: "string", default: "1000" },
    },
  });
  const options = {
    rounds: Number(values.rounds),
    warmup: Number(values.warmup),
    parallel: Number(values.parallel),
    maxMs: Number(values["max-seconds"]) * 1000,
    radicalePuts: Number(values["radicale-puts"]),
  };
  const seed = Number(values.seed);
  const started = performance.now();
  const events = makeEvents(Number(values.events), seed);
  const cards = makeCards(Number(values.cards), seed + 1);
  const eventBytes = events.reduce((n, e) => n + e.body.length, 0);
  const cardBytes = cards.reduce((n, c) => n + c.body.length, 0);
  console.log(
    `data: ${events.length} events (${(eventBytes / 1e6).toFixed(1)} MB, ` +
      `${events.filter((e) => /^RRULE:FREQ=(WEEKLY|MONTHLY)/m.test(e.body)).length} recurring), ` +
      `${cards.length} vCards (${(cardBytes / 1e6).toFixed(1)} MB), generated in ` +
      `${(performance.now() - started).toFixed(0)} ms; ${options.parallel} PUTs at a time`,
  );
  console.log(
    `machine: ${navigator.hardwareConcurrency} CPUs (client and servers share them), load ` +
      `average ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`,
  );

  const server = await startServer();
  let radicale: RadicalePeer | null = null;
  try {
    const added = await cli(server.configPath, ["account", "add", LOGIN, "--password", PASSWORD]);
    if (added.code !== 0) throw new Error(`account add: ${added.stderr}`);
    const postern: Peer = {
      name: "postern",
      origin: `http://127.0.0.1:${server.ports.http}`,
      calendar: `/dav/calendars/${LOGIN}/default/`,
      book: `/dav/addressbooks/${LOGIN}/default/`,
      authorization: `Basic ${btoa(`${LOGIN}:${PASSWORD}`)}`,
      pid: server.process.pid,
      storage: null,
    };
    const peers = [postern];
    try {
      radicale = await startRadicale();
      const peer: Peer = {
        name: "radicale",
        origin: radicale.url.replace(/\/$/, ""),
        calendar: `/${radicale.user}/calendar/`,
        book: `/${radicale.user}/contacts/`,
        authorization: `Basic ${btoa(`${radicale.user}:${radicale.password}`)}`,
        pid: radicalePid(radicale.dir),
        storage: `${radicale.dir}/collections/collection-root`,
      };
      await createRadicaleCollections(peer);
      peers.push(peer);
    } catch (error) {
      console.log(
        `radicale: not available (${(error as Error).message.split("\n")[0]}) — ` +
          "Postern's figures only (bash scripts/install-dav-peers.sh)",
      );
    }

    for (const peer of peers) {
      await ensureCollection(peer, peer.calendar);
      await ensureCollection(peer, peer.book);
      await loadCollection(peer, "events", peer.calendar, events, options);
      await loadCollection(peer, "vCards", peer.book, cards, options);
    }
    for (const peer of peers) printMemory(peer, "after loading");

    const compare = async (label: string, work: (peer: Peer) => Promise<Answer>) => {
      const figures = [];
      for (const peer of peers) figures.push(await measure(() => work(peer), options));
      printFigures(label, figures[0], figures[1] ?? null);
    };
    console.log("");

    // 1 and 2: sync-collection, initial then incremental after CHANGED objects changed.
    for (const [kind, objects] of [["calendar", events], ["address book", cards]] as const) {
      const path = (peer: Peer) => kind === "calendar" ? peer.calendar : peer.book;
      await compare(
        `sync-collection ${kind}, initial (getetag)`,
        (peer) => report(peer, path(peer), syncCollection("")),
      );
      const tokens = new Map<Peer, string>();
      for (const peer of peers) {
        const answer = await report(peer, path(peer), syncCollection(""));
        tokens.set(peer, texts(answer.text, "sync-token")[0] ?? "");
      }
      const changed = changedObjects(objects);
      for (const peer of peers) {
        const failures = await load(peer, path(peer), changed, 1);
        if (failures.length) console.log(`WARNING ${peer.name} change failed: ${failures[0]}`);
      }
      await compare(
        `sync-collection ${kind}, incremental (${CHANGED} changed)`,
        (peer) => report(peer, path(peer), syncCollection(tokens.get(peer)!)),
      );
    }

    // 3: calendar-query.
    await compare(
      `calendar-query one week ${WEEK[0].slice(0, 8)}, calendar-data`,
      (peer) => report(peer, peer.calendar, timeRangeQuery(WEEK[0], WEEK[1])),
    );
    await compare(
      `calendar-query one month ${MONTH[0].slice(0, 8)}, calendar-data`,
      (peer) => report(peer, peer.calendar, timeRangeQuery(MONTH[0], MONTH[1])),
    );
    await compare(
      `calendar-query SUMMARY contains "${SUMMARY_WORD}", calendar-data`,
      (peer) => report(peer, peer.calendar, summaryQuery(SUMMARY_WORD)),
    );
    // 4: addressbook-query.
    await compare(
      `addressbook-query FN contains "${FN_WORD}", address-data`,
      (peer) => report(peer, peer.book, fnQuery(FN_WORD)),
    );
    // 5: calendar-multiget.
    const stride = Math.max(1, Math.floor(events.length / MULTIGET));
    const picked = events.filter((_, i) => i % stride === 0).slice(0, MULTIGET);
    await compare(
      `calendar-multiget of ${picked.length} hrefs, calendar-data`,
      (peer) => report(peer, peer.calendar, multiget(picked.map((e) => peer.calendar + e.name))),
    );

    console.log("");
    for (const peer of peers) printMemory(peer, "at the end");
    const errors = server.logs.filter((line) => /"level":"(error|fatal)"/.test(line));
    if (errors.length) {
      console.log(`WARNING postern logged ${errors.length} errors; first: ${errors[0]}`);
    }
  } finally {
    await radicale?.stop();
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
}

// ---- HTTP ---------------------------------------------------------------------------------

async function request(
  peer: Peer,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(peer.origin + path, {
    method,
    body,
    headers: { authorization: peer.authorization, ...headers },
  });
  return { status: response.status, text: await response.text() };
}

function report(peer: Peer, path: string, body: string): Promise<Answer> {
  return request(peer, "REPORT", path, body, {
    depth: "1",
    "content-type": "application/xml; charset=utf-8",
  });
}

/**
 * Loads `objects` into the collection at `path`: all by PUT on Postern; on Radicale the first
 * `radicalePuts` by PUT and the rest written into its storage folder, as the Radicale docs allow
 * (a new item's PUT reads every item of the collection to check its UID is unique, so loading
 * 10,000 by PUT takes hours). Prints the throughput.
 */
async function loadCollection(
  peer: Peer,
  label: string,
  path: string,
  objects: readonly DavObject[],
  options: { parallel: number; radicalePuts: number },
): Promise<void> {
  const head = peer.storage === null ? objects : objects.slice(0, options.radicalePuts);
  const bytes = (list: readonly DavObject[]) => list.reduce((n, o) => n + o.body.length, 0);
  let started = performance.now();
  const failures = await load(peer, path, head, options.parallel);
  const seconds = (performance.now() - started) / 1000;
  let line = `${peer.name.padEnd(8)} ${label}: ${head.length} PUT in ${seconds.toFixed(1)} s, ` +
    `${(head.length / seconds).toFixed(0)} PUT/s, ${(bytes(head) / 1e6 / seconds).toFixed(2)} MB/s`;
  if (peer.storage !== null && head.length < objects.length) {
    const folder = `${peer.storage}${path}`;
    for (const object of objects.slice(head.length)) {
      await Deno.writeTextFile(folder + object.name, object.body);
    }
    started = performance.now();
    await request(peer, "PROPFIND", path, PROPFIND_ETAGS, { depth: "1", ...XML_TYPE });
    line += `; the other ${objects.length - head.length} written to its folder, read by its ` +
      `first PROPFIND in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  }
  console.log(
    line + (failures.length ? `  WARNING ${failures.length} failed: ${failures[0]}` : ""),
  );
}

/** PUTs `objects` into the collection at `path`, `parallel` at a time; the failures. */
async function load(
  peer: Peer,
  path: string,
  objects: readonly DavObject[],
  parallel: number,
): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < objects.length) {
      const object = objects[next++];
      const type = object.name.endsWith(".ics") ? "text/calendar" : "text/vcard";
      const answer = await request(peer, "PUT", path + object.name, object.body, {
        "content-type": `${type}; charset=utf-8`,
      });
      if (answer.status !== 201 && answer.status !== 204) {
        failures.push(`PUT ${object.name}: ${answer.status} ${answer.text.slice(0, 200)}`);
      }
    }
  }));
  return failures;
}

/** Radicale has no default collections: a calendar and an address book under the principal. */
async function createRadicaleCollections(peer: Peer): Promise<void> {
  const calendar = await request(
    peer,
    "MKCALENDAR",
    peer.calendar,
    `<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" ` +
      `xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Bench` +
      `</d:displayname><c:supported-calendar-component-set><c:comp name="VEVENT"/>` +
      `</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`,
    { "content-type": "application/xml; charset=utf-8" },
  );
  const book = await request(
    peer,
    "MKCOL",
    peer.book,
    `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" ` +
      `xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/>` +
      `<cr:addressbook/></d:resourcetype><d:displayname>Bench</d:displayname></d:prop></d:set>` +
      `</d:mkcol>`,
    { "content-type": "application/xml; charset=utf-8" },
  );
  if (calendar.status !== 201 || book.status !== 201) {
    throw new Error(`MKCALENDAR ${calendar.status}, MKCOL ${book.status}`);
  }
}

/** PROPFIND on a collection (Postern creates the default ones on first use); throws if absent. */
async function ensureCollection(peer: Peer, path: string): Promise<void> {
  const answer = await request(
    peer,
    "PROPFIND",
    path,
    `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop>` +
      `</d:propfind>`,
    { depth: "0", "content-type": "application/xml; charset=utf-8" },
  );
  if (answer.status !== 207) {
    throw new Error(`${peer.name} PROPFIND ${path}: ${answer.status} ${answer.text}`);
  }
}

/** The Radicale child of this process, found by its config path (0 if not found). */
function radicalePid(dir: string): number {
  for (const pid of processTree([Deno.pid])) {
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (cmdline.includes("radicale") && cmdline.includes(dir)) return pid;
    } catch { /* gone */ }
  }
  return 0;
}

// ---- REPORT bodies ------------------------------------------------------------------------

const XML_DECL = `<?xml version="1.0" encoding="utf-8"?>`;
const XML_TYPE = { "content-type": "application/xml; charset=utf-8" };
const PROPFIND_ETAGS = `${XML_DECL}<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop>` +
  `</d:propfind>`;
const CALDAV = `xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"`;
const CARDDAV = `xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav"`;

function syncCollection(token: string): string {
  return `${XML_DECL}<d:sync-collection xmlns:d="DAV:">` +
    (token ? `<d:sync-token>${token}</d:sync-token>` : `<d:sync-token/>`) +
    `<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
}

function calendarQuery(filter: string): string {
  return `${XML_DECL}<c:calendar-query ${CALDAV}><d:prop><d:getetag/><c:calendar-data/>` +
    `</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">` +
    `${filter}</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
}

function timeRangeQuery(start: string, end: string): string {
  return calendarQuery(`<c:time-range start="${start}" end="${end}"/>`);
}

function summaryQuery(word: string): string {
  return calendarQuery(
    `<c:prop-filter name="SUMMARY"><c:text-match>${word}</c:text-match></c:prop-filter>`,
  );
}

function fnQuery(word: string): string {
  return `${XML_DECL}<cr:addressbook-query ${CARDDAV}><d:prop><d:getetag/><cr:address-data/>` +
    `</d:prop><cr:filter><cr:prop-filter name="FN"><cr:text-match match-type="contains">` +
    `${word}</cr:text-match></cr:prop-filter></cr:filter></cr:addressbook-query>`;
}

function multiget(hrefs: string[]): string {
  return `${XML_DECL}<c:calendar-multiget ${CALDAV}><d:prop><d:getetag/><c:calendar-data/>` +
    `</d:prop>${hrefs.map((h) => `<d:href>${h}</d:href>`).join("")}</c:calendar-multiget>`;
}

// ---- multistatus --------------------------------------------------------------------------

/** The text of every element with this local name (any prefix). */
function texts(xml: string, name: string): string[] {
  const pattern = new RegExp(
    `<(?:[A-Za-z0-9]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9]+:)?${name}>`,
    "g",
  );
  return [...xml.matchAll(pattern)].map((m) => m[1]);
}

/** Names of the members a multistatus answers with a 200 propstat (others are left out). */
function okMembers(xml: string): string[] {
  const names: string[] = [];
  for (const response of texts(xml, "response")) {
    const href = texts(response, "href")[0]?.trim() ?? "";
    const name = decodeURIComponent(href.replace(/\/$/, "").split("/").pop() ?? "");
    const statuses = texts(response, "status").join(" ");
    if (/ 200 /.test(statuses) && /\.(ics|vcf)$/.test(name)) names.push(name);
  }
  return names;
}

// ---- timing -------------------------------------------------------------------------------

async function measure(
  work: () => Promise<Answer>,
  options: { rounds: number; warmup: number; maxMs: number },
): Promise<Figures> {
  let started = performance.now();
  let answer = await work();
  const first = performance.now() - started;
  for (let i = 1; i < options.warmup; i++) answer = await work();
  const times: number[] = [];
  const deadline = performance.now() + options.maxMs;
  while (times.length < options.rounds) {
    started = performance.now();
    answer = await work();
    times.push(performance.now() - started);
    if (times.length >= 3 && performance.now() > deadline) break;
  }
  return { first, times, status: answer.status, names: okMembers(answer.text) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function stats(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

function printFigures(label: string, postern: Figures, radicale: Figures | null): void {
  console.log(label);
  const line = (name: string, f: Figures) => {
    const s = stats(f.times);
    const ms = (n: number) => n.toFixed(1).padStart(8);
    console.log(
      `  ${name.padEnd(8)} p50 ${ms(s.p50)} ms  p99 ${ms(s.p99)} ms  mean ${ms(s.mean)} ms  ` +
        `first ${ms(f.first)} ms  (${f.times.length} rounds)  ${f.names.length} results` +
        (f.status === 207 ? "" : `  WARNING status ${f.status}`),
    );
  };
  line("postern", postern);
  if (!radicale) return;
  line("radicale", radicale);
  const p = stats(postern.times);
  const r = stats(radicale.times);
  // Two significant digits below 0.1, so an incremental sync's 0.0012x does not print as 0.00x.
  const ratio = (x: number) => x < 0.1 ? x.toPrecision(2) : x.toFixed(2);
  console.log(
    `  ratio postern/radicale: p50 ${ratio(p.p50 / r.p50)}x, mean ${ratio(p.mean / r.mean)}x`,
  );
  const theirs = new Set(radicale.names);
  const ours = new Set(postern.names);
  const onlyPostern = postern.names.filter((n) => !theirs.has(n));
  const onlyRadicale = radicale.names.filter((n) => !ours.has(n));
  if (onlyPostern.length || onlyRadicale.length || ours.size !== postern.names.length) {
    console.log(
      `  WARNING results differ: postern ${postern.names.length}, radicale ` +
        `${radicale.names.length}; only postern ${onlyPostern.length} ` +
        `[${onlyPostern.slice(0, 5).join(" ")}], only radicale ${onlyRadicale.length} ` +
        `[${onlyRadicale.slice(0, 5).join(" ")}]`,
    );
  }
}

function printMemory(peer: Peer, when: string): void {
  if (!peer.pid) return console.log(`${peer.name.padEnd(8)} RSS ${when}: pid not found`);
  console.log(
    `${peer.name.padEnd(8)} RSS ${when}: ${(statusKiB(peer.pid, "VmRSS") / 1024).toFixed(0)} ` +
      `MiB (peak ${(statusKiB(peer.pid, "VmHWM") / 1024).toFixed(0)} MiB)`,
  );
}

// ---- data ---------------------------------------------------------------------------------

/** A calendar object resource or vCard: its name in the collection and its body. */
interface DavObject {
  name: string;
  body: string;
}

const DAY_MS = 86_400_000;
const EPOCH = Date.UTC(2025, 0, 1);
const SPAN_DAYS = 3 * 365;
const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const ACTIONS = [
  "Weekly sync on",
  "Review of",
  "Planning",
  "Workshop:",
  "Call about",
  "Lunch and",
  "Kick-off for",
  "Retro on",
  "1:1 —",
  "Demo of",
];
const TOPICS = [
  "roadmap",
  "hiring",
  "release 4.2",
  "customer onboarding",
  "Q3 goals",
  "infrastructure",
  "the migration",
  "security audit",
  "marketing plan",
  "support backlog",
  "design system",
  "pricing",
  "partner program",
  "documentation",
  "analytics",
  "mobile app",
  "data retention",
  "team offsite",
  "office move",
  "performance",
  "API v3",
  "accessibility",
  "the Berlin office",
  "vendor contracts",
  SUMMARY_WORD,
];
const PLACES = ["Room 4.12", "Zoom", "Café Einstein, Berlin", "Main hall", "Teams", "Room 2.01"];
const FIRST = [
  "Anna",
  "Ben",
  "Carla",
  "David",
  "Elif",
  "Felix",
  "Greta",
  "Hannes",
  "Ines",
  "Jürgen",
  "Katarzyna",
  "Lukas",
  "Maria",
  "Noah",
  "Olga",
  "Paul",
  "Quentin",
  "Rosa",
  "Stefan",
  "Tariq",
  "Ursula",
  "Viktor",
  "Wen",
  "Xavier",
  "Yasmin",
  "Zoë",
  "Łukasz",
  "Søren",
  "Chloé",
  "Mehmet",
];
const LAST = [
  "Müller",
  "Schmidt",
  "Bergmann",
  "Fischer",
  "Weber",
  "Lindberg",
  "Wagner",
  "Becker",
  "Schulz",
  "Hoffmann",
  "Koch",
  "Steinberg",
  "Richter",
  "Klein",
  "Wolf",
  "Schröder",
  "Neumann",
  "Schwarz",
  "Zimmermann",
  "Braun",
  "Krüger",
  "Hofmann",
  "Hartmann",
  "Lange",
  "Schmitt",
  "Werner",
  "Nowak",
  "O'Brien",
  "García",
  "Nakamura",
];
const ORGS = ["Heidelberg Analytics GmbH", "Acme Corp", "Nordlicht AG", "Example Ltd", "Postern"];
const TITLES = ["Engineer", "Sales Manager", "CTO", "Designer", "Accountant", "Consultant"];
const CITIES = ["Berlin", "Hamburg", "München", "Köln", "Wien", "Zürich"];
const BERLIN = [
  "BEGIN:VTIMEZONE",
  "TZID:Europe/Berlin",
  "BEGIN:DAYLIGHT",
  "TZOFFSETFROM:+0100",
  "TZOFFSETTO:+0200",
  "TZNAME:CEST",
  "DTSTART:19700329T020000",
  "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
  "END:DAYLIGHT",
  "BEGIN:STANDARD",
  "TZOFFSETFROM:+0200",
  "TZOFFSETTO:+0100",
  "TZNAME:CET",
  "DTSTART:19701025T030000",
  "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
  "END:STANDARD",
  "END:VTIMEZONE",
];

/** Content lines folded at 75 octets (RFC 5545 3.1), joined with CRLF. */
function fold(lines: string[]): string {
  const encoder = new TextEncoder();
  const out: string[] = [];
  for (const line of lines) {
    let rest = line;
    let limit = 75;
    while (encoder.encode(rest).length > limit) {
      let cut = limit;
      while (encoder.encode(rest.slice(0, cut)).length > limit) cut--;
      out.push((limit === 74 ? " " : "") + rest.slice(0, cut));
      rest = rest.slice(cut);
      limit = 74;
    }
    out.push((limit === 74 ? " " : "") + rest);
  }
  return out.join("\r\n") + "\r\n";
}

/** "YYYYMMDDTHHMMSS" from the UTC fields of `ms` (local components for TZID times). */
function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").slice(0, 15);
}

function date(ms: number): string {
  return dateTime(ms).slice(0, 8);
}

function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime();
}

function makeEvents(count: number, seed: number): DavObject[] {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const events: DavObject[] = [];
  for (let i = 0; i < count; i++) {
    const uid = `bench-event-${i}@postern.example`;
    const recurring = random() < 0.2;
    const allDay = random() < 0.04;
    const berlin = !allDay && random() < 0.15;
    const monthly = recurring && random() < 0.35;
    let day = Math.floor(random() * SPAN_DAYS);
    // A monthly series keeps to days 1–28, so every month has its instance.
    if (monthly) day -= Math.max(0, new Date(EPOCH + day * DAY_MS).getUTCDate() - 28);
    const start = EPOCH + day * DAY_MS +
      (allDay ? 0 : (7 + Math.floor(random() * 13)) * 3_600_000 + pick([0, 15, 30, 45]) * 60_000);
    const minutes = allDay
      ? (1 + Math.floor(random() * 3)) * 1440
      : pick([30, 45, 60, 60, 90, 120]);
    const stamp = dateTime(EPOCH - 30 * DAY_MS + Math.floor(random() * SPAN_DAYS) * DAY_MS);
    const summary = `${pick(ACTIONS)} ${pick(TOPICS)}`;
    const at = (name: string, ms: number) =>
      allDay
        ? `${name};VALUE=DATE:${date(ms)}`
        : berlin
        ? `${name};TZID=Europe/Berlin:${dateTime(ms)}`
        : `${name}:${dateTime(ms)}Z`;
    const useDuration = random() < 0.4;
    const timing = (ms: number) => [
      at("DTSTART", ms),
      useDuration
        ? (allDay ? `DURATION:P${minutes / 1440}D` : `DURATION:PT${minutes}M`)
        : at("DTEND", ms + minutes * 60_000),
    ];
    const details: string[] = [];
    if (random() < 0.5) details.push(`LOCATION:${pick(PLACES).replace(",", "\\,")}`);
    if (random() < 0.3) {
      details.push(
        `DESCRIPTION:Agenda: ${pick(TOPICS)}\\, ${pick(TOPICS)} and ${pick(TOPICS)}.\\n` +
          `Please read the notes beforehand and bring questions. Dial-in details follow.`,
      );
    }
    if (random() < 0.2) {
      details.push(`ORGANIZER;CN=${pick(FIRST)}:mailto:organizer${i % 50}@example.com`);
      for (let a = 0; a < 1 + Math.floor(random() * 4); a++) {
        details.push(
          `ATTENDEE;CN=${pick(FIRST)} ${pick(LAST)};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:` +
            `mailto:person${Math.floor(random() * 500)}@example.org`,
        );
      }
    }
    const alarm = random() < 0.2
      ? ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT15M", "END:VALARM"]
      : [];
    const master = [
      "BEGIN:VEVENT",
      `UID:${uid}`,
      `DTSTAMP:${stamp}Z`,
      ...timing(start),
      `SUMMARY:${summary}`,
      ...details,
      "SEQUENCE:0",
    ];
    const overrides: string[] = [];
    if (recurring) {
      const interval = !monthly && random() < 0.2 ? 2 : 1;
      const instance = (k: number) =>
        monthly ? addMonths(start, k) : start + k * interval * 7 * DAY_MS;
      let rule = monthly
        ? `RRULE:FREQ=MONTHLY;BYMONTHDAY=${new Date(start).getUTCDate()}`
        : `RRULE:FREQ=WEEKLY;BYDAY=${WEEKDAYS[new Date(start).getUTCDay()]}` +
          (interval > 1 ? `;INTERVAL=${interval}` : "");
      const end = random();
      if (end < 0.35) rule += `;COUNT=${8 + Math.floor(random() * 50)}`;
      else if (end < 0.65) {
        const last = instance(8 + Math.floor(random() * 70));
        rule += `;UNTIL=${
          allDay ? date(last) : berlin ? `${date(last)}T235959Z` : `${dateTime(last)}Z`
        }`;
      }
      master.push(rule);
      if (random() < 0.3) master.push(at("EXDATE", instance(2)), at("EXDATE", instance(5)));
      if (random() < 0.2) {
        const moved = instance(3) + (allDay ? DAY_MS : 2 * 3_600_000);
        overrides.push(
          "BEGIN:VEVENT",
          `UID:${uid}`,
          `DTSTAMP:${stamp}Z`,
          at("RECURRENCE-ID", instance(3)),
          ...timing(moved),
          `SUMMARY:${summary} (moved)`,
          "SEQUENCE:1",
          "END:VEVENT",
        );
      }
    }
    master.push(...alarm, "END:VEVENT");
    const body = fold([
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "PRODID:-//Postern//bench dav//EN",
      "CALSCALE:GREGORIAN",
      ...(berlin ? BERLIN : []),
      ...master,
      ...overrides,
      "END:VCALENDAR",
    ]);
    events.push({ name: `event-${i}.ics`, body });
  }
  return events;
}

function makeCards(count: number, seed: number): DavObject[] {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const cards: DavObject[] = [];
  for (let i = 0; i < count; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const login = `${first}.${last}${i}`.normalize("NFKD").replace(/[^A-Za-z0-9.]/g, "")
      .toLowerCase();
    const lines = [
      "BEGIN:VCARD",
      "VERSION:3.0",
      "PRODID:-//Postern//bench dav//EN",
      `UID:bench-card-${i}@postern.example`,
      `FN:${first} ${last}`,
      `N:${last};${first};;;`,
      `EMAIL;TYPE=INTERNET,WORK:${login}@example.org`,
    ];
    if (random() < 0.3) lines.push(`EMAIL;TYPE=INTERNET,HOME:${login}@mail.example.net`);
    lines.push(`TEL;TYPE=CELL:+49 151 ${String(Math.floor(random() * 1e8)).padStart(8, "0")}`);
    if (random() < 0.4) {
      lines.push(`TEL;TYPE=WORK:+49 30 ${String(Math.floor(random() * 1e7)).padStart(7, "0")}`);
    }
    if (random() < 0.6) lines.push(`ORG:${pick(ORGS)}`);
    if (random() < 0.3) lines.push(`TITLE:${pick(TITLES)}`);
    if (random() < 0.3) {
      lines.push(
        `ADR;TYPE=HOME:;;Hauptstraße ${1 + Math.floor(random() * 200)};${pick(CITIES)};;` +
          `${String(10000 + Math.floor(random() * 89999))};Germany`,
      );
    }
    if (random() < 0.2) {
      lines.push(
        `BDAY:${1950 + Math.floor(random() * 55)}-${
          String(1 + Math.floor(random() * 12)).padStart(2, "0")
        }-` +
          String(1 + Math.floor(random() * 28)).padStart(2, "0"),
      );
    }
    if (random() < 0.1) lines.push(`NOTE:Met at the ${pick(TOPICS)} meeting\\, follow up.`);
    if (random() < 0.2) lines.push(`CATEGORIES:${pick(["work", "family", "friends", "vip"])}`);
    lines.push("REV:2026-01-01T00:00:00Z", "END:VCARD");
    cards.push({ name: `card-${i}.vcf`, body: fold(lines) });
  }
  return cards;
}

/** CHANGED objects spread over the collection, each with a changed SUMMARY or TEL. */
function changedObjects(objects: readonly DavObject[]): DavObject[] {
  const stride = Math.max(1, Math.floor(objects.length / CHANGED));
  return objects.filter((_, i) => i % stride === 0).slice(0, CHANGED).map((o) => ({
    name: o.name,
    body: o.body.replace(/^SUMMARY:(.*)$/m, "SUMMARY:$1 (changed)")
      .replace(/^TEL;TYPE=CELL:.*$/m, "TEL;TYPE=CELL:+49 151 00000000")
      .replace("SEQUENCE:0", "SEQUENCE:1"),
  }));
}
