/**
 * JMAP API fuzzing against a real server: thousands of random method calls (every method of the
 * registry plus unknown ones) with arguments mixing valid and invalid values, result references
 * to earlier calls and creation ids, sent in batches. Every answer must be a well-formed
 * response (HTTP 200, one response group per call id in order, known error types) or a
 * request-level problem; never a 500 or a dropped connection, never a serverFail caused by the
 * client's input. Afterwards the server still answers JMAP and IMAP.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type TestServer, withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient } from "../helpers/jmap.ts";
import { deliverMany } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";
import { mulberry32 } from "../helpers/random.ts";
import { METHODS } from "../../src/jmap/registry.ts";

/** JMAP_FUZZ_SEEDS="1,2,3" replays or widens a run. */
const SEEDS = (Deno.env.get("JMAP_FUZZ_SEEDS") ?? "11,12,13").split(",").map(Number);
const CALLS_PER_SEED = 1200;

type Rand = () => number;
type Json = Record<string, unknown>;

/** Method-level error types of RFC 8620 3.6.2, 5.x and RFC 9404 (Blob/lookup). */
const METHOD_ERRORS = new Set([
  "serverUnavailable",
  "serverFail",
  "serverPartialFail",
  "unknownMethod",
  "invalidArguments",
  "invalidResultReference",
  "forbidden",
  "accountNotFound",
  "accountNotSupportedByMethod",
  "accountReadOnly",
  "requestTooLarge",
  "cannotCalculateChanges",
  "stateMismatch",
  "anchorNotFound",
  "unsupportedSort",
  "unsupportedFilter",
  "tooManyChanges",
  "fromAccountNotFound",
  "fromAccountNotSupportedByMethod",
  "unknownDataType",
]);

const REQUEST_ERRORS = new Set(["notJSON", "notRequest", "unknownCapability", "limit"]);

function pickOne<T>(rand: Rand, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function int(rand: Rand, below: number): number {
  return Math.floor(rand() * below);
}

/** An own "__proto__" key survives JSON.stringify only when defined like this. */
function define(object: Json, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0,
  1e308,
  9007199254740993,
  "",
  "NaN",
  "1e309",
  "__proto__",
  "constructor",
  "#k0",
  "#nope",
  "\u0000",
  "😀",
  [],
  [null],
  {},
  { toString: 1 },
  { __proto__: 1 },
  "x".repeat(3000),
];

const KEYWORDS = ["$seen", "$flagged", "$draft", "$answered", "custom", "bad keyword", "", "$Junk"];
const PROPERTIES = [
  "id",
  "name",
  "role",
  "parentId",
  "threadId",
  "mailboxIds",
  "keywords",
  "subject",
  "from",
  "to",
  "preview",
  "bodyValues",
  "textBody",
  "htmlBody",
  "attachments",
  "bodyStructure",
  "header:Subject:asText",
  "header:From:asAddresses:all",
  "header:bogus:asNothing",
  "emailIds",
  "blobId",
  "size",
  "receivedAt",
  "sentAt",
  "isEnabled",
  "email",
  "undoStatus",
  "bogus",
  "",
];
const FILTER_KEYS = [
  "inMailbox",
  "inMailboxOtherThan",
  "text",
  "from",
  "to",
  "subject",
  "body",
  "header",
  "after",
  "before",
  "minSize",
  "maxSize",
  "hasKeyword",
  "notKeyword",
  "hasAttachment",
  "allInThreadHaveKeyword",
  "someInThreadHaveKeyword",
  "noneInThreadHaveKeyword",
  "role",
  "hasAnyRole",
  "parentId",
  "name",
  "isSubscribed",
  "identityIds",
  "emailIds",
  "threadIds",
  "undoStatus",
  "bogus",
];
const SORT_PROPERTIES = [
  "receivedAt",
  "sentAt",
  "size",
  "from",
  "to",
  "subject",
  "hasKeyword",
  "allInThreadHaveKeyword",
  "someInThreadHaveKeyword",
  "name",
  "sortOrder",
  "parentId",
  "emailId",
  "sentAt",
  "bogus",
];

/** Ids seen in responses, so random calls often name real objects. */
class Pools {
  ids = new Set<string>(["nope", "M1", "E1", "T1", "#k0", "#k1"]);
  states = new Set<string>(["0", "1", "1.1", "bogus", "99999999"]);
  blobIds = new Set<string>(["Gnope"]);

  learn(value: unknown, key = "", depth = 0): void {
    if (depth > 12) return;
    if (typeof value === "string") {
      if (/state$/i.test(key) || key === "newQueryState") this.states.add(value);
      else if (/blobId/.test(key)) this.blobIds.add(value);
      else if (/(^id$|Id$|^ids$|Ids$)/.test(key) && value.length < 80) this.ids.add(value);
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value.slice(0, 50)) this.learn(item, key, depth + 1);
      return;
    }
    if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value).slice(0, 50)) {
        if (/Ids$/.test(k) && v && typeof v === "object" && !Array.isArray(v)) {
          for (const id of Object.keys(v)) this.ids.add(id);
        }
        this.learn(v, k, depth + 1);
      }
    }
  }

  id(rand: Rand): string {
    return pickOne(rand, [...this.ids]);
  }
}

