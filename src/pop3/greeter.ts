/**
 * A placeholder POP3 session (RFC 1939) that exercises the network layer until the real POP3
 * server replaces it: greeting, CAPA (RFC 2449), STLS (RFC 2595), QUIT. Logging in is not
 * available yet; everything else is answered with -ERR.
 *
 * @example
 * group.listen([{ service: "pop3", host: "0.0.0.0", port: 110, implicitTls: false,
 *   handler: pop3Greeter({ hostname: "mail.example.com" }) }]);
 */
import type { Connection } from "../server/connection.ts";
import { LineTooLongError } from "../server/errors.ts";
import type { SessionHandler } from "../server/listeners.ts";

export function pop3Greeter(opts: { hostname: string }): SessionHandler {
  return async (conn: Connection) => {
    const { hostname } = opts;
    await conn.write(`+OK ${hostname} POP3 server ready\r\n`);
    for (;;) {
      let line: string | null;
      try {
        line = await conn.readLine();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await conn.write("-ERR Line too long\r\n");
        continue;
      }
      if (line === null) return;
      const [keyword, ...rest] = line.split(" ");
      const command = keyword.toUpperCase();
      switch (command) {
        case "CAPA": {
          const capabilities = [
            ...(conn.secure ? [] : ["STLS"]),
            "RESP-CODES",
            "IMPLEMENTATION Postern",
          ];
          await conn.write(`+OK Capability list follows\r\n${capabilities.join("\r\n")}\r\n.\r\n`);
          break;
        }
        case "STLS":
          if (conn.secure) await conn.write("-ERR Command not permitted when TLS active\r\n");
          else if (rest.length > 0) await conn.write("-ERR STLS takes no arguments\r\n");
          else await conn.startTls("+OK Begin TLS negotiation\r\n");
          break;
        case "QUIT":
          await conn.write(`+OK ${hostname} signing off\r\n`);
          return;
        case "NOOP":
          // RFC 1939 5: NOOP exists only in the TRANSACTION state.
          await conn.write("-ERR NOOP is only valid after logging in\r\n");
          break;
        case "USER":
        case "PASS":
        case "APOP":
        case "AUTH":
          await conn.write("-ERR [SYS/TEMP] Logging in is not available yet\r\n");
          break;
        default:
          await conn.write(
            command ? `-ERR ${command} is not available yet\r\n` : "-ERR Empty command\r\n",
          );
      }
    }
  };
}
