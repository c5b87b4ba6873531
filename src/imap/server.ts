/**
 * The IMAP server (RFC 9051, RFC 3501): one `ImapSession` per connection, reading commands
 * through `CommandAssembler` (lines and literals) and `parseCommand`, running them against the
 * store, and writing responses.
 *
 * Implementation notes:
 * - States: not authenticated → authenticated → selected; LOGOUT ends. A command in the wrong
 *   state is `BAD`; a command that failed for a reason the client can act on is `NO`.
 * - LOGIN and AUTHENTICATE need TLS (LOGINDISABLED before STARTTLS on 143), and go through the
 *   directory's shared rate limiter; the reply does not tell a wrong password from a missing
 *   account.
 * - STARTTLS drops bytes pipelined after it (Connection.startTls) and the session starts over.
 * - Literals: the assembler says when to send "+ Ready"; a literal over the limit is refused
 *   before the client sends it (synchronizing) or skipped without buffering (LITERAL+).
 * - Only what is implemented is advertised in CAPABILITY.
 * - The selected mailbox (src/imap/selected.ts) learns of other sessions' changes through the
 *   change bus; updates go out before the tagged reply of every command, and during IDLE as
 *   they happen. Expunges are held back during FETCH, STORE and SEARCH (RFC 9051 7.5.1).
 * - Mailbox contents come from one MailboxCache shared by all sessions (src/imap/mailbox_cache.ts).
 *   A selected mailbox deleted elsewhere ends the session with BYE, as Dovecot does.
 */
import type { App } from "../app.ts";
import type { Connection } from "../server/connection.ts";
import { ConnectionClosedError, LineTooLongError, TlsHandshakeError } from "../server/errors.ts";
import type { SessionHandler } from "../server/listeners.ts";
import type { Directory } from "../directory/directory.ts";
import { SaslError, startSasl } from "../directory/sasl.ts";
import type { MessagePath } from "../mail/ingest.ts";
import type { BlobStore } from "../store/blobs.ts";
import type { ChangeBus } from "../store/bus.ts";
import type { Account, MailboxSummary, Store } from "../store/types.ts";
import { StoreError } from "../store/types.ts";
import { type Logger, logger } from "../observability/log.ts";
import {
  type AssemblerStep,
  CommandAssembler,
  DEFAULT_PARSER_LIMITS,
  type ImapCommand,
  parseCommand,
  ParseError,
  type ParserLimits,
  type QresyncParams,
  type SelectArgs,
} from "./wire/parser.ts";
import { formatSequenceSet } from "./sequence_set.ts";
import { flagList } from "./flags.ts";
import { mailboxObjectId, setContains } from "./search.ts";
import { fromWire, MailboxNameError, patternFromWire, toWire } from "./mailbox_name.ts";
import { SelectedMailbox } from "./selected.ts";
import { MailboxCache, MailboxGoneError } from "./mailbox_cache.ts";
import { quoted } from "./response.ts";
import { SelectedCommands } from "./selected_commands.ts";
import { listMailboxes, statusItems } from "./mailbox_commands.ts";
import { authentications } from "../observability/metrics.ts";

export interface ImapOptions {
  hostname: string;
  store: Store;
  blobs: BlobStore;
  bus: ChangeBus;
  messages: MessagePath;
  directory: Directory;
  /** Largest literal (APPEND) in octets. */
  maxLiteralSize: number;
  /** Largest command in octets, literals included. */
  maxCommandSize: number;
  /** Allow LOGIN/AUTHENTICATE without TLS (only on trusted networks). */
  allowPlaintextAuth: boolean;
  maxConnectionsPerUser: number;
  maxCommandsPerSecond: number;
  /** Parser limits ([imap] max_nesting_depth, max_search_keys). */
  parserLimits: ParserLimits;
  /** The messages of recently used mailboxes, shared by the sessions. */
  mailboxes: MailboxCache;
}

