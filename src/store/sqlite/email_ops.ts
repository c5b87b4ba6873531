/**
 * What JMAP does to emails by id, on node:sqlite: read them with their memberships and keywords,
 * change keywords and mailboxes, destroy them; mailbox counts; uploads; objects kept as JSON.
 *
 * Implementation notes:
 * - Every write is one transaction with one account modseq bump, through the same membership
 *   code as IMAP (SqliteMailboxOps): an email added to a mailbox gets that mailbox's next UID,
 *   one removed is recorded as expunged, every touched mailbox's HIGHESTMODSEQ moves. So IMAP
 *   sessions (their cache refreshes by HIGHESTMODSEQ) and JMAP /changes see the same history.
 * - An update is validated whole before it writes anything: a bad mailbox id or an email left in
 *   no mailbox rejects that email's update alone (JMAP's per-id SetError), not the batch.
 * - Keyword-only batches commit relaxed (like IMAP STORE); membership changes commit in full.
 * - Reads of many ids go in slices of 500 parameters.
 */
import type { Sql } from "./sql.ts";
import { applyChange, type ChangeLog, sameSet, type SqliteMailboxOps } from "./mailbox_ops.ts";
import type {
  Change,
  EmailAddressRecord,
  EmailListEntry,
  EmailUpdate,
  EmailUpdateResult,
  JmapEmailRecord,
  MailboxCounts,
  MailboxUpdate,
  StoredObject,
  Upload,
} from "../types.ts";
import { StoreError } from "../types.ts";
import { nextId, referenceBlob } from "./sql.ts";

const SLICE = 500;

export class SqliteEmailOps {
  readonly #sql: Sql;
  readonly #log: ChangeLog;
  readonly #mailboxes: SqliteMailboxOps;

  constructor(sql: Sql, log: ChangeLog, mailboxes: SqliteMailboxOps) {
    this.#sql = sql;
    this.#log = log;
    this.#mailboxes = mailboxes;
  }

  accountModseq(accountId: number): number {
    const row = this.#sql.get("SELECT modseq FROM principals WHERE id = ?", accountId);
    if (!row) throw new StoreError("not_found", `no account with id ${accountId}`);
    return row.modseq as number;
  }

