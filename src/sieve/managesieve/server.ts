/**
 * The ManageSieve listener's wiring (RFC 5804, port 4190): the session handler from the app's
 * config, and the lines a client gets when refused for a connection limit or closed for
 * idleness.
 *
 * @example
 * group.listen([{ service: "managesieve", host: "0.0.0.0", port: 4190, implicitTls: false,
 *   ...managesieveService(app) }]);
 */
import type { App } from "../../app.ts";
import type { ListenerSpec, SessionHandler } from "../../server/listeners.ts";
import { SieveScripts } from "../scripts.ts";
import { notifyCapability, scriptChecker, sieveCapability } from "./checker.ts";
import { type ManageSieveOptions, ManageSieveSession } from "./session.ts";
import { response } from "./wire/response.ts";

export { type ManageSieveOptions, ManageSieveSession } from "./session.ts";

/** The options of the ManageSieve listener from the app's config. */
export function managesieveOptions(app: App): ManageSieveOptions {
  const { config } = app.loaded;
  const { sieve } = config;
  return {
    hostname: config.server.hostname,
    directory: app.directory,
    scripts: new SieveScripts(
      app.store,
      { maxScriptSize: sieve.max_script_size, maxScripts: sieve.max_scripts },
      scriptChecker({ maxSize: sieve.max_script_size, maxNesting: sieve.max_nesting_depth }),
    ),
    allowPlaintextAuth: sieve.allow_plaintext_auth,
    sieveExtensions: sieveCapability(),
    notifyMethods: notifyCapability(),
    maxRedirects: sieve.max_redirects,
  };
}

/** The session handler for `managesieve`. */
export function managesieveServer(options: ManageSieveOptions): SessionHandler {
  return (conn) => new ManageSieveSession(conn, options).run();
}

/** Handler and refusal lines of the ManageSieve listener, for `ListenerGroup.listen`. */
export function managesieveService(
  app: App,
): Pick<ListenerSpec, "handler" | "tooManyConnections" | "onIdleTimeout"> {
  return {
    handler: managesieveServer(managesieveOptions(app)),
    tooManyConnections: response("BYE", "TRYLATER", "Too many connections, try again later"),
    onIdleTimeout: response("BYE", null, "Disconnected for inactivity"),
  };
}
