/**
 * MTA-STS (RFC 8461) and REQUIRETLS (RFC 8689) on the outbound queue, between two real Postern
 * servers: the receiver has a certificate for mx.remote.test from a test CA that the sender
 * trusts through `queue.ca_file`; policies are served over HTTPS on 127.0.0.5:443 and found
 * through the test DNS server. Enforced policies deliver only over verified TLS to listed MX
 * hosts; without a policy, TLS stays opportunistic; REQUIRETLS mail is returned (5.7.30) rather
 * than sent over TLS that cannot be verified.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import {
  createTestCa,
  httpResponse,
  issueCertificate,
  startHttpsServer,
} from "../helpers/https_server.ts";
import { cliAll, messagesOf, submit } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";
import { startSmtpPeer } from "../helpers/smtp_peer.ts";

const ALICE = { user: "alice@example.com", password: "pw-alice" };

const POLICIES: Record<string, string> = {
  "mta-sts.remote.test":
    "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n",
  "mta-sts.strict.test": "version: STSv1\nmode: enforce\nmx: mx2.remote.test\nmax_age: 86400\n",
  "mta-sts.wrongmx.test": "version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n",
};

async function lastReply(server: TestServer, recipient: string): Promise<string> {
  for (const id of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const show = await cli(server.configPath, ["queue", "show", String(id)]);
    if (show.code === 0 && show.stdout.includes(recipient)) {
      return /last:\s+(.*)/.exec(show.stdout)?.[1] ?? "";
    }
  }
  return "";
}

Deno.test("MTA-STS enforce and REQUIRETLS between two servers", async () => {
  const ca = await createTestCa();
  const certificate = await issueCertificate(ca, ["mx.remote.test"]);
  const dir = await Deno.makeTempDir({ prefix: "postern-mta-sts-" });
  await Deno.writeTextFile(`${dir}/mx.crt`, certificate.certificatePem);
  await Deno.writeTextFile(`${dir}/mx.key`, certificate.keyPem);
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.certificatePem);
  const policyCert = await issueCertificate(ca, Object.keys(POLICIES));
  const https = await startHttpsServer(policyCert, (request) => {
    const policy = POLICIES[request.headers.host ?? ""];
    return policy
      ? httpResponse({ body: policy })
      : httpResponse({ status: "404 Not Found", body: "" });
  }, { hostname: "127.0.0.5", port: 443 });
  const dns = await startDnsServer({});
  const servers: TestServer[] = [];
  try {
    const receiver = await startServer({
      hostname: "mx.remote.test",
      dns: `${dns.host}:${dns.port}`,
      tls: { certificate: `${dir}/mx.crt`, key: `${dir}/mx.key` },
    });
    servers.push(receiver);
    const sts = "v=STSv1; id=20261128T1;";
    dns.setZone({
      "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
      "strict.test": { MX: [{ exchange: "mx2.remote.test", preference: 10 }] },
      "wrongmx.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
      "plain.test": { MX: [{ exchange: "mx2.remote.test", preference: 10 }] },
      "mx.remote.test": { A: ["127.0.0.1"] },
      "mx2.remote.test": { A: ["127.0.0.1"] },
      "_mta-sts.remote.test": { TXT: [sts] },
      "_mta-sts.strict.test": { TXT: [sts] },
      "_mta-sts.wrongmx.test": { TXT: [sts] },
      "mta-sts.remote.test": { A: ["127.0.0.5"] },
      "mta-sts.strict.test": { A: ["127.0.0.5"] },
      "mta-sts.wrongmx.test": { A: ["127.0.0.5"] },
    });
    const local = ["remote.test", "strict.test", "wrongmx.test", "plain.test"];
    await cliAll(receiver, [
      ...local.slice(1).map((d) => ["domain", "add", d]),
      ...local.map((d) => ["account", "add", `bob@${d}`, "--password", "pw"]),
    ]);

    const sender = await startServer({
      dns: `${dns.host}:${dns.port}`,
      listeners: { smtp: "127.0.0.1:0" },
      extra: `[queue]\nremote_port = ${receiver.ports.smtp}\nca_file = "${dir}/ca.pem"\n` +
        `retry = ["1h"]\nreply_timeout = "5s"`,
    });
    servers.push(sender);
    await cliAll(sender, [["account", "add", ALICE.user, "--password", ALICE.password]]);
    const send = (to: string, mailParams = "") =>
      submit(
        sender,
        ALICE,
        { from: ALICE.user, to: [to], mailParams },
        `From: <${ALICE.user}>\r\nTo: <${to}>\r\nSubject: to ${to}\r\n\r\nHi.\r\n`,
      );

    for (const domain of local) assertMatch(await send(`bob@${domain}`), /^250 /);
    await eventually(
      () => messagesOf(receiver, "bob@remote.test").length === 1,
      "enforced policy, valid certificate: delivered",
      15_000,
    );
    assertMatch(messagesOf(receiver, "bob@remote.test")[0], /with ESMTPS id/);
    await eventually(
      () => messagesOf(receiver, "bob@plain.test").length === 1,
      "no policy: opportunistic TLS despite the name mismatch",
      15_000,
    );
    await eventually(
      () => sender.logs.filter((l) => l.includes('"msg":"deferred"')).length >= 2,
      "two deferrals",
      15_000,
    );
    assertMatch(
      await lastReply(sender, "bob@strict.test"),
      /^451 4\.7\.5 certificate of mx2\.remote\.test not valid/,
    );
    assertMatch(
      await lastReply(sender, "bob@wrongmx.test"),
      /^451 4\.7\.5 no MX host of wrongmx\.test matches its MTA-STS policy/,
    );
    assertEquals(messagesOf(receiver, "bob@strict.test").length, 0);
    assert(https.requests.length >= 3, "policies fetched over HTTPS");

    // REQUIRETLS: verified TLS to a host that offers REQUIRETLS, else returned with 5.7.30.
    assertMatch(await send("bob@remote.test", " REQUIRETLS"), /^250 /);
    await eventually(
      () => messagesOf(receiver, "bob@remote.test").length === 2,
      "REQUIRETLS delivered over verified TLS",
      15_000,
    );
    assertMatch(await send("bob@plain.test", " REQUIRETLS"), /^250 /);
    await eventually(
      () => messagesOf(sender, ALICE.user).some((m) => m.includes("Status: 5.7.30")),
      "the REQUIRETLS failure report",
      15_000,
    );
    assertEquals(messagesOf(receiver, "bob@plain.test").length, 1, "the REQUIRETLS one never went");
  } finally {
    for (const server of servers) await server.stop();
    await dns.close();
    await https.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relay host over implicit TLS (465) with AUTH and a verified certificate", async () => {
  const ca = await createTestCa();
  const certificate = await issueCertificate(ca, ["relay.test"]);
  const dir = await Deno.makeTempDir({ prefix: "postern-relay-" });
  await Deno.writeTextFile(`${dir}/relay.crt`, certificate.certificatePem);
  await Deno.writeTextFile(`${dir}/relay.key`, certificate.keyPem);
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.certificatePem);
  const peer = await startSmtpPeer({});
  const dns = await startDnsServer({
    "relay.test": { A: ["127.0.0.1"] },
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: [peer.host] },
  });
  const servers: TestServer[] = [];
  try {
    // The provider's server: the same domain, where alice has her account.
    const relay = await startServer({
      dns: `${dns.host}:${dns.port}`,
      tls: { certificate: `${dir}/relay.crt`, key: `${dir}/relay.key` },
      extra: `[queue]\nremote_port = ${peer.port}\nmta_sts = false`,
    });
    servers.push(relay);
    await cliAll(relay, [["account", "add", ALICE.user, "--password", "provider-pw"]]);
    const sender = await startServer({
      dns: `${dns.host}:${dns.port}`,
      extra: `[queue]\nrelay_host = "relay.test:${relay.ports.submissions}"\n` +
        `relay_tls = "implicit"\nrelay_username = "${ALICE.user}"\n` +
        `relay_password = "provider-pw"\nca_file = "${dir}/ca.pem"`,
    });
    servers.push(sender);
    await cliAll(sender, [["account", "add", ALICE.user, "--password", ALICE.password]]);
    assertMatch(
      await submit(
        sender,
        ALICE,
        { from: ALICE.user, to: ["bob@remote.test"] },
        `From: <${ALICE.user}>\r\nTo: <bob@remote.test>\r\nSubject: via relay\r\n\r\nHi.\r\n`,
      ),
      /^250 /,
    );
    await eventually(() => peer.accepted.length === 1, "delivery through the relay", 15_000);
    const data = peer.accepted[0].data;
    // The relay's Received names the sender's EHLO and an authenticated TLS session.
    assertMatch(
      data,
      /Received: from mail\.example\.com \([^)]*\)\r\n\tby mail\.example\.com with ESMTPSA id/,
    );
    assertMatch(data, /Subject: via relay/);
  } finally {
    for (const server of servers) await server.stop();
    await dns.close();
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