class Generator {
  constructor(readonly rand: Rand, readonly accountId: string, readonly pools: Pools) {}

  chance(p: number): boolean {
    return this.rand() < p;
  }

  odd(): unknown {
    return pickOne(this.rand, ODD_VALUES);
  }

  /** A value that is usually of the right kind, sometimes something else. */
  maybe<T>(good: () => T): unknown {
    return this.chance(0.85) ? good() : this.odd();
  }

  ids(): unknown {
    if (this.chance(0.15)) return null;
    return this.maybe(() =>
      Array.from({ length: int(this.rand, 4) }, () => this.pools.id(this.rand))
    );
  }

  idMap(): Json {
    const map: Json = {};
    for (let i = int(this.rand, 3); i > 0; i--) {
      map[this.pools.id(this.rand)] = this.maybe(() => true);
    }
    return map;
  }

  filter(depth = 0): unknown {
    const rand = this.rand;
    if (depth < 3 && this.chance(0.3)) {
      return {
        operator: this.maybe(() => pickOne(rand, ["AND", "OR", "NOT"])),
        conditions: this.maybe(() =>
          Array.from({ length: int(rand, 3) }, () => this.filter(depth + 1))
        ),
      };
    }
    const condition: Json = {};
    for (let i = int(rand, 3); i > 0; i--) {
      const key = pickOne(rand, FILTER_KEYS);
      condition[key] = this.maybe(() => {
        if (/Mailbox|parentId/.test(key)) return this.pools.id(rand);
        if (/Ids$|inMailboxOtherThan/.test(key)) return [this.pools.id(rand)];
        if (/Keyword/.test(key)) return pickOne(rand, KEYWORDS);
        if (/Size$/.test(key)) return int(rand, 10_000);
        if (key === "after" || key === "before") {
          return pickOne(rand, ["2020-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "yesterday"]);
        }
        if (key === "header") return pickOne(rand, [["Subject"], ["Subject", "message"], []]);
        if (/^(has|is)/.test(key)) return this.chance(0.5);
        return pickOne(rand, ["message", "Body", "s@example.net", "", '"quoted" OR x*']);
      });
    }
    return condition;
  }

  sort(): unknown {
    return this.maybe(() =>
      Array.from({ length: int(this.rand, 3) }, () => {
        const comparator: Json = {
          property: this.maybe(() => pickOne(this.rand, SORT_PROPERTIES)),
        };
        if (this.chance(0.5)) comparator.isAscending = this.maybe(() => this.chance(0.5));
        if (this.chance(0.3)) {
          comparator.collation = this.maybe(() =>
            pickOne(this.rand, ["i;ascii-casemap", "i;unicode-casemap", "i;octet", "x"])
          );
        }
        if (this.chance(0.3)) comparator.keyword = this.maybe(() => pickOne(this.rand, KEYWORDS));
        return comparator;
      })
    );
  }

  creation(method: string): unknown {
    const rand = this.rand;
    const type = method.split("/")[0];
    const object: Json = {};
    const set = (key: string, good: () => unknown) => {
      if (this.chance(0.7)) object[key] = this.maybe(good);
    };
    if (type === "Mailbox") {
      set("name", () => pickOne(rand, ["Fuzz", "Fuzz/Sub", "", "Inbox", `m${int(rand, 99)}`]));
      set("parentId", () => this.chance(0.5) ? null : this.pools.id(rand));
      set("role", () => pickOne(rand, [null, "archive", "inbox", "bogus"]));
      set("sortOrder", () => int(rand, 100));
      set("isSubscribed", () => this.chance(0.5));
    } else if (type === "Email") {
      set("mailboxIds", () => this.idMap());
      set("keywords", () => ({ [pickOne(rand, KEYWORDS)]: true }));
      set("subject", () => pickOne(rand, ["fuzz", "", "é".repeat(200)]));
      set(
        "from",
        () => [{ name: this.maybe(() => "F"), email: this.maybe(() => "f@example.com") }],
      );
      set("to", () => [{ email: "admin@example.com" }]);
      set("receivedAt", () => pickOne(rand, ["2021-01-01T00:00:00Z", "never"]));
      set("header:X-Fuzz:asText", () => "value");
      set(
        "textBody",
        () => [{ partId: this.maybe(() => "t"), type: this.maybe(() => "text/plain") }],
      );
      set("bodyValues", () => ({ t: { value: this.maybe(() => "body text") } }));
      set("bodyStructure", () => ({ type: "multipart/mixed", subParts: [{ partId: "t" }] }));
      set("attachments", () => [{ blobId: pickOne(rand, [...this.pools.blobIds]) }]);
      set("blobId", () => pickOne(rand, [...this.pools.blobIds]));
    } else if (type === "Identity") {
      set("email", () => pickOne(rand, ["admin@example.com", "other@example.org", "bad"]));
      set("name", () => "Fuzz");
      set("replyTo", () => [{ email: "r@example.com" }]);
      set("textSignature", () => "--");
    } else if (type === "EmailSubmission") {
      set("identityId", () => this.pools.id(rand));
      set("emailId", () => pickOne(rand, ["#k0", "#k1", this.pools.id(rand)]));
      set("envelope", () => ({
        mailFrom: { email: this.maybe(() => "admin@example.com") },
        rcptTo: this.maybe(() => [{ email: "admin@example.com" }]),
      }));
    } else if (type === "PushSubscription") {
      set("deviceClientId", () => "fuzz");
      set("url", () => pickOne(rand, ["https://127.0.0.1:9/push", "http://x", "not a url"]));
      set("types", () => pickOne(rand, [null, ["Email"], ["Bogus"]]));
    } else if (type === "VacationResponse") {
      set("isEnabled", () => this.chance(0.5));
      set("subject", () => "Away");
      set("textBody", () => "Back soon");
      set("fromDate", () => pickOne(rand, [null, "2020-01-01T00:00:00Z", "soon"]));
    } else if (type === "Blob") {
      set("data", () => [
        pickOne(rand, [
          { "data:asText": "hello" },
          { "data:asBase64": "aGVsbG8=" },
          { "data:asBase64": "!!" },
          { blobId: pickOne(rand, [...this.pools.blobIds]), offset: 0, length: 3 },
          { "data:asText": "x", "data:asBase64": "eA==" },
        ]),
      ]);
      set("type", () => "text/plain");
    }
    if (this.chance(0.1)) {
      define(object, pickOne(rand, ["__proto__", "constructor", "bogus"]), this.odd());
    }
    return this.chance(0.9) ? object : this.odd();
  }

  patch(method: string): unknown {
    const rand = this.rand;
    const patch: Json = {};
    for (let i = 1 + int(rand, 2); i > 0; i--) {
      const path = pickOne(rand, [
        `keywords/${pickOne(rand, KEYWORDS)}`,
        `mailboxIds/${this.pools.id(rand)}`,
        "keywords",
        "mailboxIds",
        "name",
        "parentId",
        "isSubscribed",
        "undoStatus",
        "isEnabled",
        "subject",
        "__proto__/polluted",
        "constructor/prototype/x",
        "a/b/c",
        "",
      ]);
      define(
        patch,
        path,
        this.maybe(() =>
          path.startsWith("keywords/") || path.startsWith("mailboxIds/")
            ? pickOne(rand, [true, null])
            : path === "undoStatus"
            ? "canceled"
            : path === "keywords" || path === "mailboxIds"
            ? this.idMap()
            : method.startsWith("Mailbox") && path === "name"
            ? `r${int(rand, 99)}`
            : this.odd()
        ),
      );
    }
    return this.chance(0.9) ? patch : this.odd();
  }

  set(method: string): Json {
    const rand = this.rand;
    const args: Json = {};
    if (this.chance(0.6)) {
      const create: Json = {};
      for (let i = int(rand, 3); i > 0; i--) create[`k${int(rand, 3)}`] = this.creation(method);
      args.create = this.maybe(() => create);
    }
    if (this.chance(0.5)) {
      const update: Json = {};
      const singleton = method.startsWith("VacationResponse");
      for (let i = int(rand, 3); i > 0; i--) {
        update[singleton && this.chance(0.8) ? "singleton" : this.pools.id(rand)] = singleton
          ? this.creation(method)
          : this.patch(method);
      }
      args.update = this.maybe(() => update);
    }
    if (this.chance(0.3)) args.destroy = this.ids();
    if (this.chance(0.2)) args.ifInState = this.maybe(() => pickOne(rand, [...this.pools.states]));
    if (method === "EmailSubmission/set" && this.chance(0.5)) {
      args.onSuccessUpdateEmail = this.maybe(() => ({
        [pickOne(rand, ["#k0", "#k1", this.pools.id(rand)])]: this.patch("Email/set"),
      }));
    }
    if (method === "EmailSubmission/set" && this.chance(0.3)) {
      args.onSuccessDestroyEmail = this.maybe(() => ["#k0", this.pools.id(rand)]);
    }
    return args;
  }

  argsFor(method: string, earlier: { name: string; callId: string }[]): Json {
    const rand = this.rand;
    const [type, verb] = method.split("/");
    const args: Json = {};
    if (this.chance(0.92)) args.accountId = this.maybe(() => this.accountId);
    const put = (key: string, p: number, good: () => unknown) => {
      if (this.chance(p)) args[key] = this.maybe(good);
    };
    switch (verb) {
      case "get":
        put("ids", 0.7, () => this.ids());
        put(
          "properties",
          0.4,
          () => Array.from({ length: int(rand, 4) }, () => pickOne(rand, PROPERTIES)),
        );
        if (type === "Email") {
          put("fetchTextBodyValues", 0.3, () => this.chance(0.5));
          put("fetchHTMLBodyValues", 0.2, () => this.chance(0.5));
          put("fetchAllBodyValues", 0.2, () => this.chance(0.5));
          put("maxBodyValueBytes", 0.3, () => int(rand, 200));
          put("bodyProperties", 0.2, () => ["partId", "type", pickOne(rand, PROPERTIES)]);
        }
        if (type === "SearchSnippet") {
          put("emailIds", 0.8, () => this.ids());
          put("filter", 0.7, () => this.filter());
          delete args.ids;
        }
        if (type === "Blob") put("offset", 0.2, () => int(rand, 10));
        break;
      case "changes":
        put("sinceState", 0.9, () => pickOne(rand, [...this.pools.states]));
        put("maxChanges", 0.5, () => int(rand, 5));
        break;
      case "query":
        put("filter", 0.7, () => this.filter());
        put("sort", 0.5, () => this.sort());
        put("position", 0.3, () => int(rand, 10) - 5);
        put("anchor", 0.2, () => this.pools.id(rand));
        put("anchorOffset", 0.2, () => int(rand, 10) - 5);
        put("limit", 0.4, () => int(rand, 20));
        put("calculateTotal", 0.3, () => this.chance(0.5));
        if (type === "Email") put("collapseThreads", 0.3, () => this.chance(0.5));
        if (type === "Mailbox") {
          put("sortAsTree", 0.3, () => this.chance(0.5));
          put("filterAsTree", 0.3, () => this.chance(0.5));
        }
        break;
      case "queryChanges":
        put("filter", 0.5, () => this.filter());
        put("sort", 0.3, () => this.sort());
        put("sinceQueryState", 0.9, () => pickOne(rand, [...this.pools.states]));
        put("maxChanges", 0.3, () => int(rand, 5));
        put("upToId", 0.2, () => this.pools.id(rand));
        put("calculateTotal", 0.3, () => this.chance(0.5));
        break;
      case "set":
        Object.assign(args, this.set(method));
        break;
      case "import": {
        const emails: Json = {};
        for (let i = int(rand, 3); i > 0; i--) {
          emails[`k${i}`] = this.maybe(() => ({
            blobId: this.maybe(() => pickOne(rand, [...this.pools.blobIds])),
            mailboxIds: this.maybe(() => this.idMap()),
            keywords: this.maybe(() => ({ $seen: true })),
            ...(this.chance(0.3) ? { receivedAt: this.maybe(() => "2020-02-02T02:02:02Z") } : {}),
          }));
        }
        put("emails", 0.9, () => emails);
        break;
      }
      case "parse":
        put(
          "blobIds",
          0.9,
          () => Array.from({ length: int(rand, 3) }, () => pickOne(rand, [...this.pools.blobIds])),
        );
        put("properties", 0.3, () => [pickOne(rand, PROPERTIES)]);
        put("fetchAllBodyValues", 0.3, () => this.chance(0.5));
        break;
      case "copy":
        put("fromAccountId", 0.9, () => this.accountId);
        put("create", 0.7, () => ({ k0: { id: this.pools.id(rand), mailboxIds: this.idMap() } }));
        put("onSuccessDestroyOriginal", 0.2, () => this.chance(0.5));
        break;
      case "upload":
        Object.assign(args, this.set(method));
        break;
      case "lookup":
        put("typeNames", 0.8, () => [pickOne(rand, ["Email", "Mailbox", "Thread", "Bogus"])]);
        put("ids", 0.8, () => [pickOne(rand, [...this.pools.blobIds])]);
        break;
      case "echo":
        for (let i = int(rand, 3); i > 0; i--) args[`e${i}`] = this.odd();
        break;
    }
    // Unknown arguments, odd keys and result references to earlier calls.
    if (this.chance(0.08)) {
      define(args, pickOne(rand, ["bogus", "__proto__", "constructor"]), this.odd());
    }
    if (earlier.length && this.chance(0.25)) {
      const source = pickOne(rand, earlier);
      const key = pickOne(rand, ["ids", "emailIds", "blobIds", "sinceState", "filter", "bogus"]);
      delete args[key];
      args[`#${key}`] = this.maybe(() => ({
        resultOf: this.chance(0.9) ? source.callId : "nope",
        name: this.chance(0.85) ? source.name : "Email/get",
        path: pickOne(rand, [
          "/ids",
          "/list/*/id",
          "/list/*/emailIds",
          "/list/*/threadId",
          "/list/*/blobId",
          "/created/k0/id",
          "/newState",
          "/ids/0",
          "/*",
          "bad",
          "",
        ]),
      }));
    }
    return args;
  }
}

interface Outcome {
  status: number;
  body: Json | null;
}

async function post(client: JmapTestClient, body: string): Promise<Outcome> {
  const response = await client.fetch("/jmap/api", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const text = await response.text();
  let parsed: Json | null = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    throw new Error(`status ${response.status}, body is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, body: parsed };
}

function checkProblem(outcome: Outcome, where: string): void {
  assert(outcome.status !== 500 && outcome.status < 500, `${where}: HTTP ${outcome.status}`);
  assert(outcome.body !== null, `${where}: HTTP ${outcome.status} with no body`);
  const type = String(outcome.body.type);
  assertMatch(type, /^urn:ietf:params:jmap:error:/, `${where}: ${JSON.stringify(outcome.body)}`);
  assert(
    REQUEST_ERRORS.has(type.slice("urn:ietf:params:jmap:error:".length)),
    `${where}: unknown request error ${type}`,
  );
  assertEquals(outcome.body.status, outcome.status, where);
}

function checkResponses(
  outcome: Outcome,
  calls: [string, Json, string][],
  where: string,
): [string, Json, string][] {
  assertEquals(outcome.status, 200, `${where}: ${JSON.stringify(outcome.body).slice(0, 500)}`);
  const responses = outcome.body?.methodResponses as [string, Json, string][];
  assert(Array.isArray(responses), `${where}: no methodResponses`);
  assertEquals(typeof outcome.body?.sessionState, "string", where);
  const groups: string[] = [];
  for (const response of responses) {
    assert(
      Array.isArray(response) && response.length === 3,
      `${where}: ${JSON.stringify(response)}`,
    );
    const [name, args, callId] = response;
    assertEquals(typeof name, "string", where);
    assert(args && typeof args === "object" && !Array.isArray(args), `${where}: ${name} args`);
    assertEquals(typeof callId, "string", where);
    if (name === "error") {
      assert(
        METHOD_ERRORS.has(args.type as string),
        `${where}: unknown error type ${JSON.stringify(args)}`,
      );
    }
    if (groups[groups.length - 1] !== callId) groups.push(callId);
  }
  assertEquals(groups, calls.map((call) => call[2]), `${where}: responses out of order`);
  // The first response of each call is the method's own (or an error).
  let index = 0;
  for (const call of calls) {
    assert(
      responses[index][0] === call[0] || responses[index][0] === "error",
      `${where}: ${call[0]} answered as ${responses[index][0]}`,
    );
    while (index < responses.length && responses[index][2] === call[2]) index++;
  }
  return responses;
}

function methodFailures(server: TestServer): string[] {
  return server.logs.filter((line) => line.includes("method failed"));
}

async function imapLogin(server: TestServer): Promise<string> {
  const imap = await LineClient.connect(server.ports.imaps, {
    implicitTls: { ca: await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`) },
  });
  try {
    await imap.readLine();
    await imap.write(`a LOGIN ${server.admin!.address} ${server.admin!.password}\r\n`);
    const lines = await imap.readUntil((line) => line.startsWith("a "));
    await imap.write("b LOGOUT\r\n");
    return lines[lines.length - 1];
  } finally {
    await imap.close();
  }
}

