/**
 * GET /api/status: what the dashboard shows first — version, uptime, listeners, certificates
 * and their expiry, how much the server holds (domains, accounts, queued messages), the mail
 * counts of the last 24 hours and disk space (null where unknown).
 */
import type { Hono } from "hono";
import { VERSION } from "../version.ts";
import { recentCounts } from "../observability/recent_counts.ts";
import { diskUsageFor } from "../observability/disk.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";

export function mountStatus(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  api.get("/status", async (c) => {
    const now = Date.now();
    const queue = await app.store.listQueue();
    const disk = await diskUsageFor(app.loaded.paths).read();
    return c.json({
      version: VERSION,
      deno: Deno.version.deno,
      hostname: app.loaded.config.server.hostname,
      startedAt: new Date(Math.round(performance.timeOrigin)).toISOString(),
      uptimeSeconds: Math.floor(performance.now() / 1000),
      listeners: deps.listeners().map(({ service, address, port }) => ({ service, address, port })),
      certificates: deps.certificates().map((cert) => ({
        subject: cert.subject,
        names: cert.names,
        notAfter: cert.notAfter.toISOString(),
        daysLeft: Math.floor((cert.notAfter.getTime() - now) / 86_400_000),
        selfSigned: cert.selfSigned,
      })),
      domains: (await app.store.listDomains()).length,
      accounts: (await app.store.listAccounts()).length,
      queue: {
        messages: queue.length,
        recipients: queue.reduce(
          (sum, m) => sum + m.recipients.filter((r) => r.status === "queued").length,
          0,
        ),
      },
      last24h: recentCounts.totals(),
      disk: {
        freeBytes: disk.freeBytes,
        totalBytes: disk.totalBytes,
        databaseBytes: disk.databaseBytes,
        blobBytes: disk.blobBytes,
        measuredAt: disk.measuredAt.toISOString(),
      },
    });
  });
}
