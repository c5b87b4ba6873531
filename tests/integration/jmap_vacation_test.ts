/**
 * VacationResponse (RFC 8621 8) and the RFC 3834 reply at delivery, on the real server: mail
 * from outside over port 25, replies through the outbound queue to a scripted SMTP peer that
 * stands in for the sender's MX (test DNS).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { type SmtpPeer, startRemoteDomain } from "../helpers/smtp_peer.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";
import { readReply, send } from "../helpers/mail.ts";
import { eventually, LineClient } from "../helpers/tls.ts";

const VACATION_USING = [...USING, "urn:ietf:params:jmap:vacationresponse"];

async function withVacationServer(
  work: (server: TestServer, peer: SmtpPeer, client: JmapTestClient) => Promise<void>,
): Promise<void> {
  const { peer, dns, serverOptions } = await startRemoteDomain();
  const server = await startServer(serverOptions);
  try {
    await work(server, peer, await jmapClient(server));
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
}

/** Delivers one message over port 25 from `sender`; `headers` go above the body. */
async function deliver(
  server: TestServer,
  sender: string,
  recipient: string,
  headers: string,
): Promise<void> {
  const smtp = await LineClient.connect(server.ports.smtp);
  try {
    await readReply(smtp);
    await send(smtp, "EHLO sender.test");
    assertMatch(await send(smtp, `MAIL FROM:<${sender}>`), /^250/);
    assertMatch(await send(smtp, `RCPT TO:<${recipient}>`), /^250/);
    assertMatch(await send(smtp, "DATA"), /^354/);
    const reply = await send(smtp, `${headers}\r\n\r\nHello there.\r\n.`);
    assertMatch(reply, /^250/);
  } finally {
    await smtp.close();
  }
}

/** Waits until `postern queue list` reports an empty queue. */
async function queueDrained(server: TestServer): Promise<void> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    last = (await cli(server.configPath, ["queue", "list"])).stdout;
    if (/the queue is empty/.test(last)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the queue did not drain:\n${last}`);
}

function vacationCall(client: JmapTestClient, name: string, args: Record<string, unknown>) {
  return client.call([[name, { accountId: client.accountId, ...args }, "0"]], VACATION_USING);
}

Deno.test("jmap vacation: singleton get and set, create and destroy refused", async () => {
  await withVacationServer(async (_server, _peer, client) => {
    const session = await (await client.fetch("/jmap/session")).json();
    assert(session.capabilities["urn:ietf:params:jmap:vacationresponse"]);
    const [[, got]] = await vacationCall(client, "VacationResponse/get", { ids: null });
    assertEquals(got.list, [{
      id: "singleton",
      isEnabled: false,
      fromDate: null,
      toDate: null,
      subject: null,
      textBody: null,
      htmlBody: null,
    }]);
    const [[, set]] = await vacationCall(client, "VacationResponse/set", {
      create: { x: { isEnabled: true } },
      update: { singleton: { isEnabled: true, textBody: "Away until Monday." } },
      destroy: ["singleton"],
    });
    assertEquals(set.notCreated.x.type, "singleton");
    assertEquals(set.notDestroyed.singleton.type, "singleton");
    assertEquals(set.updated, { singleton: null });
    const [[, bad]] = await vacationCall(client, "VacationResponse/set", {
      update: { singleton: { fromDate: "yesterday" } },
    });
    assertEquals(bad.notUpdated.singleton.type, "invalidProperties");
    const [[, after]] = await vacationCall(client, "VacationResponse/get", {
      ids: ["singleton", "other"],
      properties: ["isEnabled", "textBody"],
    });
    assertEquals(after.list, [{
      id: "singleton",
      isEnabled: true,
      textBody: "Away until Monday.",
    }]);
    assertEquals(after.notFound, ["other"]);
  });
});

Deno.test("jmap vacation: one reply per sender, with MAIL FROM:<> and Auto-Submitted; none to lists", async () => {
  await withVacationServer(async (server, peer, client) => {
    const me = server.admin!.address;
    await vacationCall(client, "VacationResponse/set", {
      update: { singleton: { isEnabled: true, textBody: "I am away." } },
    });
    await deliver(
      server,
      "bob@remote.test",
      me,
      `From: Bob <bob@remote.test>\r\nTo: <${me}>\r\nSubject: Lunch?\r\nMessage-ID: <m1@remote.test>`,
    );
    await eventually(() => peer.accepted.length === 1, "the first reply");
    const reply = peer.accepted[0];
    assertEquals(reply.from, "");
    assertEquals(reply.recipients, ["bob@remote.test"]);
    assertMatch(reply.data, /^Auto-Submitted: auto-replied\r$/m);
    assertMatch(reply.data, /^Subject: Auto: Lunch\?\r$/m);
    assertMatch(reply.data, /^In-Reply-To: <m1@remote\.test>\r$/m);
    assertMatch(reply.data, /^From: .*<[^>]+>\r$/m);
    assert(reply.data.includes(`<${me}>`), "From the account's address");
    assertMatch(reply.data, /^DKIM-Signature: /m);

    // The same sender again: no reply. A list message: no reply. Then a third sender does get
    // one, which (replies going out in order through one queue) shows the others were skipped.
    await deliver(
      server,
      "bob@remote.test",
      me,
      `From: <bob@remote.test>\r\nTo: <${me}>\r\nSubject: Again\r\nMessage-ID: <m2@remote.test>`,
    );
    await deliver(
      server,
      "dev-bounces@remote.test",
      me,
      `From: <dev@remote.test>\r\nTo: <${me}>\r\nSubject: [dev] news\r\nList-Id: <dev.remote.test>`,
    );
    await deliver(
      server,
      "carol@remote.test",
      me,
      `From: <carol@remote.test>\r\nTo: <${me}>\r\nSubject: Hi\r\nMessage-ID: <m3@remote.test>`,
    );
    await eventually(
      () => peer.accepted.some((m) => m.recipients[0] === "carol@remote.test"),
      "the reply to the third sender",
    );
    await queueDrained(server);
    assertEquals(peer.accepted.map((m) => m.recipients[0]), [
      "bob@remote.test",
      "carol@remote.test",
    ]);
  });
});
