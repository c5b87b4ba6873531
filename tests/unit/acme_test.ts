/**
 * The ACME client's pure pieces: base64url, the ES256 JWS (RFC 7515/8555 6.2) checked with
 * WebCrypto, the RFC 7638 thumbprint, account key storage, the CSR (RFC 2986) and Retry-After.
 * The protocol exchange itself (nonces, badNonce, orders) runs against Pebble in
 * tests/interop/acme_pebble_test.ts.
 */
import crypto from "node:crypto";
import * as x509 from "@peculiar/x509";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  base64url,
  base64urlDecode,
  exportAccountKey,
  generateAccountKey,
  importAccountKey,
  jwkThumbprint,
  keyAuthorization,
  signJws,
} from "../../src/acme/jws.ts";
import { createCsr } from "../../src/acme/csr.ts";
import { retryAfterMs } from "../../src/acme/client.ts";
import { Http01Challenges, mountAcmeChallenges } from "../../src/acme/http01.ts";
import { Hono } from "hono";
import { CertificateError, CertificateManager } from "../../src/tls/certificates.ts";
import { generateSelfSigned } from "../../src/tls/self_signed.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { renewalTime, retryDelayMs } from "../../src/acme/manager.ts";

const decoder = new TextDecoder();

async function verifies(
  publicJwk: JsonWebKey,
  jws: { protected: string; payload: string; signature: string },
) {
  const key = await crypto.subtle.importKey(
    "jwk",
    publicJwk,
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  return await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    base64urlDecode(jws.signature),
    new TextEncoder().encode(`${jws.protected}.${jws.payload}`),
  );
}

Deno.test("base64url: no padding, URL alphabet, round trip", () => {
  const bytes = new Uint8Array([0xfb, 0xff, 0xfe, 0x00, 0x3e]);
  assertEquals(base64url(bytes), "-__-AD4");
  assertEquals([...base64urlDecode("-__-AD4")], [...bytes]);
  assertEquals(base64url("{}"), "e30");
  for (let length = 0; length < 6; length++) {
    const data = crypto.getRandomValues(new Uint8Array(length));
    assertEquals([...base64urlDecode(base64url(data))], [...data]);
  }
});

Deno.test("JWS for newAccount: ES256, jwk (no kid), nonce and url; signature verifies", async () => {
  const key = await generateAccountKey();
  const jws = await signJws(key, { nonce: "n0nce", url: "https://ca.test/new-acct" }, {
    termsOfServiceAgreed: true,
  });
  const header = JSON.parse(decoder.decode(base64urlDecode(jws.protected)));
  assertEquals(header, {
    alg: "ES256",
    jwk: key.publicJwk,
    nonce: "n0nce",
    url: "https://ca.test/new-acct",
  });
  assertEquals(Object.keys(key.publicJwk).sort(), ["crv", "kty", "x", "y"]);
  assertEquals(JSON.parse(decoder.decode(base64urlDecode(jws.payload))), {
    termsOfServiceAgreed: true,
  });
  // RFC 7518 3.4: r || s, 64 bytes for P-256 (not DER).
  assertEquals(base64urlDecode(jws.signature).length, 64);
  assert(await verifies(key.publicJwk, jws));
});

Deno.test("JWS with kid and POST-as-GET: kid instead of jwk, empty payload", async () => {
  const key = await generateAccountKey();
  const jws = await signJws(key, {
    nonce: "abc",
    url: "https://ca.test/order/1",
    kid: "https://ca.test/acct/7",
  }, null);
  const header = JSON.parse(decoder.decode(base64urlDecode(jws.protected)));
  assertEquals(header, {
    alg: "ES256",
    kid: "https://ca.test/acct/7",
    nonce: "abc",
    url: "https://ca.test/order/1",
  });
  assertEquals(jws.payload, "");
  assert(await verifies(key.publicJwk, jws));
  // A changed payload no longer verifies.
  assert(!(await verifies(key.publicJwk, { ...jws, payload: base64url("{}") })));
});

