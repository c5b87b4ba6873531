/**
 * The POP3 server (RFC 1939, 2449, 2595, 5034, 6856, 3206) on the `pop3` (110, STLS) and `pop3s`
 * (995) listeners of the real server process: every command and response code, as a client sees
 * them on the wire, and what is left in the store afterwards.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";
import { caOf, deliver, plain, Pop3Client } from "./pop3_helpers.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";

const DOTTED = "From: a@example.net\r\nTo: alice@example.com\r\nSubject: dots\r\n\r\n" +
  "Hello.\r\n.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n";
const FIVE_LINES =
  "From: b@example.net\r\nSubject: five\r\n\r\none\r\ntwo\r\nthree\r\nfour\r\nfive\r\n";
const SHORT = "From: c@example.net\r\nSubject: short\r\n\r\nShort.\r\n";

async function setup(server: TestServer): Promise<void> {
  await cliAll(server, [
    ["account", "add", ALICE, "--password", "pw-alice"],
    ["account", "add", BOB, "--password", "pw bob with spaces"],
  ]);
  for (const message of [DOTTED, FIVE_LINES, SHORT]) await deliver(server, ALICE, message);
}

Deno.test("POP3 server", async (t) => {
  const server = await startServer();
  try {
    await setup(server);
    const stored = messagesOf(server, ALICE);
    assertEquals(stored.length, 3);

    await t.step("port 110 before STLS: CAPA offers STLS, no SASL; logins refused", async () => {
      const client = await Pop3Client.plain(server);
      const { lines } = await client.multi("CAPA");
      assertEquals(lines, [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "LOGIN-DELAY 0",
        "UTF8 USER",
        "USER",
        "STLS",
        "IMPLEMENTATION Postern",
      ]);
      const refusal =
        "-ERR [SYS/PERM] Plaintext authentication disallowed on non-secure connections; use STLS or port 995";
      assertEquals(await client.send(`USER ${ALICE}`), refusal);
      assertEquals(await client.send("PASS pw-alice"), refusal);
      assertEquals(await client.send(`AUTH PLAIN ${plain(ALICE, "pw-alice")}`), refusal);
      assertEquals(await client.send("STAT"), "-ERR STAT is only valid after logging in");
      assertEquals(await client.send("NOOP"), "-ERR NOOP is only valid after logging in");
      assertEquals(await client.quit(), "+OK mail.example.com signing off");
    });

    await t.step("STLS, then CAPA without STLS and with SASL; USER/PASS works", async () => {
      const client = await Pop3Client.plain(server);
      assertEquals(await client.send("STLS extra"), "-ERR STLS takes no arguments");
      assertEquals(await client.send("STLS"), "+OK Begin TLS negotiation now");
      await client.line.startTls(await caOf(server));
      assert(client.line.authorized);
      const { lines } = await client.multi("CAPA");
      assert(!lines.includes("STLS"), lines.join(","));
      assert(lines.includes("SASL PLAIN LOGIN"), lines.join(","));
      assertEquals(await client.send("STLS"), "-ERR TLS is already active");
      assertEquals(await client.send(`USER ${ALICE}`), "+OK");
      assertEquals(
        await client.send("PASS pw-alice"),
        "+OK Logged in, 3 messages (" +
          `${stored.reduce((n, m) => n + m.length, 0)} octets)`,
      );
      assertEquals(await client.send("QUIT"), "+OK Logging out (0 deleted, 3 left)");
      assert(await client.line.waitClosed());
    });

    await t.step("STLS injection: commands pipelined after STLS are discarded", async () => {
      const client = await Pop3Client.plain(server);
      await client.line.write(`STLS\r\nUSER ${ALICE}\r\nPASS pw-alice\r\n`);
      assertEquals(await client.status(), "+OK Begin TLS negotiation now");
      await client.line.startTls(await caOf(server));
      assertEquals(client.line.pending, "");
      // Had USER been kept, this PASS would log in; and STAT proves nobody is logged in.
      assertEquals(await client.send("STAT"), "-ERR STAT is only valid after logging in");
      assertEquals(await client.send("PASS pw-alice"), "-ERR Send USER first");
      await client.close();
    });

    await t.step("STAT, LIST, UIDL, RETR, TOP: exact sizes and byte-stuffing", async () => {
      const client = await Pop3Client.login(server, ALICE, "pw-alice");
      const total = stored.reduce((n, m) => n + m.length, 0);
      assertEquals(await client.send("STAT"), `+OK 3 ${total}`);
      const list = await client.multi("LIST");
      assertEquals(list.status, `+OK 3 messages (${total} octets)`);
      assertEquals(list.lines, stored.map((m, i) => `${i + 1} ${m.length}`));
      assertEquals(await client.send("LIST 2"), `+OK 2 ${stored[1].length}`);
      assertEquals(await client.send("LIST 4"), "-ERR There is no message 4");
      assertEquals(await client.send("LIST x"), "-ERR LIST needs a message number");
      const uidl = await client.multi("UIDL");
      assertEquals(uidl.lines.length, 3);
      for (const [i, line] of uidl.lines.entries()) {
        assertMatch(line, new RegExp(`^${i + 1} [0-9A-F]{16}$`));
      }
      assertEquals(uidl.lines[0].slice(2, 10), "00000001"); // the IMAP UID comes first
      assertEquals(await client.send("UIDL 3"), `+OK ${uidl.lines[2]}`);

      // RETR: the status names the stored size; the body is the stored message exactly.
      await client.line.write("RETR 1\r\n");
      assertEquals(await client.status(), `+OK ${stored[0].length} octets`);
      const raw: string[] = [];
      for (let line; (line = await client.status()) !== ".";) raw.push(line);
      assert(
        raw.includes("..leading dot") && raw.includes("...two dots") && raw.includes(".."),
        raw.join("|"),
      );
      assertEquals(
        raw.map((l) => (l.startsWith(".") ? l.slice(1) : l) + "\r\n").join(""),
        stored[0],
      );
      for (const [i, message] of stored.entries()) assertEquals(await client.retr(i + 1), message);

      const top = await client.multi("TOP 2 2");
      assertEquals(top.status, "+OK");
      const header = stored[1].slice(0, stored[1].indexOf("\r\n\r\n")).split("\r\n");
      assertEquals(top.lines, [...header, "", "one", "two"]);
      assertEquals((await client.multi("TOP 2 0")).lines, [...header, ""]);
      assertEquals((await client.multi("TOP 2 100")).lines.slice(-2), ["four", "five"]);
      assertEquals(
        await client.send("TOP 2"),
        "-ERR TOP needs a message number and a number of lines",
      );
      assertEquals(await client.send("RETR 0"), "-ERR RETR needs a message number");
      assertEquals(await client.send("RETR 9"), "-ERR There is no message 9");
      assertEquals(await client.send("NOOP"), "+OK");
      assertEquals(await client.send("UTF8"), "-ERR UTF8 is only valid before logging in");
      assertEquals(await client.send("USER x"), "-ERR Already logged in");
      assertEquals(await client.send("STLS"), "-ERR TLS is already active");
      assertEquals(await client.send("XYZZY"), "-ERR Unknown command XYZZY");
      assertEquals(await client.quit(), "+OK Logging out (0 deleted, 3 left)");
    });

    await t.step("DELE marks, RSET clears, QUIT expunges; IN-USE while held", async () => {
      const first = await Pop3Client.login(server, ALICE, "pw-alice");
      assertEquals(await first.send("DELE 3"), "+OK Message 3 deleted");
      assertEquals(await first.send("DELE 3"), "-ERR Message 3 is marked deleted");
      assertEquals(await first.send("RETR 3"), "-ERR Message 3 is marked deleted");
      assertEquals(await first.send("LIST 3"), "-ERR Message 3 is marked deleted");
      assertEquals((await first.multi("LIST")).lines.length, 2);
      assertEquals(await first.send("STAT"), `+OK 2 ${stored[0].length + stored[1].length}`);

      const second = await Pop3Client.tls(server);
      assertEquals(await second.send(`USER ${ALICE}`), "+OK");
      assertEquals(
        await second.send("PASS pw-alice"),
        "-ERR [IN-USE] Mailbox is locked by another POP3 session",
      );
      // Still in AUTHORIZATION: the same client may try again later.
      assertEquals(await second.send("STAT"), "-ERR STAT is only valid after logging in");

      assertEquals(
        await first.send("RSET"),
        `+OK Maildrop has 3 messages (${stored.reduce((n, m) => n + m.length, 0)} octets)`,
      );
      assertEquals(await first.send("DELE 3"), "+OK Message 3 deleted");
      assertEquals(await first.quit(), "+OK Logging out (1 deleted, 2 left)");
      assertEquals(messagesOf(server, ALICE), stored.slice(0, 2));

      // The lock went with the first session.
      assertEquals(await second.send(`USER ${ALICE}`), "+OK");
      assertEquals(
        await second.send("PASS pw-alice"),
        "+OK Logged in, 2 messages (" +
          `${stored[0].length + stored[1].length} octets)`,
      );
      assertEquals(await second.quit(), "+OK Logging out (0 deleted, 2 left)");
    });

    await t.step("a dropped connection expunges nothing and releases the lock", async () => {
      const client = await Pop3Client.login(server, ALICE, "pw-alice");
      assertEquals(await client.send("DELE 1"), "+OK Message 1 deleted");
      assertEquals(await client.send("DELE 2"), "+OK Message 2 deleted");
      await client.close();
      // The server notices the closed socket a moment later; until then the lock is held.
      let again: Pop3Client | null = null;
      for (let i = 0; i < 50 && !again; i++) {
        const attempt = await Pop3Client.tls(server);
        assertEquals(await attempt.send(`USER ${ALICE}`), "+OK");
        const reply = await attempt.send("PASS pw-alice");
        if (reply.startsWith("+OK")) again = attempt;
        else {
          assertEquals(reply, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
          await attempt.close();
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert(again, "the lock of the dropped session was never released");
      assertEquals(await again.send("STAT"), `+OK 2 ${stored[0].length + stored[1].length}`);
      assertEquals(messagesOf(server, ALICE), stored.slice(0, 2));
      await again.quit();
    });

    await t.step("PIPELINING: a whole session in one write, answers in order", async () => {
      await deliver(server, BOB, SHORT);
      const [message] = messagesOf(server, BOB);
      const client = await Pop3Client.tls(server);
      await client.line.write(
        [
          "CAPA",
          `USER ${BOB}`,
          "PASS pw bob with spaces",
          "STAT",
          "LIST",
          "UIDL 1",
          "RETR 1",
          "TOP 1 0",
          "DELE 1",
          "STAT",
          "QUIT",
          "",
        ].join("\r\n"),
      );
      assertEquals(await client.status(), "+OK Capability list follows");
      assert((await client.body()).includes("PIPELINING"));
      assertEquals(await client.status(), "+OK");
      assertEquals(await client.status(), `+OK Logged in, 1 messages (${message.length} octets)`);
      assertEquals(await client.status(), `+OK 1 ${message.length}`);
      assertEquals(await client.status(), `+OK 1 messages (${message.length} octets)`);
      assertEquals(await client.body(), [`1 ${message.length}`]);
      assertMatch(await client.status(), /^\+OK 1 [0-9A-F]{16}$/);
      assertEquals(await client.status(), `+OK ${message.length} octets`);
      assertEquals((await client.body()).map((l) => `${l}\r\n`).join(""), message);
      assertEquals(await client.status(), "+OK");
      assertEquals((await client.body()).at(-1), "");
      assertEquals(await client.status(), "+OK Message 1 deleted");
      assertEquals(await client.status(), "+OK 0 0");
      assertEquals(await client.status(), "+OK Logging out (1 deleted, 0 left)");
      assert(await client.line.waitClosed());
      assertEquals(messagesOf(server, BOB), []);
    });

    await t.step(
      "AUTH: mechanism list, PLAIN with and without initial response, LOGIN",
      async () => {
        const client = await Pop3Client.tls(server);
        assertEquals((await client.multi("AUTH")).lines, ["PLAIN", "LOGIN"]);
        assertEquals(
          await client.send(`AUTH PLAIN ${plain(ALICE, "pw-alice")}`),
          "+OK Logged in, 2 messages (" +
            `${stored[0].length + stored[1].length} octets)`,
        );
        assertEquals(await client.send("AUTH PLAIN"), "-ERR Already logged in");
        await client.quit();

        const two = await Pop3Client.tls(server);
        assertEquals(await two.send("AUTH PLAIN"), "+ ");
        assertMatch(await two.send(plain(ALICE, "pw-alice")), /^\+OK Logged in/);
        await two.quit();

        const three = await Pop3Client.tls(server);
        assertEquals(await three.send("AUTH LOGIN"), "+ VXNlcm5hbWU6");
        assertEquals(await three.send(btoa(ALICE)), "+ UGFzc3dvcmQ6");
        assertMatch(await three.send(btoa("pw-alice")), /^\+OK Logged in/);
        await three.quit();

        const four = await Pop3Client.tls(server);
        assertEquals(await four.send(`AUTH LOGIN ${btoa(ALICE)}`), "+ UGFzc3dvcmQ6");
        assertMatch(await four.send(btoa("pw-alice")), /^\+OK Logged in/);
        await four.quit();

        const five = await Pop3Client.tls(server);
        assertEquals(await five.send("AUTH PLAIN"), "+ ");
        assertEquals(await five.send("*"), "-ERR Authentication cancelled");
        assertEquals(
          await five.send("AUTH PLAIN !!!"),
          "-ERR [AUTH] Invalid authentication response",
        );
        assertEquals(
          await five.send("AUTH CRAM-MD5"),
          "-ERR Unsupported authentication mechanism CRAM-MD5",
        );
        assertEquals(
          await five.send("AUTH PLAIN " + btoa(`bob@example.com\0${ALICE}\0pw-alice`)),
          "-ERR [AUTH] Authentication failed",
        );
        assertEquals(
          await five.send("APOP alice 0123456789abcdef0123456789abcdef"),
          "-ERR APOP is not supported; use USER/PASS or AUTH over TLS",
        );
        assertEquals(await five.send("UTF8"), "+OK UTF8 enabled");
        assertEquals(await five.send(`USER ${ALICE}`), "+OK");
        assertEquals(await five.send("PASS wrong"), "-ERR [AUTH] Authentication failed");
        assertEquals(await five.send("USER nobody@example.com"), "+OK");
        assertEquals(await five.send("PASS wrong"), "-ERR [AUTH] Authentication failed");
        assertEquals(
          await five.send(`AUTH PLAIN ${plain(BOB, "pw bob with spaces")}`),
          "+OK Logged in, 0 messages (0 octets)",
        );
        await five.quit();
      },
    );

    await t.step("UIDL values survive a restart and stay with their messages", async () => {
      const client = await Pop3Client.login(server, ALICE, "pw-alice");
      const before = (await client.multi("UIDL")).lines;
      await client.quit();
      assertEquals(await server.stop(), 0);
      const restarted = await startServer({ dir: server.dir, configPath: server.configPath });
      try {
        await deliver(restarted, ALICE, SHORT);
        const again = await Pop3Client.login(restarted, ALICE, "pw-alice");
        const after = (await again.multi("UIDL")).lines;
        assertEquals(after.slice(0, 2), before);
        assertEquals(after.length, 3);
        assert(
          !before.some((l) => l.slice(2) === after[2].slice(2)),
          "a new message reused a UIDL",
        );
        // Deleting the first renumbers nothing this session; the next one sees the same UIDLs.
        assertEquals(await again.send("DELE 1"), "+OK Message 1 deleted");
        await again.quit();
        const third = await Pop3Client.login(restarted, ALICE, "pw-alice");
        const remaining = (await third.multi("UIDL")).lines.map((l) => l.slice(2));
        assertEquals(remaining, after.slice(1).map((l) => l.slice(2)));
        await third.quit();
      } finally {
        await restarted.stop();
      }
    });
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("POP3: too many errors close the session; long lines are refused", async () => {
  const server = await startServer({ extra: "[pop3]\nmax_errors = 3" });
  try {
    const client = await Pop3Client.plain(server);
    assertEquals(await client.send("X".repeat(70 * 1024)), "-ERR Line too long");
    assertEquals(await client.send(""), "-ERR Empty command");
    assertEquals(await client.send("RETR"), "-ERR RETR needs a message number");
    assertEquals(await client.status(), "-ERR Too many errors, closing connection");
    assert(await client.line.waitClosed());
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("POP3: allow_plaintext_auth lets USER/PASS through on port 110", async () => {
  const server = await startServer({ extra: "[pop3]\nallow_plaintext_auth = true" });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
    const client = await Pop3Client.plain(server);
    assert((await client.multi("CAPA")).lines.includes("SASL PLAIN LOGIN"));
    assertEquals(await client.send(`USER ${ALICE}`), "+OK");
    assertEquals(await client.send("PASS pw-alice"), "+OK Logged in, 0 messages (0 octets)");
    assertEquals(await client.quit(), "+OK Logging out (0 deleted, 0 left)");
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("POP3: failed logins hit the shared rate limiter", async () => {
  const server = await startServer({ auth: { max_failures_per_ip: 2 } });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
    const client = await Pop3Client.tls(server);
    for (let i = 0; i < 2; i++) {
      assertEquals(
        await client.send(`AUTH PLAIN ${plain(ALICE, "wrong")}`),
        "-ERR [AUTH] Authentication failed",
      );
    }
    // Blocked now, even with the right password.
    assertEquals(
      await client.send(`AUTH PLAIN ${plain(ALICE, "pw-alice")}`),
      "-ERR [SYS/TEMP] Too many failed logins, try again later",
    );
    await client.close();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("POP3: an idle session is closed without expunging", async () => {
  const server = await startServer({ limits: { idle_timeout: "1s" } });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
    await deliver(server, ALICE, SHORT);
    const client = await Pop3Client.login(server, ALICE, "pw-alice");
    assertEquals(await client.send("DELE 1"), "+OK Message 1 deleted");
    assertEquals(await client.line.readLine(3000), "-ERR Disconnected for inactivity");
    assert(await client.line.waitClosed());
    assertEquals(messagesOf(server, ALICE).length, 1);
    const again = await LineClient.connect(server.ports.pop3);
    assertMatch((await again.readLine())!, /^\+OK/);
    await again.close();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
