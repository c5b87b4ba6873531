/**
 * The outbound queue of the real server process: submission to a remote domain delivered by MX
 * lookup (test DNS) to scripted peers that answer 4xx then 2xx, 5xx, or nothing at all; DSNs
 * (RFC 3464) back to the local sender; no bounce for a bounce; `postern queue` commands; and
 * kill -9 in the middle of deliveries (each recipient exactly once).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer, type TestDnsServer } from "../helpers/dns_server.ts";
import { type SmtpPeer, startSmtpPeer } from "../helpers/smtp_peer.ts";
import { cliAll, messagesOf, submit } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";
import { parseMime } from "../../src/mail/mime.ts";

const ALICE = { user: "alice@example.com", password: "pw-alice" };

function zoneFor(peer: SmtpPeer) {
  return {
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: [peer.host] },
    "nomx.test": {},
  };
}

interface Setup {
  server: TestServer;
  dns: TestDnsServer;
  stop(): Promise<void>;
}

async function sender(
  peer: SmtpPeer,
  queue: Record<string, string | number | string[]>,
): Promise<Setup> {
  const dns = await startDnsServer(zoneFor(peer));
  const settings = {
    remote_port: peer.port,
    retry: ["1s"],
    reply_timeout: "2s",
    connect_timeout: "2s",
    mta_sts: false,
    ...queue,
  };
  const extra = "[queue]\n" +
    Object.entries(settings).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const server = await startServer({ dns: `${dns.host}:${dns.port}`, extra });
  await cliAll(server, [
    ["account", "add", ALICE.user, "--password", ALICE.password],
    ["alias", "add", "fwd@example.com", "someone@remote.test"],
  ]);
  return {
    server,
    dns,
    async stop() {
      await server.stop();
      await dns.close();
    },
  };
}

function message(subject: string, from = ALICE.user, to = "bob@remote.test"): string {
  return `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.leading dot\r\n`;
}

async function queueList(server: TestServer): Promise<string> {
  const result = await cli(server.configPath, ["queue", "list"]);
  assertEquals(result.code, 0, result.stderr);
  return result.stdout;
}

/** Waits until `postern queue list` reports an empty queue (removal follows the last log line). */
async function queueDrained(server: TestServer): Promise<void> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    last = await queueList(server);
    if (/the queue is empty/.test(last)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the queue did not drain:\n${last}`);
}

/** The DSNs in alice's mailbox, parsed: content type and the delivery-status part's text. */
function dsnsOf(server: TestServer): { raw: string; status: string }[] {
  return messagesOf(server, ALICE.user).filter((raw) => raw.includes("multipart/report")).map(
    (raw) => {
      const bytes = new TextEncoder().encode(raw);
      const root = parseMime(bytes, { maxHeaderSize: 1 << 20, maxDepth: 10, maxParts: 100 });
      const part = root.parts.find((p) => /delivery-status/.test(`${p.type}/${p.subtype}`));
      assert(part, `no delivery-status part in\n${raw}`);
      const status = new TextDecoder().decode(bytes.subarray(part.bodyStart, part.bodyEnd));
      return { raw, status };
    },
  );
}

Deno.test("queue: submission to a remote domain is delivered by MX, signed, once", async () => {
  const peer = await startSmtpPeer({ ehlo: ["DSN", "SIZE 1000000"] });
  const { server, stop } = await sender(peer, {});
  try {
    const answer = await submit(server, ALICE, {
      from: ALICE.user,
      to: ["bob@remote.test"],
      rcptParams: " NOTIFY=FAILURE ORCPT=rfc822;bob@remote.test",
      mailParams: " ENVID=env+2B1",
    }, message("remote"));
    assertMatch(answer, /^250 2\.0\.0/);
    await eventually(() => peer.accepted.length === 1, "delivery to the peer");
    const sent = peer.accepted[0];
    assertEquals(sent.from, ALICE.user);
    assertEquals(sent.recipients, ["bob@remote.test"]);
    assertMatch(sent.mailParams, /ENVID=env\+2B1/);
    assertMatch(sent.rcptParams[0], /NOTIFY=FAILURE ORCPT=rfc822;bob@remote\.test/);
    assertMatch(sent.data, /^DKIM-Signature: /m);
    assertMatch(sent.data, /^Received: from client\.test/m);
    assert(!/^Return-Path:/m.test(sent.data), "Return-Path is the final MTA's to add");
    assert(sent.data.includes("\r\n.leading dot\r\n"), "dot-stuffing undone by the peer");
    await eventually(() => server.logs.some((l) => l.includes('"msg":"delivered"')), "log");
    await queueDrained(server);
    assertEquals(peer.accepted.length, 1);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: 4xx then 2xx is delivered once, after the retry", async () => {
  const peer = await startSmtpPeer({
    rcpt: (_, attempt) => attempt === 1 ? "451 4.7.1 greylisted, come back later" : "250 ok",
  });
  const { server, stop } = await sender(peer, {});
  try {
    assertMatch(
      await submit(server, ALICE, { from: ALICE.user, to: ["bob@remote.test"] }, message("grey")),
      /^250/,
    );
    await eventually(() => peer.accepted.length === 1, "delivery after the retry", 10_000);
    const rcpts = peer.commands.filter((c) => c.startsWith("RCPT"));
    assertEquals(rcpts.length, 2);
    await eventually(() => server.logs.some((l) => l.includes('"msg":"delivered"')), "log");
    await new Promise((r) => setTimeout(r, 1500));
    assertEquals(peer.accepted.length, 1);
    assertEquals(dsnsOf(server).length, 0);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: 5xx fails the recipient and the sender gets a multipart/report DSN", async () => {
  const peer = await startSmtpPeer({
    rcpt: (address) =>
      address.startsWith("nobody") ? "550 5.1.1 <nobody@remote.test>: no such user" : "250 ok",
  });
  const { server, stop } = await sender(peer, {});
  try {
    const answer = await submit(server, ALICE, {
      from: ALICE.user,
      to: ["nobody@remote.test", "bob@remote.test"],
    }, message("partly"));
    assertMatch(answer, /^250/);
    await eventually(() => dsnsOf(server).length === 1, "the DSN", 10_000);
    assertEquals(peer.accepted.length, 1);
    assertEquals(peer.accepted[0].recipients, ["bob@remote.test"]);
    const [{ raw, status }] = dsnsOf(server);
    assertMatch(raw, /^Return-Path: <>\r\n/);
    assertMatch(raw, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
    assertMatch(raw, /^Auto-Submitted: auto-replied/m);
    assertMatch(status, /Reporting-MTA: dns; ?mail\.example\.com/);
    assertMatch(status, /Final-Recipient: rfc822; ?nobody@remote\.test/);
    assertMatch(status, /Action: failed/);
    assertMatch(status, /Status: 5\.1\.1/);
    assertMatch(status, /Remote-MTA: dns; ?mx\.remote\.test/);
    assertMatch(status, /Diagnostic-Code: smtp; ?550 5\.1\.1 <nobody@remote\.test>: no such user/);
    assert(!status.includes("bob@remote.test"), "only the failed recipient is reported");
    assertMatch(raw, /Subject: partly/); // the original's header comes back
    await queueDrained(server);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: unknown domain and null MX fail at once with a DSN", async () => {
  const peer = await startSmtpPeer({});
  const { server, dns, stop } = await sender(peer, {});
  try {
    dns.setZone({
      ...zoneFor(peer),
      "nullmx.test": { MX: [{ exchange: ".", preference: 0 }] },
    });
    assertMatch(
      await submit(
        server,
        ALICE,
        { from: ALICE.user, to: ["x@nullmx.test", "y@nowhere.test"] },
        message("nowhere"),
      ),
      /^250/,
    );
    await eventually(() => dsnsOf(server).length === 2, "two DSNs", 10_000);
    const all = dsnsOf(server).map((d) => d.status).join("\n");
    assertMatch(all, /Final-Recipient: rfc822; ?x@nullmx\.test[\s\S]*Status: 5\.1\.10/);
    assertMatch(all, /Final-Recipient: rfc822; ?y@nowhere\.test[\s\S]*Status: 5\.1\.2/);
    assertEquals(peer.connections, 0);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: a host that never answers: delay notice, then expiry and a DSN", async () => {
  const peer = await startSmtpPeer({ greeting: null });
  const { server, stop } = await sender(peer, {
    reply_timeout: "1s",
    expire: "4s",
    delay_notice: "1s",
  });
  try {
    assertMatch(
      await submit(server, ALICE, { from: ALICE.user, to: ["bob@remote.test"] }, message("silent")),
      /^250/,
    );
    await eventually(
      () => dsnsOf(server).some((d) => /Action: failed/.test(d.status)),
      "the failure DSN",
      20_000,
    );
    const dsns = dsnsOf(server);
    const delayed = dsns.filter((d) => /Action: delayed/.test(d.status));
    assertEquals(delayed.length, 1, "exactly one delay notice");
    assertMatch(delayed[0].status, /Will-Retry-Until: /);
    const failed = dsns.find((d) => /Action: failed/.test(d.status))!;
    assertMatch(failed.status, /Status: 5\.4\.7/);
    assertMatch(failed.status, /Diagnostic-Code: smtp; ?554 5\.4\.7 gave up after/);
    assert(peer.connections >= 2, `retried: ${peer.connections} connections`);
    await queueDrained(server);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: no bounce for a bounce (null sender)", async () => {
  const peer = await startSmtpPeer({ rcpt: () => "550 5.1.1 no such user" });
  const { server, stop } = await sender(peer, {});
  try {
    // Port 25: a bounce (MAIL FROM:<>) to a local alias that forwards to remote.test.
    const { LineClient } = await import("../helpers/tls.ts");
    const { readReply, send } = await import("../helpers/mail.ts");
    const client = await LineClient.connect(server.ports.smtp);
    await readReply(client);
    await send(client, "EHLO peer.test");
    assertMatch(await send(client, "MAIL FROM:<>"), /^250/);
    assertMatch(await send(client, "RCPT TO:<fwd@example.com>"), /^250/);
    assertMatch(await send(client, "DATA"), /^354/);
    assertMatch(await send(client, "Subject: bounce\r\n\r\nbody\r\n."), /^250/);
    await client.close();
    await eventually(
      () => server.logs.some((l) => l.includes('"msg":"failed"')),
      "the failed attempt",
      10_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    await queueDrained(server);
    assertEquals(dsnsOf(server).length, 0);
    assert(!server.logs.some((l) => l.includes('"source":"dsn"')), "no DSN was queued");
    // The forward kept the alias as ORCPT and the null sender.
    assertEquals(peer.commands.find((c) => c.startsWith("MAIL")), "MAIL FROM:<>");
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: postern queue list, show, retry, delete", async () => {
  const peer = await startSmtpPeer({ rcpt: () => "452 4.2.2 mailbox full" });
  const { server, stop } = await sender(peer, { retry: ["1h"] });
  try {
    assertMatch(
      await submit(server, ALICE, { from: ALICE.user, to: ["bob@remote.test"] }, message("full")),
      /^250/,
    );
    await eventually(() => peer.commands.some((c) => c.startsWith("RCPT")), "first attempt");
    await eventually(() => server.logs.some((l) => l.includes('"msg":"deferred"')), "deferral");
    const list = await queueList(server);
    assertMatch(list, /^ID\s+ARRIVED \(UTC\)\s+SIZE\s+FROM\s+RECIPIENTS\s+NEXT ATTEMPT$/m);
    const id = /^(\d+)\s/m.exec(list.split("\n").slice(1).join("\n"))?.[1];
    assert(id, list);
    assertMatch(list, /alice@example\.com\s+bob@remote\.test/);

    const show = await cli(server.configPath, ["queue", "show", id]);
    assertEquals(show.code, 0, show.stderr);
    assertMatch(show.stdout, /recipient:\s+bob@remote\.test\s+queued, 1 attempt\(s\), next /);
    assertMatch(show.stdout, /last:\s+452 4\.2\.2 mailbox full \(mx\.remote\.test\)/);

    const retry = await cli(server.configPath, ["queue", "retry", id]);
    assertEquals(retry.code, 0, retry.stderr);
    assertMatch(retry.stdout, /^1 recipient\(s\) due now$/m);
    await eventually(
      () => peer.commands.filter((c) => c.startsWith("RCPT")).length === 2,
      "the retry",
    );

    const missing = await cli(server.configPath, ["queue", "show", "999"]);
    assertEquals(missing.code, 1);
    assertMatch(missing.stderr, /no queued message 999/);
    const bad = await cli(server.configPath, ["queue", "delete", "x"]);
    assertEquals(bad.code, 2);

    await eventually(
      () => server.logs.filter((l) => l.includes('"msg":"deferred"')).length === 2,
      "",
    );
    const deleted = await cli(server.configPath, ["queue", "delete", id]);
    assertEquals(deleted.code, 0, deleted.stderr);
    await queueDrained(server);
    assertEquals(dsnsOf(server).length, 0, "delete notifies nobody");
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: kill -9 mid-delivery; after restart each recipient is delivered exactly once", async () => {
  let release: ((reply: string) => void) | null = null;
  const peer = await startSmtpPeer({
    // The third message's end-of-data reply is held until the sender has been killed.
    data: (_, count) =>
      count === 2 ? new Promise<string>((resolve) => release = resolve) : "250 2.0.0 ok",
  });
  const setup = await sender(peer, { concurrency: 1 });
  const { server, dns } = setup;
  let restarted: TestServer | null = null;
  try {
    for (let i = 0; i < 5; i++) {
      assertMatch(
        await submit(
          server,
          ALICE,
          { from: ALICE.user, to: [`r${i}@remote.test`] },
          message(`m${i}`),
        ),
        /^250/,
      );
    }
    await eventually(() => release !== null, "the held delivery", 10_000);
    await server.kill();
    release!("451 4.3.0 connection lost"); // the sender never saw a 250 for it
    assertEquals(peer.accepted.length, 2);

    restarted = await startServer({
      dir: server.dir,
      configPath: server.configPath,
    });
    await eventually(() => peer.accepted.length === 5, "the other three after restart", 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const subjects = peer.accepted.map((m) => /Subject: (m\d)/.exec(m.data)?.[1]).sort();
    assertEquals(subjects, ["m0", "m1", "m2", "m3", "m4"]);
    await queueDrained(restarted);
  } finally {
    await restarted?.stop();
    await server.stop();
    await dns.close();
    await peer.close();
  }
});

Deno.test("queue: a relay host takes everything, with AUTH", async () => {
  const peer = await startSmtpPeer({ auth: { username: "postern", password: "s3cret" } });
  const { server, stop } = await sender(peer, {
    relay_host: `127.0.0.1:${peer.port}`,
    relay_tls: "none",
    relay_username: "postern",
    relay_password: "s3cret",
  });
  try {
    // No DNS for anywhere.test: only the relay host is asked.
    assertMatch(
      await submit(
        server,
        ALICE,
        { from: ALICE.user, to: ["someone@anywhere.test"] },
        message("relayed", ALICE.user, "someone@anywhere.test"),
      ),
      /^250/,
    );
    await eventually(() => peer.accepted.length === 1, "delivery through the relay", 10_000);
    assertEquals(peer.accepted[0].recipients, ["someone@anywhere.test"]);
    assert(peer.commands.some((c) => c.startsWith("AUTH PLAIN ")), peer.commands.join("\n"));
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: a relay host refusing our credentials keeps the message queued", async () => {
  const peer = await startSmtpPeer({ auth: { username: "postern", password: "right" } });
  const { server, stop } = await sender(peer, {
    relay_host: `127.0.0.1:${peer.port}`,
    relay_tls: "none",
    relay_username: "postern",
    relay_password: "wrong",
    retry: ["1h"],
  });
  try {
    assertMatch(
      await submit(server, ALICE, { from: ALICE.user, to: ["x@anywhere.test"] }, message("auth")),
      /^250/,
    );
    await eventually(() => server.logs.some((l) => l.includes('"msg":"deferred"')), "deferral");
    assertEquals(peer.accepted.length, 0);
    const show = await cli(server.configPath, ["queue", "show", "1"]);
    assertMatch(show.stdout, /queued, 1 attempt\(s\)/);
    assertMatch(show.stdout, /last:\s+535 5\.7\.8 bad credentials/);
    assertEquals(dsnsOf(server).length, 0);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: SMTPUTF8 mail to a host without SMTPUTF8 is returned (5.6.7), not downgraded", async () => {
  const peer = await startSmtpPeer({});
  const { server, stop } = await sender(peer, {});
  try {
    assertMatch(
      await submit(
        server,
        ALICE,
        { from: ALICE.user, to: ["jörg@remote.test"], mailParams: " SMTPUTF8" },
        "From: <alice@example.com>\r\nTo: <jörg@remote.test>\r\nSubject: grüße\r\n\r\nHallo.\r\n",
      ),
      /^250/,
    );
    await eventually(() => dsnsOf(server).length === 1, "the DSN", 10_000);
    assertMatch(dsnsOf(server)[0].status, /Status: 5\.6\.7/);
    assertEquals(peer.accepted.length, 0);
    assert(!peer.commands.some((c) => c.startsWith("MAIL")), "nothing was offered to the host");
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("inbound DSN: NOTIFY=SUCCESS gets a delivered report; NOTIFY=NEVER none", async () => {
  const peer = await startSmtpPeer({});
  const { server, stop } = await sender(peer, {});
  try {
    await cliAll(server, [
      ["account", "add", "carol@example.com", "--password", "pw", "--quota", "1"],
    ]);
    const { LineClient } = await import("../helpers/tls.ts");
    const { readReply, send } = await import("../helpers/mail.ts");
    const client = await LineClient.connect(server.ports.smtp);
    await readReply(client);
    assertMatch(await send(client, "EHLO peer.test"), /^250-DSN$/m);
    // alice is the envelope sender: the reports come back to her mailbox.
    assertMatch(await send(client, `MAIL FROM:<${ALICE.user}> RET=HDRS ENVID=QQ+2B1`), /^250/);
    assertMatch(
      await send(
        client,
        "RCPT TO:<admin@example.com> NOTIFY=SUCCESS ORCPT=rfc822;Ad+2B2Bmin@Example.com",
      ),
      /^250/,
    );
    assertMatch(await send(client, "RCPT TO:<carol@example.com> NOTIFY=NEVER"), /^250/);
    assertMatch(await send(client, "DATA"), /^354/);
    assertMatch(await send(client, "Subject: dsn\r\n\r\nbody\r\n."), /^250/);
    await client.close();
    await eventually(() => dsnsOf(server).length === 1, "the success DSN", 10_000);
    const [{ status }] = dsnsOf(server);
    assertMatch(status, /Original-Envelope-Id: QQ\+1/);
    // xtext is decoded once: "+2B2B" is the address "Ad+2Bmin" (a double decode would give "Ad+min").
    assertMatch(status, /Original-Recipient: rfc822; ?Ad\+2Bmin@Example\.com/);
    assertMatch(status, /Final-Recipient: rfc822; ?admin@example\.com/);
    assertMatch(status, /Action: delivered/);
    assertMatch(status, /Status: 2\.0\.0/);
    // carol is over quota (1 byte) and asked for no report.
    await new Promise((r) => setTimeout(r, 500));
    assertEquals(messagesOf(server, "carol@example.com").length, 0, "carol is over quota");
    assertEquals(dsnsOf(server).length, 1);
    assert(!status.includes("carol"), status);
  } finally {
    await stop();
    await peer.close();
  }
});

Deno.test("queue: MX hosts are tried in preference order; a dead first host passes to the next", async () => {
  const peer = await startSmtpPeer({});
  const { server, dns, stop } = await sender(peer, {});
  try {
    dns.setZone({
      ...zoneFor(peer),
      "multi.test": {
        MX: [
          { exchange: "backup.multi.test", preference: 20 },
          { exchange: "primary.multi.test", preference: 10 },
        ],
      },
      // Nothing listens on the peer's port at 127.0.0.9: the connection is refused.
      "primary.multi.test": { A: ["127.0.0.9"] },
      "backup.multi.test": { A: [peer.host] },
    });
    assertMatch(
      await submit(server, ALICE, { from: ALICE.user, to: ["x@multi.test"] }, message("mx")),
      /^250/,
    );
    await eventually(() => peer.accepted.length === 1, "delivery to the backup MX", 10_000);
    // The log line follows the host's 250 (the outcome is recorded first).
    await eventually(() => server.logs.some((l) => l.includes('"msg":"delivered"')), "the log");
    const failed = server.logs.find((l) => l.includes('"msg":"host failed"'));
    assert(failed?.includes("primary.multi.test"), failed);
    const delivered = server.logs.find((l) => l.includes('"msg":"delivered"'));
    assertMatch(delivered ?? "", /"host":"backup\.multi\.test"/);
  } finally {
    await stop();
    await peer.close();
  }
});
