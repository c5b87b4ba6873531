/**
 * The `https` listener when ACME validates with TLS-ALPN-01 (RFC 8737) or [tls] sni lists more
 * certificates: the CA connects to port 443 offering only the ALPN protocol "acme-tls/1" and
 * expects a special certificate for the name, while every other client must get the real one,
 * chosen by the name it asks for (SNI). Deno.serve takes one certificate, once, and sees neither,
 * so a small front owns the port instead: it reads the ClientHello (src/tls/client_hello.ts)
 * without consuming it, and passes the connection's bytes, still encrypted, to the HTTPS server
 * of that name's certificate (Deno.serve, one per certificate) on loopback — or, for a hello
 * offering "acme-tls/1", answers it here with the challenge certificate
 * (src/tls/tls13_responder.ts: Deno's TLS will not load that certificate).
 *
 * Implementation notes:
 * - The HTTPS server sees the front's loopback socket as its peer; the front records which
 *   client each loopback port carries, and the handler is given the client's address.
 * - A changed certificate gets a new HTTPS server on another loopback port (started at its first
 *   connection) and the front sends new connections there; the old one keeps serving the
 *   connections it has for
 *   `RETIRE_AFTER_MS`, then finishes its requests (`shutdown()`), so no connection is refused
 *   or dropped during a swap (unlike the rebind of src/tls/https_reload.ts).
 * - A client must finish its ClientHello within `HELLO_TIMEOUT_MS`; bytes that are not a TLS
 *   hello go to the HTTPS server untouched, which answers with its own alert.
 * - The cost: one more socket pair and one copy per byte; measured in `deno task bench https`.
 *
 * @example
 * const front = await HttpsFront.start({ address, certificates, challenges, handler });
 * await front.shutdown();
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import type { CertificateManager, TlsMaterial } from "./certificates.ts";
import { type HelloFields, MAX_HELLO_BYTES, parseClientHello } from "./client_hello.ts";
import { type ResponderCertificate, respondTls13 } from "./tls13_responder.ts";
import { normalizeAddress } from "../server/connection.ts";
import { type Logger, logger } from "../observability/log.ts";

/** RFC 8737 6.2: the ALPN protocol of a TLS-ALPN-01 validation. */
export const ACME_TLS_ALPN = "acme-tls/1";

const HELLO_TIMEOUT_MS = 10_000;
/** How long the CA may take to answer the challenge flight before the connection is closed. */
const CHALLENGE_LINGER_MS = 5_000;
/** How long the server of a replaced certificate keeps serving what it was handed. */
const RETIRE_AFTER_MS = 30_000;
const LOOPBACK = "127.0.0.1";

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** The challenge certificates the CA may ask for, by name (src/acme/tls_alpn01.ts). */
export interface AlpnChallengeSource {
  certificate(name: string): ResponderCertificate | undefined;
}

export interface HttpsFrontOptions {
  address: { host: string; port: number };
  certificates: CertificateManager;
  challenges: AlpnChallengeSource;
  handler: Handler;
  log?: Logger;
}

interface Backend {
  server: Deno.HttpServer;
  port: number;
}

export class HttpsFront {
  readonly #options: HttpsFrontOptions;
  readonly #log: Logger;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** The client each loopback port to an HTTPS server carries. */
  readonly #clients = new Map<number, Deno.NetAddr>();
  /** Servers of earlier certificates, still finishing the connections they were handed. */
  readonly #retiring = new Map<Backend, ReturnType<typeof setTimeout> | Promise<void>>();
  /** One HTTPS server per certificate served (the default, and each [tls] sni one). */
  readonly #backends = new Map<TlsMaterial, Backend>();
  #unsubscribe: () => void = () => {};
  #port = 0;

  private constructor(options: HttpsFrontOptions) {
    this.#options = options;
    this.#log = options.log ?? logger("http");
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  /** Binds the port; a failure is node:net's error (code EADDRINUSE, EACCES...). */
  static async start(options: HttpsFrontOptions): Promise<HttpsFront> {
    const front = new HttpsFront(options);
    await front.#start();
    return front;
  }

  /** The port bound (the configured one, or the one chosen for port 0). */
  get port(): number {
    return this.#port;
  }

  async #start(): Promise<void> {
    this.#backendFor("");
    try {
      const { host, port } = this.#options.address;
      this.#port = await listen(this.#server, port, host);
    } catch (error) {
      await this.#stopBackends();
      throw error;
    }
    this.#unsubscribe = this.#options.certificates.onChange(() => this.#certificatesChanged());
  }

