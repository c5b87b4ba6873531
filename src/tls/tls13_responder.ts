/**
 * One TLS 1.3 server flight (RFC 8446), written here for the one certificate Deno's TLS stack
 * cannot serve: the TLS-ALPN-01 challenge certificate (RFC 8737), whose critical acmeIdentifier
 * extension rustls refuses to load. The CA only needs to see that certificate in a completed
 * handshake, so this answers a ClientHello with ServerHello, EncryptedExtensions (the ALPN),
 * Certificate, CertificateVerify and Finished, and reads nothing back.
 *
 * Implementation notes:
 * - One choice each: TLS_AES_128_GCM_SHA256, X25519, ecdsa_secp256r1_sha256 — what every ACME
 *   CA's client offers (Go's crypto/tls for Let's Encrypt and Pebble, OpenSSL). A hello without
 *   them gets a fatal alert, not a HelloRetryRequest.
 * - No application data ever flows: the connection is closed after the client's answer.
 * - WebCrypto does the X25519 exchange, ECDSA signature and AES-GCM; node:crypto the HMACs.
 *
 * @example
 * const flight = await respondTls13(hello.details, "acme-tls/1", { der, privateKey });
 * socket.write(flight.bytes);
 */
import { createHash, createHmac } from "node:crypto";
import type { HelloDetails } from "./client_hello.ts";

const TLS13 = 0x0304;
const TLS_AES_128_GCM_SHA256 = 0x1301;
const X25519 = 0x001d;
const ECDSA_P256_SHA256 = 0x0403;

const RECORD_HANDSHAKE = 22;
const RECORD_CHANGE_CIPHER_SPEC = 20;
const RECORD_ALERT = 21;
const RECORD_APPLICATION_DATA = 23;

const ALERT_HANDSHAKE_FAILURE = 40;
const ALERT_ILLEGAL_PARAMETER = 47;
const ALERT_PROTOCOL_VERSION = 70;
const ALERT_NO_APPLICATION_PROTOCOL = 120;

export interface ResponderCertificate {
  /** The certificate, DER. */
  der: Uint8Array;
  /** Its ECDSA P-256 private key (WebCrypto, usage "sign"). */
  privateKey: CryptoKey;
}

export type Tls13Flight =
  /** The server's records, ready to write. */
  | { kind: "flight"; bytes: Uint8Array }
  /** A fatal alert record, and why. */
  | { kind: "alert"; bytes: Uint8Array; reason: string };

export async function respondTls13(
  hello: HelloDetails,
  protocol: string,
  certificate: ResponderCertificate,
): Promise<Tls13Flight> {
  if (!hello.versions.includes(TLS13)) {
    return alert(ALERT_PROTOCOL_VERSION, "the client does not offer TLS 1.3");
  }
  if (!hello.cipherSuites.includes(TLS_AES_128_GCM_SHA256)) {
    return alert(ALERT_HANDSHAKE_FAILURE, "the client does not offer TLS_AES_128_GCM_SHA256");
  }
  if (!hello.signatureAlgorithms.includes(ECDSA_P256_SHA256)) {
    return alert(ALERT_HANDSHAKE_FAILURE, "the client does not accept ECDSA P-256 signatures");
  }
  const share = hello.keyShares.get(X25519);
  if (share?.length !== 32) {
    return alert(ALERT_HANDSHAKE_FAILURE, "the client sent no X25519 key share");
  }
  if (protocol.length === 0 || protocol.length > 255) {
    return alert(ALERT_NO_APPLICATION_PROTOCOL, "bad protocol name");
  }

  const exchanged = await keyExchange(share);
  if (!exchanged) {
    return alert(ALERT_ILLEGAL_PARAMETER, "the client's X25519 key share is not a usable key");
  }
  const { ourPublic, shared } = exchanged;

  const serverHello = handshake(
    2,
    concat(
      u16(0x0303),
      crypto.getRandomValues(new Uint8Array(32)),
      vector8(hello.sessionId),
      u16(TLS_AES_128_GCM_SHA256),
      [0],
      vector16(concat(
        extension(43, u16(TLS13)),
        extension(51, concat(u16(X25519), vector16(ourPublic))),
      )),
    ),
  );
  const transcript: Uint8Array[] = [hello.message, serverHello];

  // RFC 8446 7.1, without a PSK: early secret from zeros, handshake secret from the exchange.
  const zeros = new Uint8Array(32);
  const earlySecret = hmac(zeros, zeros);
  const derived = expandLabel(earlySecret, "derived", sha256(new Uint8Array(0)), 32);
  const handshakeSecret = hmac(derived, shared);
  const serverSecret = expandLabel(
    handshakeSecret,
    "s hs traffic",
    sha256(concat(...transcript)),
    32,
  );
  const key = expandLabel(serverSecret, "key", new Uint8Array(0), 16);
  const iv = expandLabel(serverSecret, "iv", new Uint8Array(0), 12);

  const protocolBytes = new TextEncoder().encode(protocol);
  const encryptedExtensions = handshake(
    8,
    vector16(extension(16, vector16(vector8(protocolBytes)))),
  );
  const certificateMessage = handshake(
    11,
    concat([0], vector24(concat(vector24(certificate.der), u16(0)))),
  );
  transcript.push(encryptedExtensions, certificateMessage);
  const signed = concat(
    new Uint8Array(64).fill(0x20),
    new TextEncoder().encode("TLS 1.3, server CertificateVerify"),
    [0],
    sha256(concat(...transcript)),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      certificate.privateKey,
      signed,
    ),
  );
  const certificateVerify = handshake(
    15,
    concat(u16(ECDSA_P256_SHA256), vector16(derSignature(signature))),
  );
  transcript.push(certificateVerify);
  const finishedKey = expandLabel(serverSecret, "finished", new Uint8Array(0), 32);
  const finished = handshake(20, hmac(finishedKey, sha256(concat(...transcript))));

  const encrypted = await seal(
    key,
    iv,
    0,
    concat(encryptedExtensions, certificateMessage, certificateVerify, finished, [
      RECORD_HANDSHAKE,
    ]),
  );
  return {
    kind: "flight",
    bytes: concat(
      record(RECORD_HANDSHAKE, serverHello),
      // RFC 8446 D.4: the compatibility change_cipher_spec, which every client drops.
      record(RECORD_CHANGE_CIPHER_SPEC, [1]),
      encrypted,
    ),
  };
}

