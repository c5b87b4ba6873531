/**
 * Authenticated submission (RFC 6409, RFC 4954) on the `submission` (587, STARTTLS) and
 * `submissions` (465, implicit TLS) listeners of the real server process: exact replies from a
 * raw client, Python's smtplib over implicit TLS, and what reaches the mailboxes.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";
import { cliAll, messagesOf, readReply, send } from "../helpers/mail.ts";

async function setup(server: TestServer): Promise<void> {
  await cliAll(server, [
    ["account", "add", "alice@example.com", "--password", "pw-alice"],
    ["account", "add", "bob@example.com", "--password", "pw-bob"],
    ["alias", "add", "sales@example.com", "alice@example.com"],
  ]);
}

function certOf(server: TestServer): Promise<string> {
  return Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
}

const plain = (user: string, password: string) => btoa(`\0${user}\0${password}`);

/** Connects to 587, says EHLO, upgrades with STARTTLS and says EHLO again. */
async function connectTls(server: TestServer): Promise<LineClient> {
  const client = await LineClient.connect(server.ports.submission);
  assertMatch((await readReply(client)).join("\n"), /^220 mail\.example\.com /);
  await send(client, "EHLO client.test");
  assertEquals(await send(client, "STARTTLS"), "220 2.0.0 Ready to start TLS");
  await client.startTls(await certOf(server));
  const ehlo = await send(client, "EHLO client.test");
  assert(ehlo.split("\n").includes("250 AUTH PLAIN LOGIN"), ehlo);
  return client;
}

async function loggedIn(server: TestServer, user: string, password: string) {
  const client = await connectTls(server);
  assertEquals(
    await send(client, `AUTH PLAIN ${plain(user, password)}`),
    "235 2.7.0 Authentication successful",
  );
  return client;
}

