/**
 * The inbound MX session (port 25) against the real server process over real sockets: exact
 * replies from a raw client, a normal send from Python's smtplib, and what ends up in the
 * mailboxes (read from the database and the blob files, as IMAP would see it).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";
import { cliAll, messagesOf, readReply, reply, send } from "../helpers/mail.ts";

const SMTP_CONFIG = `[smtp]
max_recipients = 3
max_errors = 10
`;

async function setup(server: TestServer): Promise<void> {
  await cliAll(server, [
    ["account", "add", "alice@example.com", "--password", "pw-alice"],
    ["account", "add", "bob@example.com", "--password", "pw-bob"],
    ["alias", "add", "team@example.com", "bob@example.com"],
  ]);
}

function blobFiles(server: TestServer): number {
  let count = 0;
  const root = `${server.dir}/data/blobs`;
  for (const folder of Deno.readDirSync(root)) {
    if (folder.isDirectory) count += [...Deno.readDirSync(`${root}/${folder.name}`)].length;
  }
  return count;
}

async function connect(server: TestServer): Promise<LineClient> {
  const client = await LineClient.connect(server.ports.smtp);
  assertMatch(await reply(client), /^220 mail\.example\.com ESMTP Postern$/);
  return client;
}

async function transaction(client: LineClient, from: string, rcpts: string[]): Promise<void> {
  assertMatch(await send(client, `MAIL FROM:<${from}>`), /^250 2\.1\.0/);
  for (const rcpt of rcpts) assertMatch(await send(client, `RCPT TO:<${rcpt}>`), /^250 2\.1\.5/);
}

Deno.test("inbound SMTP (port 25)", async (t) => {
  const server = await startServer({ limits: { max_message_size: "64K" }, extra: SMTP_CONFIG });
  try {
    await setup(server);

    await t.step("EHLO advertises the extensions; HELO answers plainly", async () => {
      const client = await connect(server);
      assertEquals(await readReplyOf(client, "EHLO client.test"), [
        "250-mail.example.com Hello client.test",
        "250-PIPELINING",
        `250-SIZE ${64 * 1024}`,
        "250-8BITMIME",
        "250-SMTPUTF8",
        "250-ENHANCEDSTATUSCODES",
        "250-CHUNKING",
        "250-BINARYMIME",
        "250-DSN",
        "250 STARTTLS",
      ]);
      assertEquals(await send(client, "HELO client.test"), "250 mail.example.com");
      assertEquals(await send(client, "NOOP"), "250 2.0.0 OK");
      assertEquals(await send(client, "RSET"), "250 2.0.0 OK");
      assertMatch(await send(client, "VRFY alice@example.com"), /^252 2\.5\.0/);
      assertMatch(await send(client, "EXPN team@example.com"), /^502 5\.5\.1/);
      assertMatch(await send(client, "HELP"), /^214 2\.0\.0/m);
      assertMatch(await send(client, "FROB"), /^500 5\.5\.2/);
      assertEquals(await send(client, "QUIT"), "221 2.0.0 mail.example.com closing connection");
      assert(await client.waitClosed());
    });

    await t.step("commands out of sequence get 503 5.5.1", async () => {
      const client = await connect(server);
      assertMatch(await send(client, "MAIL FROM:<a@remote.test>"), /^503 5\.5\.1/);
      await send(client, "EHLO client.test");
      assertMatch(await send(client, "RCPT TO:<alice@example.com>"), /^503 5\.5\.1/);
      assertMatch(await send(client, "DATA"), /^503 5\.5\.1/);
      await transaction(client, "a@remote.test", []);
      assertMatch(await send(client, "MAIL FROM:<a@remote.test>"), /^503 5\.5\.1/);
      assertMatch(await send(client, "DATA"), /^554 5\.5\.1/); // no recipients
      await client.close();
    });

    await t.step("smtplib delivers to accounts, aliases and sub-addresses", async () => {
      const before = messagesOf(server, "alice@example.com").length;
      const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("python.test")
refused = s.sendmail("sender@remote.test",
  ["alice@example.com", "Alice+lists@Example.COM", "team@example.com"],
  "From: sender@remote.test\\r\\nSubject: from smtplib\\r\\n\\r\\nHello over SMTP.\\r\\n")
print(len(refused))
s.quit()
`;
      const output = await new Deno.Command("/usr/bin/python3", {
        args: ["-c", script, String(server.ports.smtp)],
      }).output();
      assertEquals(new TextDecoder().decode(output.stdout).trim(), "0");
      const alice = messagesOf(server, "alice@example.com");
      assertEquals(alice.length, before + 1); // one copy although two addresses reach alice
      const stored = alice.at(-1)!;
      assertMatch(stored, /^Return-Path: <sender@remote\.test>\r\nReceived: from python\.test /);
      assertMatch(
        stored,
        /Received: from python\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.com with ESMTP id \S+; \w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/,
      );
      assertStringIncludes(stored, "Subject: from smtplib\r\n\r\nHello over SMTP.\r\n");
      assertStringIncludes(messagesOf(server, "bob@example.com").at(-1)!, "from smtplib");
    });

    await t.step("unknown users and relay tricks are refused", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await transaction(client, "a@remote.test", []);
      assertMatch(await send(client, "RCPT TO:<nobody@example.com>"), /^550 5\.1\.1/);
      const relays = [
        "<someone@remote.test>",
        "<someone@remote.test.>",
        "<alice%remote.test@example.com>",
        "<@example.com:someone@remote.test>",
        '<"someone@remote.test"@example.com>',
        "<someone@[127.0.0.1]>",
      ];
      for (const path of relays) {
        const answer = await send(client, `RCPT TO:${path}`);
        assertMatch(answer, /^55[04] 5\.7\.1/, `${path}: ${answer}`);
      }
      assertMatch(await send(client, "DATA"), /^554 5\.5\.1/);
      await client.close();
    });

    await t.step("SIZE, message size and max_recipients limits", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      assertMatch(await send(client, "MAIL FROM:<a@remote.test> SIZE=70000"), /^552 5\.3\.4/);
      assertEquals(
        await send(client, "MAIL FROM:<a@remote.test> REQUIRETLS"),
        "530 5.7.10 REQUIRETLS needs a TLS session",
      );
      await transaction(client, "a@remote.test", [
        "alice@example.com",
        "alice+1@example.com",
        "alice+2@example.com",
      ]);
      assertMatch(await send(client, "RCPT TO:<bob@example.com>"), /^452 4\.5\.3/);
      const before = messagesOf(server, "alice@example.com").length;
      assertMatch(await send(client, "DATA"), /^354/);
      const big = "x".repeat(999) + "\r\n";
      await client.write(`Subject: big\r\n\r\n${big.repeat(70)}.\r\n`);
      assertMatch(await reply(client), /^552 5\.3\.4/);
      assertEquals(messagesOf(server, "alice@example.com").length, before);
      await client.close();
    });

    await t.step("bare LF in DATA: 554 5.6.0 and nothing stored", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await transaction(client, "a@remote.test", ["alice@example.com"]);
      const before = messagesOf(server, "alice@example.com").length;
      assertMatch(await send(client, "DATA"), /^354/);
      assertMatch(await send(client, "Subject: bare\r\n\r\nline\nother\r\n."), /^554 5\.6\.0/);
      assertEquals(messagesOf(server, "alice@example.com").length, before);
      // The session goes on.
      await transaction(client, "a@remote.test", ["alice@example.com"]);
      await client.close();
    });

    for (const fake of ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"]) {
      await t.step(`smuggling ${JSON.stringify(fake)} with a pipelined MAIL FROM`, async () => {
        const client = await connect(server);
        await send(client, "EHLO client.test");
        await transaction(client, "a@remote.test", ["alice@example.com"]);
        const before = messagesOf(server, "alice@example.com");
        assertMatch(await send(client, "DATA"), /^354/);
        await client.write(
          `Subject: outer\r\n\r\nouter body${fake}MAIL FROM:<evil@remote.test>\r\n` +
            "RCPT TO:<alice@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n",
        );
        assertMatch(await reply(client), /^554 5\.6\.0/);
        assertEquals(await send(client, "NOOP"), "250 2.0.0 OK"); // no stray replies queued
        const after = messagesOf(server, "alice@example.com");
        assertEquals(after.length, before.length);
        assert(!after.some((m) => m.includes("smuggled")));
        await client.close();
      });
    }

    await t.step("STARTTLS drops injected commands and resets the session", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await client.write("STARTTLS\r\nMAIL FROM:<a@remote.test>\r\n");
      assertEquals(await reply(client), "220 2.0.0 Ready to start TLS");
      await client.startTls(await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`));
      assertMatch(await send(client, "MAIL FROM:<a@remote.test>"), /^503 5\.5\.1/);
      const ehlo = await readReplyOf(client, "EHLO client.test");
      assert(!ehlo.some((line) => line.includes("STARTTLS")), ehlo.join("\n"));
      // The injected MAIL was not executed: this one is not "nested".
      await transaction(client, "tls@remote.test", ["alice@example.com"]);
      assertMatch(await send(client, "DATA"), /^354/);
      assertMatch(await send(client, "Subject: over tls\r\n\r\nsecret\r\n."), /^250 2\.0\.0/);
      assertMatch(messagesOf(server, "alice@example.com").at(-1)!, /with ESMTPS id/);
      assertMatch(await send(client, "STARTTLS"), /^503 5\.5\.1/);
      await client.close();
    });

    await t.step("a client vanishing mid-DATA leaves nothing behind", async () => {
      const before = messagesOf(server, "alice@example.com").length;
      const blobs = blobFiles(server);
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await transaction(client, "a@remote.test", ["alice@example.com"]);
      assertMatch(await send(client, "DATA"), /^354/);
      await client.write("Subject: half\r\n\r\nthis message never ends\r\n");
      await client.close();
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(messagesOf(server, "alice@example.com").length, before);
      assertEquals(blobFiles(server), blobs);
    });

    await t.step("BDAT chunks make one message; a refused BDAT's chunk is skipped", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await client.write("BDAT 6\r\nNOOP\r\n");
      assertMatch(await reply(client), /^503 5\.5\.1/);
      assertEquals(await send(client, "NOOP"), "250 2.0.0 OK");
      await transaction(client, "a@remote.test", ["alice@example.com"]);
      const first = "Subject: chunked\r\n\r\n";
      const second = "part one, part two\r\n";
      await client.write(`BDAT ${first.length}\r\n${first}`);
      assertEquals(await reply(client), `250 2.0.0 ${first.length} octets received`);
      await client.write(`BDAT ${second.length} LAST\r\n${second}`);
      assertMatch(await reply(client), /^250 2\.0\.0 Message accepted/);
      assert(messagesOf(server, "alice@example.com").at(-1)!.endsWith(`\r\n${first}${second}`));
      await client.close();
    });

    await t.step("a pipelined transaction gets every reply, in order", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await client.write(
        "MAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.com>\r\n" +
          "RCPT TO:<nobody@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
      );
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push((await reply(client)).slice(0, 9));
      assertEquals(replies, ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354 End d"]);
      await client.write("Subject: pipelined\r\n\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n");
      assertMatch(await reply(client), /^250 2\.0\.0/);
      assertEquals(await reply(client), "250 2.0.0 OK");
      assertMatch(await reply(client), /^221 /);
      assert(messagesOf(server, "bob@example.com").at(-1)!.endsWith("pipelined\r\n\r\n.dot\r\n"));
    });

    await t.step("DATA split into single-byte writes is unstuffed exactly", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await transaction(client, "a@remote.test", ["alice@example.com"]);
      assertMatch(await send(client, "DATA"), /^354/);
      for (const byte of "Subject: split\r\n\r\n..\r\n.x\r\n\r\n.\r\nNOOP\r\n") {
        await client.write(byte);
      }
      assertMatch(await reply(client), /^250 2\.0\.0/);
      assertEquals(await reply(client), "250 2.0.0 OK");
      assert(
        messagesOf(server, "alice@example.com").at(-1)!.endsWith("split\r\n\r\n.\r\nx\r\n\r\n"),
      );
      await client.close();
    });

    await t.step("SMTPUTF8: UTF-8 paths only with the parameter; IDN does not relay", async () => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      assertMatch(await send(client, "MAIL FROM:<dörte@remote.test>"), /^553 5\.6\.7/);
      assertMatch(await send(client, "MAIL FROM:<dörte@remote.test> SMTPUTF8"), /^250 2\.1\.0/);
      assertMatch(await send(client, "RCPT TO:<x@exämple.com>"), /^554 5\.7\.1/);
      assertMatch(await send(client, "RCPT TO:<alice@example.com>"), /^250 2\.1\.5/);
      assertMatch(await send(client, "DATA"), /^354/);
      assertMatch(await send(client, "Subject: utf8\r\n\r\nGrüße\r\n."), /^250 2\.0\.0/);
      assertMatch(messagesOf(server, "alice@example.com").at(-1)!, /^Return-Path: <dörte@/);
      await client.close();
    });

    await t.step("over-long lines are refused and the session goes on", async () => {
      const client = await connect(server);
      assertEquals(await send(client, "NOOP " + "x".repeat(70 * 1024)), "500 5.5.2 Line too long");
      assertEquals(await send(client, "NOOP"), "250 2.0.0 OK");
      await client.close();
    });

    await t.step("max_errors closes the session with 421", async () => {
      const client = await connect(server);
      for (let i = 0; i < 9; i++) assertMatch(await send(client, "FROB"), /^500 5\.5\.2/);
      await client.write("FROB\r\n");
      assertMatch(await reply(client), /^500 5\.5\.2/);
      assertMatch(await reply(client), /^421 4\.7\.0/);
      assert(await client.waitClosed());
    });
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
});

Deno.test("inbound SMTP: timeouts, messages per connection, normalised line ends", async () => {
  const server = await startServer({
    extra: `[smtp]
command_timeout = 1
data_timeout = 1
max_messages_per_connection = 1
bare_line_ends = "normalize"
`,
  });
  try {
    await setup(server);
    const client = await connect(server);
    await send(client, "EHLO client.test");
    await transaction(client, "a@remote.test", ["alice@example.com"]);
    assertMatch(await send(client, "DATA"), /^354/);
    // Normalised: the fake terminator is content, so exactly one message holds both parts.
    await client.write(
      "Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@remote.test>\r\nsecond\r\n.\r\n",
    );
    assertMatch(await reply(client), /^250 2\.0\.0/);
    const stored = messagesOf(server, "alice@example.com");
    assertEquals(stored.length, 1);
    assertStringIncludes(stored[0], "first\r\n.\r\nMAIL FROM:<evil@remote.test>\r\nsecond\r\n");
    assertMatch(await send(client, "MAIL FROM:<a@remote.test>"), /^421 4\.7\.0/);
    assert(await client.waitClosed());

    const idle = await connect(server);
    assertMatch(await reply(idle), /^421 4\.4\.2/);
    assert(await idle.waitClosed());

    const slow = await connect(server);
    await send(slow, "EHLO client.test");
    await transaction(slow, "a@remote.test", ["alice@example.com"]);
    assertMatch(await send(slow, "DATA"), /^354/);
    await slow.write("Subject: slow\r\n");
    assertMatch(await reply(slow), /^421 4\.4\.2/);
    assert(await slow.waitClosed());
    assertEquals(messagesOf(server, "alice@example.com").length, 1);
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
});

Deno.test("inbound SMTP: quota and MIME limits after DATA", async () => {
  const server = await startServer({ limits: { max_mime_parts: 3 } });
  try {
    await setup(server);
    const added = await cli(server.configPath, [
      "account",
      "add",
      "tiny@example.com",
      "--password",
      "pw",
      "--quota",
      "1K",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const big = `Subject: big\r\n\r\n${"z".repeat(70)}\r\n`.repeat(40);
    const deliver = async (rcpts: string[], body: string) => {
      const client = await connect(server);
      await send(client, "EHLO client.test");
      await transaction(client, "a@remote.test", rcpts);
      assertMatch(await send(client, "DATA"), /^354/);
      const answer = await send(client, `${body}.`);
      await client.close();
      return answer;
    };
    assertMatch(await deliver(["tiny@example.com"], big), /^452 4\.2\.2/);
    assertEquals(messagesOf(server, "tiny@example.com").length, 0);
    // Partly delivered: 250 (no DSN exists yet for the failed recipient).
    assertMatch(await deliver(["tiny@example.com", "alice@example.com"], big), /^250 2\.0\.0/);
    assertEquals(messagesOf(server, "alice@example.com").length, 1);
    assertEquals(messagesOf(server, "tiny@example.com").length, 0);

    const parts = ["a", "b", "c", "d"].map((p) =>
      `--b\r\nContent-Type: text/plain\r\n\r\n${p}\r\n`
    );
    const multipart =
      'Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"' +
      `\r\n\r\n${parts.join("")}--b--\r\n`;
    assertMatch(await deliver(["alice@example.com"], multipart), /^554 5\.6\.0/);
    assertEquals(messagesOf(server, "alice@example.com").length, 1);
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
});

Deno.test("inbound SMTP: a message with max_hops Received fields is refused as a loop", async () => {
  const server = await startServer({ extra: "[smtp]\nmax_hops = 5\n" });
  try {
    await setup(server);
    const client = await connect(server);
    await send(client, "EHLO client.test");
    const trace = (n: number) =>
      Array.from({ length: n }, (_, i) => `Received: from h${i}.test by h${i + 1}.test; x\r\n`)
        .join("");
    await transaction(client, "a@remote.test", ["alice@example.com"]);
    assertMatch(await send(client, "DATA"), /^354/);
    assertEquals(
      await send(client, `${trace(5)}Subject: loop\r\n\r\nbody\r\n.`),
      "554 5.4.6 Too many hops, mail loop?",
    );
    await transaction(client, "a@remote.test", ["alice@example.com"]);
    assertMatch(await send(client, "DATA"), /^354/);
    assertMatch(await send(client, `${trace(4)}Subject: ok\r\n\r\nbody\r\n.`), /^250 /);
    const stored = messagesOf(server, "alice@example.com");
    assertEquals(stored.length, 1);
    assertMatch(stored[0], /Subject: ok/);
    await client.close();
  } finally {
    await server.stop();
  }
});

async function readReplyOf(client: LineClient, line: string): Promise<string[]> {
  await client.write(`${line}\r\n`);
  return await readReply(client);
}
