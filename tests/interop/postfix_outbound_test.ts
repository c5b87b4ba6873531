/**
 * Interop: Postern's outbound queue delivers to a real Postfix (127.0.0.4:25), found by MX
 * lookup in the test DNS, over STARTTLS; an independent verifier, python3-dkim (the library
 * behind `dkimverify`), checks both DKIM signatures (RSA and Ed25519) of the message as Postfix
 * stored it, with the keys `postern domain dns` says to publish. Needs root, `postfix` and
 * `python3-dkim` (scripts/install-interop.sh installs them).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { cliAll, submit } from "../helpers/mail.ts";
import { type PostfixPeer, startPostfix } from "../helpers/postfix.ts";
import { createTestCa, issueCertificate } from "../helpers/https_server.ts";

const VERIFY = `
import sys, json, dkim
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    value = records.get(name.decode().rstrip("."))
    return value.encode() if value else None
message = sys.stdin.buffer.read()
d = dkim.DKIM(message)
count = sum(1 for h in dkim.rfc822_parse(message)[0] if h[0].lower() == b"dkim-signature")
print(json.dumps([d.verify(idx=i, dnsfunc=dnsfunc) for i in range(count)]))
`;

/** The DKIM TXT records of `postern domain dns DOMAIN`, name → value. */
async function dkimRecords(configPath: string, domain: string): Promise<Record<string, string>> {
  const result = await cli(configPath, ["domain", "dns", domain]);
  assertEquals(result.code, 0, result.stderr);
  const records: Record<string, string> = {};
  for (const line of result.stdout.split("\n")) {
    const [name, , , type, value] = line.split("\t");
    if (type !== "TXT" || !name.includes("._domainkey.")) continue;
    records[name.replace(/\.$/, "")] = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)]
      .map((m) => m[1]).join("");
  }
  return records;
}

Deno.test("Postern delivers to Postfix by MX over STARTTLS; python3-dkim verifies both signatures", async () => {
  const dns = await startDnsServer({
    "postfix.test": { MX: [{ exchange: "mx.postfix.test", preference: 10 }] },
    "mx.postfix.test": { A: ["127.0.0.4"] },
  });
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: `[queue]\nretry = ["1s"]\nreply_timeout = "10s"`,
  });
  let postfix: PostfixPeer | undefined;
  const tlsDir = await Deno.makeTempDir({ prefix: "postfix-tls-" });
  try {
    const certificate = await issueCertificate(await createTestCa(), ["mx.postfix.test"]);
    await Deno.writeTextFile(`${tlsDir}/cert.pem`, certificate.certificatePem);
    await Deno.writeTextFile(`${tlsDir}/key.pem`, certificate.keyPem, { mode: 0o600 });
    postfix = await startPostfix({
      domains: ["postfix.test"],
      mainCf: {
        smtpd_tls_security_level: "may",
        smtpd_tls_cert_file: `${tlsDir}/cert.pem`,
        smtpd_tls_key_file: `${tlsDir}/key.pem`,
        smtpd_tls_loglevel: "1",
      },
    });
    await cliAll(server, [["account", "add", "alice@example.com", "--password", "pw"]]);
    const body = "From: Alice <alice@example.com>\r\nTo: <bob@postfix.test>\r\n" +
      "Subject: to Postfix\r\n\r\nHello Bob.\r\n.a leading dot\r\nGrüße.\r\n";
    assertMatch(
      await submit(
        server,
        { user: "alice@example.com", password: "pw" },
        { from: "alice@example.com", to: ["bob@postfix.test"] },
        body,
      ),
      /^250 /,
    );
    const [stored] = await postfix.waitForMessages("bob@postfix.test", 1, 20_000);
    const text = new TextDecoder().decode(stored);
    assertMatch(text, /^Return-Path: <alice@example\.com>\n/);
    assertMatch(text, /by mx\.postfix\.test|by postfix\.test/);
    assertMatch(text, /Subject: to Postfix\n\nHello Bob\.\n\.a leading dot\nGrüße\.\n$/);
    assert(
      postfix.logTail(200).includes("TLS connection established from"),
      `the delivery used STARTTLS:\n${postfix.logTail(40)}`,
    );

    const records = await dkimRecords(server.configPath, "example.com");
    assertEquals(Object.keys(records).length, 2);
    const output = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", VERIFY, JSON.stringify(records)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = output.stdin.getWriter();
    // Postfix stores LF line ends; DKIM is computed over the CRLF form on the wire.
    await writer.write(new TextEncoder().encode(text.replace(/\n/g, "\r\n")));
    await writer.close();
    const result = await output.output();
    assertEquals(result.code, 0, new TextDecoder().decode(result.stderr));
    assertEquals(new TextDecoder().decode(result.stdout).trim(), "[true, true]");
  } finally {
    await postfix?.stop();
    await server.stop();
    await dns.close();
    await Deno.remove(tlsDir, { recursive: true });
  }
});
