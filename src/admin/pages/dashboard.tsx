/**
 * The dashboard: version, uptime, listeners, certificates, the queue, the mail counts of the last
 * 24 hours and disk space (GET /api/status).
 */
import { formatBytes, formatUptime, type ServerStatus } from "../status.ts";

function bytesOrUnknown(bytes: number | null): string {
  return bytes === null ? "unknown" : formatBytes(bytes);
}

export function Dashboard(props: { status: ServerStatus }) {
  const { status } = props;
  return (
    <>
      <dl class="facts">
        <dt>Version</dt>
        <dd>Postern {status.version} (Deno {status.deno})</dd>
        <dt>Host name</dt>
        <dd>{status.hostname}</dd>
        <dt>Up since</dt>
        <dd>{status.startedAt.toISOString()} ({formatUptime(status.uptimeSeconds)})</dd>
        <dt>Memory (RSS)</dt>
        <dd>{formatBytes(status.rssBytes)}</dd>
        <dt>Domains</dt>
        <dd>
          <a href="/admin/domains">{status.domains}</a>
        </dd>
        <dt>Accounts</dt>
        <dd>
          <a href="/admin/accounts">{status.accounts}</a>
        </dd>
        <dt>Queue</dt>
        <dd>
          <a href="/admin/queue" id="queue-size">
            {status.queue.messages} messages, {status.queue.recipients} recipients waiting
          </a>
        </dd>
        <dt>Last 24 h</dt>
        <dd id="last-24h">
          <span id="received-24h">{status.last24h.received}</span> received,{" "}
          <span id="delivered-24h">{status.last24h.delivered}</span> delivered,{" "}
          <span id="bounced-24h">{status.last24h.bounced}</span> bounced,{" "}
          <span id="rejected-24h">{status.last24h.rejected}</span> refused
        </dd>
        <dt>Disk</dt>
        <dd id="disk">
          {bytesOrUnknown(status.disk.freeBytes)} free of {bytesOrUnknown(status.disk.totalBytes)}
          ; store: database {bytesOrUnknown(status.disk.databaseBytes)}, blobs{" "}
          {bytesOrUnknown(status.disk.blobBytes)}
        </dd>
      </dl>
      <h2>Certificates</h2>
      <table>
        <thead>
          <tr>
            <th>Subject</th>
            <th>Names</th>
            <th>Expires</th>
            <th>Days left</th>
            <th>Issuer</th>
          </tr>
        </thead>
        <tbody>
          {status.certificates.map((cert) => (
            <tr>
              <td>{cert.subject}</td>
              <td>{cert.names.join(", ")}</td>
              <td>{cert.notAfter.toISOString()}</td>
              <td class={cert.daysLeft < 14 ? "missing" : undefined}>{cert.daysLeft}</td>
              <td>{cert.selfSigned ? "self-signed" : "CA"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Listeners</h2>
      <table>
        <thead>
          <tr>
            <th>Service</th>
            <th>Address</th>
            <th>Port</th>
          </tr>
        </thead>
        <tbody>
          {status.listeners.map((l) => (
            <tr>
              <td>{l.service}</td>
              <td>{l.address}</td>
              <td>{l.port}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
