/**
 * Listeners for the raw protocols: bind all-or-nothing, accept, enforce connection limits, run
 * one session handler per connection, and shut down with a grace period.
 *
 * Implementation notes:
 * - A session handler never crashes the process: an exception is logged with the session id
 *   and the connection is closed. A `ConnectionClosedError` (the client went away) is not an
 *   error.
 * - A connection past a limit gets the spec's `tooManyConnections` line (over TLS first on an
 *   implicit-TLS port) and is closed; it never reaches the handler and never counts towards the
 *   per-IP total.
 * - Counts drop when the socket closes, not when the handler returns: the socket is the resource.
 *
 * @example
 * const group = new ListenerGroup({ limits, certificates });
 * const bound = await group.listen([
 *   { service: "smtp", host: "0.0.0.0", port: 25, implicitTls: false, handler: smtpSession },
 * ]);
 * // ...
 * await group.shutdown(30);
 */
import net from "node:net";
import type { CertificateManager } from "../tls/certificates.ts";
import { type Logger, logger } from "../observability/log.ts";
import { Connection, type ConnectionLimits } from "./connection.ts";
import { BindError, ConnectionClosedError, TlsHandshakeError } from "./errors.ts";
import { findPortHolder } from "./port_holder.ts";
import {
  connectionsAccepted,
  connectionsOpen,
  connectionsRefused,
} from "../observability/metrics.ts";

export type SessionHandler = (conn: Connection) => Promise<void>;

export interface ListenerSpec {
  service: string;
  host: string;
  /** 0 binds an ephemeral port; `listen` returns the real one. */
  port: number;
  implicitTls: boolean;
  handler: SessionHandler;
  /** The one line a client past a connection limit gets, e.g. "421 4.7.0 Too many …\r\n". */
  tooManyConnections?: string;
  /** Written before a connection is closed for idleness, e.g. "* BYE Idle timeout\r\n". */
  onIdleTimeout?: string;
}

export interface BoundListener {
  service: string;
  address: string;
  port: number;
}

export interface ListenerGroupOptions {
  limits: ConnectionLimits;
  certificates: CertificateManager;
  log?: Logger;
}

/** How long shutdown waits for handlers to return after their connections were destroyed. */
const HANDLER_SETTLE_MS = 1000;

export class ListenerGroup {
  readonly #limits: ConnectionLimits;
  readonly #certificates: CertificateManager;
  readonly #log: Logger;
  readonly #servers: net.Server[] = [];
  readonly #sessions = new Set<Connection>();
  readonly #refusing = new Set<Connection>();
  readonly #perIp = new Map<string, number>();
  readonly #running = new Set<Promise<void>>();
  #emptyWaiters: (() => void)[] = [];
  #closing = false;

  constructor(options: ListenerGroupOptions) {
    this.#limits = options.limits;
    this.#certificates = options.certificates;
    this.#log = options.log ?? logger("server");
  }

