/**
 * The inbound MX session (listener `smtp`, port 25; RFC 5321): mail for local domains only.
 *
 * Implementation notes:
 * - Replies are queued and written when no more input is buffered (RFC 2920 PIPELINING), or
 *   before anything that waits on the client (354, STARTTLS, QUIT, closing).
 * - Relay defence: a recipient is accepted only when its domain is one of ours, the directory
 *   resolves it to a local account, and its local part hides no routing (`%`, `!`, `@`, source
 *   route; `relayRisk`). Everything else is refused; nothing is ever forwarded from here.
 * - STARTTLS (RFC 3207 4.2): `conn.startTls` drops input buffered with the command (injection);
 *   the session starts over, so EHLO is required again.
 * - Only CR LF "." CR LF ends DATA (`DataReader`); a bare CR or LF is refused with 554 5.6.0 in
 *   "reject" mode (SMTP smuggling), never delivered.
 * - A client error is a reply; an internal error is logged with the session id and answered
 *   451 4.3.0. Neither ends the process.
 * - DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT are kept with the message; the outbound queue
 *   passes them on or answers them (src/smtp/outbound/queue.ts).
 * - REQUIRETLS (RFC 8689) is offered only over TLS; a REQUIRETLS message leaves only over
 *   verified TLS to a host that offers REQUIRETLS too.
 * - Submission mode (listeners `submission` 587 and `submissions` 465; RFC 6409): AUTH is offered
 *   and accepted only over TLS (RFC 4954 4, 538 5.7.11 before); MAIL needs TLS (530, RFC 3207 4)
 *   and an authenticated account that owns the sender (`ownsSender`, 553 5.7.1, the null sender
 *   too). Local recipients are delivered as on port 25 without SPF/DKIM/DMARC checks; remote ones
 *   go to the outbound queue. Port 25 never relays; it queues only for aliases that forward to
 *   external addresses.
 */
import type { Connection } from "../server/connection.ts";
import { ConnectionClosedError, LineTooLongError, TlsHandshakeError } from "../server/errors.ts";
import type { SessionHandler } from "../server/listeners.ts";
import { type MailParams, parseCommand, type SmtpCommand } from "./wire/command.ts";
import { relayRisk } from "./wire/path.ts";
import { BdatReader, DataReader, type DataResult } from "./wire/data.ts";
import { ehloReply, reply } from "./wire/reply.ts";
import { type Logger, logger } from "../observability/log.ts";
import { smtpRejections } from "../observability/metrics.ts";
import { deliverMessage, readBdatChunk, readDotData, Watchdog } from "./inbound_data.ts";
import type { InboundSmtpOptions } from "./inbound_options.ts";
import { ownsSender, smtpAuth } from "./submission_auth.ts";
import type { Account } from "../store/types.ts";
import { SASL_MECHANISMS } from "../directory/sasl.ts";
import type { EnvelopeRecipient } from "./outbound/client.ts";

export {
  type InboundSmtpOptions,
  inboundSmtpOptions,
  submissionSmtpOptions,
} from "./inbound_options.ts";

/**
 * The port-25 session handler; with `submissionSmtpOptions`, the 587/465 one.
 *
 * @example
 * group.listen([{ service: "smtp", host: "0.0.0.0", port: 25, implicitTls: false,
 *   handler: inboundSmtp(inboundSmtpOptions(app)) }]);
 */
export function inboundSmtp(options: InboundSmtpOptions): SessionHandler {
  return (conn) => new InboundSession(conn, options).run();
}

interface Transaction {
  /** "" for the null reverse-path. */
  sender: string;
  params: MailParams;
  recipients: EnvelopeRecipient[];
  bdat: BdatReader | null;
}

const MAX_PENDING_OUTPUT = 16 * 1024;
const UNSUPPORTED_MAIL_PARAMS = [["auth", "AUTH"]] as const;

class InboundSession {
  readonly #conn: Connection;
  readonly #opts: InboundSmtpOptions;
  readonly #log: Logger;
  readonly #watchdog: Watchdog;
  #output = "";
  #helo: string | null = null;
  #esmtp = false;
  #tx: Transaction | null = null;
  /** Submission mode: the account AUTH proved, null before. */
  #account: Account | null = null;
  #errors = 0;
  #messages = 0;
  #closing = false;

