/**
 * GET /metrics on the real server, read as Prometheus reads it (tests/helpers/prometheus.ts):
 * the counters move by exactly what real SMTP, IMAP and POP3 clients did, and the endpoint lets
 * in only allowed networks or the configured bearer token.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type MetricFamily, parsePrometheus, sampleValue } from "../helpers/prometheus.ts";
import { startServer, type TestServer, withServer } from "../helpers/server.ts";
import { cliAll, deliverMany, messagesOf, submit } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";
import { startSmtpPeer } from "../helpers/smtp_peer.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { caOf, Pop3Client } from "./pop3_helpers.ts";
import { admin, api } from "../helpers/api.ts";

const ALICE = "alice@example.com";
const PASSWORD = "pw-alice";

type Scrape = Map<string, MetricFamily>;

async function scrape(server: TestServer, headers: HeadersInit = {}): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`, { headers });
  const text = await response.text();
  assertEquals(response.status, 200, text);
  assertEquals(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(text);
}

/** How much each sample moved between two scrapes. */
function moved(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) {
  return sampleValue(after, name, labels) - sampleValue(before, name, labels);
}

async function until(server: TestServer, done: (s: Scrape) => boolean, what: string) {
  for (let i = 0; i < 1000; i++) {
    const current = await scrape(server);
    if (done(current)) return current;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`metrics never showed ${what}`);
}

async function imapCommand(client: LineClient, tag: string, command: string): Promise<string> {
  await client.write(`${tag} ${command}\r\n`);
  const lines = await client.readUntil((line) => line.startsWith(`${tag} `));
  return lines.at(-1)!;
}

Deno.test("counters move by what clients did: connections, logins, messages, verdicts", async () => {
  const peer = await startSmtpPeer({
    rcpt: (address) => address.startsWith("nobody@") ? "550 5.1.1 No such user" : "250 2.1.5 ok",
  });
  const dns = await startDnsServer({
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: [peer.host] },
  });
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: ["[queue]", `remote_port = ${peer.port}`, `retry = ["1s"]`, "mta_sts = false"]
      .join("\n"),
  });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", PASSWORD]]);
    const before = await scrape(server);
    const families = [...before.keys()];
    for (
      const name of [
        "postern_connections_accepted_total",
        "postern_connections_open",
        "postern_authentications_total",
        "postern_messages_received_total",
        "postern_messages_delivered_total",
        "postern_messages_queued_total",
        "postern_messages_bounced_total",
        "postern_spam_verdicts_total",
        "postern_store_transaction_seconds",
        "postern_process_resident_memory_bytes",
        "postern_uptime_seconds",
        "postern_build_info",
      ]
    ) assert(families.includes(name), `${name} in ${families.join(", ")}`);
    assert(sampleValue(before, "postern_process_resident_memory_bytes") > 1_000_000);
    // Relayed by a reverse proxy on this machine: the proxy's loopback address does not count.
    const relayed = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`, {
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    await relayed.body?.cancel();
    assertEquals(relayed.status, 403);

    // Mail from another server, on port 25.
    await deliverMany(server, ALICE, 1);
    // IMAP over implicit TLS: a wrong password, then the right one.
    const imap = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await caOf(server) },
    });
    await imap.readLine();
    assertMatch(await imapCommand(imap, "a1", `LOGIN ${ALICE} wrong`), /^a1 NO /);
    assertMatch(await imapCommand(imap, "a2", `LOGIN ${ALICE} ${PASSWORD}`), /^a2 OK /);
    await imapCommand(imap, "a3", "LOGOUT");
    await imap.close();
    // POP3 over implicit TLS: the same.
    const pop3 = await Pop3Client.tls(server);
    assertEquals(await pop3.send(`USER ${ALICE}`), "+OK");
    assertMatch(await pop3.send("PASS wrong"), /^-ERR /);
    assertEquals(await pop3.send(`USER ${ALICE}`), "+OK");
    assertMatch(await pop3.send(`PASS ${PASSWORD}`), /^\+OK Logged in/);
    await pop3.send("QUIT");
    await pop3.line.close();
    // Submission to a remote domain: one recipient accepted there, one refused (a bounce, whose
    // DSN is queued and delivered to alice).
    const reply = await submit(
      server,
      { user: ALICE, password: PASSWORD },
      { from: ALICE, to: ["bob@remote.test", "nobody@remote.test"] },
      `From: ${ALICE}\r\nTo: bob@remote.test\r\nSubject: out\r\n\r\nHello.\r\n`,
    );
    assertMatch(reply, /^250 /);

    const after = await until(
      server,
      (s) =>
        moved(before, s, "postern_messages_delivered_total", { destination: "local" }) === 2 &&
        moved(before, s, "postern_messages_bounced_total") === 1 &&
        ["smtp", "imaps", "pop3s", "submission"].every((service) =>
          moved(before, s, "postern_connections_open", { service }) === 0
        ),
      "the queue done and every connection closed",
    );
    assertEquals(peer.accepted.length, 1);
    assert(messagesOf(server, ALICE).some((m) => m.includes("nobody@remote.test")));

    const accepted = (service: string) =>
      moved(before, after, "postern_connections_accepted_total", { service });
    assertEquals(
      ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve"]
        .map((service) => [service, accepted(service)]),
      [
        ["smtp", 1],
        ["submission", 1],
        ["submissions", 0],
        ["imap", 0],
        ["imaps", 1],
        ["pop3", 0],
        ["pop3s", 1],
        ["managesieve", 0],
      ],
    );
    const logins = (protocol: string, result: string) =>
      moved(before, after, "postern_authentications_total", { protocol, result });
    assertEquals(
      [logins("imap", "ok"), logins("imap", "failed"), logins("pop3", "ok")],
      [1, 1, 1],
    );
    assertEquals(
      [logins("pop3", "failed"), logins("submission", "ok"), logins("submission", "failed")],
      [1, 1, 0],
    );
    assertEquals(
      [
        moved(before, after, "postern_messages_received_total", { source: "mx" }),
        moved(before, after, "postern_messages_received_total", { source: "submission" }),
        moved(before, after, "postern_messages_delivered_total", { destination: "remote" }),
        // The submitted message and the DSN about its refused recipient.
        moved(before, after, "postern_messages_queued_total"),
        moved(before, after, "postern_messages_deferred_total"),
      ],
      [1, 1, 1, 2, 0],
    );
    // Only the message from port 25 is scored; it was delivered, and its stored header fields
    // tell which verdict it got.
    const verdict = (name: string) =>
      moved(before, after, "postern_spam_verdicts_total", { verdict: name });
    const inbound = messagesOf(server, ALICE).find((m) => m.includes("Subject: message 0"))!;
    const flagged = /^X-Spam-Status: (Yes|No)/m.exec(inbound)?.[1];
    assertEquals(
      { ham: verdict("ham"), junk: verdict("junk"), reject: verdict("reject") },
      { ham: flagged === "No" ? 1 : 0, junk: flagged === "Yes" ? 1 : 0, reject: 0 },
    );
    assert(
      moved(before, after, "postern_store_transaction_seconds_count", { durability: "full" }) >= 3,
    );
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
});

Deno.test("with allow = [] a token is required: none 401, wrong 401, right 200", async () => {
  const token = "metrics-token-7f3a9c";
  await withServer(async (server) => {
    const url = `http://127.0.0.1:${server.ports.http}/metrics`;
    const none = await fetch(url);
    await none.body?.cancel();
    assertEquals(none.status, 401);
    assertEquals(none.headers.get("www-authenticate"), 'Bearer realm="metrics"');
    for (
      const authorization of [`Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`]
    ) {
      const wrong = await fetch(url, { headers: { authorization } });
      await wrong.body?.cancel();
      assertEquals(wrong.status, 401, authorization);
      assertMatch(wrong.headers.get("www-authenticate") ?? "", /^Bearer realm="metrics"/);
    }
    const right = await scrape(server, { authorization: `Bearer ${token}` });
    assertEquals(sampleValue(right, "postern_messages_queued_total"), 0);
    // The https listener answers the same.
    const client = Deno.createHttpClient({ caCerts: [await caOf(server)] });
    try {
      const secure = await fetch(`https://localhost:${server.ports.https}/metrics`, {
        client,
        headers: { authorization: `Bearer ${token}` },
      });
      assertEquals(secure.status, 200);
      parsePrometheus(await secure.text());
    } finally {
      client.close();
    }
  }, { extra: `[metrics]\ntoken = "${token}"\nallow = []` });
});