/** The server's options from the app's config. */
export function imapOptions(app: App): ImapOptions {
  const { config } = app.loaded;
  return {
    hostname: config.server.hostname,
    store: app.store,
    blobs: app.blobs,
    bus: app.bus,
    messages: app.messages,
    directory: app.directory,
    maxLiteralSize: config.limits.max_message_size,
    maxCommandSize: config.limits.max_message_size + 1024 * 1024,
    allowPlaintextAuth: config.imap.allow_plaintext_auth,
    maxConnectionsPerUser: config.imap.max_connections_per_user,
    maxCommandsPerSecond: config.imap.max_commands_per_second,
    parserLimits: {
      ...DEFAULT_PARSER_LIMITS,
      maxNestingDepth: config.imap.max_nesting_depth,
      maxSearchKeys: config.imap.max_search_keys,
    },
    mailboxes: new MailboxCache(app.store, { maxMessages: config.imap.cache_messages }),
  };
}

/** The session handler for the `imap` (143) and `imaps` (993) listeners. */
export function imapServer(options: ImapOptions): SessionHandler {
  return (conn) => new ImapSession(conn, options).run();
}

/** Thrown by a handler to answer `tag NO|BAD [code] text`. */
export class CommandFailure extends Error {
  constructor(
    readonly status: "NO" | "BAD",
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** Thrown when the session has said BYE on its own (the selected mailbox vanished). */
class SessionEnded extends Error {}

const CHUNK = 64 * 1024;
/** Logged-in sessions per account, for max_connections_per_user. */
const sessionsPerAccount = new Map<number, number>();
/** Largest literal before login (a user name or password). */
const PRE_AUTH_LITERAL = 8 * 1024;

export class ImapSession {
  readonly conn: Connection;
  readonly opts: ImapOptions;
  readonly log: Logger;
  account: Account | null = null;
  selected: SelectedMailbox | null = null;
  readOnly = false;
  /** UTF8=ACCEPT or IMAP4rev2 enabled: mailbox names in UTF-8. */
  utf8 = false;
  rev2 = false;
  condstore = false;
  qresync = false;
  /** UIDs saved by SEARCH RETURN (SAVE). */
  saved: number[] = [];
  #assembler: CommandAssembler;
  #closing = false;
  #compressed = false;
  #changed = false;
  #unsubscribe: (() => void) | null = null;
  #idleWake: (() => void) | null = null;
  readonly #selectedCommands: SelectedCommands;

  constructor(conn: Connection, opts: ImapOptions) {
    this.conn = conn;
    this.opts = opts;
    this.log = logger("imap", { session: conn.id });
    this.#assembler = this.#newAssembler();
    this.#selectedCommands = new SelectedCommands(this);
  }

  /**
   * Before login a client may only send small commands (a password literal at most): its
   * memory stays small whatever it sends. After login, APPEND needs message-sized literals.
   */
  #newAssembler(): CommandAssembler {
    const authenticated = this.account !== null;
    return new CommandAssembler({
      maxLiteralSize: authenticated ? this.opts.maxLiteralSize : PRE_AUTH_LITERAL,
      maxCommandSize: authenticated ? this.opts.maxCommandSize : 2 * PRE_AUTH_LITERAL,
      maxLiterals: authenticated ? 1000 : 4,
      literalMinus: !authenticated,
    });
  }

  capabilities(): string {
    const caps = ["IMAP4rev1", "IMAP4rev2"];
    const tlsNeeded = !this.conn.secure && !this.opts.allowPlaintextAuth;
    if (!this.conn.secure) caps.push("STARTTLS");
    if (this.account === null) {
      caps.push(tlsNeeded ? "LOGINDISABLED" : "AUTH=PLAIN");
      if (!tlsNeeded) caps.push("SASL-IR");
      caps.push("LITERAL-", "ID", "ENABLE");
      return caps.join(" ");
    }
    caps.push(
      "LITERAL+",
      "ID",
      "ENABLE",
      "IDLE",
      "NAMESPACE",
      "UNSELECT",
      "UIDPLUS",
      "MOVE",
      "CHILDREN",
      "LIST-EXTENDED",
      "MULTIAPPEND",
      "COMPRESS=DEFLATE",
      "QUOTA",
      "QUOTA=RES-STORAGE",
      "PREVIEW",
      "LIST-STATUS",
      "SPECIAL-USE",
      "CONDSTORE",
      "QRESYNC",
      "CREATE-SPECIAL-USE",
      "BINARY",
      "SORT",
      "SORT=DISPLAY",
      "ESORT",
      "THREAD=ORDEREDSUBJECT",
      "THREAD=REFERENCES",
      "OBJECTID",
      "SAVEDATE",
      "UNAUTHENTICATE",
      "ESEARCH",
      "SEARCHRES",
      "STATUS=SIZE",
      "WITHIN",
      "REPLACE",
      "UTF8=ACCEPT",
      `APPENDLIMIT=${this.opts.maxLiteralSize}`,
    );
    return caps.join(" ");
  }

  async run(): Promise<void> {
    try {
      await this.write(
        `* OK [CAPABILITY ${this.capabilities()}] ${this.opts.hostname} Postern IMAP ready\r\n`,
      );
      while (!this.#closing) {
        const step = await this.#readCommand();
        if (step === null) return;
        await this.#handle(step);
      }
    } catch (error) {
      if (
        error instanceof ConnectionClosedError || error instanceof TlsHandshakeError ||
        error instanceof SessionEnded
      ) return;
      throw error;
    } finally {
      this.#unsubscribe?.();
      if (this.account) {
        this.#release(this.account);
        this.log.info("session ended", { user: this.account.address });
      }
    }
  }

  /** Reads lines and literals until a whole command (or an error to answer) is there. */
  async #readCommand(): Promise<AssemblerStep | null> {
    for (;;) {
      let line: Uint8Array | null;
      try {
        line = await this.conn.readLineBytes();
      } catch (error) {
        if (!(error instanceof LineTooLongError)) throw error;
        this.#assembler.reset();
        await this.write("* BAD [TOOBIG] Line too long\r\n");
        continue;
      }
      if (line === null) return null;
      await this.#throttle();
      const step = this.#assembler.pushLine(line);
      if (step.kind === "literal") {
        if (step.continuation) await this.write("+ Ready for literal data\r\n");
        const data = await this.conn.readBytes(step.size);
        if (data === null) return null;
        this.#assembler.pushLiteral(data);
        continue;
      }
      if (step.kind === "skip") {
        let remaining = step.size;
        while (remaining > 0) {
          const take = Math.min(remaining, CHUNK);
          if ((await this.conn.readBytes(take)) === null) return null;
          remaining -= take;
        }
        this.#assembler.literalSkipped();
        continue;
      }
      return step;
    }
  }