  changesOfTypes(accountId: number, types: string[], modseq: number, limit: number): Change[] {
    const placeholders = types.map(() => "?").join(",");
    return this.#sql.arrays(
      `SELECT modseq, type, object_id, change FROM changes
       WHERE account_id = ? AND modseq > ? AND type IN (${placeholders})
       ORDER BY modseq, type, object_id LIMIT ?`,
      accountId,
      modseq,
      ...types,
      limit,
    ).map((row) => ({
      modseq: row[0] as number,
      type: row[1] as string,
      objectId: row[2] as number,
      change: row[3] as Change["change"],
    }));
  }

  jmapEmails(accountId: number, ids: number[], withMime: boolean): JmapEmailRecord[] {
    const result: JmapEmailRecord[] = [];
    for (const slice of slices(unique(ids))) {
      const marks = slice.map(() => "?").join(",");
      const rows = this.#sql.db.prepare(
        `SELECT id, blob_hash, thread_id, size, received_at, sent_at, message_id, in_reply_to,
           references_, subject, from_, sender, reply_to, to_, cc, bcc, preview, has_attachment,
           ${
          withMime ? "mime" : "'' AS mime"
        } FROM emails WHERE account_id = ? AND id IN (${marks})`,
      ).all(accountId, ...slice);
      const found = rows.map((row) => row.id as number);
      const extra = this.#membershipsAndKeywords(found);
      for (const row of rows) {
        const id = row.id as number;
        result.push({
          id,
          blobHash: row.blob_hash as string,
          threadId: row.thread_id as number,
          size: row.size as number,
          receivedAt: new Date(row.received_at as number),
          sentAt: row.sent_at === null ? null : new Date(row.sent_at as number),
          messageId: row.message_id as string | null,
          inReplyTo: jsonList<string>(row.in_reply_to),
          references: jsonList<string>(row.references_),
          subject: row.subject as string,
          from: jsonList<EmailAddressRecord>(row.from_),
          sender: jsonList<EmailAddressRecord>(row.sender),
          replyTo: jsonList<EmailAddressRecord>(row.reply_to),
          to: jsonList<EmailAddressRecord>(row.to_),
          cc: jsonList<EmailAddressRecord>(row.cc),
          bcc: jsonList<EmailAddressRecord>(row.bcc),
          preview: row.preview as string,
          hasAttachment: row.has_attachment === 1,
          keywords: extra.keywords.get(id)?.sort() ?? [],
          mailboxIds: extra.mailboxes.get(id)?.sort((a, b) => a - b) ?? [],
          mime: row.mime as string,
        });
      }
    }
    return result;
  }

  emailListing(accountId: number, ids?: number[]): EmailListEntry[] {
    if (ids !== undefined) {
      const entries: EmailListEntry[] = [];
      for (const slice of slices(unique(ids))) {
        const marks = slice.map(() => "?").join(",");
        const rows = this.#sql.db.prepare(
          `SELECT id, thread_id, received_at, size, sent_at, has_attachment FROM emails
           WHERE account_id = ? AND id IN (${marks}) ORDER BY id`,
        ).all(accountId, ...slice);
        const extra = this.#membershipsAndKeywords(rows.map((row) => row.id as number));
        for (const row of rows) {
          const id = row.id as number;
          entries.push({
            id,
            threadId: row.thread_id as number,
            receivedAt: row.received_at as number,
            sentAt: row.sent_at as number | null,
            size: row.size as number,
            hasAttachment: row.has_attachment === 1,
            keywords: extra.keywords.get(id)?.sort() ?? [],
            mailboxIds: extra.mailboxes.get(id)?.sort((a, b) => a - b) ?? [],
          });
        }
      }
      return entries.sort((a, b) => a.id - b.id);
    }
    // The whole account: three flat scans as row arrays, joined here.
    const mailboxes = new Map<number, number[]>();
    for (
      const row of this.#sql.arrays(
        `SELECT mm.email_id, mm.mailbox_id FROM mailboxes m
         JOIN mailbox_messages mm ON mm.mailbox_id = m.id WHERE m.account_id = ?`,
        accountId,
      )
    ) {
      const list = mailboxes.get(row[0] as number);
      if (list) list.push(row[1] as number);
      else mailboxes.set(row[0] as number, [row[1] as number]);
    }
    const keywords = new Map<number, string[]>();
    for (
      const row of this.#sql.arrays(
        `SELECT k.email_id, k.keyword FROM emails e INDEXED BY emails_jmap_listing
         JOIN email_keywords k ON k.email_id = e.id WHERE e.account_id = ?`,
        accountId,
      )
    ) {
      const list = keywords.get(row[0] as number);
      if (list) list.push(row[1] as string);
      else keywords.set(row[0] as number, [row[1] as string]);
    }
    return this.#sql.arrays(
      `SELECT id, thread_id, received_at, size, sent_at, has_attachment
       FROM emails INDEXED BY emails_jmap_listing WHERE account_id = ? ORDER BY id`,
      accountId,
    ).map((row) => {
      const id = row[0] as number;
      return {
        id,
        threadId: row[1] as number,
        receivedAt: row[2] as number,
        size: row[3] as number,
        sentAt: row[4] as number | null,
        hasAttachment: row[5] === 1,
        keywords: keywords.get(id)?.sort() ?? [],
        mailboxIds: mailboxes.get(id)?.sort((a, b) => a - b) ?? [],
      };
    });
  }

  updateEmails(accountId: number, updates: EmailUpdate[]): EmailUpdateResult {
    const result: EmailUpdateResult = { updated: [], notFound: [], invalid: [], modseq: 0 };
    const keywordsOnly = updates.every((update) => update.mailboxes === undefined);
    this.#sql.transaction(() => {
      let modseq = 0;
      const touched = new Set<number>();
      for (const update of updates) {
        const { emailId } = update;
        if (
          !this.#sql.get("SELECT 1 FROM emails WHERE id = ? AND account_id = ?", emailId, accountId)
        ) {
          result.notFound.push(emailId);
          continue;
        }
        const memberships = this.#sql.all(
          "SELECT mailbox_id, uid FROM mailbox_messages WHERE email_id = ?",
          emailId,
        );
        const before = new Set(memberships.map((row) => row.mailbox_id as number));
        let after = before;
        if (update.mailboxes) {
          const { set, add = [], remove = [] } = update.mailboxes;
          after = new Set(set ?? before);
          for (const id of add) after.add(id);
          for (const id of remove) after.delete(id);
          const unknown = [...after].find((id) =>
            !before.has(id) &&
            !this.#sql.get("SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?", id, accountId)
          );
          if (unknown !== undefined) {
            result.invalid.push({ emailId, property: "mailboxIds", message: "no such mailbox" });
            continue;
          }
          if (after.size === 0) {
            result.invalid.push({
              emailId,
              property: "mailboxIds",
              message: "an email must be in at least one mailbox",
            });
            continue;
          }
        }
        const oldKeywords = this.#sql.all(
          "SELECT keyword FROM email_keywords WHERE email_id = ?",
          emailId,
        ).map((row) => row.keyword as string);
        let newKeywords = oldKeywords;
        if (update.keywords) newKeywords = applyChange(oldKeywords, update.keywords);
        const added = [...after].filter((id) => !before.has(id));
        const removed = [...before].filter((id) => !after.has(id));
        const keywordsChanged = !sameSet(oldKeywords, newKeywords);
        result.updated.push(emailId);
        if (added.length === 0 && removed.length === 0 && !keywordsChanged) continue;
        if (modseq === 0) modseq = this.#log.bumpModseq(accountId);
        if (keywordsChanged) {
          this.#sql.run("DELETE FROM email_keywords WHERE email_id = ?", emailId);
          for (const keyword of newKeywords) {
            this.#sql.run(
              "INSERT INTO email_keywords (email_id, keyword) VALUES (?, ?)",
              emailId,
              keyword,
            );
          }
          this.#sql.run(
            "UPDATE mailbox_messages SET modseq = ? WHERE email_id = ?",
            modseq,
            emailId,
          );
          for (const id of before) touched.add(id);
        }
        const now = Date.now();
        for (const mailboxId of added) {
          const uid = this.#sql.get(
            "UPDATE mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next",
            mailboxId,
          )!.uid_next as number - 1;
          this.#sql.run(
            `INSERT INTO mailbox_messages (mailbox_id, uid, email_id, modseq, saved_at)
             VALUES (?, ?, ?, ?, ?)`,
            mailboxId,
            uid,
            emailId,
            modseq,
            now,
          );
          touched.add(mailboxId);
        }
        for (const mailboxId of removed) {
          const uids = memberships.filter((row) => row.mailbox_id === mailboxId)
            .map((row) => row.uid as number);
          this.#mailboxes.removeMemberships(accountId, mailboxId, uids, modseq);
          touched.delete(mailboxId);
        }
        this.#sql.run("UPDATE emails SET updated_modseq = ? WHERE id = ?", modseq, emailId);
        this.#log.logChange(accountId, modseq, "Email", emailId, "updated");
      }
      for (const mailboxId of touched) this.#mailboxes.touchMailbox(accountId, mailboxId, modseq);
      result.modseq = modseq;
    }, keywordsOnly ? "relaxed" : "full");
    return result;
  }

  destroyEmails(accountId: number, ids: number[]): { destroyed: number[]; modseq: number } {
    return this.#sql.transaction(() => {
      const destroyed: number[] = [];
      let modseq = 0;
      for (const emailId of unique(ids)) {
        if (
          !this.#sql.get("SELECT 1 FROM emails WHERE id = ? AND account_id = ?", emailId, accountId)
        ) {
          continue;
        }
        if (modseq === 0) modseq = this.#log.bumpModseq(accountId);
        const memberships = this.#sql.all(
          "SELECT mailbox_id, uid FROM mailbox_messages WHERE email_id = ?",
          emailId,
        );
        for (const row of memberships) {
          this.#mailboxes.removeMemberships(
            accountId,
            row.mailbox_id as number,
            [row.uid as number],
            modseq,
          );
        }
        if (memberships.length === 0) this.#mailboxes.destroyEmail(accountId, emailId, modseq);
        destroyed.push(emailId);
      }
      return { destroyed, modseq };
    });
  }

  threadEmails(accountId: number, threadIds: number[]): Map<number, number[]> {
    const threads = new Map<number, number[]>();
    for (const slice of slices(unique(threadIds))) {
      const marks = slice.map(() => "?").join(",");
      const rows = this.#sql.db.prepare(
        `SELECT thread_id, id FROM emails WHERE account_id = ? AND thread_id IN (${marks})
         ORDER BY received_at, id`,
      ).all(accountId, ...slice);
      for (const row of rows) {
        const list = threads.get(row.thread_id as number);
        if (list) list.push(row.id as number);
        else threads.set(row.thread_id as number, [row.id as number]);
      }
    }
    return threads;
  }

  /**
   * RFC 8621 2: unread means neither $seen nor $draft; a thread is unread in a mailbox when one
   * of its emails in that mailbox is.
   */
  mailboxCounts(accountId: number): MailboxCounts[] {
    return this.#sql.arrays(
      `WITH member AS (
         SELECT mm.mailbox_id, e.thread_id,
           NOT EXISTS (SELECT 1 FROM email_keywords k WHERE k.email_id = mm.email_id
             AND k.keyword IN ('$seen', '$draft')) AS unread
         FROM mailboxes m JOIN mailbox_messages mm ON mm.mailbox_id = m.id
         JOIN emails e INDEXED BY emails_listing ON e.id = mm.email_id
         WHERE m.account_id = ?)
       SELECT m.id,
         (SELECT count(*) FROM member WHERE member.mailbox_id = m.id),
         (SELECT count(*) FROM member WHERE member.mailbox_id = m.id AND unread),
         (SELECT count(DISTINCT thread_id) FROM member WHERE member.mailbox_id = m.id),
         (SELECT count(DISTINCT thread_id) FROM member WHERE member.mailbox_id = m.id AND unread)
       FROM mailboxes m WHERE m.account_id = ?`,
      accountId,
      accountId,
    ).map((row) => ({
      mailboxId: row[0] as number,
      totalEmails: row[1] as number,
      unreadEmails: row[2] as number,
      totalThreads: row[3] as number,
      unreadThreads: row[4] as number,
    }));
  }

  updateMailbox(accountId: number, mailboxId: number, update: MailboxUpdate): void {
    this.#sql.transaction(() => {
      const row = this.#mailboxes.owned(accountId, mailboxId);
      if (update.role !== undefined && update.role !== row.role) {
        if (row.role === "inbox") throw new StoreError("invalid", "the inbox keeps its role");
        if (
          update.role !== null &&
          this.#sql.get(
            "SELECT 1 FROM mailboxes WHERE account_id = ? AND role = ? AND id != ?",
            accountId,
            update.role,
            mailboxId,
          )
        ) {
          throw new StoreError("conflict", `a mailbox with role ${update.role} already exists`);
        }
      }
      const modseq = this.#log.bumpModseq(accountId);
      this.#sql.run(
        `UPDATE mailboxes SET role = ?, sort_order = ?, subscribed = ?, updated_modseq = ?
         WHERE id = ?`,
        update.role === undefined ? row.role : update.role,
        update.sortOrder ?? row.sort_order,
        update.subscribed === undefined ? row.subscribed : update.subscribed ? 1 : 0,
        modseq,
        mailboxId,
      );
      this.#log.logChange(accountId, modseq, "Mailbox", mailboxId, "updated");
    });
  }

  accountHasBlob(accountId: number, hash: string): boolean {
    return !!(this.#sql.get(
      "SELECT 1 FROM emails WHERE blob_hash = ? AND account_id = ? LIMIT 1",
      hash,
      accountId,
    ) ??
      this.#sql.get(
        "SELECT 1 FROM uploads WHERE account_id = ? AND blob_hash = ?",
        accountId,
        hash,
      ));
  }

  addUpload(accountId: number, upload: Upload, written: boolean): void {
    this.#sql.transaction(() => {
      const existing = this.#sql.get(
        "SELECT 1 FROM uploads WHERE account_id = ? AND blob_hash = ?",
        accountId,
        upload.blobHash,
      );
      if (existing) {
        // The same bytes again: keep the one reference, extend the expiry.
        this.#sql.run(
          "UPDATE uploads SET expires_at = ?, type = ? WHERE account_id = ? AND blob_hash = ?",
          upload.expiresAt.getTime(),
          upload.type,
          accountId,
          upload.blobHash,
        );
        return;
      }
      referenceBlob(this.#sql, upload.blobHash, upload.size, written);
      this.#sql.run(
        `INSERT INTO uploads (account_id, blob_hash, size, type, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        accountId,
        upload.blobHash,
        upload.size,
        upload.type,
        upload.createdAt.getTime(),
        upload.expiresAt.getTime(),
      );
    });
  }

  getUpload(accountId: number, hash: string): Upload | null {
    const row = this.#sql.get(
      "SELECT * FROM uploads WHERE account_id = ? AND blob_hash = ?",
      accountId,
      hash,
    );
    if (!row) return null;
    return {
      blobHash: row.blob_hash as string,
      size: row.size as number,
      type: row.type as string,
      createdAt: new Date(row.created_at as number),
      expiresAt: new Date(row.expires_at as number),
    };
  }

  expireUploads(now: Date): number {
    return this.#sql.transaction(() => {
      const rows = this.#sql.all(
        "DELETE FROM uploads WHERE expires_at <= ? RETURNING blob_hash",
        now.getTime(),
      );
      for (const row of rows) {
        this.#sql.run("UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?", row.blob_hash);
      }
      return rows.length;
    });
  }

  listObjects(accountId: number, type: string): StoredObject[] {
    return this.#sql.all(
      "SELECT id, data FROM jmap_objects WHERE account_id = ? AND type = ? ORDER BY id",
      accountId,
      type,
    ).map((row) => ({ id: row.id as number, data: row.data as string }));
  }

  putObject(
    accountId: number,
    type: string,
    id: number | null,
    data: string,
  ): { id: number; modseq: number } {
    return this.#sql.transaction(() => {
      const modseq = this.#log.bumpModseq(accountId);
      if (id === null) {
        const created = nextId(this.#sql, "jmap_objects");
        this.#sql.run(
          "INSERT INTO jmap_objects (id, account_id, type, data) VALUES (?, ?, ?, ?)",
          created,
          accountId,
          type,
          data,
        );
        this.#log.logChange(accountId, modseq, type, created, "created");
        return { id: created, modseq };
      }
      const updated = this.#sql.run(
        "UPDATE jmap_objects SET data = ? WHERE id = ? AND account_id = ? AND type = ?",
        data,
        id,
        accountId,
        type,
      );
      if (Number(updated.changes) === 0) throw new StoreError("not_found", `no ${type} ${id}`);
      this.#log.logChange(accountId, modseq, type, id, "updated");
      return { id, modseq };
    });
  }

  deleteObject(accountId: number, type: string, id: number): boolean {
    return this.#sql.transaction(() => {
      const deleted = this.#sql.run(
        "DELETE FROM jmap_objects WHERE id = ? AND account_id = ? AND type = ?",
        id,
        accountId,
        type,
      );
      if (Number(deleted.changes) === 0) return false;
      const modseq = this.#log.bumpModseq(accountId);
      this.#log.logChange(accountId, modseq, type, id, "destroyed");
      return true;
    });
  }

  #membershipsAndKeywords(ids: number[]) {
    const mailboxes = new Map<number, number[]>();
    const keywords = new Map<number, string[]>();
    if (ids.length === 0) return { mailboxes, keywords };
    const marks = ids.map(() => "?").join(",");
    for (
      const row of this.#sql.db.prepare(
        `SELECT email_id, mailbox_id FROM mailbox_messages WHERE email_id IN (${marks})`,
      ).all(...ids)
    ) {
      const list = mailboxes.get(row.email_id as number);
      if (list) list.push(row.mailbox_id as number);
      else mailboxes.set(row.email_id as number, [row.mailbox_id as number]);
    }
    for (
      const row of this.#sql.db.prepare(
        `SELECT email_id, keyword FROM email_keywords WHERE email_id IN (${marks})`,
      ).all(...ids)
    ) {
      const list = keywords.get(row.email_id as number);
      if (list) list.push(row.keyword as string);
      else keywords.set(row.email_id as number, [row.keyword as string]);
    }
    return { mailboxes, keywords };
  }
}

function unique(ids: number[]): number[] {
  return [...new Set(ids)];
}

function slices(ids: number[]): number[][] {
  const result: number[][] = [];
  for (let i = 0; i < ids.length; i += SLICE) result.push(ids.slice(i, i + SLICE));
  return result;
}

function jsonList<T>(value: unknown): T[] {
  return typeof value === "string" ? JSON.parse(value) as T[] : [];
}