Deno.test("outside the allowed networks and with no token set, /metrics is 403; disabled, 404", async () => {
  await withServer(async (server) => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`, {
      headers: { authorization: "Bearer anything" },
    });
    await response.body?.cancel();
    assertEquals(response.status, 403);
  }, { extra: `[metrics]\nallow = ["192.0.2.0/24", "2001:db8::/32"]` });
  await withServer(async (server) => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`);
    await response.body?.cancel();
    assertEquals(response.status, 404);
  }, { extra: `[metrics]\nenabled = false` });
});

Deno.test("[metrics] token, allow and enabled change through the settings API at once; the queue size is exported", async () => {
  // A remote domain whose mail exchanger refuses connections: the message stays queued.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const dns = await startDnsServer({
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: ["127.0.0.1"] },
  });
  const first = "first-metrics-token";
  const second = "second-metrics-token";
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: [
      "[queue]",
      `remote_port = ${closedPort}`,
      `retry = ["1h"]`,
      "mta_sts = false",
      "[metrics]",
      `token = "${first}"`,
      "allow = []",
    ].join("\n"),
  });
  const status = async (headers: HeadersInit = {}) => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`, { headers });
    await response.body?.cancel();
    return response.status;
  };
  const settings = async (values: Record<string, unknown>) => {
    const call = await api(server, admin(server), "PATCH", "/api/settings", { json: { values } });
    assertEquals(call.status, 200, JSON.stringify(call.body));
    assertEquals(call.body.restart_required, []);
  };
  try {
    assertEquals(await status({ authorization: `Bearer ${first}` }), 200);
    await settings({ "metrics.token": second });
    assertEquals(await status({ authorization: `Bearer ${first}` }), 401);
    assertEquals(await status({ authorization: `Bearer ${second}` }), 200);
    await settings({ "metrics.allow": ["127.0.0.0/8"] });
    assertEquals(await status(), 200);

    await cliAll(server, [["account", "add", ALICE, "--password", PASSWORD]]);
    const empty = await scrape(server);
    assertEquals(sampleValue(empty, "postern_queue_messages"), 0);
    const reply = await submit(
      server,
      { user: ALICE, password: PASSWORD },
      { from: ALICE, to: ["bob@remote.test", "carol@remote.test"] },
      `From: ${ALICE}\r\nTo: bob@remote.test\r\nSubject: waits\r\n\r\nHello.\r\n`,
    );
    assertMatch(reply, /^250 /);
    const waiting = await until(
      server,
      (s) => sampleValue(s, "postern_messages_deferred_total") >= 1,
      "the message deferred",
    );
    assertEquals(sampleValue(waiting, "postern_queue_messages"), 1);
    assertEquals(sampleValue(waiting, "postern_queue_recipients"), 2);

    await settings({ "metrics.enabled": false });
    assertEquals(await status(), 404);
  } finally {
    await server.stop();
    await dns.close();
  }
});
