/**
 * Interop: OpenSSL's own STARTTLS client (`openssl s_client -starttls smtp|imap|pop3|sieve`)
 * against the greeters (ManageSieve: the real server's session). The handshake must verify against the self-signed certificate
 * ("Verify return code: 0 (ok)"), and a command sent after the upgrade must get its answer.
 * Needs the `openssl` binary (scripts/install-interop.sh installs it).
 */
import { assertStringIncludes } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/tls.ts";
import { smtpGreeter } from "../../src/smtp/greeter.ts";
import { imapGreeter } from "../../src/imap/greeter.ts";
import { pop3Greeter } from "../../src/pop3/greeter.ts";
import { withServer as withFullServer } from "../helpers/server.ts";

const hostname = "localhost";

/** Runs s_client with `input` on stdin (LF lines, sent as CRLF); returns stdout + stderr. */
async function sClient(
  server: { caFile: string },
  protocol: string,
  port: number,
  input: string,
): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-starttls",
      protocol,
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      hostname,
      "-verify_hostname",
      hostname,
      "-CAfile",
      server.caFile,
      "-crlf",
      "-ign_eof",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
    const { stdout, stderr } = await child.output();
    return new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  } finally {
    clearTimeout(timer);
  }
}

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer([
    { service: "smtp", implicitTls: false, handler: smtpGreeter({ hostname, submission: false }) },
    { service: "imap", implicitTls: false, handler: imapGreeter({ hostname }) },
    { service: "pop3", implicitTls: false, handler: pop3Greeter({ hostname }) },
  ]);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

Deno.test("openssl s_client -starttls smtp: verified, EHLO answered over TLS", async () => {
  await withServer(async (server) => {
    const out = await sClient(server, "smtp", server.port("smtp"), "EHLO interop.test\nQUIT\n");
    assertStringIncludes(out, "Verify return code: 0 (ok)");
    assertStringIncludes(out, "250-localhost Hello interop.test");
    assertStringIncludes(out, "250 ENHANCEDSTATUSCODES");
    assertStringIncludes(out, "221 2.0.0 localhost closing connection");
  });
});

Deno.test("openssl s_client -starttls imap: verified, NOOP answered over TLS", async () => {
  await withServer(async (server) => {
    const out = await sClient(server, "imap", server.port("imap"), "a1 NOOP\na2 LOGOUT\n");
    assertStringIncludes(out, "Verify return code: 0 (ok)");
    assertStringIncludes(out, "a1 OK NOOP completed");
    assertStringIncludes(out, "a2 OK LOGOUT completed");
  });
});

Deno.test("openssl s_client -starttls pop3: verified, CAPA answered over TLS", async () => {
  await withServer(async (server) => {
    const out = await sClient(server, "pop3", server.port("pop3"), "CAPA\nQUIT\n");
    assertStringIncludes(out, "Verify return code: 0 (ok)");
    assertStringIncludes(out, "+OK Capability list follows\r\nRESP-CODES\r\n");
    assertStringIncludes(out, "+OK localhost signing off");
  });
});

Deno.test("openssl s_client -starttls sieve: verified, capabilities re-sent, NOOP answered", async () => {
  await withFullServer(async (server) => {
    const out = await sClient(
      { caFile: `${server.dir}/data/tls/self-signed.crt` },
      "sieve",
      server.ports.managesieve,
      'NOOP "interop"\nLOGOUT\n',
    );
    assertStringIncludes(out, "Verify return code: 0 (ok)");
    assertStringIncludes(out, 'OK "TLS negotiation successful"');
    assertStringIncludes(out, 'OK (TAG "interop")');
    assertStringIncludes(out, 'OK "Logout completed"');
  });
});
