/**
 * The certificate manager: self-signed generation and reuse, configured files, error texts an
 * operator reads, and SNI selection (checked by name and over a real handshake).
 */
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "../helpers/assert.ts";
import { CertificateError, CertificateManager } from "../../src/tls/certificates.ts";
import { nameMatches } from "../../src/tls/names.ts";
import { generateSelfSigned } from "../../src/tls/self_signed.ts";
import { ListenerGroup } from "../../src/server/mod.ts";
import { LineClient } from "../helpers/tls.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-certs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function selfSignedOptions(tlsDir: string, names: string[] = []) {
  return { hostname: "mail.example.com", names, certificate: "", key: "", sni: [], tlsDir };
}

async function writePair(dir: string, name: string, names: string[], now?: Date) {
  const material = await generateSelfSigned(names, now);
  const certificate = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  await Deno.writeTextFile(certificate, material.certificatePem);
  await Deno.writeTextFile(key, material.keyPem);
  return { certificate, key, material };
}

function sanNames(pem: string): string[] {
  const cert = new x509.X509Certificate(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san?.names.items.map((n) => `${n.type}:${n.value}`) ?? [];
}

Deno.test("self-signed: generated for hostname and names, stored with a private key file", async () => {
  await withDir(async (dir) => {
    const tlsDir = `${dir}/tls`;
    const manager = await CertificateManager.load(
      selfSignedOptions(tlsDir, ["example.com", "autoconfig.example.com"]),
    );
    const pem = await Deno.readTextFile(`${tlsDir}/self-signed.crt`);
    assertEquals(sanNames(pem), [
      "dns:mail.example.com",
      "dns:example.com",
      "dns:autoconfig.example.com",
    ]);
    const cert = new x509.X509Certificate(pem);
    assertEquals(cert.subject, "CN=mail.example.com");
    assertEquals((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
    const days = (cert.notAfter.getTime() - Date.now()) / 86400_000;
    assert(days > 360 && days < 367, `valid for ${days} days`);
    assertEquals((await Deno.stat(`${tlsDir}/self-signed.key`)).mode! & 0o777, 0o600);

    const [described] = manager.describe();
    assertEquals(described.selfSigned, true);
    assertEquals(described.subject, "CN=mail.example.com");
    assertEquals(described.names, ["mail.example.com", "example.com", "autoconfig.example.com"]);
    assertEquals(manager.material().certificatePem, pem);
  });
});

Deno.test("self-signed: reused on the next start, regenerated when the names change", async () => {
  await withDir(async (dir) => {
    await CertificateManager.load(selfSignedOptions(dir, ["example.com"]));
    const first = await Deno.readTextFile(`${dir}/self-signed.crt`);

    const again = await CertificateManager.load(selfSignedOptions(dir, ["EXAMPLE.com"]));
    assertEquals(await Deno.readTextFile(`${dir}/self-signed.crt`), first, "reused as is");
    assertEquals(again.material().certificatePem, first);

    const renamed = await CertificateManager.load(selfSignedOptions(dir, ["example.org"]));
    const second = await Deno.readTextFile(`${dir}/self-signed.crt`);
    assertNotEquals(second, first);
    assertEquals(sanNames(second), ["dns:mail.example.com", "dns:example.org"]);
    assertEquals(renamed.describe()[0].names, ["mail.example.com", "example.org"]);
  });
});

Deno.test("self-signed: regenerated when expired or when the files are damaged", async () => {
  await withDir(async (dir) => {
    const twoYearsAgo = new Date(Date.now() - 2 * 365 * 86400_000);
    const old = await generateSelfSigned(["mail.example.com"], twoYearsAgo);
    await Deno.writeTextFile(`${dir}/self-signed.crt`, old.certificatePem);
    await Deno.writeTextFile(`${dir}/self-signed.key`, old.keyPem);
    const manager = await CertificateManager.load(selfSignedOptions(dir));
    assert(manager.describe()[0].notAfter.getTime() > Date.now() + 300 * 86400_000);
    assertNotEquals(await Deno.readTextFile(`${dir}/self-signed.crt`), old.certificatePem);

    await Deno.writeTextFile(`${dir}/self-signed.key`, "garbage");
    const repaired = await CertificateManager.load(selfSignedOptions(dir));
    assertEquals(repaired.describe()[0].names, ["mail.example.com"]);
    assertMatch(await Deno.readTextFile(`${dir}/self-signed.key`), /BEGIN PRIVATE KEY/);
  });
});

Deno.test("configured files are loaded as given", async () => {
  await withDir(async (dir) => {
    const pair = await writePair(dir, "main", ["mx.example.net", "example.net"]);
    const manager = await CertificateManager.load({
      ...selfSignedOptions(dir),
      certificate: pair.certificate,
      key: pair.key,
    });
    assertEquals(manager.describe()[0].names, ["mx.example.net", "example.net"]);
    assertEquals(manager.material().certificatePem, pair.material.certificatePem);
    let exists = true;
    await Deno.stat(`${dir}/self-signed.crt`).catch(() => exists = false);
    assertEquals(exists, false, "no self-signed certificate is made when files are given");
  });
});

Deno.test("error texts name the file: missing, not PEM, key mismatch, half configured", async () => {
  await withDir(async (dir) => {
    const a = await writePair(dir, "a", ["a.example.com"]);
    const b = await writePair(dir, "b", ["b.example.com"]);
    const load = (certificate: string, key: string) =>
      CertificateManager.load({ ...selfSignedOptions(dir), certificate, key });

    let err = await assertRejects(() => load(`${dir}/nope.crt`, a.key), CertificateError);
    assertEquals(err.message, `TLS certificate file "${dir}/nope.crt" does not exist`);

    err = await assertRejects(() => load(a.certificate, `${dir}/nope.key`), CertificateError);
    assertEquals(err.message, `TLS key file "${dir}/nope.key" does not exist`);

    await Deno.writeTextFile(`${dir}/junk.crt`, "hello");
    err = await assertRejects(() => load(`${dir}/junk.crt`, a.key), CertificateError);
    assertEquals(err.message, `TLS certificate file "${dir}/junk.crt" holds no PEM certificate`);

    err = await assertRejects(() => load(a.certificate, a.certificate), CertificateError);
    assertMatch(err.message, new RegExp(`^TLS key file "${a.certificate}" holds no usable`));

    err = await assertRejects(() => load(a.certificate, b.key), CertificateError);
    assertEquals(
      err.message,
      `TLS key file "${b.key}" does not match the certificate in "${a.certificate}"`,
    );

    err = await assertRejects(() => load(a.certificate, ""), CertificateError);
    assertMatch(err.message, /must be set together/);
  });
});

Deno.test("name matching: exact and one-label wildcards, case-insensitive", () => {
  assert(nameMatches("mail.example.com", "MAIL.example.com."));
  assert(nameMatches("*.example.com", "imap.example.com"));
  assert(!nameMatches("*.example.com", "example.com"));
  assert(!nameMatches("*.example.com", "a.b.example.com"));
  assert(!nameMatches("*.example.com", "imap.example.org"));
  assert(!nameMatches("mail.example.com", "mail.example.co"));
});

Deno.test("SNI: exact match first, then wildcard, else the default; reload swaps files", async () => {
  await withDir(async (dir) => {
    const wild = await writePair(dir, "wild", ["*.example.org"]);
    const shop = await writePair(dir, "shop", ["shop.example.org"]);
    const manager = await CertificateManager.load({
      ...selfSignedOptions(dir),
      sni: [{ certificate: wild.certificate, key: wild.key }, shop],
    });
    assertEquals(manager.select("www.example.org").names, ["*.example.org"]);
    assertEquals(manager.select("SHOP.example.org").names, ["shop.example.org"]);
    assertEquals(manager.select("a.b.example.org").names, ["mail.example.com"]);
    assertEquals(manager.select("unknown.test").names, ["mail.example.com"]);
    assertEquals(manager.describe().map((d) => d.names[0]), [
      "mail.example.com",
      "*.example.org",
      "shop.example.org",
    ]);
    const picked = await new Promise<tls.SecureContext | undefined>((resolve) =>
      manager.sniCallback("www.example.org", (_err, ctx) => resolve(ctx))
    );
    assert(picked === manager.select("www.example.org").context);

    // reload(): new file contents take effect; a broken file leaves the old state running.
    const replacement = await generateSelfSigned(["*.example.org", "example.org"]);
    await Deno.writeTextFile(wild.certificate, replacement.certificatePem);
    await Deno.writeTextFile(wild.key, replacement.keyPem);
    await manager.reload();
    assertEquals(manager.select("example.org").names, ["*.example.org", "example.org"]);
    await Deno.writeTextFile(shop.key, "broken");
    await assertRejects(() => manager.reload(), CertificateError);
    assertEquals(manager.select("shop.example.org").names, ["shop.example.org"]);
  });
});

Deno.test("SNI over a real handshake: each name gets its certificate, verified by the client", async () => {
  await withDir(async (dir) => {
    const shop = await writePair(dir, "shop", ["shop.example.org"]);
    const certificates = await CertificateManager.load({ ...selfSignedOptions(dir), sni: [shop] });
    const group = new ListenerGroup({
      limits: {
        maxLineLength: 100,
        idleTimeoutSeconds: 5,
        maxConnections: 10,
        maxConnectionsPerIp: 10,
      },
      certificates,
    });
    const [bound] = await group.listen([{
      service: "test",
      host: "127.0.0.1",
      port: 0,
      implicitTls: true,
      handler: async (conn) => await conn.write(`hi ${conn.secure}\r\n`),
    }]);
    try {
      const shopClient = await LineClient.connect(bound.port);
      await shopClient.startTls(shop.material.certificatePem, "shop.example.org");
      assert(shopClient.authorized);
      assertEquals(await shopClient.readLine(), "hi true");
      await shopClient.close();

      const mainClient = await LineClient.connect(bound.port);
      await mainClient.startTls(certificates.material().certificatePem, "mail.example.com");
      assert(mainClient.authorized);
      await mainClient.close();

      // The default certificate does not verify as shop.example.org's.
      const wrong = await LineClient.connect(bound.port);
      await assertRejects(() => wrong.startTls(shop.material.certificatePem, "other.example.org"));
      await wrong.close();
    } finally {
      await group.shutdown(0);
    }
  });
});
