/**
 * The https front of `[acme] challenge = "tls-alpn-01"` and `[tls] sni` (src/tls/https_front.ts)
 * over real sockets, with curl and OpenSSL's s_client as the clients. HTTPS requests reach the
 * handler with the client's own address and get the certificate of the name asked for; a hello
 * offering "acme-tls/1" gets the RFC 8737 certificate from the TypeScript TLS 1.3 responder
 * (OpenSSL checks its signature and Finished); a certificate swap refuses no connection; scanners
 * and plain-text clients do no harm.
 */
import * as x509 from "@peculiar/x509";
import net from "node:net";
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { CertificateManager } from "../../src/tls/certificates.ts";
import { HttpsFront } from "../../src/tls/https_front.ts";
import { ACME_IDENTIFIER_OID, TlsAlpn01Challenges } from "../../src/acme/tls_alpn01.ts";
import { generateSelfSigned } from "../../src/tls/self_signed.ts";

interface Front {
  front: HttpsFront;
  certificates: CertificateManager;
  challenges: TlsAlpn01Challenges;
  close(): Promise<void>;
}

/** A front on the self-signed mail.front.test, plus a [tls] sni certificate per name given. */
async function startFront(sniNames: string[] = []): Promise<Front & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "postern-front-" });
  const sni = [];
  for (const name of sniNames) {
    const pair = await generateSelfSigned([name]);
    await Deno.writeTextFile(`${dir}/${name}.crt`, pair.certificatePem);
    await Deno.writeTextFile(`${dir}/${name}.key`, pair.keyPem);
    sni.push({ certificate: `${dir}/${name}.crt`, key: `${dir}/${name}.key` });
  }
  const certificates = await CertificateManager.load({
    hostname: "mail.front.test",
    names: [],
    certificate: "",
    key: "",
    sni,
    tlsDir: dir,
  });
  const challenges = new TlsAlpn01Challenges();
  const front = await HttpsFront.start({
    address: { host: "127.0.0.1", port: 0 },
    certificates,
    challenges,
    handler: (request, info) =>
      new Response(
        `${new URL(request.url).pathname} from ${(info.remoteAddr as Deno.NetAddr).hostname}`,
      ),
  });
  return {
    dir,
    front,
    certificates,
    challenges,
    async close() {
      await front.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function curl(port: number, path: string, from = "127.0.0.1"): Promise<string> {
  const result = await new Deno.Command("curl", {
    args: ["-sS", "-k", "--interface", from, `https://127.0.0.1:${port}${path}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) throw new Error(`curl: ${new TextDecoder().decode(result.stderr)}`);
  return new TextDecoder().decode(result.stdout);
}

async function sClient(port: number, args: string[]): Promise<string> {
  const result = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
}

/** What s_client shows of a TLS-ALPN-01 validation's hello for `name`. */
function acmeHello(port: number, name: string, ...extra: string[]): Promise<string> {
  return sClient(port, ["-servername", name, "-alpn", "acme-tls/1", ...extra]);
}

function servedCertificate(output: string): x509.X509Certificate {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output);
  assert(pem, `no certificate in:\n${output}`);
  return new x509.X509Certificate(pem[0]);
}

Deno.test("https front: requests reach the handler with the client's own address", async () => {
  const { front, close } = await startFront();
  try {
    assertEquals(await curl(front.port, "/one", "127.0.0.7"), "/one from 127.0.0.7");
    assertEquals(await curl(front.port, "/two", "127.0.0.9"), "/two from 127.0.0.9");
    const served = servedCertificate(await sClient(front.port, ["-servername", "mail.front.test"]));
    assertEquals(served.subject, "CN=mail.front.test");
  } finally {
    await close();
  }
});

Deno.test("https front: a TLS-ALPN-01 hello gets the RFC 8737 certificate over TLS 1.3", async () => {
  const { front, challenges, close } = await startFront();
  try {
    await challenges.publish("mail.front.test", "token", "token.thumbprint");
    const output = await acmeHello(front.port, "mail.front.test");
    // OpenSSL verified the CertificateVerify signature and the Finished MAC to get this far.
    assertStringIncludes(output, "ALPN protocol: acme-tls/1");
    assertStringIncludes(output, "TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256");
    const served = servedCertificate(output);
    const names = served.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
    assertEquals(names, [{ type: "dns", value: "mail.front.test" }]);
    const extension = served.getExtension(ACME_IDENTIFIER_OID);
    assert(extension, "the acmeIdentifier extension");
    assert(extension.critical, "RFC 8737 3: the extension is critical");
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode("token.thumbprint")),
    );
    assertEquals(new Uint8Array(extension.value), new Uint8Array([0x04, 32, ...digest]));

    // Once withdrawn, or for another name, there is nothing to show: the connection closes.
    assertEquals(challenges.certificate("MAIL.front.test") !== undefined, true);
    const other = await acmeHello(front.port, "other.front.test");
    assert(!other.includes("ALPN protocol: acme-tls/1"), other);
    challenges.withdraw("mail.front.test");
    const gone = await acmeHello(front.port, "mail.front.test");
    assert(!gone.includes("BEGIN CERTIFICATE"), gone);
    // Ordinary clients never see the challenge certificate, even while it is published.
    await challenges.publish("mail.front.test", "token", "token.thumbprint");
    const ordinary = servedCertificate(
      await sClient(front.port, ["-servername", "mail.front.test", "-alpn", "h2,http/1.1"]),
    );
    assertEquals(ordinary.getExtension(ACME_IDENTIFIER_OID), null);
  } finally {
    await close();
  }
});

Deno.test("https front: a TLS 1.2-only validation gets a protocol_version alert", async () => {
  const { front, challenges, close } = await startFront();
  try {
    await challenges.publish("mail.front.test", "token", "token.thumbprint");
    const output = await acmeHello(front.port, "mail.front.test", "-tls1_2");
    assertStringIncludes(output, "alert protocol version");
  } finally {
    await close();
  }
});

Deno.test("https front: a new certificate is served at once and no request fails meanwhile", async () => {
  const { front, certificates, close } = await startFront();
  try {
    let failures = 0;
    let answered = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        try {
          if ((await curl(front.port, "/live")).startsWith("/live from")) answered++;
          else failures++;
        } catch {
          failures++;
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const name of ["one.front.test", "two.front.test", "three.front.test"]) {
      certificates.useIssued(await generateSelfSigned([name]));
      const served = servedCertificate(await sClient(front.port, ["-servername", name]));
      assertEquals(served.subject, `CN=${name}`);
    }
    running = false;
    await traffic;
    assertEquals(failures, 0);
    assert(answered > 3, `answered ${answered}`);
  } finally {
    await close();
  }
});

Deno.test("https front: scanners, plain text and truncated hellos do no harm", async () => {
  const { front, close } = await startFront();
  try {
    const exchange = (bytes: Uint8Array | null) =>
      new Promise<void>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port: front.port }, () => {
          if (bytes) socket.end(bytes);
          else socket.destroy();
        });
        socket.on("data", () => {});
        socket.on("error", () => resolve());
        socket.on("close", () => resolve());
      });
    const text = new TextEncoder();
    const truncated = new Uint8Array([0x16, 3, 1, 0x02, 0x00, 1, 0, 1, 0xfc, 3, 3]);
    await Promise.all([
      ...Array.from({ length: 50 }, () => exchange(null)),
      exchange(text.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
      exchange(text.encode("\x16\x03\x01\xff\xff")),
      exchange(truncated),
    ]);
    assertEquals(await curl(front.port, "/after"), "/after from 127.0.0.1");
  } finally {
    await close();
  }
});

Deno.test("https front: each name gets its [tls] sni certificate; a reload serves new files", async () => {
  const { front, certificates, dir, close } = await startFront(["other.front.test"]);
  try {
    const subject = async (name: string) =>
      servedCertificate(await sClient(front.port, ["-servername", name])).subject;
    assertEquals(await subject("other.front.test"), "CN=other.front.test");
    assertEquals(await subject("mail.front.test"), "CN=mail.front.test");
    assertEquals(await subject("unknown.front.test"), "CN=mail.front.test");
    const resolved = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-k",
        "--resolve",
        `other.front.test:${front.port}:127.0.0.1`,
        `https://other.front.test:${front.port}/sni`,
      ],
      stdout: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(resolved.stdout), "/sni from 127.0.0.1");

    // The files change (a renewal by another tool) and the server reloads them.
    const renewed = await generateSelfSigned(["other.front.test", "www.front.test"]);
    await Deno.writeTextFile(`${dir}/other.front.test.crt`, renewed.certificatePem);
    await Deno.writeTextFile(`${dir}/other.front.test.key`, renewed.keyPem);
    await certificates.reload();
    const served = servedCertificate(await sClient(front.port, ["-servername", "www.front.test"]));
    const names = served.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
    assertEquals(names?.map((n) => n.value), ["other.front.test", "www.front.test"]);
  } finally {
    await close();
  }
});
