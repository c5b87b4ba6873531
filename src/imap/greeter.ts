/**
 * A placeholder IMAP session (RFC 9051 / RFC 3501) that exercises the network layer until the
 * real IMAP server replaces it: greeting with capabilities, CAPABILITY, STARTTLS, NOOP, LOGOUT.
 * Logging in is not available yet (LOGINDISABLED, no AUTH= mechanisms).
 *
 * @example
 * group.listen([{ service: "imap", host: "0.0.0.0", port: 143, implicitTls: false,
 *   handler: imapGreeter({ hostname: "mail.example.com" }) }]);
 */
import type { Connection } from "../server/connection.ts";
import { LineTooLongError } from "../server/errors.ts";
import type { SessionHandler } from "../server/listeners.ts";

/** Commands of IMAP4rev1/rev2 and common extensions that exist but are not implemented yet. */
const KNOWN_COMMANDS = new Set([
  "LOGIN",
  "AUTHENTICATE",
  "ENABLE",
  "ID",
  "SELECT",
  "EXAMINE",
  "CREATE",
  "DELETE",
  "RENAME",
  "SUBSCRIBE",
  "UNSUBSCRIBE",
  "LIST",
  "LSUB",
  "NAMESPACE",
  "STATUS",
  "APPEND",
  "IDLE",
  "CHECK",
  "CLOSE",
  "UNSELECT",
  "EXPUNGE",
  "SEARCH",
  "FETCH",
  "STORE",
  "COPY",
  "MOVE",
  "UID",
  "COMPRESS",
]);

// RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">
// deno-lint-ignore no-control-regex -- CTLs are excluded from tags on purpose
const COMMAND_LINE = /^([^\x00-\x20\x7f(){%*"\\+\]]+) ([A-Za-z]+)(?: (.*))?$/;

export function imapGreeter(opts: { hostname: string }): SessionHandler {
  return async (conn: Connection) => {
    const { hostname } = opts;
    const capability = () =>
      conn.secure ? "IMAP4rev1 LOGINDISABLED" : "IMAP4rev1 STARTTLS LOGINDISABLED";
    await conn.write(`* OK [CAPABILITY ${capability()}] ${hostname} Postern IMAP ready\r\n`);
    for (;;) {
      let line: string | null;
      try {
        line = await conn.readLine();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await conn.write("* BAD [TOOBIG] Line too long\r\n");
        continue;
      }
      if (line === null) return;
      const match = COMMAND_LINE.exec(line);
      if (!match) {
        await conn.write("* BAD Syntax error: expected a tag and a command\r\n");
        continue;
      }
      const [, tag, name, args] = match;
      const command = name.toUpperCase();
      switch (command) {
        case "CAPABILITY":
          await conn.write(`* CAPABILITY ${capability()}\r\n${tag} OK CAPABILITY completed\r\n`);
          break;
        case "NOOP":
          await conn.write(`${tag} OK NOOP completed\r\n`);
          break;
        case "LOGOUT":
          await conn.write(`* BYE ${hostname} logging out\r\n${tag} OK LOGOUT completed\r\n`);
          return;
        case "STARTTLS":
          if (conn.secure) await conn.write(`${tag} BAD TLS is already active\r\n`);
          else if (args !== undefined) {
            await conn.write(`${tag} BAD STARTTLS takes no arguments\r\n`);
          } else await conn.startTls(`${tag} OK Begin TLS negotiation now\r\n`);
          break;
        default:
          await conn.write(
            KNOWN_COMMANDS.has(command)
              ? `${tag} NO [UNAVAILABLE] ${command} is not available yet\r\n`
              : `${tag} BAD Unknown command ${command}\r\n`,
          );
      }
    }
  };
}
