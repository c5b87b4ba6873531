/**
 * DAV HTTP fuzzing against a real server: thousands of generated requests (every DAV method and
 * junk ones; valid, mutated and other users' paths; Depth, Destination, If, lock, precondition
 * and Range headers; valid and mutated XML, iCalendar and vCard bodies, random bytes) sent over
 * raw sockets, so paths and headers reach the server exactly as generated. What a client relies
 * on, checked on every answer:
 * - an HTTP answer below 500 (502 only for a COPY/MOVE whose Destination names another
 *   authority, RFC 4918 9.8.5);
 * - nothing of B's for A: no 2xx for a path in B's spaces (B's principal is public), no COPY or
 *   MOVE into them, no answer carrying B's text, and B's objects unchanged after every write
 *   (implicit scheduling is how a write of A's reaches B's calendars).
 * Afterwards the server is alive and still stores, returns, lists and deletes an event.
 *
 * DAV_FUZZ_SEEDS="1,2" replays or widens a run (DAV_FUZZ_REQUESTS per seed); a failure names the
 * seed and the request's index in it (the requests before it set up the state, so a replay runs
 * the whole seed). */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";
import { mulberry32 } from "../helpers/random.ts";

const SEEDS = (Deno.env.get("DAV_FUZZ_SEEDS") ?? "1,2,3,4").split(",").map(Number);
const REQUESTS_PER_SEED = Number(Deno.env.get("DAV_FUZZ_REQUESTS") ?? 1500);
/** Long enough for any request of the fuzz; past it the request counts as unanswered. */
const NO_ANSWER_MS = 30_000;

const A = "fuzz-a@example.com";
const B = "fuzz-b@example.com";
const PASSWORD_A = "fuzz-a-dav-password";
const PASSWORD_B = "fuzz-b-dav-password";
/** Text only B's objects contain: no answer to A may include it. */
const MARKER = "B-PRIVATE-7c1e93";
/** The UID of B's event. It is in the fuzz's UID pool: UIDs travel in invitations. */
const B_UID = "b-private-event-7c1e93@example.com";

type Rand = () => number;

