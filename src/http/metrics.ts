/**
 * GET /metrics: the Prometheus text exposition (src/observability/metrics.ts) for scrapers.
 *
 * Implementation notes:
 * - A client from a network in [metrics] allow gets in without credentials. Anyone else needs
 *   `Authorization: Bearer <token>` when [metrics] token is set (401 with a Bearer challenge
 *   otherwise, RFC 6750 3), and is refused with 403 when it is not.
 * - The token is compared through SHA-256 digests in constant time, so neither its content nor
 *   its length leaks through timing. A wrong token counts as an authentication failure of the
 *   client's address in the shared limiter (src/directory/ratelimit.ts); a blocked address gets
 *   the same 401 as a wrong token.
 * - A request relayed by a reverse proxy (Forwarded, X-Forwarded-For or X-Real-IP present) comes
 *   from the proxy's address, often loopback, on behalf of a client we cannot see: it never gets
 *   the `allow` exemption and needs the token.
 * - [metrics] enabled = false makes /metrics a 404 like any unknown path. All three keys are
 *   read per request, so a settings change applies at once.
 * - `beforeScrape` reads what costs a store query (the queue's size) only when scraped.
 */
import type { Context, Hono } from "hono";
import { createHash, timingSafeEqual } from "node:crypto";
import type { App } from "../app.ts";
import { metrics, METRICS_CONTENT_TYPE, type MetricsRegistry } from "../observability/metrics.ts";
import { isExempt } from "../spam/greylist.ts";
import { clientIp } from "../jmap/http.ts";

/** Header fields a reverse proxy adds when it relays a request for a client. */
const RELAY_FIELDS = ["forwarded", "x-forwarded-for", "x-real-ip"];

/**
 * Serves `registry` at GET /metrics with the access rules of [metrics].
 *
 * @example
 * createHttpApp(health, [(http) => mountMetrics(http, app)]);
 */
export function mountMetrics(
  http: Hono,
  app: App,
  registry: MetricsRegistry = metrics,
  beforeScrape: () => Promise<void> = () => Promise.resolve(),
): void {
  const limiter = app.directory.limiter;
  http.get("/metrics", async (c) => {
    // Read per request: every [metrics] key is live (src/config/live.ts).
    const { enabled, token, allow } = app.loaded.config.metrics;
    if (!enabled) return c.notFound();
    const ip = clientIp(c);
    const relayed = RELAY_FIELDS.some((name) => c.req.header(name) !== undefined);
    if (relayed || !isExempt(ip, allow)) {
      const refusal = refuse(c, token ? digest(token) : null, ip, limiter);
      if (refusal) return refusal;
    }
    await beforeScrape();
    return c.body(registry.render(), 200, {
      "content-type": METRICS_CONTENT_TYPE,
      "cache-control": "no-store",
    });
  });
}

/** The response for a client outside `allow`, or null when its token is right. */
function refuse(
  c: Context,
  expected: Uint8Array | null,
  ip: string,
  limiter: App["directory"]["limiter"],
): Response | null {
  if (!expected) return c.text("Forbidden\n", 403);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) {
    return c.text("Unauthorized\n", 401, { "www-authenticate": 'Bearer realm="metrics"' });
  }
  if (!limiter.isBlocked(ip, "") && timingSafeEqual(digest(match[1]), expected)) return null;
  limiter.recordFailure(ip, "");
  return c.text("Unauthorized\n", 401, {
    "www-authenticate": 'Bearer realm="metrics", error="invalid_token"',
  });
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}
