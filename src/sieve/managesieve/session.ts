/**
 * One ManageSieve session (RFC 5804) on the `managesieve` listener (4190): capabilities,
 * STARTTLS, AUTHENTICATE (PLAIN, LOGIN), the script commands, NOOP, UNAUTHENTICATE, LOGOUT.
 *
 * Implementation notes:
 * - States: non-authenticated → authenticated (AUTHENTICATE), and back (UNAUTHENTICATE, RFC
 *   5804 2.14). Script commands before authenticating get NO.
 * - The capability response (RFC 5804 1.7) goes out with the greeting, for CAPABILITY, and
 *   after a STARTTLS handshake (RFC 5804 2.2). Not after AUTHENTICATE: PLAIN and LOGIN negotiate
 *   no security layer (RFC 5804 2.1). OWNER is there only when authenticated.
 * - AUTHENTICATE needs TLS unless `[sieve] allow_plaintext_auth`: before STARTTLS it gets
 *   NO (ENCRYPT-NEEDED) and SASL is advertised empty (as Dovecot does). Failed logins answer the
 *   same text whatever the cause; the directory's shared rate limiter turns into NO (TRYLATER).
 * - STARTTLS: `conn.startTls` discards whatever the client pipelined after the command
 *   (command injection, DESIGN.md "Runtime facts").
 * - Client input reaches this file only as `ManageSieveCommand` values (wire/); a syntax error
 *   is a NO and the session goes on. An internal error is logged with the session id and
 *   answered NO (TRYLATER).
 */
import type { Connection } from "../../server/connection.ts";
import { ConnectionClosedError, TlsHandshakeError } from "../../server/errors.ts";
import { type Logger, logger } from "../../observability/log.ts";
import { SASL_MECHANISMS, SaslError, startSasl } from "../../directory/sasl.ts";
import type { Directory } from "../../directory/directory.ts";
import type { Account } from "../../store/types.ts";
import type { ScriptFailure, SieveScripts } from "../scripts.ts";
import { type CommandSource, ManageSieveSyntaxError, readTokens } from "./wire/tokens.ts";
import { type ManageSieveCommand, MAX_COMMAND_TOKENS, parseCommand } from "./wire/command.ts";
import { capabilityLines, encodeString, response, type ResponseCode } from "./wire/response.ts";
import { authentications } from "../../observability/metrics.ts";

export interface ManageSieveOptions {
  hostname: string;
  directory: Directory;
  scripts: SieveScripts;
  /** AUTHENTICATE before TLS on the plaintext port. */
  allowPlaintextAuth: boolean;
  /** The SIEVE capability: supported extensions, space-separated. */
  sieveExtensions: string;
  /** The NOTIFY capability (enotify methods), or null. */
  notifyMethods: string | null;
  /** The MAXREDIRECTS capability. */
  maxRedirects: number;
}

/** Bytes read per chunk while an oversized literal is dropped. */
const SKIP_CHUNK = 64 * 1024;

export class ManageSieveSession {
  readonly #conn: Connection;
  readonly #opts: ManageSieveOptions;
  readonly #log: Logger;
  readonly #source: CommandSource;
  #account: Account | null = null;
  #closing = false;