interface FuzzRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body: Uint8Array;
  /** How the body is framed: Content-Length, chunked, or chunked with a chunk size not in hex. */
  framing: "length" | "chunked" | "bad-chunked";
}

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pick<T>(rand: Rand, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function int(rand: Rand, below: number): number {
  return Math.floor(rand() * below);
}

function bytesOf(text: string): Uint8Array {
  return encoder.encode(text);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 exchange: one connection per request, "connection: close", read to EOF.

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function dechunk(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const crlf = bytesOf("\r\n");
  while (offset < data.length) {
    const end = indexOfBytes(data, crlf, offset);
    if (end < 0) break;
    const size = parseInt(decoder.decode(data.subarray(offset, end)).split(";")[0], 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(end + 2, end + 2 + size));
    offset = end + 2 + size + 2;
  }
  return concat(parts);
}

function parseAnswer(data: Uint8Array, method: string): Answer | null {
  let offset = 0;
  const separator = bytesOf("\r\n\r\n");
  while (true) {
    const end = indexOfBytes(data, separator, offset);
    if (end < 0) return null;
    const head = decoder.decode(data.subarray(offset, end)).split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!match) return null;
    const status = Number(match[1]);
    offset = end + 4;
    if (status >= 100 && status < 200) continue;
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    let body = data.subarray(offset);
    if (method === "HEAD") body = new Uint8Array(0);
    else if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = dechunk(body);
    return { status, headers, body: decoder.decode(body) };
  }
}

/** Sends one request; an Error string when the connection gave no HTTP answer. */
async function exchange(port: number, request: FuzzRequest): Promise<Answer | string> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    return `connect failed: ${error}`;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, NO_ANSWER_MS);
  const head = [
    `${request.method} ${request.path} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ...(request.framing === "length"
      ? [`content-length: ${request.body.length}`]
      : ["transfer-encoding: chunked"]),
    "connection: close",
    "",
    "",
  ].join("\r\n");
  const chunks: Uint8Array[] = [];
  let writeError = "";
  try {
    const size = request.framing === "bad-chunked" ? "zz" : request.body.length.toString(16);
    const body = request.framing === "length"
      ? request.body
      : request.body.length === 0
      ? bytesOf("0\r\n\r\n")
      : concat([bytesOf(`${size}\r\n`), request.body, bytesOf("\r\n0\r\n\r\n")]);
    const data = concat([bytesOf(head), body]);
    for (let written = 0; written < data.length;) {
      written += await conn.write(data.subarray(written));
    }
  } catch (error) {
    // The server may answer (413, 400) before reading the whole body; read what it sent.
    writeError = String(error);
  }
  try {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (!timedOut && chunks.length === 0) {
      clearTimeout(timer);
      return `connection dropped: ${error}${writeError ? ` (while sending: ${writeError})` : ""}`;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  if (timedOut) return `no answer within ${NO_ANSWER_MS / 1000} s`;
  const answer = parseAnswer(concat(chunks), request.method);
  if (!answer) {
    const got = decoder.decode(concat(chunks).subarray(0, 200));
    return `no HTTP answer (${chunks.length ? JSON.stringify(got) : "connection closed"})` +
      (writeError ? ` (while sending: ${writeError})` : "");
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Generators.

const METHODS = [
  "OPTIONS",
  "GET",
  "HEAD",
  "PUT",
  "DELETE",
  "MKCOL",
  "MKCALENDAR",
  "COPY",
  "MOVE",
  "PROPFIND",
  "PROPPATCH",
  "REPORT",
  "LOCK",
  "UNLOCK",
  "ACL",
  "POST",
];
const JUNK_METHODS = [
  "FOO",
  "get",
  "propfind",
  "PATCH",
  "TRACE",
  "CONNECT",
  "SEARCH",
  "BIND",
  "VERSION-CONTROL",
  "X".repeat(300),
  "M-SEARCH",
  "PROPFIND2",
];

/** Member names the fuzz uses, so requests often name what earlier ones made. */
const FILE_NAMES = ["doc.txt", "dir", "sub", "a b.txt", "é.txt", "notes", "x.ics", "new", "z"];
const CALENDAR_NAMES = ["default", "inbox", "outbox", "work", "fuzzcal", "shared-1", "shared-99"];
const BOOK_NAMES = ["default", "book2", "fuzzbook", "shared-2"];
const OBJECT_NAMES = ["e1.ics", "e2.ics", "r.ics", "c1.vcf", "c2.vcf", "obj", "secret.ics"];
const OTHER_USERS = [B, B.toUpperCase(), "Fuzz-B@Example.COM", "nobody@example.com", "fuzz-b", ""];

const PROPS = [
  "<d:displayname/>",
  "<d:resourcetype/>",
  "<d:getetag/>",
  "<d:getcontenttype/>",
  "<d:getcontentlength/>",
  "<d:getlastmodified/>",
  "<d:creationdate/>",
  "<d:sync-token/>",
  "<d:current-user-principal/>",
  "<d:current-user-privilege-set/>",
  "<d:owner/>",
  "<d:acl/>",
  "<d:supportedlock/>",
  "<d:lockdiscovery/>",
  "<d:supported-report-set/>",
  "<d:quota-available-bytes/>",
  "<d:quota-used-bytes/>",
  "<d:principal-URL/>",
  "<d:principal-collection-set/>",
  "<d:group-membership/>",
  "<c:calendar-home-set/>",
  "<c:calendar-user-address-set/>",
  "<c:schedule-inbox-URL/>",
  "<c:schedule-outbox-URL/>",
  "<c:calendar-description/>",
  "<c:calendar-timezone/>",
  "<c:supported-calendar-component-set/>",
  "<c:supported-calendar-data/>",
  "<c:max-resource-size/>",
  "<c:min-date-time/>",
  "<c:max-instances/>",
  "<c:calendar-data/>",
  '<c:calendar-data><c:comp name="VCALENDAR"><c:prop name="VERSION"/>' +
  '<c:comp name="VEVENT"><c:prop name="SUMMARY"/><c:prop name="UID"/></c:comp></c:comp>' +
  "</c:calendar-data>",
  '<c:calendar-data><c:expand start="20260101T000000Z" end="20260201T000000Z"/>' +
  "</c:calendar-data>",
  '<c:calendar-data><c:limit-recurrence-set start="20260101T000000Z" end="20270101T000000Z"/>' +
  "</c:calendar-data>",
  '<c:calendar-data><c:limit-freebusy-set start="20260101T000000Z" end="x"/></c:calendar-data>',
  '<c:calendar-data><c:expand start="19000101T000000Z" end="29991231T000000Z"/>' +
  "</c:calendar-data>",
  "<cr:addressbook-home-set/>",
  "<cr:addressbook-description/>",
  "<cr:supported-address-data/>",
  "<cr:address-data/>",
  '<cr:address-data content-type="text/vcard" version="4.0"><cr:prop name="FN"/>' +
  "</cr:address-data>",
  '<cr:address-data content-type="application/vcard+json"/>',
  "<cs:getctag/>",
  "<x:bogus xmlns:x='urn:x'/>",
  "<d:unknown-prop/>",
];

const NS = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" ' +
  'xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/"';

const TIMES = [
  "20260101T000000Z",
  "20260301T120000Z",
  "20251231T230000Z",
  "19700101T000000Z",
  "99991231T235959Z",
  "00010101T000000Z",
  "20260101",
  "20260101T000000",
  "2026-01-01T00:00:00Z",
  "20261345T250000Z",
  "",
  "x",
  "-1",
];

class Generator {
  lockTokens = new Set<string>(["urn:uuid:00000000-0000-0000-0000-000000000000"]);
  etags = new Set<string>(['"nope"', 'W/"nope"']);
  syncTokens = new Set<string>(["urn:postern:sync:1:0", "urn:postern:sync:999:1", "bogus"]);
  uids = new Set<string>(["u1@fuzz", "u2@fuzz", "", "u1@fuzz ", B_UID]);
  /** Paths of A's that exist (or did): made in the set-up or by a successful request. */
  known = new Set<string>([
    `/dav/calendars/${A}/default/`,
    `/dav/calendars/${A}/default/e1.ics`,
    `/dav/calendars/${A}/work/`,
    `/dav/addressbooks/${A}/default/`,
    `/dav/addressbooks/${A}/default/c1.vcf`,
    `/dav/files/${A}/doc.txt`,
    `/dav/files/${A}/dir/`,
  ]);
  /** Every lock the fuzz took: token to lock root, to release them afterwards. */
  lockRoots = new Map<string, string>();

  constructor(readonly rand: Rand, readonly port: number) {}

  chance(p: number): boolean {
    return this.rand() < p;
  }

  // Paths ----------------------------------------------------------------------------------

  owner(): string {
    return this.chance(0.8) ? A : pick(this.rand, OTHER_USERS);
  }

  validPath(user = this.owner()): string {
    const rand = this.rand;
    if (user === A && this.chance(0.3)) return pick(rand, [...this.known]);
    const slash = () => (this.chance(0.5) ? "/" : "");
    switch (int(rand, 9)) {
      case 0:
        return pick(rand, [
          "/dav/",
          "/dav",
          "/",
          "/dav/files/",
          "/dav/calendars/",
          "/dav/principals/",
        ]);
      case 1:
        return `/dav/principals/${user}/`;
      case 2:
      case 3: {
        const depth = int(rand, 4);
        const names = Array.from({ length: depth }, () => pick(rand, FILE_NAMES));
        return `/dav/files/${user}/${names.map(encodeURIComponent).join("/")}${slash()}`;
      }
      case 4:
      case 5:
      case 6: {
        const calendar = pick(rand, CALENDAR_NAMES);
        if (this.chance(0.3)) return `/dav/calendars/${user}/${calendar}/`;
        return `/dav/calendars/${user}/${calendar}/${pick(rand, OBJECT_NAMES)}`;
      }
      default: {
        const book = pick(rand, BOOK_NAMES);
        if (this.chance(0.3)) return `/dav/addressbooks/${user}/${book}/`;
        return `/dav/addressbooks/${user}/${book}/${pick(rand, OBJECT_NAMES)}`;
      }
    }
  }

  mutatePath(path: string): string {
    const rand = this.rand;
    const parts = path.split("/");
    const at = 1 + int(rand, Math.max(1, parts.length - 1));
    const insert = (segment: string) => {
      parts.splice(at, 0, segment);
      return parts.join("/");
    };
    switch (int(rand, 22)) {
      case 0:
        return insert("..");
      case 1:
        return insert(pick(rand, ["%2e%2e", "%2E%2E", ".%2e", "%2e."]));
      case 2:
        return insert(`..%2f..%2ffiles%2f${B}`);
      case 3:
        return insert(pick(rand, ["%00", "a%00b", "%0d%0a", "%7f", "%1b"]));
      case 4:
        return insert("x".repeat(pick(rand, [255, 256, 1000, 8000])));
      case 5:
        return `${path.replace(/\/$/, "")}/${
          Array(pick(rand, [63, 64, 65, 100])).fill("s").join("/")
        }`;
      case 6:
        return insert(pick(rand, ["%E6%97%A5%E6%9C%AC", "e%CC%81", "%C3%A9", "%F0%9F%98%80"]));
      case 7:
        return insert(pick(rand, ["%c3%28", "%ff", "%e2%82", "%ed%a0%80", "%", "%zz", "%4"]));
      case 8:
        return `${path}/`.replace(/\/+$/, "//");
      case 9:
        return path.replace("/", "//");
      case 10:
        return insert(pick(rand, ["%5c", "a\\b", "%5C..%5C"]));
      case 11:
        return insert(".");
      case 12:
        return `${path}${pick(rand, ["?x=1", "?", "#frag", ";a=b", "?depth=infinity"])}`;
      case 13:
        return path.replace(A, pick(rand, [A.toUpperCase(), A.replace("@", "%40"), `${A}%20`]));
      case 14:
        return path.replace(A, B);
      case 15:
        return insert(`shared-${pick(rand, ["0", "1", "2", "3", "999999999999999", "-1", "1e3"])}`);
      case 16:
        return pick(rand, [
          "*",
          "http://127.0.0.1/dav/",
          `http://evil.example${path}`,
          "dav/",
          "",
        ]) ||
          "/";
      case 17:
        return insert("日本語");
      case 18:
        return path.replace(
          /^\/dav/,
          pick(rand, ["/DAV", "/dav2", "/.well-known/caldav", "//dav"]),
        );
      case 19:
        return insert(pick(rand, [" ", "%20", "a b", "\t"]));
      case 20:
        return insert(pick(rand, ["%2f", "%2F", `%2fdav%2ffiles%2f${B}`]));
      default:
        return insert(pick(rand, [FILE_NAMES[0], "inbox", "outbox", "default"]));
    }
  }

  /** A new or existing member of one of A's collections, named for what the collection holds. */
  memberPath(): string {
    const rand = this.rand;
    const collections = [...this.known].filter((p) => p.endsWith("/"));
    const collection = pick(rand, collections);
    const extension = collection.includes("/calendars/")
      ? ".ics"
      : collection.includes("/addressbooks/")
      ? ".vcf"
      : ".txt";
    return `${collection}m${int(rand, 30)}${extension}`;
  }

  path(): string {
    let path = this.validPath();
    if (this.chance(0.3)) path = this.mutatePath(path);
    if (this.chance(0.05)) path = this.mutatePath(path);
    return path;
  }

  // Headers --------------------------------------------------------------------------------

  token(): string {
    return pick(this.rand, [...this.lockTokens]);
  }

  etag(): string {
    return pick(this.rand, [...this.etags]);
  }

  destination(method: string, path: string): string {
    const rand = this.rand;
    const host = `127.0.0.1:${this.port}`;
    switch (int(rand, 8)) {
      case 0:
      case 1:
        return this.validPath(A);
      case 2:
        return `http://${host}${this.validPath(A)}`;
      case 3:
        return this.validPath(pick(rand, OTHER_USERS));
      case 4:
        return `http://${host}${this.mutatePath(this.validPath())}`;
      case 5:
        return pick(rand, [
          `http://evil.example${path}`,
          `https://${host}${path}`,
          `http://localhost:${this.port}${path}`,
          `//evil.example${path}`,
          `http://${host}@evil.example${path}`,
        ]);
      case 6:
        return pick(rand, ["", "::::", "http://[", "%", "/", "*", "\u00e9", "x".repeat(5000)]);
      default:
        return method === "COPY" ? `${path}-copy` : `${path.replace(/\/$/, "")}2`;
    }
  }

  ifHeader(path: string): string {
    const rand = this.rand;
    const host = `127.0.0.1:${this.port}`;
    const forms = [
      () => `(<${this.token()}>)`,
      () => `(<${this.token()}> [${this.etag()}])`,
      () => `(Not <DAV:no-lock>)`,
      () => `(<${this.token()}>) (Not <DAV:no-lock>)`,
      () => `([${this.etag()}])`,
      () => `<http://${host}${path}> (<${this.token()}>)`,
      () => `<${path}> (<${this.token()}>) <${this.validPath(A)}> ([${this.etag()}])`,
      () => `</dav/files/${B}/secret.txt> (<${this.token()}>)`,
      () => `(<urn:uuid:${int(rand, 1e9)}-0000-4000-8000-000000000000>)`,
      () => pick(rand, ["", "(", "((", "(<>)", "<", "(<a> [", '(["]"])', "(Not)", "<x>"]),
      () => `(<${this.token()}>`.repeat(1 + int(rand, 50)),
      () => `(${"Not ".repeat(200)}<DAV:no-lock>)`,
      () => `(<${this.token()}>) <${path}>`,
    ];
    let value = pick(rand, forms)();
    if (this.chance(0.15)) {
      const cut = int(rand, value.length + 1);
      value = value.slice(0, cut) + pick(rand, ["", ")", "(", "<", ">", "[", "]", '"']) +
        value.slice(cut + 1);
    }
    return value;
  }

  headers(method: string, path: string, contentType: string | null): [string, string][] {
    const rand = this.rand;
    const headers: [string, string][] = [];
    const add = (p: number, name: string, value: () => string) => {
      if (this.chance(p)) headers.push([name, value()]);
    };
    // No wrong passwords or tokens: failures are rate limited per IP and would lock A out too.
    const auth = rand();
    if (auth < 0.97) headers.push(["authorization", `Basic ${btoa(`${A}:${PASSWORD_A}`)}`]);
    else if (auth < 0.98) headers.push(["authorization", "Basic !!!"]);
    else if (auth < 0.99) headers.push(["authorization", `Basic ${btoa("no colon")}`]);
    add(
      method === "PROPFIND" || method === "REPORT" ? 0.85 : 0.4,
      "depth",
      () => pick(rand, ["0", "1", "0", "1", "infinity", "Infinity", " 1 ", "2", "-1", "", "x"]),
    );
    if (method === "COPY" || method === "MOVE" || this.chance(0.03)) {
      add(0.93, "destination", () => this.destination(method, path));
      add(0.4, "overwrite", () => pick(rand, ["T", "F", "t", "f", "X", ""]));
    }
    add(0.12, "if", () => this.ifHeader(path));
    add(0.08, "if-match", () => pick(rand, ["*", this.etag(), `${this.etag()}, "b"`, "junk", ""]));
    add(0.08, "if-none-match", () => pick(rand, ["*", this.etag(), 'W/"x"', "junk"]));
    add(0.02, "if-schedule-tag-match", () => this.etag());
    if (method === "UNLOCK" || this.chance(0.03)) {
      add(
        0.9,
        "lock-token",
        () => pick(rand, [`<${this.token()}>`, this.token(), "<>", "<urn:uuid:x>", "", "<<a>>"]),
      );
    }
    if (method === "LOCK" || this.chance(0.02)) {
      add(0.6, "timeout", () =>
        pick(rand, [
          "Second-60",
          "Infinite",
          "Infinite, Second-4100000000",
          "Second-99999999999999999999999",
          "Second-0",
          "Second--5",
          "junk",
          "",
        ]));
    }
    if (contentType !== null) headers.push(["content-type", contentType]);
    add(0.1, "range", () =>
      pick(rand, [
        "bytes=0-10",
        "bytes=-5",
        "bytes=5-",
        "bytes=10-5",
        "bytes=0-0,2-3",
        "bytes=99999999999999999999-",
        "chars=0-1",
        "bytes=",
      ]));
    add(0.03, "if-range", () => this.etag());
    add(
      0.05,
      "prefer",
      () => pick(rand, ["return=minimal", "return=representation", "depth-noroot"]),
    );
    add(0.03, "brief", () => "t");
    add(
      0.02,
      "accept",
      () => pick(rand, ["text/calendar", "application/calendar+json", "*/*;q=x"]),
    );
    add(0.02, "x-http-method-override", () => pick(rand, METHODS));
    add(0.01, "x-fuzz", () => "v".repeat(int(rand, 8000)));
    return headers;
  }

  // XML bodies -----------------------------------------------------------------------------

  props(): string {
    return Array.from({ length: 1 + int(this.rand, 6) }, () => pick(this.rand, PROPS)).join("");
  }

  timeRange(): string {
    const rand = this.rand;
    if (this.chance(0.7)) {
      return `<c:time-range start="${pick(rand, TIMES.slice(0, 3))}" end="${
        pick(rand, ["20260201T000000Z", "20270101T000000Z", "99991231T235959Z"])
      }"/>`;
    }
    const start = this.chance(0.8) ? ` start="${pick(rand, TIMES)}"` : "";
    const end = this.chance(0.8) ? ` end="${pick(rand, TIMES)}"` : "";
    return `<c:time-range${start}${end}/>`;
  }

  textMatch(ns: "c" | "cr"): string {
    const rand = this.rand;
    const collation = this.chance(0.5)
      ? ` collation="${pick(rand, ["i;ascii-casemap", "i;octet", "i;unicode-casemap", "x;y"])}"`
      : "";
    const negate = this.chance(0.3) ? ` negate-condition="${pick(rand, ["yes", "no", "x"])}"` : "";
    const matchType = ns === "cr" && this.chance(0.5)
      ? ` match-type="${pick(rand, ["equals", "contains", "starts-with", "ends-with", "bogus"])}"`
      : "";
    const text = pick(rand, ["fuzz", "", "Event", "%", "*", "é", "x".repeat(2000), "&amp;<>"]);
    return `<${ns}:text-match${collation}${negate}${matchType}>${text}</${ns}:text-match>`;
  }

  compFilter(depth: number): string {
    const rand = this.rand;
    const name = depth === 0
      ? pick(rand, ["VCALENDAR", "VCALENDAR", "VEVENT", "x"])
      : pick(rand, ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VALARM", "VTIMEZONE", "X-Y"]);
    const inner: string[] = [];
    if (this.chance(0.1)) inner.push("<c:is-not-defined/>");
    if (this.chance(0.4)) inner.push(this.timeRange());
    for (let i = int(rand, 3); i > 0; i--) {
      const prop = pick(rand, ["SUMMARY", "UID", "DTSTART", "ATTENDEE", "CATEGORIES", "X"]);
      const body = this.chance(0.2)
        ? "<c:is-not-defined/>"
        : this.chance(0.3)
        ? this.timeRange()
        : this.textMatch("c") +
          (this.chance(0.3)
            ? `<c:param-filter name="${pick(rand, ["PARTSTAT", "CN", "X"])}">${
              this.textMatch("c")
            }</c:param-filter>`
            : "");
      inner.push(`<c:prop-filter name="${prop}">${body}</c:prop-filter>`);
    }
    if (depth < 4 && this.chance(0.6)) inner.push(this.compFilter(depth + 1));
    if (depth < 4 && this.chance(0.15)) inner.push(this.compFilter(depth + 1));
    return `<c:comp-filter name="${name}"${this.chance(0.05) ? ' test="anyof"' : ""}>${
      inner.join("")
    }</c:comp-filter>`;
  }

  href(): string {
    return this.chance(0.7) ? this.validPath(this.owner()) : this.mutatePath(this.validPath());
  }

  reportBody(): string {
    const rand = this.rand;
    const prop = `<d:prop>${this.props()}</d:prop>`;
    switch (int(rand, 11)) {
      case 0: {
        const token = this.chance(0.8) ? pick(rand, [...this.syncTokens]) : "";
        return `<d:sync-collection ${NS}><d:sync-token>${token}</d:sync-token>` +
          `<d:sync-level>${pick(rand, ["1", "1", "infinite", "x"])}</d:sync-level>` +
          (this.chance(0.2) ? `<d:limit><d:nresults>${int(rand, 5)}</d:nresults></d:limit>` : "") +
          `${prop}</d:sync-collection>`;
      }
      case 1:
      case 2:
        return `<c:calendar-query ${NS}>${prop}<c:filter>${this.compFilter(0)}</c:filter>` +
          (this.chance(0.2)
            ? `<c:timezone>BEGIN:VCALENDAR\r\n${pick(rand, ["", "garbage"])}</c:timezone>`
            : "") +
          `</c:calendar-query>`;
      case 3: {
        const filters = Array.from(
          { length: int(rand, 3) + 1 },
          () =>
            `<cr:prop-filter name="${pick(rand, ["FN", "EMAIL", "UID", "TEL", "N", "X-Y"])}"${
              this.chance(0.3) ? ` test="${pick(rand, ["anyof", "allof", "x"])}"` : ""
            }>${this.chance(0.2) ? "<cr:is-not-defined/>" : this.textMatch("cr")}${
              this.chance(0.2)
                ? `<cr:param-filter name="TYPE">${this.textMatch("cr")}</cr:param-filter>`
                : ""
            }</cr:prop-filter>`,
        ).join("");
        return `<cr:addressbook-query ${NS}>${prop}<cr:filter${
          this.chance(0.4) ? ` test="${pick(rand, ["anyof", "allof", "x"])}"` : ""
        }>${filters}</cr:filter>${
          this.chance(0.3)
            ? `<cr:limit><cr:nresults>${pick(rand, ["1", "0", "-1", "x", "9999999999"])}` +
              "</cr:nresults></cr:limit>"
            : ""
        }</cr:addressbook-query>`;
      }
      case 4:
      case 5: {
        const root = this.chance(0.5) ? "c:calendar-multiget" : "cr:addressbook-multiget";
        const hrefs = Array.from(
          { length: 1 + int(rand, 5) },
          () => `<d:href>${this.href()}</d:href>`,
        );
        if (this.chance(0.3)) hrefs.push(`<d:href>/dav/calendars/${B}/default/secret.ics</d:href>`);
        if (this.chance(0.2)) {
          hrefs.push(`<d:href>/dav/addressbooks/${B}/default/secret.vcf</d:href>`);
        }
        return `<${root} ${NS}>${prop}${hrefs.join("")}</${root}>`;
      }
      case 6:
        return `<c:free-busy-query ${NS}>${this.timeRange()}</c:free-busy-query>`;
      case 7:
        return `<d:expand-property ${NS}><d:property name="${
          pick(rand, ["calendar-home-set", "principal-URL", "group-membership", "owner"])
        }" namespace="${pick(rand, ["DAV:", "urn:ietf:params:xml:ns:caldav"])}">` +
          `<d:property name="displayname"/></d:property></d:expand-property>`;
      case 8:
        return `<d:principal-property-search ${NS}${
          this.chance(0.3) ? ' test="anyof"' : ""
        }><d:property-search><d:prop><d:displayname/></d:prop><d:match>${
          pick(rand, ["fuzz", "b", "", "@", B])
        }</d:match></d:property-search>${prop}</d:principal-property-search>`;
      case 9:
        return `<d:principal-search-property-set ${NS}/>`;
      default:
        return `<x:${pick(rand, ["report", "calendar-query", "sync-collection"])} xmlns:x="${
          pick(rand, ["urn:x", "DAV:", "", "urn:ietf:params:xml:ns:caldav"])
        }"/>`;
    }
  }

  propfindBody(): string {
    const rand = this.rand;
    switch (int(rand, 5)) {
      case 0:
        return `<d:propfind ${NS}><d:allprop/></d:propfind>`;
      case 1:
        return `<d:propfind ${NS}><d:propname/></d:propfind>`;
      case 2:
        return `<d:propfind ${NS}><d:allprop/><d:include>${this.props()}</d:include></d:propfind>`;
      default:
        return `<d:propfind ${NS}><d:prop>${this.props()}</d:prop></d:propfind>`;
    }
  }

  proppatchBody(): string {
    const rand = this.rand;
    const values = [
      "<d:displayname>Fuzzed</d:displayname>",
      `<d:displayname>${"é".repeat(int(rand, 3000))}</d:displayname>`,
      "<c:calendar-description>desc</c:calendar-description>",
      "<c:calendar-timezone>BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n</c:calendar-timezone>",
      "<c:calendar-timezone>garbage</c:calendar-timezone>",
      '<c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>',
      "<d:resourcetype><d:collection/></d:resourcetype>",
      '<d:getetag>"x"</d:getetag>',
      "<c:schedule-calendar-transp><c:transparent/></c:schedule-calendar-transp>",
      "<x:dead xmlns:x='urn:fuzz'><x:nested a='1'>v</x:nested></x:dead>",
      "<x:dead xmlns:x=''>v</x:dead>",
      "<cs:calendar-color xmlns:cs='http://apple.com/ns/ical/'>#FF0000FF</cs:calendar-color>",
    ];
    const parts = Array.from({ length: 1 + int(rand, 3) }, () => {
      const op = this.chance(0.7) ? "set" : "remove";
      return `<d:${op}><d:prop>${pick(rand, values)}</d:prop></d:${op}>`;
    });
    return `<d:propertyupdate ${NS}>${parts.join("")}</d:propertyupdate>`;
  }

  lockBody(): string {
    const rand = this.rand;
    const scope = pick(rand, ["exclusive", "shared", "shared", "bogus"]);
    const owner = pick(rand, [
      "",
      "<d:owner><d:href>mailto:a@example.com</d:href></d:owner>",
      "<d:owner>plain</d:owner>",
      `<d:owner><x:y xmlns:x="urn:x" a="${"v".repeat(int(rand, 20000))}"/></d:owner>`,
    ]);
    return `<d:lockinfo ${NS}><d:lockscope><d:${scope}/></d:lockscope>` +
      `<d:locktype><d:${
        pick(rand, ["write", "write", "read"])
      }/></d:locktype>${owner}</d:lockinfo>`;
  }

  mkcolBody(method: string): string {
    const rand = this.rand;
    const resourcetype = pick(rand, [
      "<d:resourcetype><d:collection/></d:resourcetype>",
      "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>",
      "<d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype>",
      "<d:resourcetype><x:odd xmlns:x='urn:x'/></d:resourcetype>",
      "",
    ]);
    const props = resourcetype + pick(rand, [
      "<d:displayname>New</d:displayname>",
      '<c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="X"/>' +
      "</c:supported-calendar-component-set>",
      "<c:calendar-timezone>BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\n" +
      "END:VTIMEZONE\r\nEND:VCALENDAR\r\n</c:calendar-timezone>",
      "",
    ]);
    return method === "MKCALENDAR"
      ? `<c:mkcalendar ${NS}><d:set><d:prop>${props}</d:prop></d:set></c:mkcalendar>`
      : `<d:mkcol ${NS}><d:set><d:prop>${props}</d:prop></d:set></d:mkcol>`;
  }

  aclBody(): string {
    const rand = this.rand;
    const aces = Array.from({ length: 1 + int(rand, 3) }, () => {
      const principal = pick(rand, [
        `<d:href>/dav/principals/${B}/</d:href>`,
        `<d:href>/dav/principals/${A}/</d:href>`,
        "<d:href>/dav/principals/nobody@example.com/</d:href>",
        "<d:all/>",
        "<d:authenticated/>",
        "<d:property><d:owner/></d:property>",
        "<d:href>garbage</d:href>",
      ]);
      const grant = pick(rand, ["grant", "grant", "deny"]);
      const privilege = pick(rand, ["read", "write", "all", "bind", "bogus"]);
      return `<d:ace>${
        this.chance(0.1) ? "<d:invert>" : ""
      }<d:principal>${principal}</d:principal>${
        this.chance(0.1) ? "</d:invert>" : ""
      }<d:${grant}><d:privilege><d:${privilege}/></d:privilege></d:${grant}></d:ace>`;
    });
    return `<d:acl ${NS}>${aces.join("")}</d:acl>`;
  }

  mutateXml(xml: string): Uint8Array {
    const rand = this.rand;
    switch (int(rand, 12)) {
      case 0:
        return bytesOf(xml.slice(0, int(rand, xml.length)));
      case 1: {
        // Swap a closing tag for another name.
        const closes = [...xml.matchAll(/<\/([^>]+)>/g)];
        if (!closes.length) return bytesOf(xml);
        const m = pick(rand, closes);
        return bytesOf(
          xml.slice(0, m.index!) + `</${pick(rand, ["d:prop", "x", "c:filter"])}>` +
            xml.slice(m.index! + m[0].length),
        );
      }
      case 2:
        return bytesOf(
          xml.replace(
            /xmlns:(\w+)="[^"]*"/,
            (_, p) => `xmlns:${p}="${pick(rand, ["urn:random", "", "DAV", "dav:", "DAV:#"])}"`,
          ),
        );
      case 3: {
        const depth = pick(rand, [63, 65, 200, 5000]);
        return bytesOf(
          xml.replace(
            /(<d:prop>|<c:filter>|<d:set>)/,
            (m) => m + "<x:n xmlns:x='urn:x'>".repeat(depth) + "</x:n>".repeat(depth),
          ),
        );
      }
      case 4:
        return bytesOf(
          xml.replace(
            /<(\w+:\w+)/,
            (m) => `${m} huge="${"a".repeat(pick(rand, [10_000, 500_000, 1_100_000]))}"`,
          ),
        );
      case 5:
        return bytesOf(
          `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>` +
            xml.replace(/>([^<]*)</, ">&b;<"),
        );
      case 6: {
        const bytes = bytesOf(xml);
        const at = int(rand, bytes.length);
        return concat([
          bytes.subarray(0, at),
          new Uint8Array([0xff, 0xc3, 0x28]),
          bytes.subarray(at),
        ]);
      }
      case 7:
        return bytesOf(xml.replace(/<(\w+):/, "<undeclared:"));
      case 8:
        return bytesOf(
          `\ufeff<?xml version="1.0" encoding="${
            pick(rand, ["utf-8", "UTF-16", "latin1"])
          }"?>${xml}`,
        );
      case 9:
        return bytesOf(xml.replace(/></, "><![CDATA[<d:prop/>]]><!-- c --><?pi x?><"));
      case 10:
        return bytesOf(xml + pick(rand, ["<extra/>", "trailing", "\u0000", "</d:prop>"]));
      default:
        return bytesOf(xml.replace(/ xmlns:d="DAV:"/, ' xmlns:d="DAV:" xmlns:d="urn:x"'));
    }
  }

  // iCalendar and vCard bodies -------------------------------------------------------------

  uid(): string {
    return this.chance(0.1) ? B_UID : pick(this.rand, [...this.uids]);
  }

  calAddress(): string {
    return pick(this.rand, [
      `mailto:${A}`,
      `mailto:${A}`,
      `mailto:${B}`,
      "mailto:nobody@example.com",
      "mailto:friend@example.org",
      "urn:uuid:1",
      "mailto:",
    ]);
  }

  rrule(): string {
    return `RRULE:${
      pick(this.rand, [
        "FREQ=DAILY;COUNT=5",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=SECONDLY",
        "FREQ=MINUTELY;BYSECOND=0,1,2,3,4,5,6,7,8,9",
        "FREQ=DAILY;COUNT=999999999",
        "FREQ=HOURLY;UNTIL=99991231T000000Z",
        "FREQ=DAILY;UNTIL=bad",
        "FREQ=BOGUS",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=-1SU;BYSETPOS=-1,1,400",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=-1",
        "FREQ=MONTHLY;BYDAY=5FR",
        "COUNT=3",
        "",
        "FREQ=DAILY;COUNT=3;COUNT=4",
        "FREQ=YEARLY;BYYEARDAY=366,-366;BYHOUR=25",
      ])
    }`;
  }

  event(kind = "VEVENT", wellFormed = false): string[] {
    const rand = this.rand;
    const lines = [`BEGIN:${kind}`];
    if (this.chance(0.95)) lines.push(`UID:${this.uid()}`);
    lines.push("DTSTAMP:20260101T000000Z");
    if (wellFormed || this.chance(0.3)) {
      // A well-formed event, often an invitation (implicit scheduling, RFC 6638 3.2).
      lines.push(`DTSTART:${pick(rand, TIMES.slice(0, 3))}`, "DURATION:PT1H");
      if (this.chance(0.3)) {
        lines.push(pick(rand, ["RRULE:FREQ=DAILY;COUNT=5", "RRULE:FREQ=WEEKLY"]));
      }
      if (this.chance(0.5)) {
        lines.push(`ORGANIZER:${this.chance(0.7) ? `mailto:${A}` : this.calAddress()}`);
        lines.push(
          `ATTENDEE;PARTSTAT=NEEDS-ACTION:${this.chance(0.6) ? `mailto:${B}` : this.calAddress()}`,
        );
      }
      lines.push("SUMMARY:Fuzz meeting", `END:${kind}`);
      return lines;
    }
    const tz = this.chance(0.3)
      ? `;TZID=${pick(rand, ["Europe/Paris", "America/New_York", "Mars/Olympus", "", "Fuzz/Zone"])}`
      : "";
    const start = pick(rand, TIMES.slice(0, 8));
    if (this.chance(0.9)) {
      lines.push(
        `DTSTART${tz}${start.length === 8 ? ";VALUE=DATE" : ""}:${
          tz ? start.replace("Z", "") : start
        }`,
      );
    }
    if (this.chance(0.4)) lines.push(`DTEND:${pick(rand, TIMES)}`);
    else if (this.chance(0.5)) {
      lines.push(`DURATION:${pick(rand, ["PT1H", "P1D", "-PT1H", "PT", "P9999999W"])}`);
    }
    if (this.chance(0.4)) lines.push(this.rrule());
    if (this.chance(0.1)) lines.push(`EXDATE:${pick(rand, TIMES)}`);
    if (this.chance(0.1)) lines.push(`RDATE:${pick(rand, TIMES)},${pick(rand, TIMES)}`);
    if (this.chance(0.5)) lines.push(`ORGANIZER:${this.calAddress()}`);
    for (let i = this.chance(0.5) ? 1 + int(rand, 3) : 0; i > 0; i--) {
      lines.push(
        `ATTENDEE;PARTSTAT=${pick(rand, ["NEEDS-ACTION", "ACCEPTED", "X"])}:${this.calAddress()}`,
      );
    }
    lines.push(`SUMMARY:${pick(rand, ["Fuzz event", "", "é\\, ;x", "x".repeat(int(rand, 5000))])}`);
    if (this.chance(0.1)) {
      lines.push("BEGIN:VALARM", "TRIGGER:-PT15M", "ACTION:DISPLAY", "END:VALARM");
    }
    lines.push(`END:${kind}`);
    return lines;
  }

  icalendar(): string {
    const rand = this.rand;
    const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Postern fuzz//EN"];
    if (this.chance(0.4)) {
      // Well-formed, as most clients send: the scheduling and query code gets to run.
      lines.push(...this.event(pick(rand, ["VEVENT", "VEVENT", "VTODO"]), true), "END:VCALENDAR");
      return lines.join("\r\n") + "\r\n";
    }
    if (this.chance(0.15)) {
      lines.push(
        "BEGIN:VTIMEZONE",
        `TZID:${pick(rand, ["Europe/Paris", "Fuzz/Zone"])}`,
        "BEGIN:STANDARD",
        "DTSTART:19701025T030000",
        `RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=${this.chance(0.8) ? "-1SU" : "9XX"}`,
        "TZOFFSETFROM:+0200",
        `TZOFFSETTO:${pick(rand, ["+0100", "+9999", "x"])}`,
        "END:STANDARD",
        "END:VTIMEZONE",
      );
    }
    const kind = pick(rand, [
      "VEVENT",
      "VEVENT",
      "VEVENT",
      "VTODO",
      "VJOURNAL",
      "VFREEBUSY",
      "X-THING",
    ]);
    lines.push(...this.event(kind));
    if (this.chance(0.2)) {
      // An override of the first, or a second master (a duplicated UID).
      const extra = this.event(kind);
      if (this.chance(0.5)) extra.splice(2, 0, `RECURRENCE-ID:${pick(rand, TIMES)}`);
      lines.push(...extra);
    }
    if (this.chance(0.05)) lines.push("METHOD:REQUEST");
    lines.push("END:VCALENDAR");
    return this.mutateLines(lines);
  }

  vcard(): string {
    const rand = this.rand;
    const lines = ["BEGIN:VCARD", `VERSION:${pick(rand, ["3.0", "4.0", "3.0", "2.1", "x"])}`];
    if (this.chance(0.9)) lines.push(`UID:${this.uid()}`);
    if (this.chance(0.9)) lines.push(`FN:${pick(rand, ["Fuzz Person", "", "é".repeat(100)])}`);
    if (this.chance(0.5)) lines.push("N:Person;Fuzz;;;");
    if (this.chance(0.5)) {
      lines.push(`EMAIL;TYPE=${pick(rand, ["work", "INTERNET", '"a,b"'])}:fuzz@example.org`);
    }
    if (this.chance(0.3)) lines.push(`TEL:${pick(rand, ["+1 555", "", "x".repeat(3000)])}`);
    if (this.chance(0.1)) {
      lines.push(`PHOTO;ENCODING=b;TYPE=JPEG:${"QUJD".repeat(int(rand, 20000))}`);
    }
    if (this.chance(0.1)) lines.push("BEGIN:VCARD", "FN:nested", "END:VCARD");
    lines.push("END:VCARD");
    if (this.chance(0.1)) lines.push(...lines);
    return this.mutateLines(lines);
  }

  mutateLines(lines: string[]): string {
    const rand = this.rand;
    if (this.chance(0.7)) return lines.join("\r\n") + "\r\n";
    switch (int(rand, 8)) {
      case 0:
        return lines.filter((l) => !l.startsWith("END:") || this.chance(0.5)).join("\r\n");
      case 1:
        return lines.join("\n");
      case 2: {
        const copy = [...lines];
        copy.splice(1 + int(rand, copy.length - 1), 0, copy[1 + int(rand, copy.length - 1)]);
        return copy.join("\r\n") + "\r\n";
      }
      case 3:
        return lines.map((l) => l.replace(/(.{10})/g, "$1\r\n ")).join("\r\n") + "\r\n";
      case 4:
        return lines.join("\r\n").slice(0, int(rand, lines.join("\r\n").length));
      case 5:
        return lines.map((l) => (this.chance(0.2) ? `${l};X-P="${"q".repeat(int(rand, 100))}` : l))
          .join("\r\n") + "\r\n";
      case 6:
        return lines.join("\r\n") + "\r\n\u0000\u0000";
      default:
        return lines.map((l) => (this.chance(0.1) ? l.toLowerCase() : l)).join("\r\n") + "\r\n";
    }
  }

  freeBusyPost(): string {
    const rand = this.rand;
    const lines = [
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "PRODID:-//Postern fuzz//EN",
      `METHOD:${pick(rand, ["REQUEST", "REQUEST", "REPLY", "x"])}`,
      "BEGIN:VFREEBUSY",
      `UID:${this.uid()}`,
      "DTSTAMP:20260101T000000Z",
      `DTSTART:${pick(rand, TIMES)}`,
      `DTEND:${pick(rand, TIMES)}`,
      `ORGANIZER:${this.calAddress()}`,
      ...Array.from({ length: 1 + int(rand, 3) }, () => `ATTENDEE:${this.calAddress()}`),
      "END:VFREEBUSY",
      "END:VCALENDAR",
    ];
    return this.mutateLines(lines);
  }

  randomBytes(): Uint8Array {
    const bytes = new Uint8Array(pick(this.rand, [0, 1, 16, 1000, 70_000]));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(this.rand, 256);
    return bytes;
  }

  /** A body and its content type (null: no Content-Type header). */
  body(method: string, path: string): [Uint8Array, string | null] {
    const rand = this.rand;
    const xmlType = () =>
      pick(rand, [
        "application/xml; charset=utf-8",
        "text/xml",
        "application/xml",
        null,
        "text/plain",
      ]);
    const xml = (text: string): [Uint8Array, string | null] => [
      this.chance(0.2) ? this.mutateXml(text) : bytesOf(text),
      xmlType(),
    ];
    if (this.chance(0.05)) {
      return [this.randomBytes(), pick(rand, [null, "application/xml", "text/calendar"])];
    }
    if (this.chance(0.03)) {
      return [new Uint8Array([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]), "text/calendar"];
    }
    switch (method) {
      case "PROPFIND":
        return this.chance(0.15) ? [new Uint8Array(0), null] : xml(this.propfindBody());
      case "PROPPATCH":
        return xml(this.proppatchBody());
      case "REPORT":
        return xml(this.reportBody());
      case "LOCK":
        return this.chance(0.2) ? [new Uint8Array(0), null] : xml(this.lockBody());
      case "MKCOL":
      case "MKCALENDAR":
        return this.chance(0.5) ? [new Uint8Array(0), null] : xml(this.mkcolBody(method));
      case "ACL":
        return xml(this.aclBody());
      case "POST":
        return [bytesOf(this.freeBusyPost()), pick(rand, ["text/calendar", null])];
      case "PUT": {
        const kind = path.includes("/addressbooks/")
          ? (this.chance(0.9) ? "vcard" : "ical")
          : path.includes("/calendars/")
          ? (this.chance(0.9) ? "ical" : "vcard")
          : pick(rand, ["file", "file", "ical", "vcard"]);
        if (kind === "ical") {
          return [
            bytesOf(this.icalendar()),
            pick(rand, ["text/calendar; charset=utf-8", "text/calendar", null, "text/plain"]),
          ];
        }
        if (kind === "vcard") {
          return [
            bytesOf(this.vcard()),
            pick(rand, ["text/vcard; charset=utf-8", "text/x-vcard", null]),
          ];
        }
        return [
          this.chance(0.5) ? bytesOf(`file ${int(rand, 1000)}\n`) : this.randomBytes(),
          pick(rand, ["text/plain", "application/octet-stream", null, "x/y; charset=\u00e9"]),
        ];
      }
      default:
        return this.chance(0.85) ? [new Uint8Array(0), null] : xml(this.propfindBody());
    }
  }

  request(): FuzzRequest {
    const rand = this.rand;
    const method = this.chance(0.04)
      ? pick(rand, JUNK_METHODS)
      : this.chance(0.4)
      ? pick(rand, ["PUT", "PROPFIND", "REPORT", "GET"])
      : pick(rand, METHODS);
    const path = method === "PUT" && this.chance(0.5) ? this.memberPath() : this.path();
    const [body, contentType] = this.body(method.toUpperCase(), path);
    const headers = this.headers(method.toUpperCase(), path, contentType);
    if (this.chance(0.03) && headers.length > 1) headers.push(pick(rand, headers.slice(1)));
    const framing = this.chance(0.9) ? "length" : this.chance(0.8) ? "chunked" : "bad-chunked";
    return { method, path, headers, body, framing };
  }

  /** Lock tokens, entity tags, sync tokens and UIDs from answers, for later requests. */
  learn(request: FuzzRequest, answer: Answer): void {
    const token = /<([^>]+)>/.exec(answer.headers.get("lock-token") ?? "");
    if (token) this.lockTokens.add(token[1]);
    const root = /<(?:\w+:)?lockroot>\s*<(?:\w+:)?href>([^<]+)</.exec(answer.body);
    if (token && root) this.lockRoots.set(token[1], root[1]);
    const etag = answer.headers.get("etag");
    if (etag) this.etags.add(etag);
    for (const m of answer.body.matchAll(/urn:postern:sync:\d+:\d+/g)) this.syncTokens.add(m[0]);
    for (const m of answer.body.matchAll(/urn:uuid:[0-9a-f-]{36}/g)) this.lockTokens.add(m[0]);
    if (answer.status === 201 && ownerOf(request.path)?.owner === A) {
      this.known.add(request.path);
    }
    const destination = request.headers.find(([name]) => name === "destination")?.[1];
    if (destination && answer.status === 201 && destination.startsWith("/")) {
      this.known.add(destination);
    }
    if (request.method === "PUT" && answer.status < 300) {
      const uid = /^UID:(.*)$/m.exec(decoder.decode(request.body));
      if (uid) this.uids.add(uid[1].trim());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What a client relies on.

/** The account owning the path as the server reads it (after URL dot-segment removal). */
function ownerOf(path: string): { space: string; owner: string } | null {
  let pathname: string;
  try {
    pathname = new URL(path, "http://127.0.0.1").pathname;
  } catch {
    return null;
  }
  const segments = pathname.split("/");
  if (segments[1] !== "dav" || segments.length < 4) return null;
  try {
    return {
      space: segments[2],
      owner: decodeURIComponent(segments[3]).normalize("NFC").toLowerCase(),
    };
  } catch {
    return null;
  }
}

function isB(path: string | undefined, includePrincipal = false): boolean {
  if (path === undefined) return false;
  const found = ownerOf(path);
  if (!found || found.owner !== B) return false;
  return includePrincipal || found.space !== "principals";
}

function describe(request: FuzzRequest, answer: Answer | string): string {
  const body = decoder.decode(request.body);
  const shown = body.length > 600 ? `${body.slice(0, 600)}... (${body.length} bytes)` : body;
  const headers = request.headers
    .filter(([name]) => name !== "authorization")
    .map(([name, value]) => `${name}: ${value.length > 300 ? `${value.slice(0, 300)}...` : value}`);
  const response = typeof answer === "string"
    ? answer
    : `${answer.status} ${answer.body.slice(0, 400).replaceAll("\n", " ")}`;
  const framing = request.framing === "length" ? "" : `\n  (body sent ${request.framing})`;
  return `${request.method} ${request.path.slice(0, 400)}\n  ${headers.join("\n  ")}${framing}\n` +
    `  body: ${JSON.stringify(shown)}\n  -> ${response}`;
}

/** Whether a COPY/MOVE Destination names another authority than the request's own. */
function elsewhere(request: FuzzRequest, destination: string, port: number): boolean {
  try {
    // An absolute-form request target carries the request's authority (RFC 9112 3.2.2).
    const own = /^[a-z][a-z0-9+.-]*:\/\//i.test(request.path)
      ? new URL(request.path).host
      : `127.0.0.1:${port}`;
    return new URL(destination, `http://${own}/`).host !== own;
  } catch {
    return false;
  }
}

/** Why this answer breaks a promise to clients, or null. */
function violation(request: FuzzRequest, answer: Answer | string, port: number): string | null {
  if (typeof answer === "string") {
    // A chunk size that is not hex leaves no message to answer: Deno.serve (hyper) closes the
    // connection without a 400, for every route (/healthz/live too). Such requests only check
    // that the server lives on.
    return request.framing === "bad-chunked" ? null : "no answer";
  }
  const destination = request.headers.find(([name]) => name === "destination")?.[1];
  const method = request.method.toUpperCase();
  if (answer.status >= 500) {
    // RFC 4918 9.8.5, 9.9.4: a Destination on another server is answered 502.
    const copyOrMove = method === "COPY" || method === "MOVE";
    if (
      answer.status === 502 && copyOrMove && destination && elsewhere(request, destination, port)
    ) {
      return null;
    }
    return `HTTP ${answer.status}`;
  }
  if (answer.body.includes(MARKER)) return "an answer to A carries B's data";
  if (answer.status >= 200 && answer.status < 300) {
    if (isB(request.path)) return "A reached B's space";
    if ((method === "COPY" || method === "MOVE") && isB(destination)) {
      return "A copied or moved into B's space";
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------

interface Client {
  request(
    method: string,
    path: string,
    body?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; headers: Headers }>;
}

function clientFor(server: TestServer, login: string, password: string): Client {
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

const B_EVENT = [
  "BEGIN:VCALENDAR",
  "VERSION:2.0",
  "PRODID:-//Postern tests//EN",
  "BEGIN:VEVENT",
  `UID:${B_UID}`,
  "DTSTAMP:20260101T000000Z",
  "DTSTART:20260115T100000Z",
  "DURATION:PT1H",
  `SUMMARY:${MARKER} dentist`,
  "END:VEVENT",
  "END:VCALENDAR",
  "",
].join("\r\n");

const B_CARD = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "UID:b-private-card-7c1e93",
  `FN:${MARKER} Contact`,
  "EMAIL:private@example.org",
  "END:VCARD",
  "",
].join("\r\n");

/** B's objects, made before the fuzz; they must come out of it unchanged. */
const B_OBJECTS: [string, string, string][] = [
  [`/dav/calendars/${B}/default/secret.ics`, B_EVENT, "text/calendar; charset=utf-8"],
  [`/dav/addressbooks/${B}/default/secret.vcf`, B_CARD, "text/vcard; charset=utf-8"],
  [`/dav/files/${B}/secret.txt`, `${MARKER} file\n`, "text/plain"],
  [`/dav/files/${B}/private/doc.txt`, `${MARKER} doc\n`, "text/plain"],
];

/** Paths of B's objects that changed, restoring them so later requests are judged alone. */
async function changedOfB(b: Client): Promise<string[]> {
  const changed: string[] = [];
  for (const [path, content, type] of B_OBJECTS) {
    const got = await b.request("GET", path);
    if (got.status === 200 && got.text === content) continue;
    changed.push(`${path}: ${got.status} ${got.text.slice(0, 300)}`);
    await b.request("PUT", path, content, { "content-type": type });
  }
  return changed;
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"]);

function touchesB(request: FuzzRequest): boolean {
  const body = decoder.decode(request.body);
  return isB(request.path, true) || body.includes(B) || body.includes(B_UID) ||
    request.headers.some(([, value]) => value.toLowerCase().includes(B));
}

/** Releases the locks A took (token to lock root); those already gone answer 409. */
async function unlockAll(a: Client, lockRoots: Map<string, string>): Promise<void> {
  for (const [token, root] of lockRoots) {
    const unlocked = await a.request("UNLOCK", root, undefined, { "lock-token": `<${token}>` });
    assert(
      unlocked.status === 204 || unlocked.status === 409,
      `UNLOCK ${root}: ${unlocked.status}`,
    );
  }
  lockRoots.clear();
}

function propfind(props: string): string {
  return `<?xml version="1.0"?><d:propfind ${NS}><d:prop>${props}</d:prop></d:propfind>`;
}

Deno.test("dav fuzz: generated requests get an answer below 500 and never reach another account", async () => {
  await withServer(async (server) => {
    for (const [login, password] of [[A, PASSWORD_A], [B, PASSWORD_B]]) {
      const added = await cli(server.configPath, ["account", "add", login, "--password", password]);
      assertEquals(added.code, 0, added.stderr);
    }
    const a = clientFor(server, A, PASSWORD_A);
    const b = clientFor(server, B, PASSWORD_B);
    assertEquals((await b.request("MKCOL", `/dav/files/${B}/private/`)).status, 201);
    for (const [path, content, type] of B_OBJECTS) {
      const put = await b.request("PUT", path, content, { "content-type": type });
      assertEquals(put.status, 201, `${path}: ${put.text}`);
    }
    // A gets some objects of its own for the fuzz to find.
    await a.request("MKCOL", `/dav/files/${A}/dir/`);
    await a.request("PUT", `/dav/files/${A}/doc.txt`, "hello\n", { "content-type": "text/plain" });
    await a.request("MKCALENDAR", `/dav/calendars/${A}/work/`);
    await a.request("PUT", `/dav/addressbooks/${A}/default/c1.vcf`, B_CARD.replace(MARKER, "A's"), {
      "content-type": "text/vcard",
    });
    await a.request(
      "PUT",
      `/dav/calendars/${A}/default/e1.ics`,
      B_EVENT.replace(B_UID, "u1@fuzz").replace(MARKER, "A's"),
      { "content-type": "text/calendar" },
    );

    const failures: string[] = [];
    const signatures = new Set<string>();
    let sent = 0;
    const lockRoots = new Map<string, string>();
    for (const seed of SEEDS) {
      const generator = new Generator(mulberry32(seed), server.ports.http);
      generator.lockRoots = lockRoots;
      for (let index = 0; index < REQUESTS_PER_SEED; index++) {
        // As a client ends its edit: locks held for the rest of the run would leave every later
        // write a 423.
        if (index % 100 === 99) await unlockAll(a, lockRoots);
        const request = generator.request();
        const before = server.logs.length;
        const answer = await exchange(server.ports.http, request);
        sent++;
        if (typeof answer !== "string") generator.learn(request, answer);
        const problem = violation(request, answer, server.ports.http);
        // A write of A's may reach B through scheduling: look after every one that succeeded.
        const wrote = typeof answer !== "string" && answer.status < 300 &&
          !READ_METHODS.has(request.method.toUpperCase());
        const changed = wrote || touchesB(request) ? await changedOfB(b) : [];
        const problems = [
          ...(problem ? [problem] : []),
          ...(changed.length ? [`B's objects changed: ${changed.join("; ")}`] : []),
        ];
        for (const what of problems) {
          const logged = server.logs.slice(before).filter((l) => l.includes("request failed"));
          const signature = `${what.split("\n")[0].slice(0, 120)} ${request.method} ${
            typeof answer === "string" ? answer.split(":")[0] : answer.status
          } ${logged.map((l) => String(JSON.parse(l).error).split("\n")[0]).join(" ")}`;
          if (signatures.has(signature)) continue;
          signatures.add(signature);
          failures.push(
            `${what} (seed ${seed}, request ${index}):\n${describe(request, answer)}` +
              (logged.length ? `\n  log: ${logged.join("\n  log: ").slice(0, 1500)}` : ""),
          );
        }
      }
    }
    assert(sent >= REQUESTS_PER_SEED * SEEDS.length);

    // Alive, and still storing and listing: the client's everyday sequence.
    const live = await fetch(`http://127.0.0.1:${server.ports.http}/healthz/live`);
    assertEquals(live.status, 200, await live.text());
    // Locks the fuzz took would (rightly) refuse the writes below.
    await unlockAll(a, lockRoots);
    const calendar = `/dav/calendars/${A}/sanity-${SEEDS.join("-")}/`;
    const made = await a.request("MKCALENDAR", calendar);
    assertEquals(made.status, 201, made.text);
    const event = B_EVENT.replace(B_UID, "sanity@fuzz").replace(MARKER, "Sanity");
    const put = await a.request("PUT", `${calendar}sanity.ics`, event, {
      "content-type": "text/calendar; charset=utf-8",
    });
    assertEquals(put.status, 201, put.text);
    const got = await a.request("GET", `${calendar}sanity.ics`);
    assertEquals([got.status, got.text], [200, event]);
    const listed = await a.request("PROPFIND", calendar, propfind("<d:getetag/>"), { depth: "1" });
    assertEquals(listed.status, 207, listed.text);
    assert(listed.text.includes(`${calendar}sanity.ics`), listed.text);
    const deleted = await a.request("DELETE", `${calendar}sanity.ics`);
    assertEquals(deleted.status, 204, deleted.text);
    assertEquals((await a.request("GET", `${calendar}sanity.ics`)).status, 404);

    assertEquals(await changedOfB(b), [], "B's objects after the fuzz");
    assertEquals(failures, [], `${failures.length} problems:\n\n${failures.join("\n\n")}`);
  });
});

Deno.test("dav fuzz, minimised: an invitation never overwrites or cancels another account's own event with that UID", async () => {
  await withServer(async (server) => {
    for (const [login, password] of [[A, PASSWORD_A], [B, PASSWORD_B]]) {
      const added = await cli(server.configPath, ["account", "add", login, "--password", password]);
      assertEquals(added.code, 0, added.stderr);
    }
    const a = clientFor(server, A, PASSWORD_A);
    const b = clientFor(server, B, PASSWORD_B);
    const secret = `/dav/calendars/${B}/default/secret.ics`;
    assertEquals(
      (await b.request("PUT", secret, B_EVENT, { "content-type": "text/calendar" })).status,
      201,
    );
    // A learns the UID (it travels in invitations and shared calendars) and invites B with it.
    const invitation = B_EVENT.replace(
      `SUMMARY:${MARKER} dentist`,
      `SUMMARY:Overwritten\r\nORGANIZER:mailto:${A}\r\nATTENDEE:mailto:${B}`,
    );
    const invited = await a.request("PUT", `/dav/calendars/${A}/default/i.ics`, invitation, {
      "content-type": "text/calendar",
    });
    assert(invited.status < 300, `${invited.status} ${invited.text}`);
    const afterInvitation = (await b.request("GET", secret)).text;
    if (afterInvitation !== B_EVENT) {
      await b.request("PUT", secret, B_EVENT, { "content-type": "text/calendar" });
    }
    // Deleting the invitation sends B a CANCEL for that UID.
    assertEquals((await a.request("DELETE", `/dav/calendars/${A}/default/i.ics`)).status, 204);
    const afterCancel = (await b.request("GET", secret)).text;
    assertEquals({ afterInvitation, afterCancel }, {
      afterInvitation: B_EVENT,
      afterCancel: B_EVENT,
    });
  });
});
