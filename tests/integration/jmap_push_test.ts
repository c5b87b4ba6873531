// deno-lint-ignore-file no-explicit-any -- JSON from the server, checked by each test
/**
 * JMAP push (RFC 8620 7, RFC 8887) against the real server: EventSource streams, the JMAP
 * WebSocket and PushSubscription POSTs, each woken by JMAP, IMAP and SMTP changes.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { type TestServer, withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";
import { deliverMany } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

/** A safety net against a hung test, never an assertion on how fast the server is. */
const STUCK_MS = 15_000;

interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** An EventSource stream read from a fetch response body. */
class EventStream {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async open(client: JmapTestClient, query: string): Promise<EventStream> {
    const response = await client.fetch(`/jmap/eventsource?${query}`);
    assertEquals(response.status, 200, await errorText(response));
    assertEquals(response.headers.get("content-type"), "text/event-stream");
    return new EventStream(response);
  }

  /** The next event (comments skipped); null when the server ended the stream. */
  async next(): Promise<SseEvent | null> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event: SseEvent = { event: "message", data: "" };
        let fields = 0;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const name = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, "");
          if (name === "event") event.event = value;
          else if (name === "data") event.data += value;
          else if (name === "id") event.id = value;
          fields++;
        }
        if (fields > 0) return event;
        continue;
      }
      const { done, value } = await withDeadline(this.#reader.read(), "an EventSource event");
      if (done) return null;
      this.#buffer += value;
    }
  }

  /** The next "state" event's StateChange for `accountId` (pings skipped). */
  async nextState(accountId: string): Promise<{ id?: string; changed: Record<string, string> }> {
    for (;;) {
      const event = await this.next();
      if (event === null) throw new Error("the stream ended before a state event");
      if (event.event !== "state") continue;
      const change = JSON.parse(event.data);
      assertEquals(change["@type"], "StateChange");
      return { id: event.id, changed: change.changed[accountId] };
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

async function errorText(response: Response): Promise<string> {
  if (response.status === 200) return "";
  return `${response.status} ${await response.text()}`;
}

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${STUCK_MS} ms`)), STUCK_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `check()` returns a value, polling; throws when stuck. */
async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, what: string) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - start > STUCK_MS) throw new Error(`stuck waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Logs in over IMAP (993), selects INBOX and sets \Seen on message 1 (one Email change). */
async function imapStoreSeen(server: TestServer): Promise<void> {
  const imap = await LineClient.connect(server.ports.imaps, {
    implicitTls: { ca: await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`) },
  });
  try {
    await imap.readLine();
    const run = async (tag: string, command: string) => {
      await imap.write(`${tag} ${command}\r\n`);
      const lines = await imap.readUntil((line) => line.startsWith(`${tag} `));
      assert(lines[lines.length - 1].startsWith(`${tag} OK`), lines.join("\n"));
    };
    await run("a", `LOGIN ${server.admin!.address} ${server.admin!.password}`);
    await run("b", "SELECT INBOX");
    await run("c", "STORE 1 +FLAGS (\\Seen)");
    await run("d", "LOGOUT");
  } finally {
    await imap.close();
  }
}

async function createMailbox(client: JmapTestClient, name: string): Promise<string> {
  const result = await client.one("Mailbox/set", { create: { m: { name } } });
  assert(result.created?.m, JSON.stringify(result));
  return result.newState;
}

async function emailState(client: JmapTestClient): Promise<string> {
  return (await client.one("Email/get", { ids: [] })).state;
}

Deno.test("jmap push: EventSource reports Mailbox/set, SMTP delivery and IMAP STORE; types filter", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const all = await EventStream.open(client, "types=*&closeafter=no&ping=0");
    const mailboxOnly = await EventStream.open(client, "types=Mailbox&closeafter=no&ping=0");
    try {
      const afterMailbox = await createMailbox(client, "Projects");
      const first = await all.nextState(client.accountId);
      assertEquals(first.changed.Mailbox, afterMailbox);
      assertEquals(first.id, afterMailbox);
      assert(!("EmailDelivery" in first.changed), JSON.stringify(first));
      // Mailbox/set reports Mailbox, Email and Thread; this stream asked for Mailbox only.
      const filtered = await mailboxOnly.nextState(client.accountId);
      assertEquals(filtered.changed, { Mailbox: afterMailbox });

      await deliverMany(server, server.admin!.address, 1);
      const delivered = await all.nextState(client.accountId);
      const afterDelivery = await emailState(client);
      assertEquals(delivered.changed.Email, afterDelivery);
      assertEquals(delivered.changed.EmailDelivery, afterDelivery);
      assertEquals(delivered.changed.Mailbox, afterDelivery);

      await imapStoreSeen(server);
      const stored = await all.nextState(client.accountId);
      const afterStore = await emailState(client);
      assertEquals(stored.changed.Email, afterStore);
      assert(!("EmailDelivery" in stored.changed), "a flag change is not a delivery");

      // The STORE changed the inbox's unread count too: Mailbox moved with Email.
      assertEquals(stored.changed.Mailbox, afterStore);
      // The filtered stream reports Mailbox alone.
      const afterSecond = await createMailbox(client, "Archive 2");
      const seen: string[] = [];
      while (seen[seen.length - 1] !== afterSecond) {
        const next = await mailboxOnly.nextState(client.accountId);
        assertEquals(Object.keys(next.changed), ["Mailbox"]);
        seen.push(next.changed.Mailbox);
      }
      assert(seen.includes(afterStore), `${seen} lacks the STORE's state ${afterStore}`);
      assertEquals((await all.nextState(client.accountId)).changed.Mailbox, afterSecond);
    } finally {
      await all.close();
      await mailboxOnly.close();
    }
  });
});

Deno.test("jmap push: EventSource pings carry the interval; closeafter=state ends the stream", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const pinging = await EventStream.open(client, "types=*&closeafter=no&ping=1");
    try {
      const ping = await pinging.next();
      assertEquals(ping?.event, "ping");
      assertEquals(JSON.parse(ping!.data), { interval: 1 });
      assertEquals(ping!.id, undefined, "a ping sets no event id (RFC 8620 7.3)");
      assertEquals((await pinging.next())?.event, "ping");
    } finally {
      await pinging.close();
    }

    const once = await EventStream.open(client, "types=Mailbox&closeafter=state&ping=0");
    try {
      const state = await createMailbox(client, "Once");
      assertEquals((await once.nextState(client.accountId)).changed, { Mailbox: state });
      assertEquals(await once.next(), null, "the server ends the stream after one state event");
    } finally {
      await once.close();
    }

    // A client reconnecting with an older Last-Event-ID hears of the change it missed.
    const before = await createMailbox(client, "Before");
    const after = await createMailbox(client, "After");
    const response = await client.fetch("/jmap/eventsource?types=Mailbox&closeafter=state&ping=0", {
      headers: { "last-event-id": before },
    });
    const resumed = new EventStream(response);
    try {
      assertEquals((await resumed.nextState(client.accountId)).changed, { Mailbox: after });
      assertEquals(await resumed.next(), null);
    } finally {
      await resumed.close();
    }

    const bad = await client.fetch("/jmap/eventsource?types=*&closeafter=maybe&ping=0");
    assertEquals(bad.status, 400);
    await bad.body?.cancel();
  });
});

