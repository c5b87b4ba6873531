/**
 * What the dashboard shows: the figures GET /api/status answers (version, uptime, listeners,
 * certificates and their expiry, domains, accounts, queue), read from the same sources, plus the
 * process's memory, the mail counts of the last 24 hours (src/observability/recent_counts.ts)
 * and the disk figures (src/observability/disk.ts).
 */
import type { App } from "../app.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import { VERSION } from "../version.ts";
import { recentCounts, type RecentTotals } from "../observability/recent_counts.ts";
import { type DiskFigures, diskUsageFor } from "../observability/disk.ts";

export interface Listener {
  service: string;
  address: string;
  port: number;
}

export interface ServerStatus {
  version: string;
  deno: string;
  hostname: string;
  startedAt: Date;
  uptimeSeconds: number;
  listeners: Listener[];
  certificates: (CertificateDescription & { daysLeft: number })[];
  domains: number;
  accounts: number;
  queue: { messages: number; recipients: number };
  rssBytes: number;
  /** Messages received, delivered, bounced and refused in the last 24 hours. */
  last24h: RecentTotals;
  disk: DiskFigures;
}

export async function serverStatus(
  app: App,
  certificates: () => CertificateDescription[],
  listeners: () => Listener[],
): Promise<ServerStatus> {
  const now = Date.now();
  return {
    version: VERSION,
    deno: Deno.version.deno,
    hostname: app.loaded.config.server.hostname,
    startedAt: new Date(Math.round(performance.timeOrigin)),
    uptimeSeconds: Math.floor(performance.now() / 1000),
    listeners: listeners(),
    certificates: certificates().map((cert) => ({
      ...cert,
      daysLeft: Math.floor((cert.notAfter.getTime() - now) / 86_400_000),
    })),
    domains: (await app.store.listDomains()).length,
    accounts: (await app.store.listAccounts()).length,
    queue: await app.store.queueCounts(),
    rssBytes: Deno.memoryUsage().rss,
    last24h: recentCounts.totals(),
    disk: await diskUsageFor(app.loaded.paths).read(),
  };
}

/** "3d 4h 5m" for a number of seconds. */
export function formatUptime(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return days > 0 ? `${days}d ${hours}h ${minutes}m` : `${hours}h ${minutes}m ${seconds % 60}s`;
}

/** "1.5 MiB" for a number of bytes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