  constructor(conn: Connection, opts: ManageSieveOptions) {
    this.#conn = conn;
    this.#opts = opts;
    this.#log = logger("managesieve", { session: conn.id });
    this.#source = {
      readLine: () => conn.readLineBytes(),
      readBytes: (n) => conn.readBytes(n),
      skipBytes: async (n) => {
        for (let left = n; left > 0;) {
          const chunk = await conn.readAvailable(Math.min(left, SKIP_CHUNK));
          if (chunk === null) return false;
          left -= chunk.length;
        }
        return true;
      },
    };
  }

  async run(): Promise<void> {
    try {
      await this.#conn.write(
        this.#capabilities() + response("OK", null, `${this.#opts.hostname} ManageSieve ready`),
      );
      while (!this.#closing) {
        let command: ManageSieveCommand;
        try {
          const tokens = await readTokens(this.#source, {
            maxLiteralSize: this.#opts.scripts.limits.maxScriptSize,
            maxTokens: MAX_COMMAND_TOKENS,
          });
          if (tokens === null) return;
          command = parseCommand(tokens);
        } catch (error) {
          if (!(error instanceof ManageSieveSyntaxError)) throw error;
          await this.#conn.write(response("NO", null, error.message));
          continue;
        }
        await this.#command(command);
      }
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) return;
      throw error;
    } finally {
      if (this.#account) this.#log.info("logout", { user: this.#account.address });
    }
  }

  async #command(command: ManageSieveCommand): Promise<void> {
    let reply: string;
    try {
      reply = await this.#execute(command);
    } catch (error) {
      if (error instanceof ConnectionClosedError || error instanceof TlsHandshakeError) throw error;
      if (this.#conn.closed) throw new ConnectionClosedError();
      this.#log.error("internal error", {
        command: command.name,
        error: error instanceof Error ? error : String(error),
      });
      reply = response("NO", "TRYLATER", "Internal error, try again later");
    }
    if (reply !== "") await this.#conn.write(reply);
    if (this.#closing) await this.#conn.close();
  }

  /** The whole response to a command ("" when it was written already). */
  async #execute(command: ManageSieveCommand): Promise<string> {
    switch (command.name) {
      case "CAPABILITY":
        return this.#capabilities() + response("OK", null, "Capability completed");
      case "NOOP":
        // RFC 5804 2.13: the optional string comes back in a TAG response code.
        return command.tag === null
          ? response("OK", null, "NOOP completed")
          : response("OK", { code: "TAG", value: command.tag }, "Done");
      case "LOGOUT":
        this.#closing = true;
        return response("OK", null, "Logout completed");
      case "STARTTLS":
        return await this.#startTls();
      case "AUTHENTICATE":
        return await this.#authenticate(command.mechanism, command.initialResponse);
    }
    const account = this.#account;
    if (!account) return response("NO", null, `${command.name} needs AUTHENTICATE first`);
    const { scripts } = this.#opts;
    switch (command.name) {
      case "UNAUTHENTICATE":
        this.#log.info("unauthenticate", { user: account.address });
        this.#account = null;
        return response("OK", null, "Unauthenticate completed");
      case "LISTSCRIPTS": {
        const list = await scripts.list(account.id);
        return list.map((script) =>
          `${encodeString(script.name)}${script.active ? " ACTIVE" : ""}\r\n`
        ).join("") + response("OK", null, "Listscripts completed");
      }
      case "HAVESPACE":
        return done(
          await scripts.haveSpace(account.id, command.script, command.size),
          "Putscript would succeed",
        );
      case "PUTSCRIPT": {
        if ("oversized" in command.content) return this.#tooLarge(command.script);
        return done(
          await scripts.put(account.id, command.script, command.content.content),
          "Putscript completed",
        );
      }
      case "CHECKSCRIPT":
        if ("oversized" in command.content) return this.#tooLarge(null);
        return done(scripts.checkScript(command.content.content), "Script is valid");
      case "GETSCRIPT": {
        const found = await scripts.get(account.id, command.script);
        if (!found.ok) return failure(found);
        // RFC 5804 2.9: the script as a string (a literal), then OK.
        return `{${found.value.size}}\r\n${found.value.content}\r\n` +
          response("OK", null, "Getscript completed");
      }
      case "SETACTIVE":
        return done(await scripts.activate(account.id, command.script), "Setactive completed");
      case "DELETESCRIPT":
        return done(await scripts.delete(account.id, command.script), "Deletescript completed");
      case "RENAMESCRIPT":
        return done(
          await scripts.rename(account.id, command.from, command.to),
          "Renamescript completed",
        );
    }
  }

  /** A script over the size limit (its bytes were dropped); a bad name is reported first. */
  #tooLarge(name: string | null): string {
    const { scripts } = this.#opts;
    const valid = name === null ? null : scripts.name(name);
    return failure(valid && !valid.ok ? valid : scripts.tooLarge());
  }

  #capabilities(): string {
    const secure = this.#conn.secure;
    const canLogin = !this.#account && (secure || this.#opts.allowPlaintextAuth);
    const capabilities: [string, string | null][] = [
      ["IMPLEMENTATION", "Postern"],
      ["SIEVE", this.#opts.sieveExtensions],
      ["SASL", canLogin ? SASL_MECHANISMS.join(" ") : ""],
      ...(secure || this.#account ? [] : [["STARTTLS", null] as [string, null]]),
      ["MAXREDIRECTS", String(this.#opts.maxRedirects)],
      ...(this.#opts.notifyMethods === null ? [] : [["NOTIFY", this.#opts.notifyMethods] as [
        string,
        string,
      ]]),
      ...(this.#account ? [["OWNER", this.#account.address] as [string, string]] : []),
      ["UNAUTHENTICATE", null],
      ["VERSION", "1.0"],
    ];
    return capabilityLines(capabilities);
  }

  async #startTls(): Promise<string> {
    if (this.#conn.secure) return response("NO", null, "TLS is already active");
    if (this.#account) return response("NO", null, "STARTTLS is only valid before AUTHENTICATE");
    await this.#conn.startTls(response("OK", null, "Begin TLS negotiation now"));
    // RFC 5804 2.2: the capabilities again, now that TLS is on.
    return this.#capabilities() + response("OK", null, "TLS negotiation successful");
  }

  async #authenticate(mechanism: string, initialResponse: string | null): Promise<string> {
    if (this.#account) return response("NO", null, "Already authenticated");
    if (!this.#conn.secure && !this.#opts.allowPlaintextAuth) {
      return response(
        "NO",
        "ENCRYPT-NEEDED",
        "Plaintext authentication disallowed on non-secure connections; use STARTTLS",
      );
    }
    let credentials;
    try {
      // An empty string is an empty initial response (SASL's "=" in SMTP and POP3).
      const exchange = startSasl(mechanism, initialResponse === "" ? "=" : initialResponse);
      let step = exchange.step(null);
      while ("challenge" in step) {
        // RFC 5804 2.1: a challenge is a string; the client answers with a string, "*" cancels.
        await this.#conn.write(`${encodeString(step.challenge)}\r\n`);
        const answer = await this.#clientString();
        if (answer === null) return response("NO", null, "Invalid authentication response");
        step = exchange.step(answer);
      }
      credentials = step.done;
    } catch (error) {
      if (!(error instanceof SaslError)) throw error;
      switch (error.reason) {
        case "cancelled":
          return response("NO", null, "Authentication cancelled");
        case "unsupported":
          return response("NO", null, "Unsupported authentication mechanism");
        case "malformed":
          return response("NO", null, "Invalid authentication response");
      }
    }
    if (credentials.authzid !== "" && credentials.authzid !== credentials.authcid) {
      // RFC 4616 2: acting as someone else is not supported.
      return response("NO", null, "Authentication failed");
    }
    const result = await this.#opts.directory.authenticate(
      credentials.authcid,
      credentials.password,
      this.#conn.remoteAddress,
    );
    authentications.inc({ protocol: "managesieve", result: result.ok ? "ok" : "failed" });
    if (!result.ok) {
      if (result.reason === "rate_limited") {
        return response("NO", "TRYLATER", "Too many failed logins, try again later");
      }
      return response("NO", null, "Authentication failed");
    }
    this.#account = result.account;
    this.#log.info("login", {
      user: result.account.address,
      remote: this.#conn.remoteAddress,
      tls: this.#conn.secure,
    });
    return response("OK", null, "Logged in");
  }

  /** One string on a line of its own (a SASL response), or null when it is not one. */
  async #clientString(): Promise<string | null> {
    try {
      const tokens = await readTokens(this.#source, {
        maxLiteralSize: this.#opts.scripts.limits.maxScriptSize,
        maxTokens: 1,
      });
      if (tokens === null) throw new ConnectionClosedError();
      const [token] = tokens;
      return token.kind === "string" ? token.value : null;
    } catch (error) {
      if (error instanceof ManageSieveSyntaxError) return null;
      throw error;
    }
  }
}

function done(result: { ok: true } | ScriptFailure, text: string): string {
  return result.ok ? response("OK", null, text) : failure(result);
}

function failure(result: ScriptFailure): string {
  return response("NO", result.code as ResponseCode | null, result.message);
}