Deno.test("account key: stored as a JWK and restored to the same key", async () => {
  const key = await generateAccountKey();
  const stored = await exportAccountKey(key);
  const restored = await importAccountKey(stored);
  assertEquals(restored.publicJwk, key.publicJwk);
  const jws = await signJws(restored, { nonce: "n", url: "https://ca.test/x" }, {});
  assert(await verifies(key.publicJwk, jws));
  let refused = false;
  try {
    await importAccountKey(JSON.stringify({ kty: "RSA", n: "x", e: "AQAB" }));
  } catch {
    refused = true;
  }
  assert(refused, "a non-P-256 key is refused");
});

Deno.test("RFC 7638 thumbprint: SHA-256 of the members in lexical order; key authorization", async () => {
  const jwk = {
    kty: "EC" as const,
    crv: "P-256" as const,
    x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  };
  const canonical =
    '{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}';
  const expected = base64url(
    new Uint8Array(crypto.createHash("sha256").update(canonical).digest()),
  );
  assertEquals(await jwkThumbprint(jwk), expected);
  const key = await generateAccountKey();
  assertEquals(
    await keyAuthorization(key, "tok-EN_1"),
    `tok-EN_1.${await jwkThumbprint(key.publicJwk)}`,
  );
});

Deno.test("CSR: P-256, signed, CN = first name, every name in subjectAltName, key matches", async () => {
  const names = ["mail.example.com", "imap.example.com"];
  const { csrDer, keyPem } = await createCsr(names);
  const csr = new x509.Pkcs10CertificateRequest(csrDer.slice().buffer);
  assert(await csr.verify(), "the CSR's self-signature verifies");
  assertEquals(csr.subject, "CN=mail.example.com");
  const san = csr.getExtension("2.5.29.17") as x509.SubjectAlternativeNameExtension | null;
  assert(san, "subjectAltName present");
  assertEquals(san.names.items.map((n) => n.value), names);
  const fromKey = crypto.createPublicKey(crypto.createPrivateKey(keyPem))
    .export({ type: "spki", format: "der" });
  assertEquals(
    base64url(new Uint8Array(fromKey)),
    base64url(new Uint8Array(csr.publicKey.rawData)),
  );
  assertEquals(crypto.createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");
  // A fresh key per request.
  const other = await createCsr(names);
  assert(other.keyPem !== keyPem);
});

Deno.test("Retry-After: seconds, an HTTP date, absent or garbage, bounded", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assertEquals(retryAfterMs("3", now), 3000);
  assertEquals(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
  assertEquals(retryAfterMs("Wed, 31 Dec 2025 23:00:00 GMT", now), 0);
  assertEquals(retryAfterMs(null, now), 1000);
  assertEquals(retryAfterMs("soon", now), 1000);
  assertEquals(retryAfterMs("86400", now), 60_000);
});

Deno.test("HTTP-01 route: the key authorization while published, 404 before and after", async () => {
  const app = new Hono();
  const challenges = new Http01Challenges();
  mountAcmeChallenges(app, challenges);
  const url = "http://mail.example.com/.well-known/acme-challenge/tok_1-A";
  assertEquals((await app.request(url)).status, 404);
  challenges.set("tok_1-A", "tok_1-A.thumb");
  const answer = await app.request(url);
  assertEquals(answer.status, 200);
  assertEquals(await answer.text(), "tok_1-A.thumb");
  assertEquals(
    (await app.request("http://mail.example.com/.well-known/acme-challenge/tok%2E1")).status,
    404,
  );
  challenges.set("tok_1-A", null);
  assertEquals((await app.request(url)).status, 404);
});

Deno.test("CertificateManager.useIssued: the issued pair becomes the default, reload keeps it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-acme-" });
  try {
    const certificates = await CertificateManager.load({
      hostname: "mail.example.com",
      names: [],
      certificate: "",
      key: "",
      sni: [],
      tlsDir: dir,
    });
    const selfSigned = certificates.material();
    let changes = 0;
    certificates.onChange(() => changes++);
    const issued = await generateSelfSigned(["mail.example.com", "imap.example.com"]);
    // A key that does not match is refused and changes nothing.
    const other = await generateSelfSigned(["mail.example.com"]);
    assertThrows(
      () => certificates.useIssued({ certificatePem: issued.certificatePem, keyPem: other.keyPem }),
      CertificateError,
    );
    assertEquals(certificates.material(), selfSigned);
    assertEquals(changes, 0);

    certificates.useIssued(issued);
    assertEquals(changes, 1);
    assertEquals(certificates.material(), issued);
    assertEquals(certificates.select("imap.example.com").names, [
      "mail.example.com",
      "imap.example.com",
    ]);
    await certificates.reload();
    assertEquals(certificates.material(), issued);
    assertEquals(changes, 1, "reload with the same pair is no change");

    // At the next start the stored pair is the default before any self-signed one is read.
    const next = await CertificateManager.load({
      hostname: "mail.example.com",
      names: [],
      certificate: "",
      key: "",
      sni: [],
      tlsDir: dir,
      issued,
    });
    assertEquals(next.material(), issued);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: ACME account per directory, newest certificate kept", async () => {
  const store = new SqliteStore({ path: ":memory:" });
  try {
    const directory = "https://ca.test/dir";
    assertEquals(await store.acme.getAccount(directory), null);
    await store.acme.saveAccount({ directory, keyJwk: '{"kty":"EC"}', url: "" });
    await store.acme.saveAccount({ directory, keyJwk: '{"kty":"EC"}', url: "https://ca.test/a/1" });
    assertEquals(await store.acme.getAccount(directory), {
      directory,
      keyJwk: '{"kty":"EC"}',
      url: "https://ca.test/a/1",
    });
    assertEquals(await store.acme.getAccount("https://other.test/dir"), null);
    assertEquals(await store.acme.latestCertificate(directory), null);
    const base = {
      directory,
      names: ["mail.example.com", "imap.example.com"],
      keyPem: "KEY",
      issuedAt: new Date(1_000_000),
    };
    await store.acme.saveCertificate({
      ...base,
      certificatePem: "FIRST",
      notAfter: new Date(2_000_000),
    });
    const second = await store.acme.saveCertificate({
      ...base,
      certificatePem: "SECOND",
      notAfter: new Date(3_000_000),
    });
    const latest = await store.acme.latestCertificate(directory);
    assertEquals(latest, second);
    assertEquals(latest?.certificatePem, "SECOND");
    assertEquals(latest?.names, ["mail.example.com", "imap.example.com"]);
    assertEquals(latest?.notAfter.getTime(), 3_000_000);
    const rows = store.db.prepare("SELECT count(*) AS n FROM acme_certificates").get() as {
      n: number;
    };
    assertEquals(rows.n, 1);
  } finally {
    await store.close();
  }
});

Deno.test("renewal back-off: 1 min, doubling, capped at a day", () => {
  assertEquals([1, 2, 3, 4].map(retryDelayMs), [60_000, 120_000, 240_000, 480_000]);
  assertEquals(retryDelayMs(11), 61_440_000);
  assertEquals(retryDelayMs(12), 86_400_000);
  assertEquals(retryDelayMs(40), 86_400_000);
});

Deno.test("renewal time: renew_before ahead of expiry; halfway when it exceeds the lifetime", () => {
  const issued = new Date("2026-01-01T00:00:00Z");
  const ninetyDays = new Date("2026-04-01T00:00:00Z");
  assertEquals(
    new Date(renewalTime(issued, ninetyDays, 30 * 86400)).toISOString(),
    "2026-03-02T00:00:00.000Z",
  );
  const oneHour = new Date("2026-01-01T01:00:00Z");
  assertEquals(
    new Date(renewalTime(issued, oneHour, 30 * 86400)).toISOString(),
    "2026-01-01T00:30:00.000Z",
  );
});
