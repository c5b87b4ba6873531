/**
 * STARTTLS/STLS on every greeter over real sockets, as a client sees it. The injection tests are
 * a regression guard: commands pipelined after STARTTLS in the same packet must be dropped, not
 * executed after the handshake (RFC 3207 6, CVE-2011-0411 class), and a runtime upgrade once
 * broke the server-side upgrade itself. ManageSieve's STARTTLS (a full session, not a greeter)
 * is tested the same way in managesieve_test.ts.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { eventually, LineClient, startServer, type TestServer } from "../helpers/tls.ts";
import { smtpGreeter } from "../../src/smtp/greeter.ts";
import { imapGreeter } from "../../src/imap/greeter.ts";
import { pop3Greeter } from "../../src/pop3/greeter.ts";

const hostname = "localhost";

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer([
    { service: "smtp", implicitTls: false, handler: smtpGreeter({ hostname, submission: false }) },
    {
      service: "submission",
      implicitTls: false,
      handler: smtpGreeter({ hostname, submission: true }),
    },
    { service: "imap", implicitTls: false, handler: imapGreeter({ hostname }) },
    { service: "pop3", implicitTls: false, handler: pop3Greeter({ hostname }) },
  ]);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

Deno.test("SMTP: EHLO, STARTTLS, EHLO again without STARTTLS, NOOP, QUIT", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("smtp"));
    assertEquals(await client.readLine(), "220 localhost ESMTP Postern");
    await client.write("EHLO client.example\r\n");
    const before = await client.readUntil((l) => l.startsWith("250 "));
    assertEquals(before, [
      "250-localhost Hello client.example",
      "250-ENHANCEDSTATUSCODES",
      "250 STARTTLS",
    ]);
    await client.write("STARTTLS\r\n");
    assertEquals(await client.readLine(), "220 2.0.0 Ready to start TLS");
    await client.startTls(server.ca);
    assert(client.authorized, "the self-signed certificate verifies against its PEM");
    await client.write("EHLO client.example\r\n");
    const after = await client.readUntil((l) => l.startsWith("250 "));
    assertEquals(after, ["250-localhost Hello client.example", "250 ENHANCEDSTATUSCODES"]);
    await client.write("STARTTLS\r\n");
    assertEquals(await client.readLine(), "503 5.5.1 TLS already active");
    await client.write("MAIL FROM:<a@example.com>\r\n");
    assertMatch((await client.readLine())!, /^451 4\.3\.2 /);
    await client.write("NOOP\r\n");
    assertEquals(await client.readLine(), "250 2.0.0 OK");
    await client.write("QUIT\r\n");
    assertEquals(await client.readLine(), "221 2.0.0 localhost closing connection");
    assert(await client.waitClosed(), "server closes after QUIT");
    await client.close();
  });
});

Deno.test("SMTP: RSET pipelined after STARTTLS is discarded, not run over TLS", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("smtp"));
    await client.readLine();
    await client.write("EHLO client.example\r\n");
    await client.readUntil((l) => l.startsWith("250 "));
    await client.write("STARTTLS\r\nRSET\r\n");
    assertEquals(await client.readLine(), "220 2.0.0 Ready to start TLS");
    assertEquals(client.pending, "", "nothing but the go-ahead arrives in plaintext");
    await client.startTls(server.ca);
    await client.write("EHLO again.example\r\n");
    // If RSET had survived the upgrade, its "250 2.0.0 OK" would come first.
    assertEquals(await client.readLine(), "250-localhost Hello again.example");
    await client.readUntil((l) => l.startsWith("250 "));
    await client.write("QUIT\r\n");
    assertMatch((await client.readLine())!, /^221 /);
    await client.close();
  });
});

Deno.test("SMTP submission: MAIL before STARTTLS is refused with 530", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("submission"));
    await client.readLine();
    await client.write("EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n");
    await client.readUntil((l) => l.startsWith("250 "));
    assertEquals(await client.readLine(), "530 5.7.0 Must issue a STARTTLS command first");
    await client.close();
  });
});

Deno.test("IMAP: STARTTLS, CAPABILITY after TLS, injected NOOP discarded, LOGOUT", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("imap"));
    assertEquals(
      await client.readLine(),
      "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] localhost Postern IMAP ready",
    );
    await client.write("a STARTTLS\r\nb NOOP\r\n");
    assertEquals(await client.readLine(), "a OK Begin TLS negotiation now");
    assertEquals(client.pending, "");
    await client.startTls(server.ca);
    assert(client.authorized);
    await client.write("c CAPABILITY\r\n");
    assertEquals(await client.readLine(), "* CAPABILITY IMAP4rev1 LOGINDISABLED");
    assertEquals(await client.readLine(), "c OK CAPABILITY completed");
    await client.write("d NOOP\r\n");
    assertEquals(await client.readLine(), "d OK NOOP completed");
    await client.write("e STARTTLS\r\nf SELECT INBOX\r\ng FROB\r\n");
    assertEquals(await client.readLine(), "e BAD TLS is already active");
    assertEquals(await client.readLine(), "f NO [UNAVAILABLE] SELECT is not available yet");
    assertEquals(await client.readLine(), "g BAD Unknown command FROB");
    await client.write("h LOGOUT\r\n");
    assertEquals(await client.readLine(), "* BYE localhost logging out");
    assertEquals(await client.readLine(), "h OK LOGOUT completed");
    assert(await client.waitClosed());
    await client.close();
  });
});

Deno.test("POP3: STLS, injected CAPA discarded, CAPA after TLS lacks STLS, QUIT", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("pop3"));
    assertEquals(await client.readLine(), "+OK localhost POP3 server ready");
    await client.write("CAPA\r\n");
    const capa = await client.readUntil((l) => l === ".");
    assertEquals(capa, [
      "+OK Capability list follows",
      "STLS",
      "RESP-CODES",
      "IMPLEMENTATION Postern",
      ".",
    ]);
    await client.write("STLS\r\nCAPA\r\n");
    assertEquals(await client.readLine(), "+OK Begin TLS negotiation");
    assertEquals(client.pending, "");
    await client.startTls(server.ca);
    await client.write("NOOP\r\n");
    // An executed CAPA would have answered "+OK Capability list follows" first.
    assertEquals(await client.readLine(), "-ERR NOOP is only valid after logging in");
    await client.write("CAPA\r\n");
    assertEquals(await client.readUntil((l) => l === "."), [
      "+OK Capability list follows",
      "RESP-CODES",
      "IMPLEMENTATION Postern",
      ".",
    ]);
    await client.write("STLS\r\n");
    assertEquals(await client.readLine(), "-ERR Command not permitted when TLS active");
    await client.write("QUIT\r\n");
    assertEquals(await client.readLine(), "+OK localhost signing off");
    assert(await client.waitClosed());
    await client.close();
  });
});

Deno.test("STARTTLS upgrade survives repeated use (20 sequential SMTP upgrades)", async () => {
  await withServer(async (server) => {
    for (let i = 0; i < 20; i++) {
      const client = await LineClient.connect(server.port("smtp"));
      await client.readLine();
      await client.write("STARTTLS\r\nRSET\r\nNOOP\r\n");
      assertEquals(await client.readLine(), "220 2.0.0 Ready to start TLS");
      await client.startTls(server.ca);
      await client.write("QUIT\r\n");
      assertEquals(await client.readLine(), "221 2.0.0 localhost closing connection");
      await client.close();
    }
  });
});

Deno.test("a client that fails the handshake is closed and not counted", async () => {
  await withServer(async (server) => {
    const client = await LineClient.connect(server.port("imap"));
    await client.readLine();
    await client.write("a STARTTLS\r\n");
    assertEquals(await client.readLine(), "a OK Begin TLS negotiation now");
    await client.write("this is not a ClientHello\r\n");
    assert(await client.waitClosed(), "the server drops a connection whose handshake fails");
    await client.close();
    await eventually(() => server.group.activeConnections() === 0, "no connections left");
  });
});