Deno.test("jmap fuzz: random method calls get well-formed responses and never a serverFail", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    await deliverMany(server, server.admin!.address, 5);
    const session = await (await client.fetch("/jmap/session")).json();
    const capabilities = Object.keys(session.capabilities);
    const names = [...METHODS.keys()];
    const unknown = ["Foo/get", "Email/destroy", "", "Mailbox/GET", "error", "Core/echo2", "/"];
    const failures: string[] = [];
    let calls = 0;
    for (const seed of SEEDS) {
      const rand = mulberry32(seed);
      const pools = new Pools();
      const generator = new Generator(rand, client.accountId, pools);
      for (let batch = 0; calls < CALLS_PER_SEED * (SEEDS.indexOf(seed) + 1); batch++) {
        const size = 1 + int(rand, 8);
        const methodCalls: [string, Json, string][] = [];
        for (let i = 0; i < size; i++) {
          const name = rand() < 0.93 ? pickOne(rand, names) : pickOne(rand, unknown);
          const earlier = methodCalls.map(([n, , callId]) => ({ name: n, callId }));
          methodCalls.push([name, generator.argsFor(name, earlier), `c${i}`]);
        }
        calls += size;
        const using = rand() < 0.9
          ? capabilities
          : rand() < 0.5
          ? capabilities.filter(() => rand() < 0.6)
          : [...capabilities, "urn:example:unknown"];
        const request: Json = { using, methodCalls };
        if (rand() < 0.1) request.createdIds = { k9: pools.id(rand) };
        const body = JSON.stringify(request);
        const where = `seed ${seed} batch ${batch}`;
        const before = methodFailures(server).length;
        const outcome = await post(client, body);
        if (outcome.status === 200) {
          const responses = checkResponses(outcome, methodCalls, where);
          pools.learn(responses);
        } else {
          checkProblem(outcome, where);
          assert(
            using.includes("urn:example:unknown") || body.length > 1_000_000,
            `${where}: ${JSON.stringify(outcome.body)}`,
          );
        }
        // One example request per distinct failure (method and the error's first line).
        for (const line of methodFailures(server).slice(before)) {
          const { method, error } = JSON.parse(line);
          const signature = `${method}: ${String(error).split("\n")[0]}`;
          if (failures.some((failure) => failure.startsWith(signature))) continue;
          failures.push(`${signature}\n${where}, request: ${body.slice(0, 3000)}\nlog: ${line}`);
        }
      }
    }
    assert(calls >= CALLS_PER_SEED * SEEDS.length);

    // The server still serves JMAP and IMAP.
    const mailboxes = await client.one("Mailbox/get", { ids: null });
    assert(mailboxes.list.some((m: { role: string }) => m.role === "inbox"));
    assertMatch(await imapLogin(server), /^a OK/);
    assertEquals(failures, [], `serverFail from client input:\n${failures.join("\n\n")}`);
    assertEquals(methodFailures(server), []);
  });
});