  /**
   * Binds every spec; if one fails, closes those already opened and throws a `BindError`.
   */
  async listen(specs: ListenerSpec[]): Promise<BoundListener[]> {
    if (this.#closing) throw new Error("ListenerGroup is shut down");
    const opened: net.Server[] = [];
    const bound: BoundListener[] = [];
    try {
      for (const spec of specs) {
        const server = await this.#bind(spec);
        opened.push(server);
        const address = server.address() as net.AddressInfo;
        bound.push({ service: spec.service, address: address.address, port: address.port });
        this.#log.info("listening", {
          service: spec.service,
          address: formatHostPort(address.address, address.port),
          tls: spec.implicitTls ? "implicit" : "starttls",
        });
      }
    } catch (err) {
      await Promise.all(opened.map(closeServer));
      throw err;
    }
    this.#servers.push(...opened);
    return bound;
  }

  /** Open connections, including ones being refused for a limit. */
  activeConnections(): number {
    return this.#sessions.size + this.#refusing.size;
  }

  /**
   * Stops accepting, lets open sessions finish for up to `graceSeconds`, then destroys the rest.
   */
  async shutdown(graceSeconds: number): Promise<void> {
    this.#closing = true;
    const serversClosed = this.#servers.splice(0).map(closeServer);
    if (this.activeConnections() > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#emptyWaiters.push(resolve)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, graceSeconds * 1000)),
      ]);
      clearTimeout(timer);
    }
    const left = this.activeConnections();
    if (left > 0) this.#log.info("shutdown grace over, closing connections", { count: left });
    for (const conn of [...this.#sessions, ...this.#refusing]) conn.destroy();
    if (this.#running.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#running]),
        new Promise<void>((resolve) => timer = setTimeout(resolve, HANDLER_SETTLE_MS)),
      ]);
      clearTimeout(timer);
    }
    await Promise.all(serversClosed);
  }

  #bind(spec: ListenerSpec): Promise<net.Server> {
    const server = net.createServer((socket) => this.#accept(spec, socket));
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        describeBindError(spec, err).then(reject, reject);
      };
      server.once("error", onError);
      server.listen({ host: spec.host, port: spec.port }, () => {
        server.off("error", onError);
        server.on("error", (err: Error) => {
          this.#log.error("listener error", { service: spec.service, error: err });
        });
        resolve(server);
      });
    });
  }

  #accept(spec: ListenerSpec, socket: net.Socket): void {
    socket.on("error", () => {}); // Connection logs; this covers the instants before it exists.
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // Replies go out when written: Nagle's algorithm would hold a reply's second write until
    // the client acknowledged the first (~40 ms with delayed ACKs) on every multi-part reply.
    socket.setNoDelay(true);
    const conn = new Connection(socket, {
      limits: this.#limits,
      tls: this.#certificates,
      log: this.#log.child({ service: spec.service }),
      idleTimeoutReply: spec.onIdleTimeout,
    });
    if (conn.closed) return;
    const ip = conn.remoteAddress;
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (this.#sessions.size >= this.#limits.maxConnections) {
      this.#refuse(spec, conn, "total");
      return;
    }
    if (fromIp >= this.#limits.maxConnectionsPerIp) {
      this.#refuse(spec, conn, "per-ip");
      return;
    }
    this.#sessions.add(conn);
    this.#perIp.set(ip, fromIp + 1);
    connectionsAccepted.inc({ service: spec.service });
    connectionsOpen.inc({ service: spec.service });
    conn.onClose(() => {
      this.#sessions.delete(conn);
      connectionsOpen.dec({ service: spec.service });
      const count = (this.#perIp.get(ip) ?? 1) - 1;
      if (count > 0) this.#perIp.set(ip, count);
      else this.#perIp.delete(ip);
      this.#log.debug("connection closed", { session: conn.id, service: spec.service });
      this.#notifyIfEmpty();
    });
    this.#log.debug("connection accepted", {
      session: conn.id,
      service: spec.service,
      remote: formatHostPort(ip, conn.remotePort),
    });
    const running = this.#run(spec, conn);
    this.#running.add(running);
    running.finally(() => this.#running.delete(running));
  }

  async #run(spec: ListenerSpec, conn: Connection): Promise<void> {
    try {
      if (spec.implicitTls) await conn.startTls("");
      await spec.handler(conn);
    } catch (err) {
      if (err instanceof TlsHandshakeError) {
        this.#log.info("TLS handshake failed", { session: conn.id, error: err.message });
      } else if (err instanceof ConnectionClosedError || conn.closed) {
        this.#log.debug("session ended by the client", { session: conn.id });
      } else {
        this.#log.error("session failed", {
          session: conn.id,
          service: spec.service,
          error: err instanceof Error ? err : String(err),
        });
      }
    } finally {
      await conn.close();
    }
  }

  #refuse(spec: ListenerSpec, conn: Connection, limit: string): void {
    this.#log.warn("too many connections", {
      session: conn.id,
      service: spec.service,
      remote: conn.remoteAddress,
      limit,
    });
    this.#refusing.add(conn);
    connectionsRefused.inc({ service: spec.service });
    conn.onClose(() => {
      this.#refusing.delete(conn);
      this.#notifyIfEmpty();
    });
    (async () => {
      if (spec.implicitTls) await conn.startTls("");
      if (spec.tooManyConnections) await conn.write(spec.tooManyConnections);
    })().catch(() => {}).finally(() => conn.close());
  }

  #notifyIfEmpty(): void {
    if (this.activeConnections() > 0) return;
    for (const resolve of this.#emptyWaiters.splice(0)) resolve();
  }
}

/** Turns a listen() error into a `BindError` an operator can act on. */
export async function describeBindError(
  spec: ListenerSpec,
  err: NodeJS.ErrnoException,
): Promise<BindError> {
  const { service, host, port } = spec;
  let message: string;
  switch (err.code) {
    case "EADDRINUSE": {
      const holder = await findPortHolder(port);
      message = `${service}: port ${port} on ${host} is already in use${
        holder ? ` (held by ${holder})` : ""
      }`;
      break;
    }
    case "EACCES":
    case "EPERM":
      message = port < 1024
        ? `${service}: binding port ${port} on ${host} needs root or CAP_NET_BIND_SERVICE`
        : `${service}: permission denied binding port ${port} on ${host}`;
      break;
    case "EADDRNOTAVAIL":
      message = `${service}: address ${host} is not an address of this machine (port ${port})`;
      break;
    default:
      message = `${service}: cannot listen on ${formatHostPort(host, port)}: ${err.message}`;
  }
  return new BindError(message, service, host, port, err.code);
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
