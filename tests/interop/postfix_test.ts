/**
 * Interop: a real Postfix relays to Postern. A message submitted to Postfix (127.0.0.4:25) goes
 * out through Postfix's smtp client to Postern's port 25 (relayhost) and lands in the account,
 * with Postern's trace headers naming Postfix and the body byte for byte as submitted. Needs root
 * and `postfix` (scripts/install-interop.sh installs it).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";
import { type PostfixPeer, startPostfix } from "../helpers/postfix.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const ACCOUNT = "alice@example.com";
const SENDER = "sender@postfix.test";
const POSTFIX_HOSTNAME = "postfix.test";
const encoder = new TextEncoder();

async function withPostfixRelay(
  test: (server: TestServer, postfix: PostfixPeer) => Promise<void>,
  options: { smtpTls?: boolean } = {},
): Promise<void> {
  const server = await startServer();
  let postfix: PostfixPeer | undefined;
  try {
    // example.com, the domain of the server's hostname, exists from the first start.
    await cliAll(server, [["account", "add", ACCOUNT, "--password", "pw"]]);
    postfix = await startPostfix({
      myhostname: POSTFIX_HOSTNAME,
      relayhost: `[127.0.0.1]:${server.ports.smtp}`,
      smtpTls: options.smtpTls,
    });
    await test(server, postfix);
  } finally {
    await postfix?.stop();
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
}

/** Polls the account until it holds `count` messages; on timeout shows both sides' logs. */
async function waitForStored(
  server: TestServer,
  postfix: PostfixPeer,
  count: number,
  timeoutMs = 15_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = messagesOf(server, ACCOUNT);
    if (stored.length >= count) return stored;
    if (Date.now() > deadline) {
      throw new Error(
        `${stored.length} of ${count} messages reached ${ACCOUNT}; postfix queue ` +
          `${JSON.stringify(await postfix.queueIds())}\n${postfix.logTail()}\n` +
          `--- postern log ---\n${server.logs.slice(-20).join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function splitMessage(message: string): { header: string; body: string } {
  const end = message.indexOf("\r\n\r\n");
  assert(end >= 0, `no header/body separator in:\n${message}`);
  return { header: message.slice(0, end + 2), body: message.slice(end + 4) };
}

function composed(subject: string, body: string): string {
  return [
    `From: Sender <${SENDER}>`,
    `To: <${ACCOUNT}>`,
    `Subject: ${subject}`,
    "Date: Sat, 28 Nov 2026 16:19:20 +0000",
    `Message-ID: <${crypto.randomUUID()}@postfix.test>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    body,
  ].join("\r\n");
}

Deno.test("Postfix relays to Postern: trace headers name Postfix, body arrives unchanged", async () => {
  await withPostfixRelay(async (server, postfix) => {
    const body = "Hello from Postfix.\r\n\r\nSecond paragraph.\r\n";
    const queued = await postfix.send(SENDER, [ACCOUNT], composed("via postfix", body));
    assertMatch(queued, /^250 2\.0\.0 Ok: queued as [0-9A-F]+/);

    const [stored] = await waitForStored(server, postfix, 1);
    const { header, body: storedBody } = splitMessage(stored);
    // Postern's trace fields sit above Postfix's (RFC 5321 4.4): Return-Path with the envelope
    // sender Postfix sent, and a Received naming Postfix's EHLO and the address it came from.
    assertMatch(header, /^Return-Path: <sender@postfix\.test>\r\n/);
    const posternReceived = header.search(
      /\r\nReceived: from postfix\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.com with ESMTP id /,
    );
    // Postfix's own Received, from the submission to 127.0.0.4, travels with the message.
    const postfixReceived = header.search(
      /\r\nReceived: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby postfix\.test \(Postfix\) with ESMTP id [0-9A-F]+\r\n/,
    );
    assert(posternReceived > 0, `no Received from postfix.test in:\n${header}`);
    assert(postfixReceived > posternReceived, `Postfix's Received not below Postern's:\n${header}`);
    assertStringIncludes(header, "\r\nSubject: via postfix\r\n");
    assertEquals(encoder.encode(storedBody), encoder.encode(body));
    await postfix.waitForEmptyQueue();
  });
});

Deno.test("Postfix relays a dot-leading line and an 8-bit UTF-8 body intact", async () => {
  await withPostfixRelay(async (server, postfix) => {
    const body = [
      ".a line that starts with a dot",
      "..two dots",
      ".",
      "Grüße aus Köln — ½ € ✓ 日本語",
      "",
    ].join("\r\n");
    await postfix.send(SENDER, [ACCOUNT], composed("8-bit and dots", body));

    const [stored] = await waitForStored(server, postfix, 1);
    const { header, body: storedBody } = splitMessage(stored);
    assertStringIncludes(header, "\r\nContent-Transfer-Encoding: 8bit\r\n");
    assertEquals(encoder.encode(storedBody), encoder.encode(body));
    await postfix.waitForEmptyQueue();
  });
});

Deno.test("Postfix relays over STARTTLS when Postern offers it", async () => {
  await withPostfixRelay(async (server, postfix) => {
    const body = "Sent with smtp_tls_security_level = may.\r\n";
    await postfix.send(SENDER, [ACCOUNT], composed("via postfix over tls", body));

    const [stored] = await waitForStored(server, postfix, 1);
    const { header, body: storedBody } = splitMessage(stored);
    assertMatch(
      header,
      /\r\nReceived: from postfix\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.com with ESMTPS id /,
    );
    assertEquals(encoder.encode(storedBody), encoder.encode(body));
    assertMatch(
      postfix.logTail(),
      /TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLSv1\.[23]/,
    );
  }, { smtpTls: true });
});