  constructor(conn: Connection, opts: InboundSmtpOptions) {
    this.#conn = conn;
    this.#opts = opts;
    this.#log = logger("smtp", { session: conn.id });
    this.#watchdog = new Watchdog(() => {
      this.#log.info("timeout", { remote: conn.remoteAddress });
      conn.write(reply(421, "4.4.2", `${opts.hostname} Timeout, closing connection`))
        .catch(() => {});
      conn.close();
    });
  }

  async run(): Promise<void> {
    const { hostname, greeting } = this.#opts;
    try {
      this.#send(`220 ${hostname} ${greeting}`.trimEnd() + "\r\n");
      while (!this.#closing) {
        await this.#flush();
        this.#watchdog.arm(this.#opts.commandTimeout);
        let line: string | null;
        try {
          line = await this.#conn.readLine();
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error;
          this.#error(500, "5.5.2", "Line too long"); // RFC 5321 4.5.3.1.4
          continue;
        }
        if (line === null || this.#watchdog.fired) return;
        await this.#command(line);
      }
      await this.#flush(true);
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) return;
      throw error;
    } finally {
      this.#watchdog.stop();
    }
  }

  #send(text: string): void {
    this.#output += text;
  }

  async #flush(force = false): Promise<void> {
    if (this.#output === "" || this.#conn.closed) return;
    if (!force && this.#conn.hasBufferedInput() && this.#output.length < MAX_PENDING_OUTPUT) return;
    const text = this.#output;
    this.#output = "";
    await this.#conn.write(text);
  }

  /** A negative reply the client caused; too many of them end the session. */
  #error(code: number, enhanced: string, text: string): void {
    this.#refuse(reply(code, enhanced, text));
  }

  /** A permanent refusal of a recipient or a message, counted in postern_smtp_rejections_total. */
  #reject(stage: "rcpt" | "data", code: number, enhanced: string, text: string): void {
    smtpRejections.inc({ stage });
    this.#error(code, enhanced, text);
  }

  #refuse(text: string): void {
    this.#send(text);
    if (++this.#errors >= this.#opts.maxErrors) {
      this.#send(reply(421, "4.7.0", `${this.#opts.hostname} Too many errors, closing connection`));
      this.#closing = true;
    }
  }

  async #command(line: string): Promise<void> {
    const tx = this.#tx;
    const command = parseCommand(line, {
      smtputf8Allowed: tx === null || tx.params.smtputf8 === true,
    });
    if (command.verb === "INVALID") {
      return this.#error(command.code, command.enhanced, command.text);
    }
    try {
      await this.#execute(command);
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) throw error;
      if (this.#conn.closed) throw new ConnectionClosedError();
      this.#log.error("internal error", {
        command: command.verb,
        error: error instanceof Error ? error : String(error),
      });
      this.#tx = null;
      this.#send(reply(451, "4.3.0", "Internal error, try again later"));
    }
  }

  async #execute(command: SmtpCommand): Promise<void> {
    const { hostname } = this.#opts;
    switch (command.verb) {
      case "EHLO":
      case "HELO":
        this.#helo = command.argument;
        this.#esmtp = command.verb === "EHLO";
        this.#tx = null;
        return this.#send(
          this.#esmtp
            ? ehloReply(hostname, `Hello ${command.argument}`, this.#extensions())
            : reply(250, null, hostname),
        );
      case "MAIL":
        return await this.#mail(command);
      case "RCPT":
        return await this.#rcpt(command);
      case "DATA":
        return await this.#data();
      case "BDAT":
        return await this.#bdat(command.size, command.last);
      case "RSET":
        this.#tx = null;
        return this.#send(reply(250, "2.0.0", "OK"));
      case "NOOP":
        return this.#send(reply(250, "2.0.0", "OK"));
      case "QUIT":
        this.#send(reply(221, "2.0.0", `${hostname} closing connection`));
        this.#closing = true;
        return;
      case "VRFY":
      case "EXPN":
        return await this.#verify(command.verb, command.argument);
      case "HELP":
        return this.#send(reply(214, "2.0.0", [
          "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS",
          "See RFC 5321",
        ]));
      case "STARTTLS":
        return await this.#startTls();
      case "AUTH":
        return await this.#auth(command.mechanism, command.initialResponse);
    }
  }

  #extensions(): string[] {
    return [
      "PIPELINING",
      `SIZE ${this.#opts.maxMessageSize}`,
      "8BITMIME",
      "SMTPUTF8",
      "ENHANCEDSTATUSCODES",
      "CHUNKING",
      "BINARYMIME",
      "DSN",
      ...(this.#conn.secure ? ["REQUIRETLS"] : ["STARTTLS"]),
      ...(this.#opts.submission && this.#conn.secure ? [`AUTH ${SASL_MECHANISMS.join(" ")}`] : []),
    ];
  }

  async #auth(mechanism: string, initialResponse: string | undefined): Promise<void> {
    if (!this.#opts.submission) {
      return this.#error(502, "5.5.1", "AUTH is not available on this port");
    }
    if (!this.#conn.secure) {
      return this.#error(
        538,
        "5.7.11",
        "Encryption required for requested authentication mechanism",
      );
    }
    if (this.#helo === null || !this.#esmtp) return this.#error(503, "5.5.1", "Send EHLO first");
    if (this.#account !== null) return this.#error(503, "5.5.1", "Already authenticated");
    if (this.#tx !== null) {
      return this.#error(503, "5.5.1", "AUTH not allowed during a transaction");
    }
    const io = {
      write: async (text: string) => {
        this.#send(text);
        await this.#flush(true);
      },
      readLine: async () => {
        this.#watchdog.arm(this.#opts.commandTimeout);
        const line = await this.#conn.readLine();
        if (line === null || this.#watchdog.fired) throw new ConnectionClosedError();
        return line;
      },
    };
    const outcome = await smtpAuth(
      io,
      this.#opts.directory,
      this.#conn.remoteAddress,
      mechanism,
      initialResponse,
    );
    if (!outcome.ok) return this.#refuse(outcome.reply);
    this.#account = outcome.account;
    this.#log.info("authenticated", { user: outcome.account.address });
    this.#send(outcome.reply);
  }

  #mail(command: Extract<SmtpCommand, { verb: "MAIL" }>): void | Promise<void> {
    if (this.#opts.submission && !this.#conn.secure) {
      return this.#error(530, "5.7.0", "Must issue a STARTTLS command first");
    }
    if (this.#helo === null) return this.#error(503, "5.5.1", "Send EHLO or HELO first");
    if (this.#opts.submission && this.#account === null) {
      return this.#error(530, "5.7.0", "Authentication required");
    }
    if (this.#tx !== null) return this.#error(503, "5.5.1", "Nested MAIL command");
    if (this.#messages >= this.#opts.maxMessagesPerConnection) {
      this.#send(reply(421, "4.7.0", `${this.#opts.hostname} Too many messages, closing`));
      this.#closing = true;
      return;
    }
    const { params } = command;
    for (const [field, keyword] of UNSUPPORTED_MAIL_PARAMS) {
      // RFC 4954 5: AUTH= is accepted and ignored from an authenticated client.
      if (field === "auth" && this.#account !== null) continue;
      if (params[field] !== undefined) {
        return this.#error(555, "5.5.4", `Unsupported parameter ${keyword}`);
      }
    }
    if (params.requireTls && !this.#conn.secure) {
      return this.#error(530, "5.7.10", "REQUIRETLS needs a TLS session"); // RFC 8689 4.1
    }
    if (params.size !== undefined && params.size > this.#opts.maxMessageSize) {
      return this.#error(552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    if (!this.#esmtp && (params.body === "BINARYMIME" || params.smtputf8)) {
      return this.#error(555, "5.5.4", "Extensions need EHLO");
    }
    const sender = command.path.kind === "null" ? "" : command.path.mailbox.address;
    if (this.#account === null) return this.#accept({ sender, params, recipients: [], bdat: null });
    return this.#submissionSender(this.#account, { sender, params, recipients: [], bdat: null });
  }

  async #submissionSender(account: Account, tx: Transaction): Promise<void> {
    if (tx.sender === "" || !(await ownsSender(this.#opts.directory, account, tx.sender))) {
      return this.#error(553, "5.7.1", "Sender address not owned by you");
    }
    this.#accept(tx);
  }

  #accept(tx: Transaction): void {
    this.#tx = tx;
    this.#send(reply(250, "2.1.0", "Sender OK"));
  }

  async #rcpt(command: Extract<SmtpCommand, { verb: "RCPT" }>): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return this.#error(503, "5.5.1", "Need MAIL command first");
    if (tx.bdat !== null) return this.#error(503, "5.5.1", "RCPT not allowed during BDAT");
    if (tx.recipients.length >= this.#opts.maxRecipients) {
      return this.#error(452, "4.5.3", "Too many recipients");
    }
    let address: string;
    if (command.path.kind === "postmaster") {
      address = `postmaster@${this.#opts.postmasterDomain}`;
    } else {
      const mailbox = command.path.mailbox;
      if (relayRisk(mailbox).length > 0) {
        return this.#reject(
          "rcpt",
          550,
          "5.7.1",
          "Relaying through routed addresses is not allowed",
        );
      }
      if (mailbox.literal !== null || !(await this.#opts.directory.isLocalDomain(mailbox.domain))) {
        if (!this.#opts.submission) {
          return this.#reject("rcpt", 554, "5.7.1", "Relay access denied");
        }
        if (mailbox.literal !== null) {
          return this.#reject(
            "rcpt",
            550,
            "5.1.2",
            "Address literals are not accepted as recipients",
          );
        }
        return this.#addRecipient(tx, mailbox.address, command.params);
      }
      address = mailbox.address;
    }
    const resolved = await this.#opts.directory.resolveRecipient(address);
    if (resolved === null) return this.#reject("rcpt", 550, "5.1.1", "No such user here");
    if (this.#account === null && this.#opts.greylist) {
      const { defer } = await this.#opts.greylist.check(
        this.#conn.remoteAddress,
        tx.sender,
        address.toLowerCase(),
      );
      if (defer) {
        this.#log.info("recipient greylisted", { from: tx.sender, to: address });
        // Not counted as a client error: a greylisted sender did nothing wrong.
        return this.#send(reply(451, "4.7.1", "Greylisted, please try again later"));
      }
    }
    this.#addRecipient(tx, address.toLowerCase(), command.params);
  }

  #addRecipient(
    tx: Transaction,
    address: string,
    params: Extract<SmtpCommand, { verb: "RCPT" }>["params"],
  ): void {
    if (!tx.recipients.some((r) => r.address === address)) {
      tx.recipients.push({
        address,
        notify: params.notify ?? [],
        orcpt: params.orcpt ? `${params.orcpt.addressType};${params.orcpt.address}` : null,
      });
    }
    this.#send(reply(250, "2.1.5", "Recipient OK"));
  }

  async #data(): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return this.#error(503, "5.5.1", "Need MAIL command first");
    if (tx.bdat !== null) return this.#error(503, "5.5.1", "DATA not allowed after BDAT");
    if (tx.params.body === "BINARYMIME") {
      return this.#error(503, "5.5.1", "BODY=BINARYMIME requires BDAT");
    }
    if (tx.recipients.length === 0) return this.#error(554, "5.5.1", "No valid recipients");
    this.#send(reply(354, null, "End data with <CR><LF>.<CR><LF>"));
    await this.#flush(true);
    const reader = new DataReader({
      maxSize: this.#opts.maxMessageSize,
      bareLineEnds: this.#opts.bareLineEnds,
    });
    this.#watchdog.arm(this.#opts.dataTimeout);
    const complete = await readDotData(this.#conn, reader, this.#watchdog);
    if (!complete || this.#watchdog.fired) throw new ConnectionClosedError();
    // Our own work (checks, commit, queue) is not the client's idle time; the command loop
    // re-arms the timer before it reads again.
    this.#watchdog.stop();
    this.#tx = null;
    await this.#finish(tx, reader.result(), this.#opts.bareLineEnds === "reject");
  }

  async #bdat(size: number, last: boolean): Promise<void> {
    const tx = this.#tx;
    const usable = tx !== null && tx.recipients.length > 0;
    if (usable && tx.bdat === null) {
      tx.bdat = new BdatReader({ maxSize: this.#opts.maxMessageSize });
    }
    const reader = usable ? tx.bdat! : null;
    reader?.begin(size, last);
    this.#watchdog.arm(this.#opts.dataTimeout);
    const complete = await readBdatChunk(this.#conn, reader, size, this.#watchdog);
    if (!complete || this.#watchdog.fired) throw new ConnectionClosedError();
    this.#watchdog.arm(this.#opts.commandTimeout);
    // RFC 3030 2: a refused BDAT's chunk is read and discarded all the same.
    if (tx === null) return this.#error(503, "5.5.1", "Need MAIL command first");
    if (!usable) return this.#error(554, "5.5.1", "No valid recipients");
    const result = reader!.result();
    if (result.tooLarge) {
      this.#tx = null;
      return this.#error(552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    if (!last) return this.#send(reply(250, "2.0.0", `${size} octets received`));
    this.#watchdog.stop();
    this.#tx = null;
    const strict = this.#opts.bareLineEnds === "reject" && tx.params.body !== "BINARYMIME";
    await this.#finish(tx, result, strict);
  }

  async #finish(tx: Transaction, result: DataResult, rejectBareLineEnds: boolean): Promise<void> {
    if (result.tooLarge) {
      return this.#reject("data", 552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    if (rejectBareLineEnds && result.bareLineEnd) {
      this.#log.info("message refused: bare CR or LF", { from: tx.sender });
      return this.#reject("data", 554, "5.6.0", "Bare CR or LF in message data is not allowed");
    }
    const { reply: text, delivered } = await deliverMessage(
      {
        messages: this.#opts.messages,
        directory: this.#opts.directory,
        log: this.#log,
        // Authenticated submissions are ours: no SPF/DKIM/DMARC verdict on them.
        auth: this.#account === null ? this.#opts.auth : undefined,
        submitter: this.#account ?? undefined,
        queue: this.#opts.queue,
        filters: this.#opts.filters,
        maxHops: this.#opts.maxHops,
        hostname: this.#opts.hostname,
      },
      tx.sender,
      tx.params,
      tx.recipients,
      result.message,
      {
        helo: this.#helo ?? "unknown",
        remoteAddress: this.#conn.remoteAddress,
        hostname: this.#opts.hostname,
        protocol: this.#protocol(),
        id: this.#conn.id,
      },
    );
    if (!delivered && text.startsWith("5")) smtpRejections.inc({ stage: "data" });
    if (delivered) {
      this.#messages++;
      if (this.#account) {
        this.#opts.onSubmitted?.(
          this.#account.id,
          tx.recipients.map((r) => r.address),
          result.message,
        );
      }
    }
    this.#send(text);
  }

  /** RFC 3848 protocol names for the Received header. */
  #protocol(): "SMTP" | "ESMTP" | "ESMTPS" | "ESMTPA" | "ESMTPSA" {
    if (!this.#esmtp) return "SMTP";
    const secure = this.#conn.secure;
    if (this.#account === null) return secure ? "ESMTPS" : "ESMTP";
    return secure ? "ESMTPSA" : "ESMTPA";
  }

  async #verify(verb: "VRFY" | "EXPN", argument: string): Promise<void> {
    if (!this.#opts.allowVrfy) {
      return verb === "VRFY"
        ? this.#send(reply(252, "2.5.0", "Cannot VRFY user, but will accept message"))
        : this.#error(502, "5.5.1", "EXPN is disabled");
    }
    const address = argument.replace(/^<(.*)>$/, "$1");
    const resolved = await this.#opts.directory.resolveRecipient(address);
    if (resolved === null || resolved.accounts.length === 0) {
      return this.#error(550, "5.1.1", "No such user here");
    }
    const found = verb === "VRFY" ? [resolved.accounts[0]] : resolved.accounts;
    this.#send(reply(250, "2.1.5", found.map((account) => `<${account.address}>`)));
  }

  async #startTls(): Promise<void> {
    if (this.#conn.secure) return this.#error(503, "5.5.1", "TLS already active");
    await this.#flush(true);
    await this.#conn.startTls(reply(220, "2.0.0", "Ready to start TLS"));
    // RFC 3207 4.2: forget everything learnt before TLS.
    this.#helo = null;
    this.#esmtp = false;
    this.#tx = null;
    this.#account = null;
  }
}
