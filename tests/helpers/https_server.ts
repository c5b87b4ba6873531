/**
 * An HTTPS server on loopback for tests that need to fetch over TLS (MTA-STS policies), with a
 * throw-away certificate authority to sign its certificate. The server speaks raw HTTP/1.1 over
 * Deno.listenTls: the test writes the exact response bytes, so it can send chunked,
 * close-delimited or deliberately broken responses. Every request is recorded.
 *
 * @example
 * const ca = await createTestCa();
 * const leaf = await issueCertificate(ca, ["mta-sts.example.com"]);
 * const server = await startHttpsServer(leaf, () => httpResponse({ body: "version: STSv1\n" }));
 * // fetch https://mta-sts.example.com:${server.port}/ trusting ca.certificatePem
 * await server.close();
 */
import * as x509 from "@peculiar/x509";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY_MS = 86400_000;

export interface TestCa {
  certificatePem: string;
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface TestCertificate {
  certificatePem: string;
  keyPem: string;
}

function serialNumber(): string {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive INTEGER
  return Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A self-signed CA certificate (ECDSA P-256) that can sign leaf certificates. */
export async function createTestCa(name = "Postern Test CA"): Promise<TestCa> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString("pem") + "\n", certificate, keys };
}

/** A server certificate for `names` (DNS subjectAltNames), signed by `ca`. */
export async function issueCertificate(ca: TestCa, names: string[]): Promise<TestCertificate> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${names[0]}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: "dns" as const, value })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certificatePem: certificate.toString("pem") + "\n",
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}

export interface RecordedRequest {
  /** The request line, e.g. "GET /.well-known/mta-sts.txt HTTP/1.1". */
  requestLine: string;
  /** Header fields, names lower-cased. */
  headers: Record<string, string>;
}

/** Returns the raw response bytes; null closes the connection without answering. */
export type RawHandler = (request: RecordedRequest) => string | Uint8Array | null;

export interface TestHttpsServer {
  port: number;
  requests: RecordedRequest[];
  setHandler(handler: RawHandler): void;
  close(): Promise<void>;
}

export interface ResponseSpec {
  status?: string;
  contentType?: string | null;
  body?: string;
  /** How the body's end is marked; "length" (Content-Length) unless told. */
  framing?: "length" | "chunked" | "close";
  headers?: Record<string, string>;
}

/** Encodes an HTTP/1.1 response with the body framed as asked. */
export function httpResponse(spec: ResponseSpec): string {
  const body = spec.body ?? "";
  const framing = spec.framing ?? "length";
  const lines = [`HTTP/1.1 ${spec.status ?? "200 OK"}`];
  const contentType = spec.contentType === undefined ? "text/plain" : spec.contentType;
  if (contentType !== null) lines.push(`Content-Type: ${contentType}`);
  for (const [name, value] of Object.entries(spec.headers ?? {})) lines.push(`${name}: ${value}`);
  lines.push("Connection: close");
  if (framing === "length") {
    lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
    return lines.join("\r\n") + "\r\n\r\n" + body;
  }
  if (framing === "close") return lines.join("\r\n") + "\r\n\r\n" + body;
  lines.push("Transfer-Encoding: chunked");
  let chunked = "";
  for (let at = 0; at < body.length; at += 7) {
    const piece = body.slice(at, at + 7);
    chunked += `${new TextEncoder().encode(piece).length.toString(16)};x=y\r\n${piece}\r\n`;
  }
  return lines.join("\r\n") + "\r\n\r\n" + chunked + "0\r\n\r\n";
}

const HEAD_END = "\r\n\r\n";

/**
 * Listens on 127.0.0.1 port 0 (or where told) with `certificate`; answers each request with
 * `handler`.
 */
export function startHttpsServer(
  certificate: TestCertificate,
  handler: RawHandler,
  where: { hostname?: string; port?: number } = {},
): Promise<TestHttpsServer> {
  const listener = Deno.listenTls({
    hostname: where.hostname ?? "127.0.0.1",
    port: where.port ?? 0,
    cert: certificate.certificatePem,
    key: certificate.keyPem,
  });
  const requests: RecordedRequest[] = [];
  const connections = new Set<Deno.TlsConn>();
  const handling = new Set<Promise<void>>();
  let current = handler;
  let closed = false;

  async function serve(conn: Deno.TlsConn): Promise<void> {
    const decoder = new TextDecoder();
    let head = "";
    const buffer = new Uint8Array(4096);
    try {
      while (!head.includes(HEAD_END)) {
        const n = await conn.read(buffer);
        if (n === null) return;
        head += decoder.decode(buffer.subarray(0, n));
      }
      const [requestLine, ...fields] = head.slice(0, head.indexOf(HEAD_END)).split("\r\n");
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(":");
        headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
      }
      const request = { requestLine, headers };
      requests.push(request);
      const response = current(request);
      if (response === null) return;
      const bytes = typeof response === "string" ? new TextEncoder().encode(response) : response;
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    } catch {
      // The client gave up (a rejected certificate, a timeout): nothing to answer.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TlsConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      connections.add(conn);
      const task = serve(conn);
      handling.add(task);
      task.finally(() => handling.delete(task));
    }
  })();

  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    requests,
    setHandler(next) {
      current = next;
    },
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.all(handling);
    },
  });
}
