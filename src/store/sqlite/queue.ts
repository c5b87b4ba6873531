/**
 * The outbound queue's tables on node:sqlite (migration 3): one row per message, one per
 * recipient with its own state, so each recipient is delivered, failed or retried on its own.
 *
 * Implementation notes:
 * - A queued message holds one reference on its blob, taken in the enqueue transaction and
 *   given back when the message row goes, so the blob collector never removes queued bytes.
 * - Claiming is a lease (`lease_until`), not a status: a worker killed mid-delivery leaves a
 *   lease that expires, and the recipient becomes due again. An outcome is recorded in one
 *   transaction with the lease drop, so a recorded recipient is never sent twice.
 * - Everything here is synchronous underneath; the caller (SqliteStore) wraps results in
 *   promises.
 */
import { referenceBlob, type Row, type Sql } from "./sql.ts";
import {
  type AttemptResult,
  type DsnNotify,
  type NewQueuedMessage,
  type QueuedMessage,
  type QueuedRecipient,
  type QueueRecipientStatus,
  StoreError,
} from "../types.ts";

export class SqliteQueue {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  enqueue(message: NewQueuedMessage): QueuedMessage {
    if (message.recipients.length === 0) {
      throw new StoreError("invalid", "a queued message needs at least one recipient");
    }
    return this.#sql.transaction(() => {
      referenceBlob(this.#sql, message.blobHash, message.size, message.blobWritten);
      const id = Number(
        this.#sql.run(
          `INSERT INTO queue_messages (blob_hash, size, return_path, envelope_id, ret, body,
             smtputf8, require_tls, source, arrived_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          message.blobHash,
          message.size,
          message.returnPath,
          message.envelopeId,
          message.ret,
          message.body,
          message.smtputf8 ? 1 : 0,
          message.requireTls ? 1 : 0,
          message.source,
          message.arrivedAt.getTime(),
          message.expiresAt.getTime(),
        ).lastInsertRowid,
      );
      for (const recipient of message.recipients) {
        const at = recipient.address.lastIndexOf("@");
        this.#sql.run(
          `INSERT INTO queue_recipients (message_id, address, domain, orcpt, notify, status,
             next_attempt_at)
           VALUES (?, ?, ?, ?, ?, 'queued', ?)`,
          id,
          recipient.address,
          recipient.address.slice(at + 1).toLowerCase(),
          recipient.orcpt,
          recipient.notify.join(","),
          message.arrivedAt.getTime(),
        );
      }
      return this.#message(id)!;
    });
  }

  claimDue(now: Date, limit: number, leaseMs: number): QueuedMessage[] {
    return this.#sql.transaction(() => {
      const at = now.getTime();
      const rows = this.#sql.all(
        `SELECT * FROM queue_recipients
         WHERE status = 'queued' AND next_attempt_at <= ? AND lease_until <= ?
         ORDER BY next_attempt_at, id LIMIT ?`,
        at,
        at,
        limit,
      );
      const byMessage = new Map<number, QueuedRecipient[]>();
      for (const row of rows) {
        this.#sql.run(
          "UPDATE queue_recipients SET lease_until = ? WHERE id = ?",
          at + leaseMs,
          row.id,
        );
        const recipient = toRecipient(row);
        const list = byMessage.get(recipient.messageId) ?? [];
        list.push(recipient);
        byMessage.set(recipient.messageId, list);
      }
      const messages: QueuedMessage[] = [];
      for (const [id, recipients] of byMessage) {
        const row = this.#sql.get("SELECT * FROM queue_messages WHERE id = ?", id);
        if (row) messages.push(toMessage(row, recipients));
      }
      return messages;
    });
  }

  recordAttempts(results: AttemptResult[], at: Date): void {
    this.#sql.transaction(() => {
      for (const result of results) {
        this.#sql.run(
          `UPDATE queue_recipients SET status = ?, attempts = attempts + 1,
             next_attempt_at = coalesce(?, next_attempt_at), lease_until = 0,
             last_attempt_at = ?, last_reply = ?, last_host = ?
           WHERE id = ?`,
          result.status,
          result.nextAttemptAt?.getTime() ?? null,
          at.getTime(),
          result.reply,
          result.host,
          result.recipientId,
        );
      }
    });
  }

  markDelayNotified(messageId: number): void {
    this.#sql.run("UPDATE queue_messages SET delay_notified = 1 WHERE id = ?", messageId);
  }

  removeFinished(messageId: number): boolean {
    return this.#sql.transaction(() => {
      const open = this.#sql.get(
        "SELECT 1 FROM queue_recipients WHERE message_id = ? AND status = 'queued' LIMIT 1",
        messageId,
      );
      if (open) return false;
      return this.#remove(messageId);
    });
  }

  #remove(messageId: number): boolean {
    const row = this.#sql.get("SELECT blob_hash FROM queue_messages WHERE id = ?", messageId);
    if (!row) return false;
    this.#sql.run("DELETE FROM queue_recipients WHERE message_id = ?", messageId);
    this.#sql.run("DELETE FROM queue_messages WHERE id = ?", messageId);
    this.#sql.run("UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?", row.blob_hash);
    return true;
  }

  releaseLeases(): void {
    this.#sql.run("UPDATE queue_recipients SET lease_until = 0 WHERE lease_until != 0");
  }

  get(id: number): QueuedMessage | null {
    return this.#message(id);
  }

  /** Messages with a recipient still queued, and those recipients (one index range scan). */
  counts(): { messages: number; recipients: number } {
    const row = this.#sql.get(
      "SELECT COUNT(DISTINCT message_id) AS messages, COUNT(*) AS recipients " +
        "FROM queue_recipients WHERE status = 'queued'",
    );
    return { messages: Number(row?.messages ?? 0), recipients: Number(row?.recipients ?? 0) };
  }

  list(): QueuedMessage[] {
    const recipients = new Map<number, QueuedRecipient[]>();
    for (const row of this.#sql.all("SELECT * FROM queue_recipients ORDER BY id")) {
      const recipient = toRecipient(row);
      const list = recipients.get(recipient.messageId) ?? [];
      list.push(recipient);
      recipients.set(recipient.messageId, list);
    }
    return this.#sql.all("SELECT * FROM queue_messages ORDER BY id").map((row) =>
      toMessage(row, recipients.get(row.id as number) ?? [])
    );
  }

  retry(now: Date, messageId?: number): number {
    const result = messageId === undefined
      ? this.#sql.run(
        "UPDATE queue_recipients SET next_attempt_at = ? WHERE status = 'queued'",
        now.getTime(),
      )
      : this.#sql.run(
        `UPDATE queue_recipients SET next_attempt_at = ?
         WHERE status = 'queued' AND message_id = ?`,
        now.getTime(),
        messageId,
      );
    return Number(result.changes);
  }

  delete(id: number): boolean {
    return this.#sql.transaction(() => this.#remove(id));
  }

  nextDue(now: Date): Date | null {
    const row = this.#sql.get(
      `SELECT min(next_attempt_at) AS due FROM queue_recipients
       WHERE status = 'queued' AND lease_until <= ?`,
      now.getTime(),
    );
    return row?.due == null ? null : new Date(row.due as number);
  }

  #message(id: number): QueuedMessage | null {
    const row = this.#sql.get("SELECT * FROM queue_messages WHERE id = ?", id);
    if (!row) return null;
    const recipients = this.#sql.all(
      "SELECT * FROM queue_recipients WHERE message_id = ? ORDER BY id",
      id,
    ).map(toRecipient);
    return toMessage(row, recipients);
  }
}

function toMessage(row: Row, recipients: QueuedRecipient[]): QueuedMessage {
  return {
    id: row.id as number,
    blobHash: row.blob_hash as string,
    size: row.size as number,
    returnPath: row.return_path as string,
    envelopeId: (row.envelope_id as string | null) ?? null,
    ret: (row.ret as QueuedMessage["ret"]) ?? null,
    body: row.body as QueuedMessage["body"],
    smtputf8: row.smtputf8 === 1,
    requireTls: row.require_tls === 1,
    source: row.source as string,
    arrivedAt: new Date(row.arrived_at as number),
    expiresAt: new Date(row.expires_at as number),
    delayNotified: row.delay_notified === 1,
    recipients,
  };
}

function toRecipient(row: Row): QueuedRecipient {
  const notify = row.notify as string;
  return {
    id: row.id as number,
    messageId: row.message_id as number,
    address: row.address as string,
    domain: row.domain as string,
    orcpt: (row.orcpt as string | null) ?? null,
    notify: notify === "" ? [] : notify.split(",") as DsnNotify[],
    status: row.status as QueueRecipientStatus,
    attempts: row.attempts as number,
    nextAttemptAt: new Date(row.next_attempt_at as number),
    lastAttemptAt: row.last_attempt_at == null ? null : new Date(row.last_attempt_at as number),
    lastReply: (row.last_reply as string | null) ?? null,
    lastHost: (row.last_host as string | null) ?? null,
  };
}
