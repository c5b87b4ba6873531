/**
 * Where mail and calendar clients reach this server, from `[server] hostname` and the
 * configured `[listeners]`: the one source for autoconfig, Autodiscover, the Apple profile and
 * the SRV records, so they never disagree. A service whose listener is off ("") is absent.
 */
import { type Config, parseListenAddress, type ServiceName } from "../config/schema.ts";

/** A service clients connect to; `tls` is "implicit" (TLS from the start) or "starttls". */
export interface ClientEndpoint {
  port: number;
  tls: "implicit" | "starttls";
}

export interface ClientEndpoints {
  hostname: string;
  imaps: ClientEndpoint | null;
  imap: ClientEndpoint | null;
  pop3s: ClientEndpoint | null;
  pop3: ClientEndpoint | null;
  submissions: ClientEndpoint | null;
  submission: ClientEndpoint | null;
  /** HTTPS (JMAP, CalDAV, CardDAV, Autodiscover). */
  https: ClientEndpoint | null;
}

/**
 * The client-facing endpoints of a configuration.
 *
 * @example
 * clientEndpoints(config).imaps; // { port: 993, tls: "implicit" }
 */
export function clientEndpoints(config: Config): ClientEndpoints {
  const endpoint = (service: ServiceName, tls: ClientEndpoint["tls"]) => {
    const address = parseListenAddress(config.listeners[service]);
    return address ? { port: address.port, tls } : null;
  };
  return {
    hostname: config.server.hostname.toLowerCase(),
    imaps: endpoint("imaps", "implicit"),
    imap: endpoint("imap", "starttls"),
    pop3s: endpoint("pop3s", "implicit"),
    pop3: endpoint("pop3", "starttls"),
    submissions: endpoint("submissions", "implicit"),
    submission: endpoint("submission", "starttls"),
    https: endpoint("https", "implicit"),
  };
}

/** "https://host" with ":port" only when the port is not 443. */
export function httpsOrigin(endpoints: ClientEndpoints): string {
  const port = endpoints.https?.port ?? 443;
  return port === 443 ? `https://${endpoints.hostname}` : `https://${endpoints.hostname}:${port}`;
}
