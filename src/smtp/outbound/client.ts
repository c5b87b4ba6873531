/**
 * One outbound SMTP transaction to one host address (RFC 5321 client side): greeting, EHLO,
 * STARTTLS, AUTH (smarthost), MAIL, RCPT, DATA or BDAT, QUIT. The queue decides what to try;
 * this module only reports what the host said, per recipient.
 *
 * Implementation notes:
 * - MAIL and the RCPTs go in one write when the host offers PIPELINING (RFC 2920); DATA is sent
 *   after their replies, so a message is never sent to a host that accepted no recipient.
 * - TLS: "opportunistic" uses STARTTLS when offered and accepts any certificate (like Postfix's
 *   `may`); a failed handshake is retried once in plaintext. "verified" (MTA-STS enforce,
 *   REQUIRETLS, a smarthost) demands STARTTLS and a certificate valid for the host name, else
 *   the host fails. "implicit" is TLS from the first byte (smarthost on 465).
 * - Requirements the host cannot meet are permanent failures with the RFC's status: SMTPUTF8
 *   (RFC 6531 3.2, 5.6.7), 8-bit or binary content (RFC 6152, RFC 3030; 5.6.3), SIZE (RFC 1870,
 *   5.3.4), REQUIRETLS (RFC 8689, 5.7.30). Nothing is downgraded.
 * - The message goes on the wire with CRLF line ends and dot-stuffing (DATA), or as BDAT chunks
 *   for BINARYMIME. Every wait has a timeout; a silent host is a temporary failure.
 */
import net from "node:net";
import tls from "node:tls";
import { Connection } from "../../server/connection.ts";
import { LineTooLongError, TlsHandshakeError } from "../../server/errors.ts";
import type { Logger } from "../../observability/log.ts";
import { normalizeLineEnds } from "../../mail/ingest.ts";
import type { DsnNotify } from "../../store/types.ts";
import { encodeXtext } from "../wire/xtext.ts";

export interface Reply {
  code: number;
  /** "5.1.1", or null when the host sent none. */
  enhanced: string | null;
  /** The text of every line, without code and enhanced code. */
  lines: string[];
}

export type TlsMode = "none" | "opportunistic" | "verified" | "implicit";

export interface ClientOptions {
  /** Host name: TLS server name, logs, Remote-MTA. */
  host: string;
  /** IP address to connect to. */
  address: string;
  port: number;
  /** Local address to send from ("" = the system's choice). */
  sourceAddress?: string;
  /** Our name in EHLO. */
  helo: string;
  tls: TlsMode;
  /** Extra trusted CA certificates (PEM) for verified TLS. */
  ca?: string[];
  auth?: { username: string; password: string };
  connectTimeoutMs: number;
  /** Longest wait for any reply (the end-of-data reply gets twice this). */
  replyTimeoutMs: number;
  log: Logger;
}

export interface EnvelopeRecipient {
  address: string;
  notify: DsnNotify[];
  orcpt: string | null;
}

export interface Envelope {
  /** "" for the null reverse-path. */
  from: string;
  recipients: EnvelopeRecipient[];
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  body: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8: boolean;
  requireTls: boolean;
}

/**
 * - "session": the host took part; each recipient has its own reply (RCPT, or the end-of-data
 *   reply for accepted recipients), in envelope order.
 * - "host": the host could not be used. `verdict` says what that means for the recipients:
 *   "retry" (connection, greeting, EHLO, TLS, AUTH, MAIL 4xx: try the next host, else later;
 *   Postfix's smtp_skip_5xx_greeting), "bounce" (MAIL 5xx, a requirement the message has and
 *   the host lacks: fail now), "bounce_if_last" (REQUIRETLS not honoured: another host may,
 *   else the message is returned).
 */
export type TransactionResult =
  | { kind: "session"; replies: Reply[]; dsnRelayed: boolean; tls: string | null }
  | { kind: "host"; verdict: HostVerdict; reply: Reply };

export type HostVerdict = "retry" | "bounce" | "bounce_if_last";

const MAX_REPLY_LINES = 100;
const CHUNK = 64 * 1024;

/** An SMTP reply formatted for logs and DSNs: "550 5.1.1 No such user". */
export function formatReply(reply: Reply): string {
  const prefix = reply.enhanced ? `${reply.code} ${reply.enhanced}` : `${reply.code}`;
  const text = reply.lines.filter((line) => line !== "").join(" ");
  return text === "" ? prefix : `${prefix} ${text}`;
}

/** A reply we make up for a local condition (timeout, refused connection, policy). */
export function localReply(code: number, enhanced: string, text: string): Reply {
  return { code, enhanced, lines: [text] };
}

class HostFailure extends Error {
  constructor(readonly reply: Reply, readonly verdict: HostVerdict = "retry") {
    super(formatReply(reply));
  }
}

