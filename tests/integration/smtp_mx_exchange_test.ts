/**
 * Two Postern servers exchange mail the way two Internet hosts do: a.test's server on
 * 127.0.0.2:25 and b.test's on 127.0.0.3:25, both asking one test DNS server that serves what
 * `postern domain dns` told each domain's owner to publish (MX, SPF, both DKIM keys, DMARC) plus
 * the PTR records. A message submitted at a.test is found by MX lookup, signed, sent from
 * 127.0.0.2, and b.test's Authentication-Results shows spf, dkim (both keys), dmarc and iprev
 * passing. A reply goes back the other way.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer, type Zone } from "../helpers/dns_server.ts";
import { cliAll, messagesOf, readReply, send, submit } from "../helpers/mail.ts";
import { eventually, LineClient } from "../helpers/tls.ts";

/** The TXT records of `postern domain dns` output, as zone entries. */
async function publishedRecords(server: TestServer, domain: string): Promise<Zone> {
  const result = await cli(server.configPath, ["domain", "dns", domain]);
  assertEquals(result.code, 0, result.stderr);
  const zone: Zone = {};
  for (const line of result.stdout.split("\n")) {
    const [name, , , type, value] = line.split("\t");
    if (type !== "TXT") continue;
    const text = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join("");
    const key = name.replace(/\.$/, "");
    zone[key] = { TXT: [...(zone[key]?.TXT ?? []), text] };
  }
  return zone;
}

function serverFor(host: string, ip: string, dns: string): Promise<TestServer> {
  return startServer({
    hostname: host,
    dns,
    listeners: { smtp: `${ip}:25` },
    extra: `[queue]\nsource_address = "${ip}"\nretry = ["1s"]\nreply_timeout = "5s"`,
  });
}

Deno.test("two servers exchange mail by MX; spf, dkim (both keys), dmarc and iprev pass", async () => {
  const base: Zone = {
    "a.test": { MX: [{ exchange: "mail.a.test", preference: 10 }] },
    "mail.a.test": { A: ["127.0.0.2"] },
    "b.test": { MX: [{ exchange: "mail.b.test", preference: 10 }] },
    "mail.b.test": { A: ["127.0.0.3"] },
    "2.0.0.127.in-addr.arpa": { PTR: ["mail.a.test"] },
    "3.0.0.127.in-addr.arpa": { PTR: ["mail.b.test"] },
  };
  const dns = await startDnsServer(base);
  const address = `${dns.host}:${dns.port}`;
  const servers: TestServer[] = [];
  try {
    const a = await serverFor("mail.a.test", "127.0.0.2", address);
    servers.push(a);
    const b = await serverFor("mail.b.test", "127.0.0.3", address);
    servers.push(b);
    await cliAll(a, [["account", "add", "alice@a.test", "--password", "pw-alice"]]);
    await cliAll(b, [["account", "add", "bob@b.test", "--password", "pw-bob"]]);
    const records = {
      ...(await publishedRecords(a, "a.test")),
      ...(await publishedRecords(b, "b.test")),
    };
    const merged: Zone = { ...base };
    for (const [name, entry] of Object.entries(records)) {
      merged[name] = { ...merged[name], ...entry };
    }
    dns.setZone(merged);
    assert(merged["a.test"].TXT?.[0]?.startsWith("v=spf1"), "SPF published");
    assertEquals(
      Object.keys(merged).filter((n) => n.endsWith("._domainkey.a.test")).length,
      2,
      "an RSA and an Ed25519 key",
    );

    const answer = await submit(
      a,
      { user: "alice@a.test", password: "pw-alice" },
      { from: "alice@a.test", to: ["bob@b.test"] },
      "From: Alice <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: across\r\n\r\nHi Bob.\r\n",
    );
    assertMatch(answer, /^250 /);
    await eventually(() => messagesOf(b, "bob@b.test").length === 1, "delivery to b.test", 15_000);
    const received = messagesOf(b, "bob@b.test")[0];
    assertMatch(received, /^Return-Path: <alice@a\.test>\r\nDelivered-To: <bob@b\.test>\r\n/);
    assertMatch(
      received,
      /Received: from mail\.a\.test \(mail\.a\.test \[127\.0\.0\.2\]\)\r\n\tby mail\.b\.test with ESMTPS /,
    );
    const results = /^Authentication-Results: mail\.b\.test;[^]*?\r\n(?=\S)/m.exec(received)?.[0];
    assert(results, received);
    assertMatch(results, /spf=pass /);
    assertEquals([...results.matchAll(/dkim=pass /g)].length, 2, results);
    assertMatch(results, /a=rsa-sha256/);
    assertMatch(results, /a=ed25519-sha256/);
    assertMatch(results, /dmarc=pass /);
    assertMatch(results, /iprev=pass policy\.iprev=127\.0\.0\.2 \(mail\.a\.test\)/);
    assertMatch(received, /Subject: across\r\n\r\nHi Bob\.\r\n$/);

    // And back: bob answers, b.test delivers to a.test.
    assertMatch(
      await submit(
        b,
        { user: "bob@b.test", password: "pw-bob" },
        { from: "bob@b.test", to: ["alice@a.test"] },
        "From: <bob@b.test>\r\nTo: <alice@a.test>\r\nSubject: Re: across\r\n\r\nHi.\r\n",
      ),
      /^250 /,
    );
    await eventually(() => messagesOf(a, "alice@a.test").length === 1, "the reply", 15_000);
    assertMatch(messagesOf(a, "alice@a.test")[0], /dmarc=pass /);

    // BINARYMIME (RFC 3030) through a forward: in by BDAT at a.test, out by BDAT to b.test,
    // every octet (NUL, a lone ".") intact; b.test's store keeps CRLF line ends (the message
    // path normalises a bare LF, as IMAP needs).
    await cliAll(a, [["alias", "add", "fwd@a.test", "bob@b.test"]]);
    const body = "Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n" +
      "\u0000\u0001bare\nlf\r\n.\r\nend";
    const payload = new TextEncoder().encode(body);
    const client = await LineClient.connect(25, { host: "127.0.0.2" });
    await readReply(client);
    assertMatch(await send(client, "EHLO relay.test"), /^250-BINARYMIME$/m);
    assertMatch(await send(client, "MAIL FROM:<someone@else.test> BODY=BINARYMIME"), /^250/);
    assertMatch(await send(client, "RCPT TO:<fwd@a.test>"), /^250/);
    await client.write(`BDAT ${payload.length} LAST\r\n`);
    await client.write(payload);
    assertMatch((await readReply(client)).join("\n"), /^250 /);
    await client.close();
    await eventually(() => messagesOf(b, "bob@b.test").length === 2, "the forward", 15_000);
    const forwarded = messagesOf(b, "bob@b.test")[1];
    const stored = body.replace("bare\nlf", "bare\r\nlf");
    assert(forwarded.endsWith(`\r\n${stored}`), JSON.stringify(forwarded.slice(-80)));
    assertMatch(forwarded, /^Return-Path: <someone@else\.test>\r\n/);
  } finally {
    for (const server of servers) await server.stop();
    await dns.close();
  }
});
