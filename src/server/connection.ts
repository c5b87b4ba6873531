/**
 * One client connection as protocol code sees it: lines, literals, writes, STARTTLS, close.
 * Only this folder touches `node:net`/`node:tls`; protocols get `string`s and `Uint8Array`s.
 *
 * Implementation notes:
 * - One read at a time. Protocols are request/response; a second concurrent read is a bug and
 *   throws.
 * - Reading applies backpressure: the socket is paused while unread input exceeds the high-water
 *   mark and nobody is waiting for more, and resumed when a read needs bytes.
 * - STARTTLS (DESIGN.md "Runtime facts"): pause the raw socket, drop every byte buffered so far
 *   (RFC 3207 section 6, STARTTLS command injection), write the go-ahead in plaintext, and in that
 *   write's callback wrap the socket in a server `TLSSocket`. Without the pause the ClientHello is
 *   delivered as plaintext data.
 * - Every socket, raw or TLS, has an 'error' listener from the moment it exists, so ECONNRESET
 *   and friends end the connection (reads return null) instead of crashing the process.
 * - At EOF a trailing fragment without LF is dropped: it is not a complete command.
 *
 * @example
 * const handler: SessionHandler = async (conn) => {
 *   await conn.write("* OK ready\r\n");
 *   for (let line; (line = await conn.readLine()) !== null;) await conn.write(`* echo ${line}\r\n`);
 * };
 */
import type net from "node:net";
import tls from "node:tls";
import zlib from "node:zlib";
import type { Logger } from "../observability/log.ts";
import { newSessionId } from "../observability/log.ts";
import { ConnectionClosedError, LineTooLongError, TlsHandshakeError } from "./errors.ts";
import { InputBuffer, TOO_LONG } from "./input_buffer.ts";

export interface ConnectionLimits {
  /** Longest line content in bytes, without CRLF. */
  maxLineLength: number;
  idleTimeoutSeconds: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** What `startTls` needs from the certificate manager. */
export interface TlsContextSource {
  secureContext(): tls.SecureContext;
  sniCallback: (
    servername: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ) => void;
}

export interface ConnectionOptions {
  limits: Pick<ConnectionLimits, "maxLineLength" | "idleTimeoutSeconds">;
  tls?: TlsContextSource;
  log: Logger;
  /** Sent (best effort) before the connection is closed for idleness. */
  idleTimeoutReply?: string;
  id?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Unread input above which the socket is paused (unless a read is waiting for more). */
const MIN_HIGH_WATER = 64 * 1024;
/** Longest a TLS handshake may take (also bounded by the idle timeout). */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long `close()` waits for the peer's FIN before destroying the socket. */
const CLOSE_LINGER_MS = 2000;

type Stream = net.Socket | tls.TLSSocket;

export class Connection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;

  readonly #raw: net.Socket;
  #stream: Stream;
  #tlsSocket: tls.TLSSocket | undefined;
  readonly #input = new InputBuffer();
  readonly #maxLineLength: number;
  readonly #highWater: number;
  readonly #tls: TlsContextSource | undefined;
  readonly #log: Logger;
  readonly #idleTimeoutReply: string | undefined;
  #idleTimeoutMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #secure = false;
  #eof = false;
  #closed = false;
  #upgrading = false;
  #deflate: zlib.DeflateRaw | null = null;
  #compressing: Promise<void> = Promise.resolve();
  #reading = false;
  #waiter: (() => void) | undefined;
  #closePromise: Promise<void> | undefined;
  readonly #closeCallbacks: (() => void)[] = [];