/** Runs one transaction; never throws for anything the network or the host does. */
export async function sendTransaction(
  options: ClientOptions,
  envelope: Envelope,
  message: Uint8Array,
): Promise<TransactionResult> {
  const first = await attempt(options, envelope, message);
  if (first.kind === "host" && first.tlsFailed && options.tls === "opportunistic") {
    options.log.info("TLS handshake failed, retrying without TLS", { host: options.host });
    return await attempt({ ...options, tls: "none" }, envelope, message);
  }
  return first;
}

async function attempt(
  options: ClientOptions,
  envelope: Envelope,
  message: Uint8Array,
): Promise<TransactionResult & { tlsFailed?: boolean }> {
  let conn: Connection;
  try {
    conn = await connect(options);
  } catch (error) {
    return {
      kind: "host",
      verdict: "retry",
      reply: localReply(
        451,
        "4.4.1",
        `connect to ${options.host}[${options.address}]: ${text(error)}`,
      ),
    };
  }
  const session = new ClientSession(conn, options);
  try {
    return await session.run(envelope, message);
  } catch (error) {
    if (error instanceof HostFailure) {
      return { kind: "host", verdict: error.verdict, reply: error.reply };
    }
    const tlsFailed = error instanceof TlsHandshakeError;
    return {
      kind: "host",
      verdict: "retry",
      tlsFailed,
      reply: localReply(
        451,
        "4.4.2",
        `${
          tlsFailed ? "TLS handshake" : "conversation"
        } with ${options.host}[${options.address}] failed: ${text(error)}`,
      ),
    };
  } finally {
    conn.destroy();
  }
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function connect(options: ClientOptions): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: options.address,
      port: options.port,
      localAddress: options.sourceAddress || undefined,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("connection timed out"));
    }, options.connectTimeoutMs);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.removeAllListeners("error");
      resolve(
        new Connection(socket, {
          limits: {
            maxLineLength: 4096,
            idleTimeoutSeconds: Math.ceil((2 * options.replyTimeoutMs) / 1000),
          },
          log: options.log,
        }),
      );
    });
  });
}

class ClientSession {
  readonly #conn: Connection;
  readonly #opts: ClientOptions;
  #extensions = new Map<string, string>();
  #requireTls = false;

  constructor(conn: Connection, options: ClientOptions) {
    this.#conn = conn;
    this.#opts = options;
  }