Deno.test("SMTP submission (587 STARTTLS, 465 implicit TLS)", async (t) => {
  const server = await startServer();
  try {
    await setup(server);

    await t.step("587 before STARTTLS: no AUTH offered, AUTH 538, MAIL 530", async () => {
      const client = await LineClient.connect(server.ports.submission);
      assertMatch((await readReply(client)).join("\n"), /^220 mail\.example\.com /);
      const ehlo = (await send(client, "EHLO client.test")).split("\n");
      assert(ehlo.includes("250-STARTTLS") || ehlo.includes("250 STARTTLS"), ehlo.join("\n"));
      assert(!ehlo.some((line) => line.includes("AUTH")), ehlo.join("\n"));
      assertEquals(
        await send(client, `AUTH PLAIN ${plain("alice@example.com", "pw-alice")}`),
        "538 5.7.11 Encryption required for requested authentication mechanism",
      );
      assertEquals(
        await send(client, "MAIL FROM:<alice@example.com>"),
        "530 5.7.0 Must issue a STARTTLS command first",
      );
      await client.close();
    });

    await t.step("after STARTTLS: MAIL needs AUTH; AUTH PLAIN then local delivery", async () => {
      const client = await connectTls(server);
      assertEquals(
        await send(client, "MAIL FROM:<alice@example.com>"),
        "530 5.7.0 Authentication required",
      );
      assertEquals(
        await send(client, `AUTH PLAIN ${plain("alice@example.com", "pw-alice")}`),
        "235 2.7.0 Authentication successful",
      );
      assertMatch(await send(client, "AUTH PLAIN"), /^503 5\.5\.1/);
      const before = messagesOf(server, "bob@example.com").length;
      assertMatch(await send(client, "MAIL FROM:<alice@example.com>"), /^250 2\.1\.0/);
      assertMatch(await send(client, "RCPT TO:<bob@example.com>"), /^250 2\.1\.5/);
      assertMatch(await send(client, "DATA"), /^354/);
      assertMatch(
        await send(client, "From: alice@example.com\r\nSubject: submitted\r\n\r\nHi Bob.\r\n."),
        /^250 2\.0\.0/,
      );
      const bob = messagesOf(server, "bob@example.com");
      assertEquals(bob.length, before + 1);
      assertMatch(
        bob.at(-1)!,
        /^Return-Path: <alice@example\.com>\r\nDelivered-To: <bob@example\.com>\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.com with ESMTPSA id /,
      );
      assert(!bob.at(-1)!.includes("Authentication-Results"), bob.at(-1)!);
      await client.close();
    });

    await t.step("AUTH LOGIN with 334 challenges", async () => {
      const client = await connectTls(server);
      assertEquals(await send(client, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
      assertEquals(await send(client, btoa("bob@example.com")), "334 UGFzc3dvcmQ6");
      assertEquals(await send(client, btoa("pw-bob")), "235 2.7.0 Authentication successful");
      assertMatch(await send(client, "MAIL FROM:<bob@example.com>"), /^250 2\.1\.0/);
      await client.close();
    });

    await t.step("AUTH PLAIN without initial response gets an empty 334", async () => {
      const client = await connectTls(server);
      assertEquals(await send(client, "AUTH PLAIN"), "334 ");
      assertEquals(
        await send(client, plain("bob@example.com", "pw-bob")),
        "235 2.7.0 Authentication successful",
      );
      await client.close();
    });

    await t.step("wrong password and unknown user get the same 535", async () => {
      const client = await connectTls(server);
      assertEquals(
        await send(client, `AUTH PLAIN ${plain("alice@example.com", "wrong")}`),
        "535 5.7.8 Authentication credentials invalid",
      );
      assertEquals(
        await send(client, `AUTH PLAIN ${plain("nobody@example.com", "pw-alice")}`),
        "535 5.7.8 Authentication credentials invalid",
      );
      assertEquals(
        await send(client, "MAIL FROM:<alice@example.com>"),
        "530 5.7.0 Authentication required",
      );
      await client.close();
    });

    await t.step("* cancels; bad base64 is 501 5.5.2", async () => {
      const client = await connectTls(server);
      assertEquals(await send(client, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
      assertEquals(await send(client, "*"), "501 5.0.0 Authentication cancelled");
      assertEquals(await send(client, "AUTH PLAIN"), "334 ");
      assertMatch(await send(client, "not*base64"), /^501 5\.5\.2/);
      assertMatch(await send(client, "AUTH PLAIN a"), /^501 5\.5\.2/);
      assertEquals(
        await send(client, `AUTH PLAIN ${plain("alice@example.com", "pw-alice")}`),
        "235 2.7.0 Authentication successful",
      );
      await client.close();
    });

    await t.step("senders: own alias accepted, others' and <> refused with 553", async () => {
      const client = await loggedIn(server, "alice@example.com", "pw-alice");
      for (const sender of ["bob@example.com", "someone@remote.test", ""]) {
        assertEquals(
          await send(client, `MAIL FROM:<${sender}>`),
          "553 5.7.1 Sender address not owned by you",
        );
      }
      assertMatch(await send(client, "MAIL FROM:<Sales@Example.com>"), /^250 2\.1\.0/);
      // Remote recipients go to the outbound queue (NEVER: no DSN to count in alice's mail).
      assertEquals(
        await send(client, "RCPT TO:<friend@remote.test> NOTIFY=NEVER"),
        "250 2.1.5 Recipient OK",
      );
      assertMatch(await send(client, "RCPT TO:<nobody@example.com>"), /^550 5\.1\.1/);
      assertMatch(await send(client, "RCPT TO:<bob@example.com>"), /^250 2\.1\.5/);
      const before = messagesOf(server, "bob@example.com").length;
      assertMatch(await send(client, "DATA"), /^354/);
      assertMatch(
        await send(client, "From: sales@example.com\r\nSubject: from sales\r\n\r\nOffer.\r\n."),
        /^250 2\.0\.0/,
      );
      const bob = messagesOf(server, "bob@example.com");
      assertEquals(bob.length, before + 1);
      assertMatch(bob.at(-1)!, /^Return-Path: <Sales@example\.com>\r\n/i);
      await client.close();
    });

    await t.step("465: smtplib SMTP_SSL logs in and sends", async () => {
      const before = messagesOf(server, "alice@example.com").length;
      const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP_SSL("localhost", int(sys.argv[1]), context=ctx, timeout=10)
s.ehlo("python.test")
print(s.has_extn("auth"))
s.login("bob@example.com", "pw-bob")
refused = s.sendmail("bob@example.com", ["alice@example.com", "far@remote.test"],
  "From: bob@example.com\\r\\nSubject: over 465\\r\\n\\r\\nHello Alice.\\r\\n")
print(sorted(refused.items()))
s.quit()
`;
      const output = await new Deno.Command("/usr/bin/python3", {
        args: [
          "-c",
          script,
          String(server.ports.submissions),
          `${server.dir}/data/tls/self-signed.crt`,
        ],
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr);
      assertEquals(
        new TextDecoder().decode(output.stdout).trim(),
        "True\n[]",
      );
      const alice = messagesOf(server, "alice@example.com");
      assertEquals(alice.length, before + 1);
      assertMatch(alice.at(-1)!, /Received: from python\.test [^\r]*\r\n\tby \S+ with ESMTPSA /);
      assertMatch(alice.at(-1)!, /Subject: over 465\r\n\r\nHello Alice\.\r\n$/);
    });
  } finally {
    await server.stop();
  }
});