Deno.test("jmap fuzz: malformed and pathological request bodies get problem details", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    const using = Object.keys(session.capabilities);
    const nested = (depth: number, open: string, close: string, inner = "1") =>
      open.repeat(depth) + inner + close.repeat(depth);
    const bodies: [string, string][] = [
      ["empty", ""],
      ["not JSON", "{"],
      ["a number", "1e309"],
      ["a string", '"__proto__"'],
      ["null", "null"],
      ["an array", "[]"],
      ["10,000 nested arrays", nested(10_000, "[", "]")],
      ["10,000 nested objects", nested(10_000, '{"a":', "}")],
      ["no methodCalls", JSON.stringify({ using })],
      ["a call of two", JSON.stringify({ using, methodCalls: [["Core/echo", {}]] })],
      ["array arguments", JSON.stringify({ using, methodCalls: [["Core/echo", [], "0"]] })],
      ["numeric call id", JSON.stringify({ using, methodCalls: [["Core/echo", {}, 0]] })],
      ["bad createdIds", JSON.stringify({ using, methodCalls: [], createdIds: { a: 1 } })],
      ["__proto__ using", `{"__proto__": {"using": []}, "methodCalls": []}`],
      ["lone surrogate", `{"using": ["\\ud800"], "methodCalls": []}`],
      [
        "too many calls",
        JSON.stringify({ using, methodCalls: Array(10_001).fill(["Core/echo", {}, "0"]) }),
      ],
    ];
    for (const [what, body] of bodies) {
      const outcome = await post(client, body);
      assert(outcome.status !== 200, `${what}: accepted`);
      checkProblem(outcome, what);
    }
    // Deep values inside a well-formed request: an error or an echo, never a 500. The body is
    // written by hand: JSON.stringify itself overflows on such nesting.
    const account = JSON.stringify(client.accountId);
    const deepCalls: [string, Json, string][] = [
      ["Core/echo", {}, "echo"],
      ["Email/query", {}, "q"],
      ["Mailbox/query", {}, "m"],
      ["Email/get", {}, "g"],
    ];
    const deepBody = `{"using": ${JSON.stringify(using)}, "methodCalls": [` +
      `["Core/echo", {"deep": ${nested(5_000, "[", "]")}}, "echo"], ` +
      `["Email/query", {"accountId": ${account}, "filter": ` +
      `${nested(5_000, '{"operator":"AND","conditions":[', "]}", "{}")}}, "q"], ` +
      `["Mailbox/query", {"accountId": ${account}, "filter": ` +
      `${nested(5_000, '{"operator":"NOT","conditions":[', "]}", "{}")}}, "m"], ` +
      `["Email/get", {"accountId": ${account}, "ids": ["${"x".repeat(100_000)}"]}, "g"]]}`;
    const outcome = await post(client, deepBody);
    const responses = checkResponses(outcome, deepCalls, "deep values");
    assertEquals(responses[1][0], "error");
    assertEquals(responses[1][1].type, "invalidArguments");
    assertEquals(responses[2][0], "error");
    assertEquals(responses[2][1].type, "invalidArguments");
    assertEquals((responses[3][1].notFound as string[]).length, 1);
    // An own "__proto__" argument is an unknown argument, not a way past the argument check.
    const smuggled = `{"using": ${JSON.stringify(using)}, "methodCalls": [["Mailbox/get", ` +
      `{"__proto__": {"accountId": "${client.accountId}"}}, "0"]]}`;
    const [[name, args]] = checkResponses(
      await post(client, smuggled),
      [["Mailbox/get", {}, "0"]],
      "__proto__ argument",
    );
    assertEquals([name, args.type], ["error", "invalidArguments"]);
    assertEquals((await client.one("Core/echo", {})).accountId, client.accountId);
    assertEquals(methodFailures(server), []);
    assertMatch(await imapLogin(server), /^a OK/);
  });
});