  async run(envelope: Envelope, message: Uint8Array): Promise<TransactionResult> {
    const { tls: mode } = this.#opts;
    this.#requireTls = envelope.requireTls;
    if (mode === "implicit") await this.#startTls();
    this.#expect(await this.#read(), 220, "greeting");
    await this.#hello();
    if (mode === "opportunistic" || mode === "verified") {
      if (this.#extensions.has("STARTTLS")) {
        this.#expect(await this.#command("STARTTLS"), 220, "STARTTLS");
        await this.#startTls();
        await this.#hello();
      } else if (mode === "verified") {
        throw this.#tlsProblem(`${this.#opts.host} does not offer STARTTLS`);
      }
    }
    if (this.#opts.auth) await this.#authenticate(this.#opts.auth);
    this.#checkRequirements(envelope, message);

    const dsn = this.#extensions.has("DSN");
    const commands = [mailCommand(envelope, message.length, this.#extensions, dsn)];
    for (const recipient of envelope.recipients) commands.push(rcptCommand(recipient, dsn));
    const replies = await this.#pipeline(commands);
    const mail = replies[0];
    if (mail.code >= 400) throw new HostFailure(mail, mail.code >= 500 ? "bounce" : "retry");
    const rcpt = replies.slice(1);
    const accepted = rcpt.filter((reply) => reply.code < 300).length;
    if (accepted === 0) {
      await this.#quit();
      return { kind: "session", replies: rcpt, dsnRelayed: dsn, tls: this.#tlsSummary() };
    }
    const final = envelope.body === "BINARYMIME"
      ? await this.#bdat(message)
      : await this.#data(message);
    await this.#quit();
    return {
      kind: "session",
      replies: rcpt.map((reply) => reply.code < 300 ? final : reply),
      dsnRelayed: dsn,
      tls: this.#tlsSummary(),
    };
  }

  #tlsSummary(): string | null {
    const info = this.#conn.tlsInfo();
    return info ? `${info.protocol} ${info.cipher}${info.authorized ? " verified" : ""}` : null;
  }

  async #hello(): Promise<void> {
    let reply = await this.#command(`EHLO ${this.#opts.helo}`);
    this.#extensions = new Map();
    if (reply.code === 250) {
      for (const line of reply.lines.slice(1)) {
        const [keyword, ...rest] = line.trim().split(/\s+/);
        if (keyword) this.#extensions.set(keyword.toUpperCase(), rest.join(" "));
      }
      return;
    }
    if (reply.code >= 500 && reply.code < 600) {
      reply = await this.#command(`HELO ${this.#opts.helo}`);
    }
    this.#expect(reply, 250, "HELO");
  }

  async #startTls(): Promise<void> {
    const verify = this.#opts.tls === "verified" || this.#opts.tls === "implicit";
    await this.#conn.startClientTls({
      servername: net.isIP(this.#opts.host) ? undefined : this.#opts.host,
      rejectUnauthorized: false,
      ca: this.#opts.ca?.length ? [...tls.rootCertificates, ...this.#opts.ca] : undefined,
      minVersion: "TLSv1.2",
    });
    const info = this.#conn.tlsInfo();
    if (verify && !info?.authorized) {
      throw this.#tlsProblem(
        `certificate of ${this.#opts.host} not valid: ${info?.error || "unknown error"}`,
      );
    }
  }

  /**
   * A host that cannot give the TLS we need: temporary (another host may, or this one later),
   * except that a REQUIRETLS message is returned if no host can (RFC 8689 5, 5.7.30).
   */
  #tlsProblem(text: string): HostFailure {
    return this.#requireTls
      ? new HostFailure(
        localReply(550, "5.7.30", `REQUIRETLS not honoured: ${text}`),
        "bounce_if_last",
      )
      : new HostFailure(localReply(451, "4.7.5", text));
  }

  async #authenticate(auth: { username: string; password: string }): Promise<void> {
    const mechanisms = (this.#extensions.get("AUTH") ?? "").toUpperCase().split(/\s+/);
    if (!mechanisms.includes("PLAIN")) {
      throw new HostFailure(
        localReply(451, "4.7.0", `${this.#opts.host} does not offer AUTH PLAIN`),
      );
    }
    const token = btoa(
      String.fromCharCode(...new TextEncoder().encode(`\0${auth.username}\0${auth.password}`)),
    );
    const reply = await this.#command(`AUTH PLAIN ${token}`);
    if (reply.code !== 235) throw new HostFailure(reply);
  }

  #checkRequirements(envelope: Envelope, message: Uint8Array): void {
    const has = (keyword: string) => this.#extensions.has(keyword);
    const fail = (enhanced: string, text: string) => {
      throw new HostFailure(localReply(554, enhanced, `${this.#opts.host} ${text}`), "bounce");
    };
    if (envelope.smtputf8 && !has("SMTPUTF8")) {
      fail("5.6.7", "does not support SMTPUTF8, the message needs it");
    }
    if (envelope.body === "BINARYMIME" && !(has("BINARYMIME") && has("CHUNKING"))) {
      fail("5.6.3", "does not support BINARYMIME, the message needs it");
    }
    if (envelope.body === "8BITMIME" && !has("8BITMIME")) {
      fail("5.6.3", "does not support 8BITMIME, the message needs it");
    }
    const limit = Number(this.#extensions.get("SIZE") ?? "0");
    if (has("SIZE") && limit > 0 && message.length > limit) {
      fail("5.3.4", `accepts at most ${limit} octets, the message has ${message.length}`);
    }
    if (envelope.requireTls) {
      const info = this.#conn.tlsInfo();
      if (!info?.authorized || !has("REQUIRETLS")) {
        throw new HostFailure(
          localReply(
            550,
            "5.7.30",
            `REQUIRETLS not honoured: ${this.#opts.host} does not offer it`,
          ),
          "bounce_if_last",
        );
      }
    }
  }

  /** Sends commands in one write when PIPELINING is offered, else one by one. */
  async #pipeline(commands: string[]): Promise<Reply[]> {
    if (!this.#extensions.has("PIPELINING")) {
      const replies: Reply[] = [];
      for (const command of commands) replies.push(await this.#command(command));
      return replies;
    }
    await this.#conn.write(commands.map((command) => `${command}\r\n`).join(""));
    const replies: Reply[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await this.#read());
    return replies;
  }

  async #data(message: Uint8Array): Promise<Reply> {
    const go = await this.#command("DATA");
    if (go.code !== 354) return go;
    const wire = dotStuff(normalizeLineEnds(message));
    for (let offset = 0; offset < wire.length; offset += CHUNK) {
      await this.#conn.write(wire.subarray(offset, offset + CHUNK));
    }
    return await this.#read(2);
  }

  async #bdat(message: Uint8Array): Promise<Reply> {
    // One chunk per BDAT; the size line and its data go in one write.
    let offset = 0;
    for (;;) {
      const piece = message.subarray(offset, offset + 1024 * 1024);
      offset += piece.length;
      const last = offset >= message.length;
      await this.#conn.write(`BDAT ${piece.length}${last ? " LAST" : ""}\r\n`);
      for (let at = 0; at < piece.length; at += CHUNK) {
        await this.#conn.write(piece.subarray(at, at + CHUNK));
      }
      const reply = await this.#read(last ? 2 : 1);
      if (last || reply.code !== 250) return reply;
    }
  }

  async #quit(): Promise<void> {
    try {
      await this.#conn.write("QUIT\r\n");
      await this.#read();
    } catch {
      // The transaction is over; a host that drops the connection at QUIT changes nothing.
    }
  }

  #expect(reply: Reply, code: number, stage: string): void {
    if (reply.code === code) return;
    if (reply.code >= 400) {
      throw new HostFailure({ ...reply, lines: [`${stage}: ${reply.lines.join(" ")}`.trimEnd()] });
    }
    // A success code where another was due: a confused host, worth another try later.
    throw new HostFailure(
      localReply(451, "4.5.0", `${stage}: unexpected reply ${formatReply(reply)}`),
    );
  }

  async #command(command: string): Promise<Reply> {
    await this.#conn.write(`${command}\r\n`);
    return await this.#read();
  }

  /** Reads one (possibly multi-line) reply within the reply timeout (times `factor`). */
  async #read(factor = 1): Promise<Reply> {
    const ms = this.#opts.replyTimeoutMs * factor;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#conn.destroy();
        reject(new Error(`no reply within ${Math.round(ms / 1000)} s`));
      }, ms);
    });
    try {
      return await Promise.race([this.#readReply(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #readReply(): Promise<Reply> {
    const lines: string[] = [];
    let code = 0;
    let enhanced: string | null = null;
    for (;;) {
      let line: string | null;
      try {
        line = await this.#conn.readLine();
      } catch (error) {
        if (error instanceof LineTooLongError) throw new Error("reply line too long");
        throw error;
      }
      if (line === null) throw new Error("connection closed by the host");
      const match = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (!match) throw new Error(`malformed reply line: ${line.slice(0, 80)}`);
      const lineCode = Number(match[1]);
      if (code !== 0 && lineCode !== code) throw new Error("reply code changed mid-reply");
      code = lineCode;
      let rest = match[3];
      const status = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/.exec(rest);
      if (status && status[1][0] === match[1][0]) {
        enhanced ??= status[1];
        rest = rest.slice(status[0].length);
      }
      lines.push(rest);
      if (lines.length > MAX_REPLY_LINES) throw new Error("reply has too many lines");
      if (match[2] !== "-") return { code, enhanced, lines };
    }
  }
}

function mailCommand(
  envelope: Envelope,
  size: number,
  extensions: Map<string, string>,
  dsn: boolean,
): string {
  let command = `MAIL FROM:<${envelope.from}>`;
  if (extensions.has("SIZE")) command += ` SIZE=${size}`;
  if (envelope.body !== "7BIT") command += ` BODY=${envelope.body}`;
  if (envelope.smtputf8) command += " SMTPUTF8";
  if (envelope.requireTls) command += " REQUIRETLS";
  if (dsn) {
    if (envelope.ret) command += ` RET=${envelope.ret}`;
    if (envelope.envelopeId) command += ` ENVID=${encodeXtext(envelope.envelopeId)}`;
  }
  return command;
}

function rcptCommand(recipient: EnvelopeRecipient, dsn: boolean): string {
  let command = `RCPT TO:<${recipient.address}>`;
  if (dsn && recipient.notify.length > 0) command += ` NOTIFY=${recipient.notify.join(",")}`;
  if (dsn && recipient.orcpt) {
    const semicolon = recipient.orcpt.indexOf(";");
    command += ` ORCPT=${recipient.orcpt.slice(0, semicolon)};${
      encodeXtext(recipient.orcpt.slice(semicolon + 1))
    }`;
  }
  return command;
}

/**
 * The DATA form of a CRLF message: a "." doubled at the start of every line (RFC 5321 4.5.2),
 * a final CRLF added when missing, and the CRLF "." CRLF terminator.
 */
export function dotStuff(message: Uint8Array): Uint8Array {
  let dots = message[0] === 0x2e ? 1 : 0;
  for (let i = 0; i + 1 < message.length; i++) {
    if (message[i] === 0x0a && message[i + 1] === 0x2e) dots++;
  }
  const endsWithCrlf = message.length >= 2 && message[message.length - 2] === 0x0d &&
    message[message.length - 1] === 0x0a;
  const tail = endsWithCrlf || message.length === 0 ? 3 : 5;
  const out = new Uint8Array(message.length + dots + tail);
  let o = 0;
  for (let i = 0; i < message.length; i++) {
    if (message[i] === 0x2e && (i === 0 || message[i - 1] === 0x0a)) out[o++] = 0x2e;
    out[o++] = message[i];
  }
  if (!endsWithCrlf && message.length > 0) {
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  out.set([0x2e, 0x0d, 0x0a], o);
  return out;
}
