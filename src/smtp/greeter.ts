/**
 * A placeholder SMTP session (RFC 5321) that exercises the network layer until the real SMTP
 * server replaces it: greeting, EHLO/HELO, STARTTLS (RFC 3207), NOOP, RSET, QUIT. Mail
 * transactions are answered with a temporary failure, so real senders queue and retry.
 *
 * @example
 * group.listen([{ service: "smtp", host: "0.0.0.0", port: 25, implicitTls: false,
 *   handler: smtpGreeter({ hostname: "mail.example.com", submission: false }) }]);
 */
import type { Connection } from "../server/connection.ts";
import { LineTooLongError } from "../server/errors.ts";
import type { SessionHandler } from "../server/listeners.ts";

export interface SmtpGreeterOptions {
  hostname: string;
  /** Port 587/465: mail needs TLS first (RFC 8314). */
  submission: boolean;
}

export function smtpGreeter(opts: SmtpGreeterOptions): SessionHandler {
  return async (conn: Connection) => {
    const { hostname } = opts;
    await conn.write(`220 ${hostname} ESMTP Postern\r\n`);
    for (;;) {
      let line: string | null;
      try {
        line = await conn.readLine();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await conn.write("500 5.5.2 Line too long\r\n"); // RFC 5321 4.5.3.1.4
        continue;
      }
      if (line === null) return;
      const match = /^([A-Za-z]+)(?: (.*))?$/.exec(line);
      const verb = match?.[1].toUpperCase() ?? "";
      const argument = match?.[2] ?? "";
      switch (verb) {
        case "EHLO": {
          if (!argument) {
            await conn.write("501 5.5.4 EHLO needs a domain or address literal\r\n");
            break;
          }
          const extensions = ["ENHANCEDSTATUSCODES", ...(conn.secure ? [] : ["STARTTLS"])];
          const lines = [`${hostname} Hello ${argument}`, ...extensions];
          await conn.write(
            lines.map((text, i) => `250${i === lines.length - 1 ? " " : "-"}${text}\r\n`)
              .join(""),
          );
          break;
        }
        case "HELO":
          await conn.write(
            argument ? `250 ${hostname}\r\n` : "501 5.5.4 HELO needs a domain\r\n",
          );
          break;
        case "STARTTLS":
          if (conn.secure) await conn.write("503 5.5.1 TLS already active\r\n");
          else if (argument) await conn.write("501 5.5.4 STARTTLS takes no parameters\r\n");
          else {
            // RFC 3207 4.2: the session starts over; EHLO must be sent again.
            await conn.startTls("220 2.0.0 Ready to start TLS\r\n");
          }
          break;
        case "NOOP":
          await conn.write("250 2.0.0 OK\r\n");
          break;
        case "RSET":
          await conn.write("250 2.0.0 OK\r\n");
          break;
        case "QUIT":
          await conn.write(`221 2.0.0 ${hostname} closing connection\r\n`);
          return;
        case "MAIL":
          await conn.write(
            opts.submission && !conn.secure
              ? "530 5.7.0 Must issue a STARTTLS command first\r\n"
              : "451 4.3.2 Mail service is not available yet, try again later\r\n",
          );
          break;
        default:
          await conn.write(
            verb
              ? `502 5.5.1 ${verb} is not available yet\r\n`
              : "500 5.5.2 Syntax error, command unrecognized\r\n",
          );
      }
    }
  };
}