/** Our X25519 share and the shared secret; null when theirs is a low-order point or malformed. */
async function keyExchange(
  share: Uint8Array,
): Promise<{ ourPublic: Uint8Array; shared: Uint8Array } | null> {
  const ours = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  try {
    const theirs = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(share),
      { name: "X25519" },
      false,
      [],
    );
    const shared = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: theirs }, ours.privateKey, 256),
    );
    // RFC 8446 7.4.2: an all-zero shared secret means a low-order point; refuse it.
    if (shared.every((byte) => byte === 0)) return null;
    const ourPublic = new Uint8Array(await crypto.subtle.exportKey("raw", ours.publicKey));
    return { ourPublic, shared };
  } catch {
    return null;
  }
}

function alert(description: number, reason: string): Tls13Flight {
  return { kind: "alert", bytes: record(RECORD_ALERT, [2, description]), reason };
}

/** One AES-128-GCM record (RFC 8446 5.2) holding `inner` (content, then its type). */
async function seal(
  key: Uint8Array<ArrayBuffer>,
  iv: Uint8Array<ArrayBuffer>,
  sequence: number,
  inner: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const header = new Uint8Array([
    RECORD_APPLICATION_DATA,
    3,
    3,
    (inner.length + 16) >> 8,
    (inner.length + 16) & 255,
  ]);
  const nonce = iv.slice();
  for (let i = 0; i < 8; i++) nonce[11 - i] ^= Math.floor(sequence / 2 ** (8 * i)) & 255;
  const aesKey = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: header, tagLength: 128 },
    aesKey,
    inner,
  );
  return concat(header, new Uint8Array(sealed));
}

/** HKDF-Expand-Label (RFC 8446 7.1) for lengths up to one SHA-256 block. */
function expandLabel(
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array<ArrayBuffer> {
  const info = concat(
    u16(length),
    vector8(new TextEncoder().encode(`tls13 ${label}`)),
    vector8(context),
    [1],
  );
  return hmac(secret, info).subarray(0, length);
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** WebCrypto's r‖s as the DER ECDSA-Sig-Value TLS carries. */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    const body = trimmed[0] & 0x80 ? concat([0], trimmed) : trimmed;
    return concat([0x02, body.length], body);
  };
  const half = raw.length / 2;
  const body = concat(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
  return concat([0x30, body.length], body);
}

function handshake(type: number, body: Uint8Array): Uint8Array {
  return concat([type], u24(body.length), body);
}

function record(type: number, body: ArrayLike<number>): Uint8Array {
  return concat([type, 3, 3], u16(body.length), body);
}

function extension(type: number, body: Uint8Array): Uint8Array {
  return concat(u16(type), vector16(body));
}

function vector8(body: Uint8Array): Uint8Array {
  return concat([body.length], body);
}

function vector16(body: Uint8Array): Uint8Array {
  return concat(u16(body.length), body);
}

function vector24(body: Uint8Array): Uint8Array {
  return concat(u24(body.length), body);
}

function u16(value: number): Uint8Array {
  return new Uint8Array([value >> 8, value & 255]);
}

function u24(value: number): Uint8Array {
  return new Uint8Array([value >> 16, (value >> 8) & 255, value & 255]);
}

function concat(...parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
