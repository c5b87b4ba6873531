/**
 * Interop: Python's standard smtplib, imaplib and poplib (the libraries countless scripts and
 * tools use) against the real server process: each connects, upgrades with STARTTLS/STLS
 * verifying the server's certificate, and speaks a command over TLS; the implicit-TLS ports are
 * reached with SMTP_SSL, IMAP4_SSL and POP3_SSL.
 */
import { assertEquals } from "../helpers/assert.ts";
import { startServer } from "../helpers/server.ts";

const SCRIPT = `
import imaplib, poplib, smtplib, ssl, sys, json
ports = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
out = {}

s = smtplib.SMTP("localhost", ports["smtp"], timeout=10)
s.ehlo("client.example")
out["smtp_before"] = s.has_extn("starttls")
s.starttls(context=ctx)
s.ehlo("client.example")
out["smtp_after"] = s.has_extn("starttls")
out["smtp_noop"] = s.noop()[0]
s.quit()

s = smtplib.SMTP_SSL("localhost", ports["submissions"], context=ctx, timeout=10)
out["smtps_noop"] = s.noop()[0]
s.quit()

m = imaplib.IMAP4("localhost", ports["imap"], timeout=10)
out["imap_caps_before"] = sorted(m.capabilities)
m.starttls(ssl_context=ctx)
out["imap_noop"] = m.noop()[0]
m.logout()

m = imaplib.IMAP4_SSL("localhost", ports["imaps"], ssl_context=ctx, timeout=10)
out["imaps_noop"] = m.noop()[0]
m.logout()

p = poplib.POP3("localhost", ports["pop3"], timeout=10)
out["pop_caps"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["pop_after_stls"] = "STLS" in p.capa()
p.quit()

p = poplib.POP3_SSL("localhost", ports["pop3s"], context=ctx, timeout=10)
out["pops_greeting"] = p.getwelcome().decode().split(" ")[0]
p.quit()
print(json.dumps(out))
`;

Deno.test("Python smtplib, imaplib and poplib upgrade to TLS and talk over it", async () => {
  const server = await startServer();
  try {
    const output = await new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        SCRIPT,
        JSON.stringify(server.ports),
        `${server.dir}/data/tls/self-signed.crt`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(result.smtp_before, true);
    assertEquals(result.smtp_after, false); // STARTTLS is not offered again inside TLS
    assertEquals(result.smtp_noop, 250);
    assertEquals(result.smtps_noop, 250);
    assertEquals(result.imap_caps_before.includes("STARTTLS"), true);
    assertEquals(result.imap_caps_before.includes("LOGINDISABLED"), true);
    assertEquals(result.imap_noop, "OK");
    assertEquals(result.imaps_noop, "OK");
    assertEquals(result.pop_caps.includes("STLS"), true);
    assertEquals(result.pop_after_stls, false);
    assertEquals(result.pops_greeting, "+OK");
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
});
