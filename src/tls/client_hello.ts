/**
 * Reads the server name (SNI, RFC 6066 3) and the offered application protocols (ALPN, RFC 7301)
 * from the bytes a TLS client sends first, without decrypting or consuming anything: the HTTPS
 * front (src/tls/https_front.ts) uses them to send an ACME TLS-ALPN-01 validation (RFC 8737) to
 * the challenge server and everything else on to the HTTPS server.
 *
 * Implementation notes:
 * - A ClientHello may span several handshake records; their fragments are joined until the
 *   message is whole. At most `MAX_HELLO_BYTES` are looked at; a longer or malformed hello is
 *   "not-tls" and the caller passes the bytes on untouched (the TLS server then answers with its
 *   own alert), so a parser bug can never block a real client.
 * - Only the two extensions are read; every length is checked against what encloses it.
 *
 * @example
 * const hello = parseClientHello(bytes);
 * if (hello.kind === "hello" && hello.alpn.includes("acme-tls/1")) { ... }
 */

/** How many bytes of records a hello may take before it is not looked at any further. */
export const MAX_HELLO_BYTES = 32 * 1024;

const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_ALPN = 16;
const EXTENSION_SIGNATURE_ALGORITHMS = 13;
const EXTENSION_SUPPORTED_VERSIONS = 43;
const EXTENSION_KEY_SHARE = 51;
const HOST_NAME = 0;

export type ClientHello =
  /** More bytes are needed to see the whole hello. */
  | { kind: "partial" }
  /** Not a TLS ClientHello (or one too long or malformed to read). */
  | { kind: "not-tls" }
  | ({ kind: "hello" } & HelloFields);

export interface HelloFields {
  /** The SNI host name, lower-cased; "" when the client sent none. */
  serverName: string;
  /** The protocols offered with ALPN, in the client's order; [] when none. */
  alpn: string[];
  /** What a TLS 1.3 answer needs (src/tls/tls13_responder.ts). */
  details: HelloDetails;
}

export interface HelloDetails {
  /** The whole handshake message, header included (the transcript starts with it). */
  message: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: number[];
  /** supported_versions (RFC 8446 4.2.1); [] when absent (TLS 1.2 or older). */
  versions: number[];
  /** key_share entries by named group (RFC 8446 4.2.8). */
  keyShares: Map<number, Uint8Array>;
  signatureAlgorithms: number[];
}

export function parseClientHello(bytes: Uint8Array): ClientHello {
  const message = handshakeMessage(bytes);
  if (message === "partial" || message === "not-tls") return { kind: message };
  try {
    return readHello(message);
  } catch (error) {
    if (error instanceof RangeError) return { kind: "not-tls" };
    throw error;
  }
}

/** The ClientHello body joined from its records, or why there is none yet. */
function handshakeMessage(bytes: Uint8Array): Uint8Array | "partial" | "not-tls" {
  const fragments: Uint8Array[] = [];
  let collected = 0;
  let needed = -1;
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + RECORD_HEADER > bytes.length) break;
    // A TLS record: type, legacy version 3.x, length (RFC 8446 5.1).
    if (bytes[offset] !== HANDSHAKE || bytes[offset + 1] !== 3) return "not-tls";
    const length = (bytes[offset + 3] << 8) | bytes[offset + 4];
    if (length === 0 || length > 16384) return "not-tls";
    if (offset + RECORD_HEADER + length > MAX_HELLO_BYTES) return "not-tls";
    if (offset + RECORD_HEADER + length > bytes.length) break;
    const fragment = bytes.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length);
    fragments.push(fragment);
    collected += fragment.length;
    offset += RECORD_HEADER + length;
    if (needed < 0 && collected >= 4) {
      const head = join(fragments, 4);
      if (head[0] !== CLIENT_HELLO) return "not-tls";
      needed = 4 + ((head[1] << 16) | (head[2] << 8) | head[3]);
      if (needed > MAX_HELLO_BYTES) return "not-tls";
    }
    if (needed >= 0 && collected >= needed) return join(fragments, needed);
  }
  if (offset >= MAX_HELLO_BYTES) return "not-tls";
  return "partial";
}

function join(fragments: Uint8Array[], length: number): Uint8Array {
  if (fragments[0].length >= length) return fragments[0].subarray(0, length);
  const out = new Uint8Array(length);
  let at = 0;
  for (const fragment of fragments) {
    const take = Math.min(fragment.length, length - at);
    out.set(fragment.subarray(0, take), at);
    at += take;
    if (at === length) break;
  }
  return out;
}

/** A bounds-checked reader; reading past the end throws RangeError. */
class Reader {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.#at >= this.bytes.length;
  }

  skip(count: number): void {
    this.take(count);
  }

  u8(): number {
    return this.take(1)[0];
  }

  u16(): number {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }

  take(count: number): Uint8Array {
    if (this.#at + count > this.bytes.length) throw new RangeError("truncated ClientHello");
    const out = this.bytes.subarray(this.#at, this.#at + count);
    this.#at += count;
    return out;
  }

  /** The next `lengthBytes`-prefixed vector. */
  vector(lengthBytes: 1 | 2): Reader {
    return new Reader(this.take(lengthBytes === 1 ? this.u8() : this.u16()));
  }
}

const latin1 = new TextDecoder("latin1");

function readHello(message: Uint8Array): ClientHello {
  const hello = new Reader(message.subarray(4));
  hello.skip(2 + 32); // legacy_version, random
  const details: HelloDetails = {
    message,
    sessionId: hello.vector(1).bytes,
    cipherSuites: u16List(hello.vector(2)),
    versions: [],
    keyShares: new Map(),
    signatureAlgorithms: [],
  };
  hello.vector(1); // legacy_compression_methods
  let serverName = "";
  let alpn: string[] = [];
  if (hello.done) return { kind: "hello", serverName, alpn, details }; // no extensions at all
  const extensions = hello.vector(2);
  while (!extensions.done) {
    const type = extensions.u16();
    const data = extensions.vector(2);
    if (type === EXTENSION_SERVER_NAME) serverName = readServerName(data);
    else if (type === EXTENSION_ALPN) alpn = readAlpn(data);
    else if (type === EXTENSION_SUPPORTED_VERSIONS) details.versions = u16List(data.vector(1));
    else if (type === EXTENSION_SIGNATURE_ALGORITHMS) {
      details.signatureAlgorithms = u16List(data.vector(2));
    } else if (type === EXTENSION_KEY_SHARE) {
      const shares = data.vector(2);
      while (!shares.done) {
        const group = shares.u16();
        details.keyShares.set(group, shares.vector(2).bytes);
      }
    }
  }
  return { kind: "hello", serverName, alpn, details };
}

function u16List(list: Reader): number[] {
  const out: number[] = [];
  while (!list.done) out.push(list.u16());
  return out;
}

function readServerName(data: Reader): string {
  const list = data.vector(2);
  while (!list.done) {
    const type = list.u8();
    const name = list.vector(2);
    if (type === HOST_NAME) return latin1.decode(name.bytes).toLowerCase();
  }
  return "";
}

function readAlpn(data: Reader): string[] {
  const list = data.vector(2);
  const protocols: string[] = [];
  while (!list.done) protocols.push(latin1.decode(list.vector(1).bytes));
  return protocols;
}
