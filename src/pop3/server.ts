/**
 * The POP3 listeners' wiring: the session handler and the lines a client gets when it is
 * refused for a connection limit or closed for idleness.
 *
 * @example
 * group.listen([{ service: "pop3", host: "0.0.0.0", port: 110, implicitTls: false,
 *   ...pop3Service(app) }]);
 */
import type { App } from "../app.ts";
import type { ListenerSpec, SessionHandler } from "../server/listeners.ts";
import { maildropLocks } from "./maildrop.ts";
import { type Pop3Options, Pop3Session } from "./session.ts";
import { err } from "./wire/response.ts";

export { type Pop3Options, Pop3Session } from "./session.ts";

/** The options of a POP3 listener from the app's config. */
export function pop3Options(app: App): Pop3Options {
  const { config } = app.loaded;
  return {
    hostname: config.server.hostname,
    store: app.store,
    blobs: app.blobs,
    bus: app.bus,
    directory: app.directory,
    locks: maildropLocks(app.store),
    allowPlaintextAuth: config.pop3.allow_plaintext_auth,
    maxErrors: config.pop3.max_errors,
  };
}

/** The session handler for `pop3` and `pop3s`. */
export function pop3Server(options: Pop3Options): SessionHandler {
  return (conn) => new Pop3Session(conn, options).run();
}

/** Handler and refusal lines of a POP3 listener, for `ListenerGroup.listen`. */
export function pop3Service(
  app: App,
): Pick<ListenerSpec, "handler" | "tooManyConnections" | "onIdleTimeout"> {
  return {
    handler: pop3Server(pop3Options(app)),
    tooManyConnections: err("Too many connections, try again later", "SYS/TEMP"),
    // RFC 1939 3: the autologout timer ends the session without entering UPDATE.
    onIdleTimeout: err("Disconnected for inactivity"),
  };
}
