/**
 * Serves a new default certificate on the `https` listener without a process restart.
 * `Deno.serve` takes its certificate as PEM once, at bind time, and Deno 2.9 has no stable
 * certificate callback (`reusePort` for a TLS listener needs `--unstable-net`), so on each change
 * the server is restarted on the same address: the old one stops accepting and lets its requests
 * finish (`shutdown()`), and a new one binds as soon as the port is free again.
 *
 * Used when https runs without the front (src/tls/https_front.ts: with [acme] tls-alpn-01 or
 * [tls] sni the front swaps certificates without refusing anything, at a small cost per byte).
 *
 * Implementation notes:
 * - Between the old listener closing and the new one binding (~10 ms here) a new connection is
 *   refused; requests and push streams already open carry on with the old certificate.
 * - Restarts run one at a time; a failed bind is retried for `REBIND_DEADLINE_MS`, then logged
 *   (https stays down until the next certificate change or a restart).
 *
 * @example
 * const https = restartOnNewCertificate(certificates, first, { host, port }, app.fetch);
 * await https.shutdown();
 */
import type { CertificateManager, TlsMaterial } from "./certificates.ts";
import { type Logger, logger } from "../observability/log.ts";

const REBIND_RETRY_MS = 5;
const REBIND_DEADLINE_MS = 5000;

export interface RestartingServer {
  /** Stops the current server and waits for every earlier one to finish. */
  shutdown(): Promise<void>;
}

export function restartOnNewCertificate(
  certificates: CertificateManager,
  first: Deno.HttpServer,
  address: { host: string; port: number },
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
  log: Logger = logger("http"),
): RestartingServer {
  let current: Deno.HttpServer | null = first;
  const retiring = new Set<Promise<void>>();
  let restarts = Promise.resolve();
  const restart = async () => {
    const old = current;
    current = null;
    if (old) {
      const closing = old.shutdown().catch(() => {});
      retiring.add(closing);
      closing.finally(() => retiring.delete(closing));
    }
    const deadline = Date.now() + REBIND_DEADLINE_MS;
    for (;;) {
      try {
        current = bind(address, certificates.material(), handler);
        log.info("https restarted with the new certificate", {
          address: `${address.host}:${address.port}`,
        });
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse) || Date.now() > deadline) {
          log.error("https could not be restarted with the new certificate", { error });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, REBIND_RETRY_MS));
      }
    }
  };
  const unsubscribe = certificates.onChange(() => {
    restarts = restarts.then(restart);
  });
  return {
    async shutdown() {
      unsubscribe();
      await restarts;
      await Promise.all([current?.shutdown(), ...retiring]);
    },
  };
}

function bind(
  address: { host: string; port: number },
  tls: TlsMaterial,
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
): Deno.HttpServer {
  return Deno.serve({
    hostname: address.host,
    port: address.port,
    cert: tls.certificatePem,
    key: tls.keyPem,
    onListen: () => {},
  }, handler);
}
