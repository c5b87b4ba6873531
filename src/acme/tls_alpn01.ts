/**
 * TLS-ALPN-01 challenge answers (RFC 8737): the CA connects to port 443 with SNI = the name and
 * ALPN "acme-tls/1" only, and expects a self-signed certificate for exactly that name carrying
 * the critical acmeIdentifier extension (id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31) whose value
 * is the SHA-256 digest of the key authorization. The https front (src/tls/https_front.ts)
 * answers with them through src/tls/tls13_responder.ts (rustls will not load a certificate with
 * an unknown critical extension); they live in memory only while a challenge is open.
 *
 * @example
 * const challenges = new TlsAlpn01Challenges();
 * await challenges.publish("mail.example.com", keyAuthorization);
 * challenges.certificate("mail.example.com"); // what to show the CA
 */
import * as x509 from "@peculiar/x509";
import type { AlpnChallengeSource } from "../tls/https_front.ts";
import type { ResponderCertificate } from "../tls/tls13_responder.ts";
import type { ChallengeSolver } from "./client.ts";

/** RFC 8737 6.1. */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

const VALIDITY_MS = 7 * 86_400_000;

export class TlsAlpn01Challenges implements AlpnChallengeSource, ChallengeSolver {
  readonly type = "tls-alpn-01";
  readonly #certificates = new Map<string, ResponderCertificate>();

  async publish(name: string, _token: string, keyAuthorization: string): Promise<void> {
    this.#certificates.set(name.toLowerCase(), await challengeCertificate(name, keyAuthorization));
  }

  withdraw(name: string): void {
    this.#certificates.delete(name.toLowerCase());
  }

  certificate(name: string): ResponderCertificate | undefined {
    return this.#certificates.get(name.toLowerCase());
  }
}

/** The self-signed certificate of RFC 8737 3 for `name` and `keyAuthorization`. */
export async function challengeCertificate(
  name: string,
  keyAuthorization: string,
  now = new Date(),
): Promise<ResponderCertificate> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, false, ["sign", "verify"]);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(keyAuthorization)),
  );
  // Authorization ::= OCTET STRING (SIZE (32)), DER-encoded as the extension's value.
  const value = new Uint8Array([0x04, digest.length, ...digest]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    name: `CN=${name}`,
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      new x509.Extension(ACME_IDENTIFIER_OID, true, value),
    ],
  });
  return { der: new Uint8Array(cert.rawData), privateKey: keys.privateKey };
}