  constructor(socket: net.Socket, options: ConnectionOptions) {
    this.id = options.id ?? newSessionId();
    this.#raw = socket;
    this.#stream = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? "");
    this.remotePort = socket.remotePort ?? 0;
    this.localPort = socket.localPort ?? 0;
    this.#maxLineLength = options.limits.maxLineLength;
    this.#highWater = Math.max(MIN_HIGH_WATER, options.limits.maxLineLength + 2);
    this.#tls = options.tls;
    this.#log = options.log.child({ session: this.id });
    this.#idleTimeoutReply = options.idleTimeoutReply;
    this.#idleTimeoutMs = options.limits.idleTimeoutSeconds * 1000;

    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    this.#attach(socket);
    this.#armIdleTimer();
    if (socket.destroyed) this.#onClose();
  }

  /** True once TLS is active (implicit TLS or after `startTls`). */
  get secure(): boolean {
    return this.#secure;
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next line without CRLF (a bare LF ends a line too), decoded as UTF-8; null at EOF.
   * Throws `LineTooLongError` for a line over the limit; the next call continues after it.
   */
  async readLine(): Promise<string | null> {
    const bytes = await this.readLineBytes();
    return bytes === null ? null : decoder.decode(bytes);
  }

  /** Like `readLine`, as raw bytes. */
  readLineBytes(): Promise<Uint8Array | null> {
    return this.#read(() => {
      const line = this.#input.takeLine(this.#maxLineLength);
      if (line === TOO_LONG) throw new LineTooLongError(this.#maxLineLength);
      return line;
    });
  }

  /** Exactly `n` bytes (an IMAP literal, a BDAT chunk), or null at EOF. */
  readBytes(n: number): Promise<Uint8Array | null> {
    if (!Number.isSafeInteger(n) || n < 0) {
      return Promise.reject(new RangeError(`invalid byte count ${n}`));
    }
    return this.#read(() => this.#input.takeBytes(n));
  }

  /**
   * Whatever input is held, up to `max` bytes (waiting for at least one), or null at EOF: for
   * readers that find their own end, like SMTP DATA. Give back what they did not use with
   * `unread`.
   */
  readAvailable(max = 64 * 1024): Promise<Uint8Array | null> {
    return this.#read(() => this.#input.takeAvailable(max));
  }

  /** Returns bytes taken by `readAvailable` but not used, so the next read sees them first. */
  unread(bytes: Uint8Array): void {
    this.#input.unshift(bytes);
  }

  /** True when input has arrived that no read has taken yet (for PIPELINING decisions). */
  hasBufferedInput(): boolean {
    return this.#input.length > 0;
  }

  /** Changes the idle timeout, e.g. for IMAP IDLE; restarts the timer. */
  setIdleTimeout(seconds: number): void {
    this.#idleTimeoutMs = seconds * 1000;
    this.#armIdleTimer();
  }

  /**
   * Writes; resolves once the data is handed to the kernel or queued below the socket's
   * high-water mark, else after 'drain'. Rejects with `ConnectionClosedError` when closed.
   */
  async write(data: string | Uint8Array): Promise<void> {
    const stream = this.#stream;
    if (this.#closed || stream.destroyed || !stream.writable) {
      throw new ConnectionClosedError();
    }
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (bytes.length === 0) return;
    if (this.#deflate) bytes = await this.#compress(this.#deflate, bytes);
    if (stream.write(bytes)) return;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("close", done);
        if (this.#closed) reject(new ConnectionClosedError());
        else {
          this.#armIdleTimer();
          resolve();
        }
      };
      stream.on("drain", done);
      stream.on("close", done);
    });
  }

