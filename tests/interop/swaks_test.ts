/**
 * Interop: swaks, the SMTP test tool, sends to the real server's port 25 — once over STARTTLS,
 * once with PIPELINING — and the messages land in the mailbox. Needs `swaks`
 * (scripts/install-interop.sh installs it).
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { messagesOf } from "../helpers/mail.ts";

async function swaks(server: TestServer, extra: string[]): Promise<string> {
  const output = await new Deno.Command("swaks", {
    args: [
      "--server",
      "127.0.0.1",
      "--port",
      String(server.ports.smtp),
      "--ehlo",
      "swaks.test",
      "--from",
      "sender@remote.test",
      "--to",
      "alice@example.com",
      "--timeout",
      "10",
      ...extra,
    ],
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, text);
  return text;
}

Deno.test("swaks delivers over STARTTLS and with PIPELINING", async () => {
  const server = await startServer();
  try {
    const added = await cli(server.configPath, [
      "account",
      "add",
      "alice@example.com",
      "--password",
      "pw",
    ]);
    assertEquals(added.code, 0, added.stderr);

    const tls = await swaks(server, ["--tls", "--header", "Subject: swaks over tls"]);
    assertMatch(tls, /<- {2}220 2\.0\.0 Ready to start TLS/);
    assertMatch(tls, /<~ {2}250 2\.0\.0 Message accepted/);
    let stored = messagesOf(server, "alice@example.com");
    assertEquals(stored.length, 1);
    assertMatch(
      stored[0],
      /^Return-Path: <sender@remote\.test>\r\nDelivered-To: <alice@example\.com>\r\nReceived: from swaks\.test /,
    );
    assertStringIncludes(stored[0], "with ESMTPS id");
    assertStringIncludes(stored[0], "Subject: swaks over tls");

    const piped = await swaks(server, ["--pipeline", "--header", "Subject: swaks pipelined"]);
    assertMatch(piped, /<- {2}250 2\.0\.0 Message accepted/);
    stored = messagesOf(server, "alice@example.com");
    assertEquals(stored.length, 2);
    assertStringIncludes(stored[1], "with ESMTP id");
    assertStringIncludes(stored[1], "Subject: swaks pipelined");
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
});
