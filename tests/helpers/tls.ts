/**
 * Test helpers for the raw protocols: a line-oriented client over node:net that can upgrade to
 * TLS the way a real client does (trusting the test's self-signed certificate), and a server
 * fixture with a self-signed certificate in a temporary directory.
 *
 * @example
 * const server = await startServer([{ service: "smtp", implicitTls: false, handler }]);
 * const client = await LineClient.connect(server.port("smtp"));
 * assertEquals(await client.readLine(), "220 ...");
 * await client.close();
 * await server.stop();
 */
import net from "node:net";
import tls from "node:tls";
import { CertificateManager } from "../../src/tls/certificates.ts";
import { type ConnectionLimits, ListenerGroup, type ListenerSpec } from "../../src/server/mod.ts";
import { configureLogging } from "../../src/observability/log.ts";

/** Keeps test output readable: only errors are printed. */
configureLogging({ level: "error", format: "text" });

export const TEST_HOSTNAME = "localhost";

export const DEFAULT_TEST_LIMITS: ConnectionLimits = {
  maxLineLength: 1000,
  idleTimeoutSeconds: 30,
  maxConnections: 100,
  maxConnectionsPerIp: 50,
};

export interface TestServer {
  group: ListenerGroup;
  certificates: CertificateManager;
  /** PEM of the self-signed certificate, for the client's `ca`. */
  ca: string;
  /** Path of that PEM (for openssl -CAfile). */
  caFile: string;
  port(service: string): number;
  stop(graceSeconds?: number): Promise<void>;
}

export async function startServer(
  specs: Omit<ListenerSpec, "host" | "port">[],
  limits: Partial<ConnectionLimits> = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "postern-test-" });
  const certificates = await CertificateManager.load({
    hostname: TEST_HOSTNAME,
    names: [],
    certificate: "",
    key: "",
    sni: [],
    tlsDir: dir,
  });
  const group = new ListenerGroup({
    limits: { ...DEFAULT_TEST_LIMITS, ...limits },
    certificates,
  });
  const bound = await group.listen(specs.map((s) => ({ ...s, host: "127.0.0.1", port: 0 })));
  return {
    group,
    certificates,
    ca: certificates.material().certificatePem,
    caFile: `${dir}/self-signed.crt`,
    port(service) {
      const found = bound.find((b) => b.service === service);
      if (!found) throw new Error(`no listener for ${service}`);
      return found.port;
    },
    async stop(graceSeconds = 0) {
      await group.shutdown(graceSeconds);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const decoder = new TextDecoder();

/** A client that reads CRLF lines, with an optional upgrade to TLS. */
export class LineClient {
  #socket: net.Socket | tls.TLSSocket;
  #raw: net.Socket;
  #tls: tls.TLSSocket | undefined;
  #buffer = "";
  #ended = false;
  #waiter: (() => void) | undefined;
  #closed: Promise<void>;

  private constructor(raw: net.Socket) {
    this.#raw = raw;
    this.#socket = raw;
    this.#closed = new Promise((resolve) => raw.once("close", () => resolve()));
    raw.on("error", () => {});
    this.#listen(raw);
  }

  static connect(
    port: number,
    options: { host?: string; localAddress?: string; implicitTls?: { ca: string } } = {},
  ): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const raw = net.connect({
        port,
        host: options.host ?? "127.0.0.1",
        localAddress: options.localAddress,
      });
      raw.once("error", reject);
      raw.once("connect", () => {
        raw.off("error", reject);
        const client = new LineClient(raw);
        if (options.implicitTls) {
          client.startTls(options.implicitTls.ca).then(() => resolve(client), reject);
        } else resolve(client);
      });
    });
  }

  get authorized(): boolean {
    return this.#tls?.authorized ?? false;
  }

  /** Plaintext received but not yet read as lines. */
  get pending(): string {
    return this.#buffer;
  }

  write(text: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#socket.write(text, (err?: Error | null) => err ? reject(err) : resolve())
    );
  }

  /** The next CRLF-terminated line without CRLF; null when the server closed first. */
  async readLine(timeoutMs = 5000): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      for (;;) {
        const end = this.#buffer.indexOf("\r\n");
        if (end >= 0) {
          const line = this.#buffer.slice(0, end);
          this.#buffer = this.#buffer.slice(end + 2);
          return line;
        }
        if (this.#ended) return null;
        await Promise.race([new Promise<void>((r) => this.#waiter = r), deadline]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lines up to and including the first one `last` accepts. */
  async readUntil(last: (line: string) => boolean): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line === null) throw new Error(`connection closed after ${JSON.stringify(lines)}`);
      lines.push(line);
      if (last(line)) return lines;
    }
  }

  /** Resolves true if the server closes the connection within `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), timeoutMs));
    const result = await Promise.race([this.#closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /**
   * Starts the TLS handshake on the current socket, as a client that trusts `ca`. Plaintext
   * received but unread is kept in `pending` (it should be empty).
   */
  startTls(ca: string, servername = TEST_HOSTNAME): Promise<void> {
    const raw = this.#raw;
    raw.pause();
    raw.removeAllListeners("data");
    raw.removeAllListeners("end");
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ socket: raw, ca, servername });
      this.#tls = secure;
      this.#socket = secure;
      secure.on("error", (err) => {
        reject(err);
        this.#ended = true;
        this.#wake();
      });
      secure.once("secureConnect", () => resolve());
      this.#listen(secure);
    });
  }

  /** Closes from the client side and waits until the socket is gone. */
  async close(): Promise<void> {
    this.#tls?.destroy();
    this.#raw.destroy();
    await this.#closed;
  }

  #listen(socket: net.Socket | tls.TLSSocket): void {
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffer += decoder.decode(chunk);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** Resolves once `check()` is true, polling every 10 ms; throws after `timeoutMs`. */
export async function eventually(
  check: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