  /**
   * Writes `goAhead` in plaintext and upgrades to TLS (server side). Input buffered before the
   * upgrade is discarded. Resolves when the handshake completes; on failure the connection is
   * closed and the promise rejects with `TlsHandshakeError`. An empty `goAhead` starts TLS at once (implicit TLS).
   */
  startTls(goAhead: string | Uint8Array): Promise<void> {
    const source = this.#tls;
    if (!source && !this.#secure) {
      return Promise.reject(new Error("no certificates configured for TLS"));
    }
    return this.#upgrade(goAhead, "secure", (raw) =>
      new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: source!.secureContext(),
        SNICallback: source!.sniCallback,
      }));
  }

  /**
   * Upgrades to TLS as the client (outbound SMTP after the server's 220 to STARTTLS). With
   * `rejectUnauthorized: false` the handshake succeeds on any certificate and `tlsInfo()` tells
   * whether it was valid for `servername`.
   */
  startClientTls(options: tls.ConnectionOptions): Promise<void> {
    return this.#upgrade("", "secureConnect", (raw) => tls.connect({ ...options, socket: raw }));
  }

  /** The negotiated TLS session: protocol, cipher, and whether the peer's certificate verified. */
  tlsInfo(): { protocol: string; cipher: string; authorized: boolean; error: string } | null {
    const socket = this.#tlsSocket;
    if (!this.#secure || !socket) return null;
    return {
      protocol: socket.getProtocol() ?? "",
      cipher: socket.getCipher()?.name ?? "",
      authorized: socket.authorized,
      error: socket.authorizationError ? String(socket.authorizationError) : "",
    };
  }

  #upgrade(
    goAhead: string | Uint8Array,
    readyEvent: "secure" | "secureConnect",
    makeSocket: (raw: net.Socket) => tls.TLSSocket,
  ): Promise<void> {
    if (this.#secure || this.#upgrading) {
      return Promise.reject(new Error("TLS is already active"));
    }
    if (this.#closed) return Promise.reject(new ConnectionClosedError());
    const raw = this.#raw;
    this.#upgrading = true;
    raw.pause();
    this.#detach(raw);
    this.#input.clear();
    const bytes = typeof goAhead === "string" ? encoder.encode(goAhead) : goAhead;

    return new Promise<void>((resolve, reject) => {
      const wrap = () => {
        if (this.#closed) {
          this.#upgrading = false;
          reject(new ConnectionClosedError("connection closed before TLS started"));
          return;
        }
        this.#input.clear();
        const tlsSocket = makeSocket(raw);
        this.#tlsSocket = tlsSocket;
        let settled = false;
        const handshakeTimer = setTimeout(
          () => fail(new Error("handshake timed out")),
          Math.min(HANDSHAKE_TIMEOUT_MS, this.#idleTimeoutMs || HANDSHAKE_TIMEOUT_MS),
        );
        const fail = (err?: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(handshakeTimer);
          this.#upgrading = false;
          this.#log.debug("TLS handshake failed", { error: err?.message ?? "closed" });
          this.destroy();
          reject(new TlsHandshakeError(err));
        };
        tlsSocket.on("error", (err: Error) => {
          if (!settled) fail(err);
          else this.#onError(err);
        });
        tlsSocket.on("close", () => {
          if (!settled) fail();
          this.#onClose();
        });
        tlsSocket.once(readyEvent, () => {
          if (settled) return;
          settled = true;
          clearTimeout(handshakeTimer);
          this.#stream = tlsSocket;
          this.#secure = true;
          this.#upgrading = false;
          this.#attach(tlsSocket);
          this.#armIdleTimer();
          if (this.#waiter) tlsSocket.resume();
          resolve();
        });
      };
      if (bytes.length === 0) wrap();
      else {
        raw.write(bytes, (err?: Error | null) => {
          if (err) {
            this.#upgrading = false;
            this.destroy();
            reject(err);
          } else wrap();
        });
      }
    });
  }

  /**
   * Turns on DEFLATE compression in both directions (IMAP COMPRESS, RFC 4978), after the
   * go-ahead went out uncompressed: input is inflated before the line reader sees it, and each
   * write is deflated and flushed (Z_SYNC_FLUSH) so the client can act on it at once.
   */
  startCompression(): void {
    if (this.#deflate) throw new Error("compression is already active");
    const inflate = zlib.createInflateRaw();
    this.#deflate = zlib.createDeflateRaw({ level: 6 });
    this.#detach(this.#stream);
    inflate.on("data", this.#onData);
    inflate.on("error", () => this.destroy());
    this.#stream.on("data", (chunk: Uint8Array) => inflate.write(chunk));
    this.#stream.on("end", this.#onEnd);
  }

  /** Deflates `bytes` and returns what the compressor produced, flushed; one at a time. */
  #compress(deflate: zlib.DeflateRaw, bytes: Uint8Array): Promise<Uint8Array> {
    const run = this.#compressing.then(() => this.#deflateOnce(deflate, bytes));
    this.#compressing = run.then(() => {}, () => {});
    return run;
  }

  #deflateOnce(deflate: zlib.DeflateRaw, bytes: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      const collect = (chunk: Uint8Array) => chunks.push(chunk);
      deflate.on("data", collect);
      deflate.write(bytes);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflate.off("data", collect);
        const total = chunks.reduce((n, c) => n + c.length, 0);
        const out = new Uint8Array(total);
        let offset = 0;
        for (const chunk of chunks) {
          out.set(chunk, offset);
          offset += chunk.length;
        }
        resolve(out);
      });
      deflate.once("error", reject);
    });
  }

  /** Ends the connection (FIN, or TLS close_notify then FIN); destroys it if the peer lingers. */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closePromise = new Promise<void>((resolve) => {
      if (this.#closed) return resolve();
      this.#closeCallbacks.unshift(resolve);
      this.#markEof();
      this.#lingerTimer = setTimeout(() => this.destroy(), CLOSE_LINGER_MS);
      this.#stream.end();
    });
    return this.#closePromise;
  }

  /** Tears the connection down at once (shutdown past its grace, failed handshakes). */
  destroy(): void {
    this.#markEof();
    this.#tlsSocket?.destroy();
    this.#raw.destroy();
  }

  /** Calls `cb` once when the connection is closed (at once if it already is). */
  onClose(cb: () => void): void {
    if (this.#closed) queueMicrotask(cb);
    else this.#closeCallbacks.push(cb);
  }

  async #read<T>(attempt: () => T | undefined): Promise<T | null> {
    if (this.#reading) throw new Error("Connection: a read is already in progress");
    this.#reading = true;
    try {
      for (;;) {
        const result = attempt();
        if (result !== undefined) return result;
        if (this.#eof) return null;
        await new Promise<void>((resolve) => {
          this.#waiter = resolve;
          if (!this.#upgrading) this.#stream.resume();
        });
      }
    } finally {
      this.#reading = false;
    }
  }

  #attach(stream: Stream): void {
    stream.on("data", this.#onData);
    stream.on("end", this.#onEnd);
  }

  #detach(stream: Stream): void {
    stream.off("data", this.#onData);
    stream.off("end", this.#onEnd);
  }

  #onData = (chunk: Uint8Array | string): void => {
    this.#input.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    this.#armIdleTimer();
    if (this.#waiter) this.#wake();
    else if (this.#input.length > this.#highWater) this.#stream.pause();
  };

  #onEnd = (): void => {
    this.#markEof();
  };

  #onError = (err: Error): void => {
    this.#log.debug("socket error", { error: err.message });
    this.#markEof();
  };

  #onClose = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#markEof();
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#lingerTimer);
    this.#tlsSocket?.destroy();
    this.#raw.destroy();
    for (const cb of this.#closeCallbacks.splice(0)) cb();
  };

  #markEof(): void {
    this.#eof = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed || this.#idleTimeoutMs <= 0) return;
    this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeoutMs);
  }

  #onIdle = (): void => {
    this.#log.debug("idle timeout");
    if (this.#upgrading) return this.destroy();
    this.#markEof();
    if (this.#idleTimeoutReply && !this.#upgrading && !this.#closed) {
      this.write(this.#idleTimeoutReply).catch(() => {});
    }
    this.close();
  };
}

/** "::ffff:192.0.2.1" → "192.0.2.1", so limits and logs see one form per IPv4 client. */
export function normalizeAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
