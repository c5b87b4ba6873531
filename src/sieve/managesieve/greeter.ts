/**
 * A placeholder ManageSieve session (RFC 5804) that exercises the network layer until the real
 * ManageSieve server replaces it: capability greeting, CAPABILITY, STARTTLS (capabilities are
 * sent again after the handshake, RFC 5804 2.2), NOOP, LOGOUT. Everything else gets NO.
 *
 * @example
 * group.listen([{ service: "managesieve", host: "0.0.0.0", port: 4190, implicitTls: false,
 *   handler: managesieveGreeter({ hostname: "mail.example.com" }) }]);
 */
import type { Connection } from "../../server/connection.ts";
import { LineTooLongError } from "../../server/errors.ts";
import type { SessionHandler } from "../../server/listeners.ts";

const KNOWN_COMMANDS = new Set([
  "AUTHENTICATE",
  "UNAUTHENTICATE",
  "HAVESPACE",
  "PUTSCRIPT",
  "LISTSCRIPTS",
  "SETACTIVE",
  "GETSCRIPT",
  "DELETESCRIPT",
  "RENAMESCRIPT",
  "CHECKSCRIPT",
]);

export function managesieveGreeter(opts: { hostname: string }): SessionHandler {
  return async (conn: Connection) => {
    const { hostname } = opts;
    const capabilities = () =>
      [
        `"IMPLEMENTATION" "Postern"`,
        `"SIEVE" ""`,
        `"SASL" ""`,
        ...(conn.secure ? [] : [`"STARTTLS"`]),
        `"VERSION" "1.0"`,
      ].map((line) => line + "\r\n").join("");
    await conn.write(`${capabilities()}OK "${hostname} ManageSieve ready"\r\n`);
    for (;;) {
      let line: string | null;
      try {
        line = await conn.readLine();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await conn.write(`NO "Line too long"\r\n`);
        continue;
      }
      if (line === null) return;
      const match = /^([A-Za-z]+)(?: (.*))?$/.exec(line);
      if (!match) {
        await conn.write(`NO "Syntax error: expected a command"\r\n`);
        continue;
      }
      const command = match[1].toUpperCase();
      const args = match[2];
      switch (command) {
        case "CAPABILITY":
          await conn.write(`${capabilities()}OK "CAPABILITY completed"\r\n`);
          break;
        case "NOOP": {
          // RFC 5804 2.14: an optional string is echoed back in a TAG response code.
          const echo = args ? /^"((?:[^"\\]|\\.)*)"$/.exec(args) : null;
          await conn.write(
            echo ? `OK (TAG "${echo[1]}") "Done"\r\n` : `OK "NOOP completed"\r\n`,
          );
          break;
        }
        case "LOGOUT":
          await conn.write(`OK "Logout completed"\r\n`);
          return;
        case "STARTTLS":
          if (conn.secure) await conn.write(`NO "TLS is already active"\r\n`);
          else {
            await conn.startTls(`OK "Begin TLS negotiation now"\r\n`);
            await conn.write(`${capabilities()}OK "TLS negotiation successful"\r\n`);
          }
          break;
        default:
          await conn.write(
            KNOWN_COMMANDS.has(command)
              ? `NO "${command} is not available yet"\r\n`
              : `NO "Unknown command"\r\n`,
          );
      }
    }
  };
}