  #windowStart = 0;
  #windowCount = 0;

  /** At most max_commands_per_second lines a second: past that, wait for the next second. */
  async #throttle(): Promise<void> {
    const now = performance.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (++this.#windowCount <= this.opts.maxCommandsPerSecond) return;
    await new Promise((resolve) => setTimeout(resolve, 1000 - (now - this.#windowStart)));
    this.#windowStart = performance.now();
    this.#windowCount = 1;
  }

  #release(account: Account): void {
    const count = (sessionsPerAccount.get(account.id) ?? 1) - 1;
    if (count <= 0) sessionsPerAccount.delete(account.id);
    else sessionsPerAccount.set(account.id, count);
  }

  async #handle(step: AssemblerStep): Promise<void> {
    if (step.kind === "error") {
      const { tag, status, code, text, fatal } = step.error;
      await this.write(`${tag ?? "*"} ${status} ${code ? `[${code}] ` : ""}${text}\r\n`);
      if (fatal) this.#closing = true;
      return;
    }
    if (step.kind !== "command") return;
    const parsed = parseCommand(step.command, this.opts.parserLimits);
    if (parsed instanceof ParseError) {
      const code = parsed.code ? `[${parsed.code}] ` : "";
      await this.write(`${parsed.tag ?? "*"} BAD ${code}${parsed.message}\r\n`);
      return;
    }
    try {
      // Catch up first (new messages, others' flag changes), so the command works on what
      // the client has been told; expunges wait where RFC 9051 7.5.1 says they must.
      if (this.#changed && this.selected && parsed.command !== "IDLE") {
        await this.#updates(parsed.command);
      }
      const ok = await this.#execute(parsed);
      if (ok === null) return; // the command wrote its own completion (IDLE, STARTTLS, LOGOUT)
      await this.#updates(parsed.command);
      await this.write(`${parsed.tag} OK ${ok}\r\n`);
    } catch (error) {
      if (error instanceof CommandFailure) {
        await this.#updates(parsed.command);
        const code = error.code ? `[${error.code}] ` : "";
        await this.write(`${parsed.tag} ${error.status} ${code}${error.message}\r\n`);
        return;
      }
      if (
        error instanceof ConnectionClosedError || error instanceof TlsHandshakeError ||
        error instanceof SessionEnded
      ) throw error;
      if (error instanceof MailboxGoneError) await this.#mailboxGone();
      this.log.error("command failed", {
        command: parsed.command,
        error: error instanceof Error ? error : String(error),
      });
      await this.write(`${parsed.tag} NO [SERVERBUG] Internal error; see the server log\r\n`);
    }
  }

  /** Untagged updates for the selected mailbox, before a tagged reply. */
  async #updates(command: string): Promise<void> {
    const view = this.selected;
    if (!view) return;
    if (this.#changed) {
      this.#changed = false;
      try {
        await view.sync();
      } catch (error) {
        if (error instanceof MailboxGoneError) await this.#mailboxGone();
        throw error;
      }
    }
    const holdExpunges = /^(UID )?(FETCH|STORE|SEARCH|SORT|THREAD)$/.test(command) &&
      !command.startsWith("UID");
    const lines = view.flush(!holdExpunges);
    if (lines.length > 0) await this.write(lines.map((l) => `${l}\r\n`).join(""));
  }