Deno.test("jmap push: the connection past max_push_connections gets 429; a closed one frees its slot", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const first = await EventStream.open(client, "types=*&closeafter=no&ping=0");
    const second = await EventStream.open(client, "types=*&closeafter=no&ping=0");
    let third: EventStream | undefined;
    try {
      const refused = await client.fetch("/jmap/eventsource?types=*&closeafter=no&ping=0");
      assertEquals(refused.status, 429);
      const problem = await refused.json();
      assertEquals(problem.type, "urn:ietf:params:jmap:error:limit");
      assertEquals(problem.limit, "maxPushConnections");
      const ws = await openWebSocket(server, client, ["jmap"]);
      assertEquals(ws.opened, false, "a WebSocket counts against the same limit");
      await first.close();
      // The server frees the slot once it sees the client go; poll until it has.
      third = await waitFor(async () => {
        const response = await client.fetch("/jmap/eventsource?types=*&closeafter=no&ping=0");
        if (response.status === 200) return new EventStream(response);
        await response.body?.cancel();
      }, "a freed push slot");
    } finally {
      await first.close();
      await second.close();
      await third?.close();
    }
  }, { extra: "[jmap]\nmax_push_connections = 2" });
});

Deno.test("jmap push: the server stops with push connections open, ending them", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const stream = await EventStream.open(client, "types=*&closeafter=no&ping=0");
    const ws = await openWebSocket(server, client, ["jmap"]);
    try {
      const closed = new Promise<number>((resolve) =>
        ws.socket.addEventListener("close", (event) => resolve(event.code))
      );
      assertEquals(await withDeadline(server.stop(), "server exit"), 0);
      assertEquals(await stream.next(), null);
      assertEquals(await withDeadline(closed, "WebSocket close"), 1001);
    } finally {
      await stream.close();
      await ws.close();
    }
  });
});

/** A JMAP WebSocket client; messages are queued until read. */
class WsClient {
  #messages: any[] = [];
  #wake: (() => void) | undefined;
  #closed: Promise<void>;

