/**
 * One POP3 session (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH (RFC 5034), UTF8
 * (RFC 6856) and response codes (RFC 2449 8, RFC 3206), on the `pop3` (110) and `pop3s` (995)
 * listeners.
 *
 * Implementation notes:
 * - States: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939 3). Only QUIT in TRANSACTION enters
 *   UPDATE and expunges the messages marked by DELE, in one store call, then publishes the change
 *   on the bus so IMAP and JMAP sessions see ordinary expunges. A connection that ends any other
 *   way (dropped, idle timeout, too many errors, shutdown) expunges nothing (RFC 1939 6).
 * - The maildrop lock (`MaildropLocks`) is taken after the credentials check and released on
 *   every exit path (the `finally` of `run`). A second session gets `-ERR [IN-USE]` and stays in
 *   AUTHORIZATION.
 * - Logging in (USER/PASS, AUTH) needs TLS unless `[pop3] allow_plaintext_auth`: before STLS it is
 *   refused with `-ERR [SYS/PERM]` (as Dovecot's disable_plaintext_auth does), and CAPA does not
 *   offer SASL mechanisms. Failed logins answer `-ERR [AUTH]` whatever the cause; the directory's
 *   shared rate limiter turns into `-ERR [SYS/TEMP]`.
 * - STLS (RFC 2595 4): `conn.startTls` discards input pipelined after the command (injection), and
 *   a USER given before it is forgotten.
 * - Responses are queued and written when no more input is buffered (RFC 2449 6.6 PIPELINING), or
 *   once they pass MAX_PENDING_OUTPUT, or before anything that waits on the client.
 * - A client error is a `-ERR`; after `[pop3] max_errors` of them the session is closed. An
 *   internal error is logged with the session id and answered `-ERR [SYS/TEMP]`.
 * - The command timeout is the connection's idle timeout (`[limits] idle_timeout`, at least the
 *   ten minutes RFC 1939 3 asks for by default); the listener writes its `-ERR` before closing.
 */
import type { Connection } from "../server/connection.ts";
import { ConnectionClosedError, LineTooLongError, TlsHandshakeError } from "../server/errors.ts";
import { type Logger, logger } from "../observability/log.ts";
import { SASL_MECHANISMS, SaslError, startSasl } from "../directory/sasl.ts";
import type { Directory } from "../directory/directory.ts";
import type { ChangeBus } from "../store/bus.ts";
import type { Account, Store } from "../store/types.ts";
import { parseCommand, type Pop3Command } from "./wire/command.ts";
import { dotStuff, err, multiline, ok, type ResponseCode, topOf } from "./wire/response.ts";
import { Maildrop, type MaildropLocks, type MaildropMessage } from "./maildrop.ts";
import { authentications } from "../observability/metrics.ts";

export interface Pop3Options {
  hostname: string;
  store: Store;
  blobs: { get(hash: string, size?: number): Promise<Uint8Array> };
  bus: ChangeBus;
  directory: Directory;
  locks: MaildropLocks;
  /** USER/PASS and AUTH before TLS on the plaintext port. */
  allowPlaintextAuth: boolean;
  /** Client errors before the session is closed. */
  maxErrors: number;
}

/** Queued output above which responses are written even while more commands are buffered. */
const MAX_PENDING_OUTPUT = 64 * 1024;
/** Queued output up to which chunks are joined into one write. */
const MAX_JOINED_WRITE = 256 * 1024;
const encoder = new TextEncoder();

type Output = string | Uint8Array;

interface LoggedIn {
  account: Account;
  maildrop: Maildrop;
  release: () => void;
}

/** What a session did, for its closing log line (as Dovecot's "top=… retr=… del=…"). */
interface Counts {
  retrieved: number;
  retrievedBytes: number;
  top: number;
  deleted: number;
  expunged: number;
}

export class Pop3Session {
  readonly #conn: Connection;
  readonly #opts: Pop3Options;
  readonly #log: Logger;
  #output: Output[] = [];
  #pending = 0;
  #user: string | null = null;
  #session: LoggedIn | null = null;
  #errors = 0;
  #closing = false;
  #quit = false;
  readonly #counts: Counts = { retrieved: 0, retrievedBytes: 0, top: 0, deleted: 0, expunged: 0 };

