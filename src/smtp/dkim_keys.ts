/**
 * DKIM signing keys: every domain gets an RSA-2048 key (RFC 6376, what every verifier accepts)
 * and an Ed25519 key (RFC 8463, small and fast), signed with both. Selectors carry the algorithm
 * and the month, so a later rotation gets a new name: rsa-202611, ed-202611.
 *
 * @example
 * const keys = await generateDkimKeys(new Date());
 */
import type { DkimKey } from "../store/types.ts";

function base64(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function pem(label: string, der: ArrayBuffer): string {
  const body = base64(der).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

export async function generateDkimKeys(now: Date): Promise<DkimKey[]> {
  const month = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
  const rsa = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const ed = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  return [
    {
      selector: `rsa-${month}`,
      algorithm: "rsa-sha256",
      privateKey: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", rsa.privateKey)),
      // RFC 6376 3.6.1: p= is the base64 DER SubjectPublicKeyInfo for RSA.
      publicKey: base64(await crypto.subtle.exportKey("spki", rsa.publicKey)),
      createdAt: now,
    },
    {
      selector: `ed-${month}`,
      algorithm: "ed25519-sha256",
      privateKey: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", ed.privateKey)),
      // RFC 8463 4.2: p= is the base64 of the raw 32-byte public key, not an SPKI.
      publicKey: base64(await crypto.subtle.exportKey("raw", ed.publicKey)),
      createdAt: now,
    },
  ];
}

/** The TXT record content for a key: "v=DKIM1; k=rsa; p=…". */
export function dkimRecord(key: DkimKey): string {
  const k = key.algorithm === "rsa-sha256" ? "rsa" : "ed25519";
  return `v=DKIM1; k=${k}; h=sha256; p=${key.publicKey}`;
}
