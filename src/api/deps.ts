/** What the management API's routes work with; the server passes it to apiRoutes. */
import type { App } from "../app.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";
import type { ApiTokens } from "../directory/tokens.ts";

export interface ApiDeps {
  app: App;
  /** API tokens: the Bearer credentials, and what /api/accounts/{address}/tokens manages. */
  tokens: ApiTokens;
  /** The running queue, woken after a retry; null where none runs (the retry waits for it). */
  queue: OutboundQueue | null;
  /** The certificates served (CertificateManager.describe). */
  certificates: () => CertificateDescription[];
  /** The bound listeners; read at request time, since HTTP binds after the routes mount. */
  listeners: () => { service: string; address: string; port: number }[];
  /** Largest JSON body ([admin] max_request_size). */
  maxRequestSize: number;
}
