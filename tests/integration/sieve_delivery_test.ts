/**
 * Sieve at delivery, end to end on the real server: a script uploaded over ManageSieve files
 * SMTP-delivered mail into folders (creating one with :create), sets flags IMAP sees, redirects
 * to another account without looping, sends one vacation reply per sender through the queue
 * (null reverse-path, Auto-Submitted), and a script that fails at run time keeps the message.
 */
import { activateScript } from "../helpers/managesieve.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { type SmtpPeer, startRemoteDomain } from "../helpers/smtp_peer.ts";
import { cliAll, readReply, send } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const PASSWORD = "sieve-test-password-1";

async function withSieveServer(work: (server: TestServer, peer: SmtpPeer) => Promise<void>) {
  const { peer, dns, serverOptions } = await startRemoteDomain();
  const server = await startServer(serverOptions);
  try {
    await cliAll(server, [
      ["account", "add", ALICE, "--password", PASSWORD],
      ["account", "add", BOB, "--password", PASSWORD],
    ]);
    await work(server, peer);
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
}

const ca = (server: TestServer) => Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);

/** Uploads and activates `script` for `user` (ManageSieve, tests/helpers/managesieve.ts). */
function activate(server: TestServer, user: string, script: string): Promise<void> {
  return activateScript(server, { user, password: PASSWORD }, script);
}

/** Polls an async check every 50 ms until it holds; throws after 10 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deliver(server: TestServer, from: string, to: string, headers: string) {
  const smtp = await LineClient.connect(server.ports.smtp);
  try {
    await readReply(smtp);
    await send(smtp, "EHLO sender.test");
    assertMatch(await send(smtp, `MAIL FROM:<${from}>`), /^250/);
    assertMatch(await send(smtp, `RCPT TO:<${to}>`), /^250/);
    assertMatch(await send(smtp, "DATA"), /^354/);
    assertMatch(await send(smtp, `${headers}\r\n\r\nHello.\r\n.`), /^250/);
  } finally {
    await smtp.close();
  }
}

/** An IMAP session as `user`; returns a tagged-command function and a closer. */
async function imap(server: TestServer, user: string) {
  const client = await LineClient.connect(server.ports.imaps, {
    implicitTls: { ca: await ca(server) },
  });
  await client.readLine();
  let tag = 0;
  const command = async (text: string) => {
    const t = `t${++tag}`;
    await client.write(`${t} ${text}\r\n`);
    return (await client.readUntil((line) => line.startsWith(`${t} `))).join("\n");
  };
  assertMatch(await command(`LOGIN ${user} ${PASSWORD}`), /OK/);
  return { command, close: () => client.close() };
}

Deno.test("sieve delivery: fileinto, :create, flags, redirect without loops, vacation once", async () => {
  await withSieveServer(async (server, peer) => {
    await activate(
      server,
      ALICE,
      `require ["fileinto", "mailbox", "imap4flags", "variables", "vacation"];
if header :contains "subject" "invoice" {
  fileinto :create :flags "\\\\Flagged" "Finance/Invoices";
  stop;
}
if header :matches "list-id" "*<*.example.org>" {
  fileinto :create "Lists/\${2}";
  stop;
}
if header :is "subject" "forward me" {
  redirect "${BOB}";
  stop;
}
vacation :days 3 :subject "Away" "I am away until Monday.";
`,
    );
    // Bob redirects everything back to Alice: a loop the X-Loop check must break.
    await activate(server, BOB, `redirect "${ALICE}";`);

    await deliver(
      server,
      "sender@remote.test",
      ALICE,
      `From: sender@remote.test\r\nTo: ${ALICE}\r\nSubject: Your invoice 42`,
    );
    await deliver(
      server,
      "list@remote.test",
      ALICE,
      `From: list@remote.test\r\nTo: ${ALICE}\r\nList-Id: Users <users.example.org>\r\nSubject: news`,
    );
    await deliver(
      server,
      "friend@remote.test",
      ALICE,
      `From: friend@remote.test\r\nTo: ${ALICE}\r\nSubject: hello`,
    );
    await deliver(
      server,
      "friend@remote.test",
      ALICE,
      `From: friend@remote.test\r\nTo: ${ALICE}\r\nSubject: hello again`,
    );
    await deliver(
      server,
      "friend@remote.test",
      ALICE,
      `From: friend@remote.test\r\nTo: ${ALICE}\r\nSubject: forward me`,
    );

    const alice = await imap(server, ALICE);
    try {
      assertMatch(await alice.command('STATUS "Finance/Invoices" (MESSAGES)'), /MESSAGES 1/);
      await alice.command('SELECT "Finance/Invoices"');
      assertMatch(await alice.command("FETCH 1 (FLAGS)"), /FLAGS \(\\Flagged\)/);
      assertMatch(await alice.command('STATUS "Lists/users" (MESSAGES)'), /MESSAGES 1/);
      // hello, hello again, and "forward me" back from Bob (the loop broken here).
      await until(
        async () => /MESSAGES 3\b/.test(await alice.command("STATUS INBOX (MESSAGES)")),
        "three messages in Alice's INBOX",
      );
    } finally {
      await alice.close();
    }
    // Bob's script sent it straight back, so Bob keeps nothing.
    const bob = await imap(server, BOB);
    try {
      assertMatch(await bob.command("STATUS INBOX (MESSAGES)"), /MESSAGES 0\b/);
    } finally {
      await bob.close();
    }
    assert(server.logs.some((line) => line.includes("sieve redirect loop broken")));
    // One vacation reply to friend@remote.test (two messages from them), none to the list.
    await until(async () => {
      const queue = await cli(server.configPath, ["queue", "list"]);
      return /the queue is empty/.test(queue.stdout);
    }, "the queue to drain");
    const replies = peer.accepted.filter((m) => /^Subject: Away/m.test(m.data));
    assertEquals(replies.length, 1);
    assertEquals(replies[0].from, "");
    assertEquals(replies[0].recipients, ["friend@remote.test"]);
    assertMatch(replies[0].data, /^Auto-Submitted: auto-replied/m);
  });
});

Deno.test("sieve delivery: a script failing at run time keeps the message", async () => {
  await withSieveServer(async (server) => {
    // Five redirects exceed [sieve] max_redirects (4): the run fails, the message is kept.
    await activate(
      server,
      ALICE,
      Array.from({ length: 5 }, (_, i) => `redirect "r${i}@remote.test";`).join("\n"),
    );
    await deliver(
      server,
      "x@remote.test",
      ALICE,
      `From: x@remote.test\r\nTo: ${ALICE}\r\nSubject: kept`,
    );
    const alice = await imap(server, ALICE);
    try {
      assertMatch(await alice.command("STATUS INBOX (MESSAGES)"), /MESSAGES 1/);
    } finally {
      await alice.close();
    }
    assert(server.logs.some((line) => line.includes("sieve script failed; message kept")));
  });
});