  /** The HTTPS server of the certificate for `serverName`, started when first needed. */
  #backendFor(serverName: string): Backend {
    const material = this.#options.certificates.materialFor(serverName);
    let backend = this.#backends.get(material);
    if (!backend) {
      backend = this.#startHttps(material);
      this.#backends.set(material, backend);
    }
    return backend;
  }

  #startHttps({ certificatePem, keyPem }: TlsMaterial): Backend {
    let port = 0;
    const server = Deno.serve({
      hostname: LOOPBACK,
      port: 0,
      cert: certificatePem,
      key: keyPem,
      onListen: (addr) => port = addr.port,
    }, (request, info) => {
      const client = this.#clients.get(info.remoteAddr.port);
      return this.#options.handler(request, client ? { ...info, remoteAddr: client } : info);
    });
    return { server, port: (server.addr as Deno.NetAddr).port ?? port };
  }

  /** Servers of certificates no longer served stop taking connections (see the notes). */
  #certificatesChanged(): void {
    const current = new Set(this.#options.certificates.materials());
    for (const [material, backend] of this.#backends) {
      if (current.has(material)) continue;
      this.#backends.delete(material);
      // Connections forwarded just before the change may not have sent a request yet; a server
      // shut down now would drop them as idle. It is shut down once they have had time.
      this.#retiring.set(backend, setTimeout(() => this.#retire(backend), RETIRE_AFTER_MS));
    }
    this.#log.info("https serves the new certificates", { port: this.#port });
  }

  #retire(backend: Backend): Promise<void> {
    const pending = this.#retiring.get(backend);
    if (pending instanceof Promise) return pending;
    clearTimeout(pending);
    const closing = backend.server.shutdown().catch(() => {})
      .finally(() => this.#retiring.delete(backend));
    this.#retiring.set(backend, closing);
    return closing;
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const bytes = Buffer.concat(chunks, length);
      const hello = parseClientHello(bytes);
      if (hello.kind === "partial" && length < MAX_HELLO_BYTES) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      if (hello.kind === "hello" && hello.alpn.includes(ACME_TLS_ALPN)) {
        this.#answerChallenge(socket, hello).catch((error) => {
          this.#log.warn("TLS-ALPN-01 answer failed", { error });
          socket.destroy();
        });
      } else this.#forward(socket, bytes, hello.kind === "hello" ? hello.serverName : "");
    };
    socket.on("data", onData);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      this.#sockets.delete(socket);
    });
  }

  /** RFC 8737 3: the CA only looks at the certificate; nothing else is said. */
  async #answerChallenge(socket: net.Socket, hello: HelloFields): Promise<void> {
    const certificate = this.#options.challenges.certificate(hello.serverName);
    if (!certificate) {
      this.#log.info("TLS-ALPN-01 hello for a name without a challenge", {
        name: hello.serverName,
        remote: socket.remoteAddress,
      });
      socket.destroy();
      return;
    }
    const flight = await respondTls13(hello.details, ACME_TLS_ALPN, certificate);
    if (flight.kind === "alert") {
      this.#log.warn("TLS-ALPN-01 hello refused", {
        reason: flight.reason,
        name: hello.serverName,
      });
      socket.end(flight.bytes);
      return;
    }
    socket.write(flight.bytes);
    // The client answers with its Finished (or an alert); then the connection has served.
    const linger = setTimeout(() => socket.destroy(), CHALLENGE_LINGER_MS);
    socket.on("data", () => {
      clearTimeout(linger);
      socket.end();
    });
    socket.on("close", () => clearTimeout(linger));
    socket.resume();
  }

  #forward(client: net.Socket, hello: Buffer, serverName: string): void {
    let port: number;
    try {
      port = this.#backendFor(serverName).port;
    } catch (error) {
      this.#log.error("https could not serve a certificate", { error, name: serverName });
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: LOOPBACK, port, noDelay: true });
    this.#sockets.add(upstream);
    let localPort = 0;
    upstream.on("connect", () => {
      localPort = upstream.localPort ?? 0;
      if (client.remoteAddress) {
        this.#clients.set(localPort, {
          transport: "tcp",
          hostname: normalizeAddress(client.remoteAddress),
          port: client.remotePort ?? 0,
        });
      }
      upstream.write(hello);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", close);
    client.on("error", close);
    client.on("close", close);
    upstream.on("close", () => {
      close();
      this.#sockets.delete(upstream);
      if (localPort !== 0) this.#clients.delete(localPort);
    });
  }

  /** Stops accepting, lets requests in flight finish, then closes what is left. */
  async shutdown(): Promise<void> {
    this.#unsubscribe();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#stopBackends();
    await closed;
  }

  async #stopBackends(): Promise<void> {
    await Promise.all([
      ...[...this.#backends.values()].map((backend) => backend.server.shutdown()),
      ...[...this.#retiring.keys()].map((backend) => this.#retire(backend)),
    ]);
    for (const socket of this.#sockets) socket.destroy();
  }
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
