/** The outbound queue: list, one message's recipients and attempts, retry, delete. */
import type { QueuedMessage } from "../../store/types.ts";
import { ActionButton } from "../layout.tsx";
import { formatBytes } from "../status.ts";

export function QueuePage(props: { messages: QueuedMessage[]; token: string }) {
  return (
    <>
      <p id="queue-count">{props.messages.length} messages in the queue.</p>
      {props.messages.length > 0 && (
        <ActionButton action="/admin/queue/retry" label="Retry all now" token={props.token} />
      )}
      <table>
        <thead>
          <tr>
            <th>Id</th>
            <th>From</th>
            <th>Recipients</th>
            <th>Size</th>
            <th>Arrived</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.messages.map((m) => (
            <tr data-queued={String(m.id)}>
              <td>
                <a href={`/admin/queue/${m.id}`}>{m.id}</a>
              </td>
              <td>{m.returnPath || "<>"}</td>
              <td>{m.recipients.map((r) => `${r.address} (${r.status})`).join(", ")}</td>
              <td>{formatBytes(m.size)}</td>
              <td>{m.arrivedAt.toISOString()}</td>
              <td>
                <ActionButton
                  action={`/admin/queue/${m.id}/retry`}
                  label="Retry"
                  token={props.token}
                />
                <ActionButton
                  action={`/admin/queue/${m.id}/delete`}
                  label="Delete"
                  token={props.token}
                  danger
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function QueuedMessagePage(props: { message: QueuedMessage; token: string }) {
  const m = props.message;
  return (
    <>
      <dl class="facts">
        <dt>Return path</dt>
        <dd>{m.returnPath || "<>"}</dd>
        <dt>Source</dt>
        <dd>{m.source}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(m.size)}</dd>
        <dt>Body</dt>
        <dd>{m.body}{m.smtputf8 ? ", SMTPUTF8" : ""}{m.requireTls ? ", REQUIRETLS" : ""}</dd>
        <dt>Envelope id</dt>
        <dd>{m.envelopeId ?? ""}</dd>
        <dt>Arrived</dt>
        <dd>{m.arrivedAt.toISOString()}</dd>
        <dt>Expires</dt>
        <dd>{m.expiresAt.toISOString()}</dd>
      </dl>
      <ActionButton action={`/admin/queue/${m.id}/retry`} label="Retry now" token={props.token} />
      <ActionButton
        action={`/admin/queue/${m.id}/delete`}
        label="Delete"
        token={props.token}
        danger
      />
      <h2>Recipients</h2>
      <table>
        <thead>
          <tr>
            <th>Address</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Next attempt</th>
            <th>Last attempt</th>
            <th>Last host</th>
            <th>Last reply</th>
          </tr>
        </thead>
        <tbody>
          {m.recipients.map((r) => (
            <tr>
              <td>{r.address}</td>
              <td>{r.status}</td>
              <td>{r.attempts}</td>
              <td>{r.status === "queued" ? r.nextAttemptAt.toISOString() : ""}</td>
              <td>{r.lastAttemptAt?.toISOString() ?? ""}</td>
              <td>{r.lastHost ?? ""}</td>
              <td class="value">{r.lastReply ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