  constructor(conn: Connection, opts: Pop3Options) {
    this.#conn = conn;
    this.#opts = opts;
    this.#log = logger("pop3", { session: conn.id });
  }

  async run(): Promise<void> {
    try {
      this.#send(ok(`${this.#opts.hostname} Postern POP3 ready`));
      while (!this.#closing) {
        await this.#flush();
        let line: string | null;
        try {
          line = await this.#conn.readLine();
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error;
          this.#error("Line too long");
          continue;
        }
        if (line === null) return;
        await this.#command(line);
      }
      await this.#flush(true);
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) return;
      throw error;
    } finally {
      this.#logout();
    }
  }

  #logout(): void {
    const session = this.#session;
    if (!session) return;
    this.#session = null;
    session.release();
    this.#log.info("logout", {
      user: session.account.address,
      reason: this.#quit ? "quit" : this.#closing ? "closed by server" : "connection ended",
      messages: session.maildrop.messages.length,
      ...this.#counts,
    });
  }

  #send(output: Output): void {
    this.#output.push(output);
    this.#pending += output.length;
  }

  async #flush(force = false): Promise<void> {
    if (this.#output.length === 0 || this.#conn.closed) return;
    if (!force && this.#conn.hasBufferedInput() && this.#pending < MAX_PENDING_OUTPUT) return;
    const chunks = this.#output;
    const total = this.#pending;
    this.#output = [];
    this.#pending = 0;
    if (total <= MAX_JOINED_WRITE) return await this.#conn.write(join(chunks, total));
    for (const chunk of chunks) await this.#conn.write(chunk);
  }

  /** A -ERR the client caused; too many of them end the session. */
  #error(text: string, code?: ResponseCode): void {
    this.#send(err(text, code));
    if (++this.#errors >= this.#opts.maxErrors) {
      this.#send(err("Too many errors, closing connection"));
      this.#closing = true;
    }
  }

  async #command(line: string): Promise<void> {
    const command = parseCommand(line);
    if (command.verb === "INVALID") return this.#error(command.text);
    try {
      await this.#execute(command);
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) throw error;
      if (this.#conn.closed) throw new ConnectionClosedError();
      this.#log.error("internal error", {
        command: command.verb,
        error: error instanceof Error ? error : String(error),
      });
      this.#send(err("Internal error, try again later", "SYS/TEMP"));
    }
  }

  #execute(command: Pop3Command): void | Promise<void> {
    switch (command.verb) {
      case "CAPA":
        return this.#send(multiline("Capability list follows", this.#capabilities()));
      case "QUIT":
        return this.#quitCommand();
      case "NOOP":
        if (!this.#session) return this.#error("NOOP is only valid after logging in");
        return this.#send(ok(""));
      case "STLS":
        return this.#stls();
      case "UTF8":
        // RFC 6856 3: AUTHORIZATION state only. Messages are sent as stored either way.
        if (this.#session) return this.#error("UTF8 is only valid before logging in");
        return this.#send(ok("UTF8 enabled"));
      case "APOP":
        // RFC 1939 7: optional. It needs the password in clear on the server; we keep hashes.
        return this.#send(err("APOP is not supported; use USER/PASS or AUTH over TLS"));
      case "USER":
        return this.#userCommand(command.user);
      case "PASS":
        return this.#passCommand(command.password);
      case "AUTH":
        return this.#auth(command.mechanism, command.initialResponse);
    }
    const session = this.#session;
    if (!session) return this.#error(`${command.verb} is only valid after logging in`);
    const { maildrop } = session;
    switch (command.verb) {
      case "STAT": {
        const { count, size } = maildrop.stat();
        return this.#send(ok(`${count} ${size}`));
      }
      case "LIST":
      case "UIDL": {
        const field = (m: MaildropMessage) => command.verb === "LIST" ? `${m.size}` : m.uidl;
        if (command.message === null) {
          const { count, size } = maildrop.stat();
          const text = command.verb === "LIST" ? `${count} messages (${size} octets)` : "";
          return this.#send(
            multiline(text, maildrop.visible().map((m) => `${m.number} ${field(m)}`)),
          );
        }
        const message = this.#lookup(command.message);
        if (message) this.#send(ok(`${message.number} ${field(message)}`));
        return;
      }
      case "RETR":
        return this.#retrieve(command.message, null);
      case "TOP":
        return this.#retrieve(command.message, command.lines);
      case "DELE": {
        const message = this.#lookup(command.message);
        if (!message) return;
        message.deleted = true;
        this.#counts.deleted++;
        return this.#send(ok(`Message ${message.number} deleted`));
      }
      case "RSET": {
        maildrop.reset();
        const { count, size } = maildrop.stat();
        return this.#send(ok(`Maildrop has ${count} messages (${size} octets)`));
      }
    }
  }

  #capabilities(): string[] {
    const canLogin = this.#conn.secure || this.#opts.allowPlaintextAuth;
    return [
      "TOP",
      "UIDL",
      "RESP-CODES",
      "AUTH-RESP-CODE",
      "PIPELINING",
      "EXPIRE NEVER",
      "LOGIN-DELAY 0",
      "UTF8 USER",
      "USER",
      ...(canLogin ? [`SASL ${SASL_MECHANISMS.join(" ")}`] : []),
      ...(!this.#conn.secure && !this.#session ? ["STLS"] : []),
      "IMPLEMENTATION Postern",
    ];
  }

  /** The message if it exists and is not marked deleted; otherwise queues the -ERR. */
  #lookup(number: number): MaildropMessage | null {
    const found = this.#session!.maildrop.lookup(number);
    if (found.ok) return found.message;
    this.#error(
      found.reason === "deleted"
        ? `Message ${number} is marked deleted`
        : `There is no message ${number}`,
    );
    return null;
  }

  async #retrieve(number: number, topLines: number | null): Promise<void> {
    const message = this.#lookup(number);
    if (!message) return;
    const { account } = this.#session!;
    const blobHash = message.blobHash ??
      (await this.#opts.store.getEmail(account.id, message.emailId))?.blobHash;
    let data: Uint8Array | null = null;
    if (blobHash) {
      try {
        data = await this.#opts.blobs.get(blobHash, message.size);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (data === null) {
      // Expunged (and collected) by another protocol since the snapshot was taken.
      return this.#send(err(`Message ${number} was removed by another session`));
    }
    if (topLines === null) {
      this.#counts.retrieved++;
      this.#counts.retrievedBytes += data.length;
      this.#send(ok(`${data.length} octets`));
    } else {
      this.#counts.top++;
      data = topOf(data, topLines);
      this.#send(ok(""));
    }
    for (const chunk of dotStuff(data)) this.#send(chunk);
  }

  #quitCommand(): Promise<void> | void {
    this.#closing = true;
    this.#quit = true;
    if (!this.#session) return this.#send(ok(`${this.#opts.hostname} signing off`));
    return this.#update(this.#session);
  }

  /** RFC 1939 6: the UPDATE state. */
  async #update(session: LoggedIn): Promise<void> {
    const { account, maildrop } = session;
    const uids = maildrop.deletedUids();
    if (uids.length > 0) {
      try {
        const removed = await this.#opts.store.expunge(account.id, maildrop.mailboxId, uids);
        this.#counts.expunged = removed.length;
        if (removed.length > 0) {
          const inbox = (await this.#opts.store.listMailboxes(account.id, { counts: false }))
            .find((m) => m.id === maildrop.mailboxId);
          this.#opts.bus.publish({
            accountId: account.id,
            types: ["Email", "Mailbox", "Thread"],
            modseq: inbox?.highestModseq ?? 0,
          });
        }
      } catch (error) {
        this.#log.error("expunge failed", {
          user: account.address,
          error: error instanceof Error ? error : String(error),
        });
        return this.#send(err("Some deleted messages were not removed", "SYS/TEMP"));
      }
    }
    const { count } = maildrop.stat();
    this.#send(ok(`Logging out (${uids.length} deleted, ${count} left)`));
  }

  async #stls(): Promise<void> {
    if (this.#conn.secure) return this.#error("TLS is already active");
    if (this.#session) return this.#error("STLS is only valid before logging in");
    await this.#flush(true);
    await this.#conn.startTls(ok("Begin TLS negotiation now"));
    this.#user = null; // RFC 2595 4: forget what the client said before TLS
  }

  /** Whether a password may be sent now; queues the refusal when not. */
  #mayLogin(): boolean {
    if (this.#session) {
      this.#error("Already logged in");
      return false;
    }
    if (!this.#conn.secure && !this.#opts.allowPlaintextAuth) {
      this.#error(
        "Plaintext authentication disallowed on non-secure connections; use STLS or port 995",
        "SYS/PERM",
      );
      return false;
    }
    return true;
  }

  #userCommand(user: string): void {
    if (!this.#mayLogin()) return;
    this.#user = user;
    this.#send(ok(""));
  }

  async #passCommand(password: string): Promise<void> {
    if (!this.#mayLogin()) return;
    const user = this.#user;
    this.#user = null;
    if (user === null) return this.#error("Send USER first");
    await this.#login(user, password);
  }

  async #auth(mechanism: string | null, initialResponse: string | null): Promise<void> {
    if (mechanism === null) {
      // The mechanism list many clients ask for before RFC 5034's CAPA SASL (RFC 1734 usage).
      const canLogin = this.#conn.secure || this.#opts.allowPlaintextAuth;
      return this.#send(multiline("", canLogin ? [...SASL_MECHANISMS] : []));
    }
    if (!this.#mayLogin()) return;
    let credentials;
    try {
      const exchange = startSasl(mechanism, initialResponse);
      let step = exchange.step(null);
      while ("challenge" in step) {
        this.#send(`+ ${step.challenge}\r\n`);
        await this.#flush(true);
        let line: string | null;
        try {
          line = await this.#conn.readLine();
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error;
          return this.#error("Authentication response too long");
        }
        if (line === null) throw new ConnectionClosedError();
        step = exchange.step(line);
      }
      credentials = step.done;
    } catch (error) {
      if (!(error instanceof SaslError)) throw error;
      switch (error.reason) {
        case "cancelled":
          return this.#error("Authentication cancelled"); // RFC 5034 4
        case "unsupported":
          return this.#error(`Unsupported authentication mechanism ${mechanism.slice(0, 20)}`);
        case "malformed":
          return this.#error("Invalid authentication response", "AUTH");
      }
    }
    if (credentials.authzid !== "" && credentials.authzid !== credentials.authcid) {
      // RFC 4616 2: acting as someone else is not supported.
      return this.#error("Authentication failed", "AUTH");
    }
    await this.#login(credentials.authcid, credentials.password);
  }

  async #login(username: string, password: string): Promise<void> {
    const { directory, locks, store } = this.#opts;
    const result = await directory.authenticate(username, password, this.#conn.remoteAddress);
    authentications.inc({ protocol: "pop3", result: result.ok ? "ok" : "failed" });
    if (!result.ok) {
      if (result.reason === "rate_limited") {
        return this.#error("Too many failed logins, try again later", "SYS/TEMP");
      }
      return this.#error("Authentication failed", "AUTH");
    }
    const account = result.account;
    const release = locks.acquire(account.id);
    if (!release) {
      this.#log.info("maildrop in use", { user: account.address });
      return this.#send(err("Mailbox is locked by another POP3 session", "IN-USE"));
    }
    let maildrop: Maildrop | null;
    try {
      maildrop = await Maildrop.open(store, account.id);
    } catch (error) {
      release();
      throw error;
    }
    if (!maildrop) {
      release();
      return this.#send(err("The account has no INBOX", "SYS/PERM"));
    }
    this.#session = { account, maildrop, release };
    const { count, size } = maildrop.stat();
    this.#log.info("login", {
      user: account.address,
      remote: this.#conn.remoteAddress,
      tls: this.#conn.secure,
      messages: count,
      size,
    });
    this.#send(ok(`Logged in, ${count} messages (${size} octets)`));
  }
}

function join(chunks: Output[], total: number): Output {
  if (chunks.length === 1) return chunks[0];
  if (chunks.every((chunk) => typeof chunk === "string")) return chunks.join("");
  const parts = chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk);
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0) || total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