  constructor(readonly socket: WebSocket, readonly opened: boolean) {
    this.#closed = new Promise((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) resolve();
      socket.addEventListener("close", () => resolve());
    });
    socket.addEventListener("message", (event) => {
      this.#messages.push(JSON.parse(event.data));
      this.#wake?.();
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  async next(): Promise<any> {
    while (this.#messages.length === 0) {
      await withDeadline(new Promise<void>((resolve) => this.#wake = resolve), "WebSocket message");
    }
    return this.#messages.shift();
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.#closed;
  }
}

async function openWebSocket(
  server: TestServer,
  client: JmapTestClient,
  protocols: string[],
): Promise<WsClient> {
  // Deno's WebSocket takes request headers (browsers cannot: they would use a Bearer token).
  const options = { protocols, headers: { authorization: client.auth } };
  const socket = new WebSocket(`ws://127.0.0.1:${server.ports.http}/jmap/ws`, options);
  const opened = await withDeadline(
    new Promise<boolean>((resolve) => {
      socket.addEventListener("open", () => resolve(true));
      socket.addEventListener("error", () => resolve(false));
      socket.addEventListener("close", () => resolve(false));
    }),
    "WebSocket handshake",
  );
  const ws = new WsClient(socket, opened);
  if (!opened) await ws.close();
  return ws;
}

Deno.test("jmap push: WebSocket requests, request errors, and StateChange push with pushState", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(session.capabilities["urn:ietf:params:jmap:websocket"], {
      url: `ws://127.0.0.1:${server.ports.http}/jmap/ws`,
      supportsPush: true,
    });

    const refused = await openWebSocket(server, client, ["not-jmap"]);
    assertEquals(refused.opened, false, "the jmap subprotocol is required (RFC 8887 4.2)");

    const ws = await openWebSocket(server, client, ["jmap"]);
    try {
      assert(ws.opened);
      assertEquals(ws.socket.protocol, "jmap");
      ws.send({
        "@type": "Request",
        id: "R1",
        using: USING,
        methodCalls: [["Core/echo", { hello: true }, "c1"]],
      });
      const response = await ws.next();
      assertEquals(response["@type"], "Response");
      assertEquals(response.requestId, "R1");
      assertEquals(response.methodResponses, [["Core/echo", { hello: true }, "c1"]]);
      assertEquals(response.sessionState, session.state);

      ws.send({ "@type": "Request", id: "R2", using: USING });
      const notRequest = await ws.next();
      assertEquals(notRequest["@type"], "RequestError");
      assertEquals(notRequest.requestId, "R2");
      assertEquals(notRequest.type, "urn:ietf:params:jmap:error:notRequest");
      assertEquals(notRequest.status, 400);

      ws.send({ "@type": "Request", id: "R3", using: ["urn:example:nope"], methodCalls: [] });
      assertEquals((await ws.next()).type, "urn:ietf:params:jmap:error:unknownCapability");
      ws.send("{ not json");
      assertEquals((await ws.next()).type, "urn:ietf:params:jmap:error:notJSON");
      ws.send({
        "@type": "Request",
        id: "big",
        using: USING,
        methodCalls: [["Core/echo", { pad: "x".repeat(11 * 1024 * 1024) }, "0"]],
      });
      const tooBig = await ws.next();
      assertEquals(tooBig.type, "urn:ietf:params:jmap:error:limit");
      assertEquals(tooBig.limit, "maxSizeRequest");

      ws.send({ "@type": "WebSocketPushEnable", dataTypes: ["Email", "Mailbox"] });
      await deliverMany(server, server.admin!.address, 1);
      const delivered = await ws.next();
      const afterDelivery = await emailState(client);
      assertEquals(delivered["@type"], "StateChange");
      assertEquals(delivered.pushState, afterDelivery);
      assertEquals(delivered.changed[client.accountId], {
        Email: afterDelivery,
        Mailbox: afterDelivery,
      });

      await imapStoreSeen(server);
      const stored = await ws.next();
      const afterStore = await emailState(client);
      assertEquals(stored.changed[client.accountId], { Email: afterStore, Mailbox: afterStore });
      assertEquals(stored.pushState, afterStore);

      // Requests still work while push is on.
      ws.send({ "@type": "Request", id: "R4", using: USING, methodCalls: [] });
      assertEquals((await ws.next()).requestId, "R4");

      // Off; a change is missed; on again with the last pushState: the server reports it.
      ws.send({ "@type": "WebSocketPushDisable" });
      const missed = await createMailbox(client, "Missed");
      ws.send({ "@type": "WebSocketPushEnable", dataTypes: ["Mailbox"], pushState: afterStore });
      const resumed = await ws.next();
      assertEquals(resumed["@type"], "StateChange");
      assertEquals(resumed.changed[client.accountId], { Mailbox: missed });
      assertEquals(resumed.pushState, missed);
    } finally {
      await ws.close();
    }
  });
});

