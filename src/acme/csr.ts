/**
 * The certificate signing request sent to finalize an order (RFC 8555 7.4): a fresh ECDSA P-256
 * key per certificate, subject CN = the first name, every name in subjectAltName (RFC 2986 PKCS
 * #10, built with @peculiar/x509).
 *
 * @example
 * const { csrDer, keyPem } = await createCsr(["mail.example.com", "imap.example.com"]);
 */
import * as x509 from "@peculiar/x509";

export interface CertificateRequest {
  /** DER of the PKCS #10 request; base64url of it is the finalize payload's `csr`. */
  csrDer: Uint8Array;
  /** The certificate's private key, PKCS #8 PEM. */
  keyPem: string;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

export async function createCsr(names: string[]): Promise<CertificateRequest> {
  if (names.length === 0) throw new Error("a certificate request needs at least one name");
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names[0]}`,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: "dns" as const, value })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    csrDer: new Uint8Array(csr.rawData),
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}