  /**
   * The selected mailbox was deleted elsewhere: as Dovecot does, say BYE and end the session
   * (its sequence numbers mean nothing any more). Throws SessionEnded.
   */
  async #mailboxGone(): Promise<never> {
    this.#deselect();
    this.#closing = true;
    await this.write("* BYE Selected mailbox was deleted, have to disconnect\r\n");
    throw new SessionEnded();
  }

  /** Marks the selected mailbox as needing a sync (own change or a bus event). */
  markChanged(): void {
    this.#changed = true;
    this.#idleWake?.();
  }

  async write(text: string | Uint8Array): Promise<void> {
    await this.conn.write(text);
  }

  #requireAuth(): Account {
    if (!this.account) throw new CommandFailure("BAD", "Log in first");
    return this.account;
  }

  requireSelected(): SelectedMailbox {
    this.#requireAuth();
    if (!this.selected) throw new CommandFailure("BAD", "Select a mailbox first");
    return this.selected;
  }

  /** A client mailbox name as a canonical path, or a NO that says what is wrong. */
  path(name: string): string {
    try {
      return fromWire(name, this.utf8);
    } catch (error) {
      if (error instanceof MailboxNameError) {
        throw new CommandFailure("NO", error.message, "CANNOT");
      }
      throw error;
    }
  }

  wireName(path: string): string {
    return quoted(toWire(path, this.utf8));
  }

  async mailboxByPath(path: string): Promise<MailboxSummary> {
    const account = this.#requireAuth();
    const found = (await this.opts.store.listMailboxes(account.id, { counts: false })).find((m) =>
      m.role === "inbox" ? path.toUpperCase() === "INBOX" : m.path === path
    );
    if (!found) throw new CommandFailure("NO", "No such mailbox", "NONEXISTENT");
    return found;
  }

  /** Publishes a change of this account (after a commit) so other sessions hear of it. */
  published(
    modseq: number,
    types: string[] = ["Email", "Mailbox"],
    training?: { spam: number[]; ham: number[] },
  ): void {
    if (!this.account) return;
    const judged = training && (training.spam.length > 0 || training.ham.length > 0);
    this.opts.bus.publish({
      accountId: this.account.id,
      types,
      modseq,
      origin: this.conn.id,
      ...(judged ? { training } : {}),
    });
    if (judged) {
      this.log.info("spam training", {
        user: this.account.address,
        spam: training.spam.length,
        ham: training.ham.length,
      });
    }
  }

  async #execute(command: ImapCommand): Promise<string | null> {
    switch (command.command) {
      case "CAPABILITY":
        await this.write(`* CAPABILITY ${this.capabilities()}\r\n`);
        return "CAPABILITY completed";
      case "NOOP":
      case "CHECK":
        if (command.command === "CHECK") this.requireSelected();
        return `${command.command} completed`;
      case "LOGOUT":
        await this.write(
          `* BYE ${this.opts.hostname} logging out\r\n${command.tag} OK LOGOUT completed\r\n`,
        );
        this.#closing = true;
        return null;
      case "STARTTLS":
        return await this.#startTls(command.tag);
      case "LOGIN":
        return await this.#login(command.args.userid, command.args.password);
      case "AUTHENTICATE":
        return await this.#authenticate(command.args.mechanism, command.args.initialResponse);
      case "ID":
        await this.write(`* ID ("name" "Postern" "vendor" "Postern")\r\n`);
        return "ID completed";
      case "ENABLE":
        return await this.#enable(command.args.capabilities);
      case "NAMESPACE":
        this.#requireAuth();
        await this.write(`* NAMESPACE (("" "/")) NIL NIL\r\n`);
        return "NAMESPACE completed";
      case "LIST":
        this.#requireAuth();
        await listMailboxes(this, command.args, false);
        return "LIST completed";
      case "LSUB":
        this.#requireAuth();
        await listMailboxes(this, {
          selection: ["SUBSCRIBED"],
          reference: command.args.reference,
          patterns: [command.args.pattern],
          returnOptions: null,
          extended: false,
        }, true);
        return "LSUB completed";
      case "STATUS": {
        this.#requireAuth();
        const mailbox = await this.mailboxByPath(this.path(command.args.mailbox));
        const items = await statusItems(this, mailbox, command.args.items);
        await this.write(`* STATUS ${this.wireName(mailbox.path)} (${items})\r\n`);
        return "STATUS completed";
      }
      case "CREATE":
        return await this.#create(command.args.mailbox, command.args.specialUse);
      case "DELETE":
        return await this.#mailboxChange("DELETE", command.args.mailbox);
      case "RENAME":
        return await this.#rename(command.args.mailbox, command.args.newName);
      case "SUBSCRIBE":
      case "UNSUBSCRIBE":
        return await this.#mailboxChange(command.command, command.args.mailbox);
      case "SELECT":
      case "EXAMINE":
        return await this.#select(command.command === "EXAMINE", command.args);
      case "CLOSE":
      case "UNSELECT": {
        const view = this.requireSelected();
        if (command.command === "CLOSE" && !this.readOnly) {
          await this.#selectedCommands.expungeDeleted(view, null, true);
        }
        this.#deselect();
        return `${command.command} completed`;
      }
      case "IDLE":
        return await this.#idle(command.tag);
      case "COMPRESS": {
        this.#requireAuth();
        if (command.args.mechanism !== "DEFLATE") {
          throw new CommandFailure("BAD", `Unknown compression ${command.args.mechanism}`);
        }
        if (this.#compressed) {
          throw new CommandFailure("NO", "Compression is already on", "COMPRESSIONACTIVE");
        }
        // RFC 4978 3: the OK goes out plain; everything after it, both ways, is deflated.
        await this.write(`${command.tag} OK DEFLATE active\r\n`);
        this.conn.startCompression();
        this.#compressed = true;
        return null;
      }
      case "GETQUOTAROOT": {
        const account = this.#requireAuth();
        const mailbox = await this.mailboxByPath(this.path(command.args.mailbox));
        const quota = await this.#quota(account);
        await this.write(
          `* QUOTAROOT ${this.wireName(mailbox.path)}${quota ? ' ""' : ""}\r\n${quota ?? ""}`,
        );
        return "GETQUOTAROOT completed";
      }
      case "GETQUOTA": {
        const account = this.#requireAuth();
        const quota = command.args.root === "" ? await this.#quota(account) : null;
        if (!quota) throw new CommandFailure("NO", "No such quota root", "NONEXISTENT");
        await this.write(quota);
        return "GETQUOTA completed";
      }
      case "SETQUOTA":
        this.#requireAuth();
        throw new CommandFailure("NO", "Quotas are set by the administrator", "NOPERM");
      case "UNAUTHENTICATE": {
        // RFC 8437: back to the not-authenticated state, TLS kept.
        const account = this.#requireAuth();
        this.#deselect();
        this.#release(account);
        this.account = null;
        this.rev2 =
          this.utf8 =
          this.condstore =
          this.qresync =
            false;
        this.saved = [];
        this.#assembler = this.#newAssembler();
        this.log.info("unauthenticated", { user: account.address });
        return "UNAUTHENTICATE completed";
      }
      case "APPEND":
        this.#requireAuth();
        return await this.#selectedCommands.append(command.args);
      case "EXPUNGE":
      case "UID EXPUNGE":
      case "SEARCH":
      case "UID SEARCH":
      case "FETCH":
      case "UID FETCH":
      case "STORE":
      case "UID STORE":
      case "COPY":
      case "UID COPY":
      case "MOVE":
      case "UID MOVE":
      case "SORT":
      case "UID SORT":
      case "THREAD":
      case "UID THREAD":
      case "REPLACE":
      case "UID REPLACE":
        return await this.#selectedCommands.run(command);
      default: {
        // Every parsed command is handled above; kept for commands the parser learns later.
        const unknown: { command: string } = command;
        throw new CommandFailure("BAD", `${unknown.command} is not supported`);
      }
    }
  }

  /** The account's `* QUOTA "" (STORAGE used limit)` line (KiB, RFC 9208), or null: unlimited. */
  async #quota(account: Account): Promise<string | null> {
    const current = await this.opts.store.getAccountById(account.id) ?? account;
    if (current.quota <= 0) return null;
    const used = Math.ceil(current.usedBytes / 1024);
    return `* QUOTA "" (STORAGE ${used} ${Math.floor(current.quota / 1024)})\r\n`;
  }

  async #startTls(tag: string): Promise<null> {
    if (this.conn.secure) throw new CommandFailure("BAD", "TLS is already active");
    await this.conn.startTls(`${tag} OK Begin TLS negotiation now\r\n`);
    // RFC 9051 6.2.1: the session starts over; nothing sent before TLS counts.
    this.#assembler = this.#newAssembler();
    return null;
  }

  #checkLoginAllowed(): void {
    if (this.account) throw new CommandFailure("BAD", "Already logged in");
    if (!this.conn.secure && !this.opts.allowPlaintextAuth) {
      throw new CommandFailure(
        "NO",
        "Use STARTTLS first: login over plaintext is disabled",
        "PRIVACYREQUIRED",
      );
    }
  }

  async #login(user: string, password: string): Promise<string> {
    this.#checkLoginAllowed();
    return await this.#verify(user, password);
  }

  async #authenticate(mechanism: string, initial: string | null): Promise<string> {
    this.#checkLoginAllowed();
    let credentials;
    try {
      const exchange = startSasl(mechanism, initial);
      let step = exchange.step(null);
      while ("challenge" in step) {
        await this.write(`+ ${step.challenge}\r\n`);
        const line = await this.conn.readLine();
        if (line === null) throw new ConnectionClosedError();
        step = exchange.step(line.trim());
      }
      credentials = step.done;
    } catch (error) {
      if (!(error instanceof SaslError)) throw error;
      throw new CommandFailure(
        error.reason === "unsupported" ? "NO" : "BAD",
        error.message,
        error.reason === "unsupported" ? "CANNOT" : null,
      );
    }
    if (credentials.authzid !== "" && credentials.authzid !== credentials.authcid) {
      throw new CommandFailure(
        "NO",
        "Acting as another user is not supported",
        "AUTHORIZATIONFAILED",
      );
    }
    return await this.#verify(credentials.authcid, credentials.password);
  }

  async #verify(user: string, password: string): Promise<string> {
    const result = await this.opts.directory.authenticate(user, password, this.conn.remoteAddress);
    authentications.inc({ protocol: "imap", result: result.ok ? "ok" : "failed" });
    if (!result.ok) {
      if (result.reason === "rate_limited") {
        throw new CommandFailure("NO", "Too many failed logins; try again later", "UNAVAILABLE");
      }
      throw new CommandFailure("NO", "Invalid credentials", "AUTHENTICATIONFAILED");
    }
    const open = sessionsPerAccount.get(result.account.id) ?? 0;
    if (open >= this.opts.maxConnectionsPerUser) {
      this.log.info("login refused: too many sessions", { user: result.account.address });
      throw new CommandFailure(
        "NO",
        `Too many sessions for this account (at most ${this.opts.maxConnectionsPerUser})`,
        "LIMIT",
      );
    }
    sessionsPerAccount.set(result.account.id, open + 1);
    this.account = result.account;
    this.#assembler = this.#newAssembler();
    this.log.info("logged in", { user: result.account.address });
    return `[CAPABILITY ${this.capabilities()}] Logged in`;
  }

  async #enable(names: string[]): Promise<string> {
    this.#requireAuth();
    const enabled: string[] = [];
    for (const name of names) {
      if (name === "IMAP4REV2") {
        // RFC 9051: UTF-8 mailbox names, ESEARCH for SEARCH, no \Recent.
        this.rev2 = this.utf8 = true;
      } else if (name === "UTF8=ACCEPT") {
        this.utf8 = true;
      } else if (name === "CONDSTORE") {
        this.condstore = true;
      } else if (name === "QRESYNC") {
        // RFC 7162 3.2.3: QRESYNC implies CONDSTORE.
        this.qresync = this.condstore = true;
      } else continue;
      enabled.push(name === "IMAP4REV2" ? "IMAP4rev2" : name);
    }
    await this.write(`* ENABLED${enabled.map((n) => ` ${n}`).join("")}\r\n`);
    return "ENABLE completed";
  }

  async #create(name: string, specialUse: string[]): Promise<string> {
    const account = this.#requireAuth();
    const path = this.path(name.replace(/\/$/, ""));
    if (path.toUpperCase() === "INBOX") {
      throw new CommandFailure("NO", "INBOX exists", "ALREADYEXISTS");
    }
    const roles: Record<string, string> = {
      "\\sent": "sent",
      "\\drafts": "drafts",
      "\\junk": "junk",
      "\\trash": "trash",
      "\\archive": "archive",
    };
    if (specialUse.length > 1) throw new CommandFailure("NO", "One special use at most", "USEATTR");
    const role = specialUse.length ? roles[specialUse[0].toLowerCase()] : null;
    if (role === undefined) throw new CommandFailure("NO", "Unsupported special use", "USEATTR");
    try {
      const mailbox = await this.opts.store.createMailbox(account.id, path, role as never);
      this.published(mailbox.highestModseq, ["Mailbox"]);
      // RFC 8474 4.1: the new mailbox's id in the tagged OK.
      return `[MAILBOXID (${mailboxObjectId(mailbox.id)})] CREATE completed`;
    } catch (error) {
      throw storeFailure(error);
    }
  }

  async #rename(from: string, to: string): Promise<string> {
    const account = this.#requireAuth();
    const source = await this.mailboxByPath(this.path(from));
    try {
      await this.opts.store.renameMailbox(account.id, source.id, this.path(to));
    } catch (error) {
      throw storeFailure(error);
    }
    this.published(0, ["Mailbox", "Email", "Thread"]);
    return "RENAME completed";
  }

  async #mailboxChange(kind: "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE", name: string) {
    const account = this.#requireAuth();
    const mailbox = await this.mailboxByPath(this.path(name));
    try {
      if (kind === "DELETE") {
        if (this.selected?.mailboxId === mailbox.id) this.#deselect();
        await this.opts.store.deleteMailbox(account.id, mailbox.id);
        this.opts.mailboxes.forget(mailbox.id);
      } else {
        await this.opts.store.setSubscribed(account.id, mailbox.id, kind === "SUBSCRIBE");
      }
    } catch (error) {
      throw storeFailure(error);
    }
    this.published(0, ["Mailbox"]);
    return `${kind} completed`;
  }

  async #select(readOnly: boolean, args: SelectArgs): Promise<string> {
    const account = this.#requireAuth();
    if (this.selected) {
      // RFC 7162 3.2.11, RFC 9051 7.1: the end of the previous mailbox's responses.
      await this.write("* OK [CLOSED] Previous mailbox closed\r\n");
    }
    this.#deselect();
    if (args.qresync && !this.qresync) {
      throw new CommandFailure("BAD", "QRESYNC parameter without ENABLE QRESYNC");
    }
    const mailbox = await this.mailboxByPath(this.path(args.mailbox));
    if (args.condstore) this.condstore = true;
    const view = await SelectedMailbox.open(this.opts.mailboxes, account.id, mailbox.id, {
      condstore: this.condstore,
      qresync: this.qresync,
    });
    this.selected = view;
    this.readOnly = readOnly;
    this.saved = [];
    // Own changes are already in the view (noteOwn); only others' need a sync.
    this.#unsubscribe = this.opts.bus.subscribe(account.id, (event) => {
      if (event.origin !== this.conn.id) this.markChanged();
    });
    const flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    const lines = [
      `* ${view.exists} EXISTS`,
      ...(this.rev2 ? [] : ["* 0 RECENT"]),
      `* FLAGS (${flags})`,
      `* OK [PERMANENTFLAGS (${readOnly ? "" : `${flags} \\*`})] Flags permitted`,
      `* OK [UIDVALIDITY ${view.uidValidity}] UIDs valid`,
      `* OK [UIDNEXT ${view.uidNext}] Predicted next UID`,
      `* OK [MAILBOXID (${mailboxObjectId(mailbox.id)})] Ok`,
      // RFC 7162 3.1.2.1: always, since the mod-sequences are persistent.
      `* OK [HIGHESTMODSEQ ${Math.max(1, view.highestModseq)}] Highest`,
      ...(this.rev2 ? [`* LIST () "/" ${this.wireName(mailbox.path)}`] : []),
    ];
    if (args.qresync && args.qresync.uidValidity === view.uidValidity) {
      for (const line of await this.#resync(view, args.qresync)) lines.push(line);
    }
    await this.write(lines.map((l) => `${l}\r\n`).join(""));
    return `[${readOnly ? "READ-ONLY" : "READ-WRITE"}] ${
      readOnly ? "EXAMINE" : "SELECT"
    } completed`;
  }

  /**
   * RFC 7162 3.2.5: what changed since the client's mod-sequence: VANISHED (EARLIER) for
   * expunged UIDs it may know, and FETCH (UID FLAGS MODSEQ) for messages changed since.
   */
  async #resync(view: SelectedMailbox, params: QresyncParams): Promise<string[]> {
    const lines: string[] = [];
    const known = params.knownUids;
    const inKnown = (uid: number) => !known || setContains(known, uid);
    const vanished = (await this.opts.store.expungedSince(
      view.accountId,
      view.mailboxId,
      params.modseq,
    )).filter(inKnown);
    if (vanished.length > 0) lines.push(`* VANISHED (EARLIER) ${formatSequenceSet(vanished)}`);
    view.uids.forEach((uid, index) => {
      const modseq = view.modseqOf(uid);
      if (modseq <= params.modseq) return;
      const flags = flagList(view.keywordsOf(uid));
      lines.push(`* ${index + 1} FETCH (UID ${uid} FLAGS ${flags} MODSEQ (${modseq}))`);
    });
    return lines;
  }

  #deselect(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.selected = null;
    this.#changed = false;
  }

  async #idle(tag: string): Promise<null> {
    this.#requireAuth();
    await this.write("+ idling\r\n");
    const done = (async () => {
      const line = await this.conn.readLine();
      return line;
    })();
    for (;;) {
      const woke = new Promise<"change">((resolve) => this.#idleWake = () => resolve("change"));
      const result = await Promise.race([done, woke]);
      this.#idleWake = null;
      if (result === "change") {
        await this.#updates("IDLE");
        continue;
      }
      if (result === null) throw new ConnectionClosedError();
      if (result.trim().toUpperCase() !== "DONE") {
        await this.write(`${tag} BAD Expected DONE\r\n`);
        return null;
      }
      await this.#updates("IDLE");
      await this.write(`${tag} OK IDLE terminated\r\n`);
      return null;
    }
  }
}

/** A store error as the NO a client can act on. */
export function storeFailure(error: unknown): Error {
  if (!(error instanceof StoreError)) return error as Error;
  switch (error.code) {
    case "conflict":
      return new CommandFailure("NO", error.message, "ALREADYEXISTS");
    case "not_found":
      return new CommandFailure("NO", error.message, "NONEXISTENT");
    case "quota":
      return new CommandFailure("NO", error.message, "OVERQUOTA");
    default:
      return new CommandFailure("NO", error.message, "CANNOT");
  }
}

export { patternFromWire };