/** A push endpoint the server POSTs to: every body, by path. */
function pushEndpoint() {
  const received: { path: string; body: any; ttl: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    received.push({
      path: new URL(request.url).pathname,
      body: await request.json(),
      ttl: request.headers.get("ttl"),
    });
    return new Response(null, { status: 201 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    at: (path: string) => received.filter((post) => post.path === path),
    close: () => server.shutdown(),
  };
}

Deno.test("jmap push: PushSubscription verification, StateChange POSTs only when verified", async () => {
  const endpoint = pushEndpoint();
  try {
    await withServer(async (server) => {
      const client = await jmapClient(server);
      const set = (args: Record<string, unknown>) =>
        client.call([["PushSubscription/set", args, "0"]]).then(([[, result]]) => result);
      const created = await set({
        create: {
          a: {
            deviceClientId: "device-a",
            url: `${endpoint.url}/a`,
            types: ["Mailbox", "Email"],
          },
          b: { deviceClientId: "device-b", url: `${endpoint.url}/b` },
          http: { deviceClientId: "device-c", url: "http://push.example.com/x" },
          keyed: {
            deviceClientId: "device-d",
            url: `${endpoint.url}/d`,
            keys: { p256dh: "AAAA", auth: "BBBB" },
          },
          late: {
            deviceClientId: "device-e",
            url: `${endpoint.url}/e`,
            expires: "2999-01-01T00:00:00Z",
          },
        },
      });
      const a = created.created.a.id;
      const b = created.created.b.id;
      assertEquals(created.notCreated.http.type, "invalidProperties");
      assertEquals(created.notCreated.http.properties, ["url"]);
      assertEquals(created.notCreated.keyed.properties, ["keys"]);
      // The server caps expires (RFC 8620 7.2) and says so in created.
      assert(created.created.late.expires < "2999-01-01T00:00:00Z", JSON.stringify(created));

      const verification = await waitFor(() => endpoint.at("/a")[0], "the PushVerification");
      assertEquals(verification.body["@type"], "PushVerification");
      assertEquals(verification.body.pushSubscriptionId, a);
      const code = verification.body.verificationCode;
      assert(typeof code === "string" && code.length > 0);
      assertEquals(typeof verification.ttl, "string");
      await waitFor(() => endpoint.at("/b")[0], "b's PushVerification");

      const wrong = await set({ update: { [a]: { verificationCode: `${code}x` } } });
      assertEquals(wrong.notUpdated[a].type, "invalidProperties");
      assertEquals(wrong.notUpdated[a].properties, ["verificationCode"]);
      const immutable = await set({ update: { [a]: { url: `${endpoint.url}/other` } } });
      assertEquals(immutable.notUpdated[a].properties, ["url"]);
      const right = await set({ update: { [a]: { verificationCode: code } } });
      assertEquals(right.updated, { [a]: null });

      const [[, got]] = await client.call([["PushSubscription/get", { ids: [a, "O999"] }, "0"]]);
      assertEquals(got.notFound, ["O999"]);
      assertEquals(got.list[0].id, a);
      assertEquals(got.list[0].verificationCode, code);
      assertEquals(got.list[0].types, ["Mailbox", "Email"]);
      assert(!("url" in got.list[0]) && !("keys" in got.list[0]), "url and keys stay private");
      const [[name, forbidden]] = await client.call([
        ["PushSubscription/get", { properties: ["url"] }, "0"],
      ]);
      assertEquals([name, forbidden.type], ["error", "forbidden"]);

      const afterMailbox = await createMailbox(client, "Pushed");
      const firstChange = await waitFor(
        () => endpoint.at("/a").find((post) => post.body["@type"] === "StateChange"),
        "a StateChange POST",
      );
      assertEquals(firstChange.body.changed[client.accountId], {
        Mailbox: afterMailbox,
        Email: afterMailbox,
      });

      await deliverMany(server, server.admin!.address, 1);
      const changes = await waitFor(() => {
        const posts = endpoint.at("/a").filter((post) => post.body["@type"] === "StateChange");
        return posts.length >= 2 ? posts : undefined;
      }, "a second StateChange POST");
      const afterDelivery = await emailState(client);
      assertEquals(changes[1].body.changed[client.accountId].Email, afterDelivery);

      // The unverified subscription got its verification and nothing after it.
      assertEquals(endpoint.at("/b").map((post) => post.body["@type"]), ["PushVerification"]);

      const destroyed = await set({ destroy: [a, b, "O999"] });
      assertEquals(destroyed.destroyed, [a, b]);
      assertEquals(destroyed.notDestroyed.O999.type, "notFound");
    });
  } finally {
    await endpoint.close();
  }
});
