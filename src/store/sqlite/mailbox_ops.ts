/**
 * What IMAP (and JMAP after it) does to mailboxes and their messages, on node:sqlite: create,
 * rename and delete mailboxes; read a mailbox's UID map; change keywords; expunge, copy and move.
 *
 * Implementation notes:
 * - Every operation is one transaction with one account modseq bump; every message it touches
 *   gets that modseq (RFC 7162 allows several messages to share one), and so does each touched
 *   mailbox's HIGHESTMODSEQ. The change log gets one row per touched object.
 * - Keywords belong to the email (JMAP's model): a STORE through one mailbox shows in every
 *   mailbox holding the email, and bumps the modseq of each of those memberships.
 * - Expunged UIDs are recorded with their modseq (QRESYNC VANISHED). An email left in no
 *   mailbox is destroyed: its keywords, full-text row and blob reference go with it.
 * - UIDs come from the mailbox's uid_next and are never reused within a UIDVALIDITY.
 * - Mailbox names are case-sensitive except INBOX at the top level; paths use "/".
 */
import { nextId, type Sql } from "./sql.ts";
import type { Row } from "./sql.ts";
import {
  type Change,
  type KeywordChange,
  type Mailbox,
  type MailboxMessage,
  type MailboxRole,
  StoreError,
} from "../types.ts";

export interface ChangeLog {
  bumpModseq(accountId: number): number;
  logChange(
    accountId: number,
    modseq: number,
    type: string,
    objectId: number,
    change: Change["change"],
  ): void;
}

export class SqliteMailboxOps {
  readonly #sql: Sql;
  readonly #log: ChangeLog;

  constructor(sql: Sql, log: ChangeLog) {
    this.#sql = sql;
    this.#log = log;
  }

  createMailbox(accountId: number, path: string, role: MailboxRole | null): Mailbox {
    const levels = splitPath(path);
    return this.#sql.transaction(() => {
      const modseq = this.#log.bumpModseq(accountId);
      let parentId = 0;
      for (let i = 0; i < levels.length; i++) {
        const existing = this.find(accountId, parentId, levels[i]);
        const last = i === levels.length - 1;
        if (existing && last) throw new StoreError("conflict", `mailbox ${path} already exists`);
        parentId = existing
          ? existing.id as number
          : this.#insertMailbox(accountId, parentId, levels[i], last ? role : null, modseq);
      }
      return this.#mailbox(parentId)!;
    });
  }

  renameMailbox(accountId: number, mailboxId: number, newPath: string): void {
    const levels = splitPath(newPath);
    this.#sql.transaction(() => {
      const row = this.owned(accountId, mailboxId);
      const modseq = this.#log.bumpModseq(accountId);
      let parentId = 0;
      for (const level of levels.slice(0, -1)) {
        const existing = this.find(accountId, parentId, level);
        parentId = existing
          ? existing.id as number
          : this.#insertMailbox(accountId, parentId, level, null, modseq);
        if (parentId === mailboxId || this.isDescendant(parentId, mailboxId)) {
          throw new StoreError("invalid", "a mailbox cannot be moved under itself");
        }
      }
      const leaf = levels[levels.length - 1];
      if (this.find(accountId, parentId, leaf)) {
        throw new StoreError("conflict", `mailbox ${newPath} already exists`);
      }
      if (row.role === "inbox") {
        // RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox; INBOX stays.
        const target = this.#insertMailbox(accountId, parentId, leaf, null, modseq);
        const uids = this.#sql.all(
          "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid",
          mailboxId,
        ).map((r) => r.uid as number);
        this.#transfer(accountId, mailboxId, uids, target, modseq, true);
        return;
      }
      this.#sql.run(
        "UPDATE mailboxes SET parent_id = ?, name = ?, updated_modseq = ? WHERE id = ?",
        parentId,
        leaf,
        modseq,
        mailboxId,
      );
      this.#log.logChange(accountId, modseq, "Mailbox", mailboxId, "updated");
    });
  }

  deleteMailbox(accountId: number, mailboxId: number): void {
    this.#sql.transaction(() => {
      const row = this.owned(accountId, mailboxId);
      if (row.role === "inbox") throw new StoreError("invalid", "INBOX cannot be deleted");
      if (this.#sql.get("SELECT 1 FROM mailboxes WHERE parent_id = ? LIMIT 1", mailboxId)) {
        throw new StoreError("conflict", "the mailbox has children; delete them first");
      }
      const modseq = this.#log.bumpModseq(accountId);
      const uids = this.#sql.all("SELECT uid FROM mailbox_messages WHERE mailbox_id = ?", mailboxId)
        .map((r) => r.uid as number);
      this.removeMemberships(accountId, mailboxId, uids, modseq);
      this.#sql.run("DELETE FROM expunged WHERE mailbox_id = ?", mailboxId);
      this.#sql.run("DELETE FROM mailboxes WHERE id = ?", mailboxId);
      this.#log.logChange(accountId, modseq, "Mailbox", mailboxId, "destroyed");
    });
  }

  setSubscribed(accountId: number, mailboxId: number, subscribed: boolean): void {
    this.#sql.transaction(() => {
      this.owned(accountId, mailboxId);
      const modseq = this.#log.bumpModseq(accountId);
      this.#sql.run(
        "UPDATE mailboxes SET subscribed = ?, updated_modseq = ? WHERE id = ?",
        subscribed ? 1 : 0,
        modseq,
        mailboxId,
      );
      this.#log.logChange(accountId, modseq, "Mailbox", mailboxId, "updated");
    }, "relaxed");
  }

  getMailbox(accountId: number, mailboxId: number): Mailbox | null {
    const row = this.#sql.get(
      "SELECT * FROM mailboxes WHERE id = ? AND account_id = ?",
      mailboxId,
      accountId,
    );
    return row ? toMailbox(row) : null;
  }

  mailboxMessages(accountId: number, mailboxId: number, uids?: number[]): MailboxMessage[] {
    this.owned(accountId, mailboxId);
    const select =
      `SELECT mm.uid, mm.email_id, mm.modseq, mm.saved_at, e.size, e.received_at, e.thread_id,
         (SELECT group_concat(keyword, ' ') FROM email_keywords k WHERE k.email_id = mm.email_id)
           AS keywords
       FROM mailbox_messages mm JOIN emails e ON e.id = mm.email_id WHERE mm.mailbox_id = ?`;
    if (uids === undefined) {
      // The whole mailbox: two flat scans (memberships, then every keyword of the mailbox)
      // instead of a keyword subquery per message.
      const keywords = new Map<number, string[]>();
      for (
        const row of this.#sql.all(
          `SELECT mm.uid, k.keyword FROM mailbox_messages mm
           JOIN email_keywords k ON k.email_id = mm.email_id WHERE mm.mailbox_id = ?`,
          mailboxId,
        )
      ) {
        const list = keywords.get(row.uid as number);
        if (list) list.push(row.keyword as string);
        else keywords.set(row.uid as number, [row.keyword as string]);
      }
      // Rows as arrays, and the email columns from a covering index (migration 5): a 100,000
      // message mailbox is listed without reading its wide email rows.
      return this.#sql.arrays(
        `SELECT mm.uid, mm.email_id, mm.modseq, mm.saved_at, e.size, e.received_at, e.thread_id
         FROM mailbox_messages mm JOIN emails e INDEXED BY emails_listing ON e.id = mm.email_id
         WHERE mm.mailbox_id = ? ORDER BY mm.uid`,
        mailboxId,
      ).map((row) => ({
        uid: row[0] as number,
        emailId: row[1] as number,
        modseq: row[2] as number,
        keywords: keywords.get(row[0] as number)?.sort() ?? [],
        size: row[4] as number,
        receivedAt: new Date(row[5] as number),
        savedAt: new Date(row[3] as number),
        threadId: row[6] as number,
      }));
    }
    // A few messages (one FETCH of a client syncing one by one): by UID, in bounded slices,
    // so the cost follows the request, not the mailbox.
    const sorted = [...new Set(uids)].sort((a, b) => a - b);
    const rows: Row[] = [];
    for (let i = 0; i < sorted.length; i += 500) {
      const slice = sorted.slice(i, i + 500);
      rows.push(
        ...this.#sql.db.prepare(
          `${select} AND mm.uid IN (${slice.map(() => "?").join(",")}) ORDER BY mm.uid`,
        ).all(mailboxId, ...slice) as Row[],
      );
    }
    return rows.map(toMailboxMessage);
  }

  /** Messages added or changed after `modseq` (index mailbox_messages_modseq). */
  changedMessages(accountId: number, mailboxId: number, modseq: number): MailboxMessage[] {
    this.owned(accountId, mailboxId);
    return this.#sql.all(
      `SELECT mm.uid, mm.email_id, mm.modseq, mm.saved_at, e.size, e.received_at, e.thread_id,
         (SELECT group_concat(keyword, ' ') FROM email_keywords k WHERE k.email_id = mm.email_id)
           AS keywords
       FROM mailbox_messages mm JOIN emails e ON e.id = mm.email_id
       WHERE mm.mailbox_id = ? AND mm.modseq > ? ORDER BY mm.uid`,
      mailboxId,
      modseq,
    ).map(toMailboxMessage);
  }

  /** Expunged UIDs of a mailbox with a modseq above `modseq` (QRESYNC VANISHED (EARLIER)). */
  expungedSince(accountId: number, mailboxId: number, modseq: number): number[] {
    this.owned(accountId, mailboxId);
    return this.#sql.all(
      "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
      mailboxId,
      modseq,
    ).map((r) => r.uid as number);
  }

  /**
   * Changes the keywords of the messages with `uids` (lower-cased, JMAP style: "$seen" for
   * \Seen). With `unchangedSince` (CONDSTORE), messages modified after it are left alone and
   * reported in `failed`. Messages whose keywords do not change keep their modseq.
   */
  updateKeywords(
    accountId: number,
    mailboxId: number,
    uids: number[],
    change: KeywordChange,
    unchangedSince?: number,
  ): { updated: MailboxMessage[]; failed: number[] } {
    return this.#sql.transaction(() => {
      this.owned(accountId, mailboxId);
      const rows = this.#memberships(mailboxId, uids);
      const failed: number[] = [];
      const changing: { row: Row; keywords: string[] }[] = [];
      for (const row of rows) {
        if (unchangedSince !== undefined && (row.modseq as number) > unchangedSince) {
          failed.push(row.uid as number);
          continue;
        }
        const before = keywordsOf(row);
        const after = applyChange(before, change);
        if (sameSet(before, after)) continue;
        changing.push({ row, keywords: after });
      }
      if (changing.length === 0) return { updated: [], failed };
      const modseq = this.#log.bumpModseq(accountId);
      const touchedMailboxes = new Set<number>();
      for (const { row, keywords } of changing) {
        const emailId = row.email_id as number;
        this.#sql.run("DELETE FROM email_keywords WHERE email_id = ?", emailId);
        for (const keyword of keywords) {
          this.#sql.run(
            "INSERT INTO email_keywords (email_id, keyword) VALUES (?, ?)",
            emailId,
            keyword,
          );
        }
        this.#sql.run("UPDATE emails SET updated_modseq = ? WHERE id = ?", modseq, emailId);
        for (
          const membership of this.#sql.all(
            "SELECT mailbox_id FROM mailbox_messages WHERE email_id = ?",
            emailId,
          )
        ) {
          touchedMailboxes.add(membership.mailbox_id as number);
        }
        this.#sql.run("UPDATE mailbox_messages SET modseq = ? WHERE email_id = ?", modseq, emailId);
        this.#log.logChange(accountId, modseq, "Email", emailId, "updated");
      }
      for (const id of touchedMailboxes) this.touchMailbox(accountId, id, modseq);
      const changed = new Set(changing.map(({ row }) => row.uid as number));
      return {
        updated: this.mailboxMessages(accountId, mailboxId, [...changed]),
        failed,
      };
    }, "relaxed");
  }

  /** Removes the messages with `uids`; returns the UIDs actually expunged. */
  expunge(accountId: number, mailboxId: number, uids: number[]): number[] {
    return this.#sql.transaction(() => {
      this.owned(accountId, mailboxId);
      const present = this.#memberships(mailboxId, uids).map((r) => r.uid as number);
      if (present.length === 0) return [];
      const modseq = this.#log.bumpModseq(accountId);
      this.removeMemberships(accountId, mailboxId, present, modseq);
      return present;
    }, "relaxed");
  }

  /** COPY (RFC 9051 6.4.7) with UIDPLUS's mapping: [source UID, new UID] pairs. */
  copy(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): { uidValidity: number; pairs: [number, number][] } {
    return this.#sql.transaction(() => {
      this.owned(accountId, fromMailboxId);
      const target = this.owned(accountId, toMailboxId);
      const modseq = this.#log.bumpModseq(accountId);
      const pairs = this.#transfer(accountId, fromMailboxId, uids, toMailboxId, modseq, false);
      return { uidValidity: target.uid_validity as number, pairs };
    });
  }

  /** MOVE (RFC 6851): copy and expunge in one step; the emails keep their identity. */
  move(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): { uidValidity: number; pairs: [number, number][] } {
    return this.#sql.transaction(() => {
      this.owned(accountId, fromMailboxId);
      const target = this.owned(accountId, toMailboxId);
      if (fromMailboxId === toMailboxId) {
        throw new StoreError("invalid", "source and target mailbox are the same");
      }
      const modseq = this.#log.bumpModseq(accountId);
      const pairs = this.#transfer(accountId, fromMailboxId, uids, toMailboxId, modseq, true);
      return { uidValidity: target.uid_validity as number, pairs };
    });
  }

  /** Adds memberships in `to` for the source messages; with `remove`, drops the source ones. */
  #transfer(
    accountId: number,
    from: number,
    uids: number[],
    to: number,
    modseq: number,
    remove: boolean,
  ): [number, number][] {
    const rows = this.#memberships(from, uids);
    if (rows.length === 0) return [];
    const now = Date.now();
    let next = this.#sql.get("SELECT uid_next FROM mailboxes WHERE id = ?", to)!.uid_next as number;
    const pairs: [number, number][] = [];
    for (const row of rows) {
      const emailId = row.email_id as number;
      this.#sql.run(
        `INSERT INTO mailbox_messages (mailbox_id, uid, email_id, modseq, saved_at)
         VALUES (?, ?, ?, ?, ?)`,
        to,
        next,
        emailId,
        modseq,
        now,
      );
      pairs.push([row.uid as number, next++]);
      this.#sql.run("UPDATE emails SET updated_modseq = ? WHERE id = ?", modseq, emailId);
      this.#log.logChange(accountId, modseq, "Email", emailId, "updated");
    }
    this.#sql.run("UPDATE mailboxes SET uid_next = ? WHERE id = ?", next, to);
    this.touchMailbox(accountId, to, modseq);
    if (remove) this.removeMemberships(accountId, from, rows.map((r) => r.uid as number), modseq);
    return pairs;
  }

  /** Inside a transaction: drops memberships by UID, recording them as expunged. */
  removeMemberships(accountId: number, mailboxId: number, uids: number[], modseq: number) {
    for (const uid of uids) {
      const row = this.#sql.get(
        "DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ? RETURNING email_id",
        mailboxId,
        uid,
      );
      if (!row) continue;
      this.#sql.run(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
        mailboxId,
        uid,
        modseq,
      );
      const emailId = row.email_id as number;
      if (this.#sql.get("SELECT 1 FROM mailbox_messages WHERE email_id = ? LIMIT 1", emailId)) {
        this.#sql.run("UPDATE emails SET updated_modseq = ? WHERE id = ?", modseq, emailId);
        this.#log.logChange(accountId, modseq, "Email", emailId, "updated");
      } else {
        this.destroyEmail(accountId, emailId, modseq);
      }
    }
    this.touchMailbox(accountId, mailboxId, modseq);
  }

  /** Inside a transaction: deletes an email row and what hangs off it. */
  destroyEmail(accountId: number, emailId: number, modseq: number) {
    const email = this.#sql.get(
      "SELECT blob_hash, size, thread_id FROM emails WHERE id = ?",
      emailId,
    );
    if (!email) return;
    const threadId = email.thread_id as number;
    const others = this.#sql.get(
      "SELECT 1 FROM emails WHERE thread_id = ? AND id != ? LIMIT 1",
      threadId,
      emailId,
    );
    if (others) {
      this.#log.logChange(accountId, modseq, "Thread", threadId, "updated");
    } else {
      // The row stays: thread_refs may still lead a later reply to this id.
      this.#log.logChange(accountId, modseq, "Thread", threadId, "destroyed");
    }
    this.#sql.run("DELETE FROM email_keywords WHERE email_id = ?", emailId);
    this.#sql.run("DELETE FROM email_fts WHERE rowid = ?", emailId);
    this.#sql.run("DELETE FROM emails WHERE id = ?", emailId);
    this.#sql.run("UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?", email.blob_hash);
    this.#sql.run(
      "UPDATE principals SET used_bytes = max(0, used_bytes - ?) WHERE id = ?",
      email.size,
      accountId,
    );
    this.#log.logChange(accountId, modseq, "Email", emailId, "destroyed");
  }

  /** Inside a transaction: moves the mailbox's HIGHESTMODSEQ and logs it as updated. */
  touchMailbox(accountId: number, mailboxId: number, modseq: number) {
    this.#sql.run("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", modseq, mailboxId);
    this.#log.logChange(accountId, modseq, "Mailbox", mailboxId, "updated");
  }

  /** The memberships with these UIDs (with keywords), in UID order; one query per 500 UIDs. */
  #memberships(mailboxId: number, uids: number[]): Row[] {
    const sorted = [...new Set(uids)].sort((a, b) => a - b);
    const rows: Row[] = [];
    for (let i = 0; i < sorted.length; i += 500) {
      const slice = sorted.slice(i, i + 500);
      rows.push(
        ...this.#sql.db.prepare(
          `SELECT mm.uid, mm.email_id, mm.modseq,
             (SELECT group_concat(keyword, ' ') FROM email_keywords k
               WHERE k.email_id = mm.email_id) AS keywords
           FROM mailbox_messages mm
           WHERE mm.mailbox_id = ? AND mm.uid IN (${slice.map(() => "?").join(",")})
           ORDER BY mm.uid`,
        ).all(mailboxId, ...slice) as Row[],
      );
    }
    return rows;
  }

  #insertMailbox(
    accountId: number,
    parentId: number,
    name: string,
    role: MailboxRole | null,
    modseq: number,
  ): number {
    if (
      role &&
      this.#sql.get("SELECT 1 FROM mailboxes WHERE account_id = ? AND role = ?", accountId, role)
    ) {
      throw new StoreError("conflict", `a mailbox with role ${role} already exists`);
    }
    const id = nextId(this.#sql, "mailboxes");
    this.#sql.run(
      `INSERT INTO mailboxes (id, account_id, parent_id, name, role, uid_validity,
         created_modseq, updated_modseq, highest_modseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      accountId,
      parentId,
      name,
      role,
      uidValidity(),
      modseq,
      modseq,
      modseq,
    );
    this.#log.logChange(accountId, modseq, "Mailbox", id, "created");
    return id;
  }

  /** The mailbox named `name` under `parentId` (INBOX case-insensitive at the top). */
  find(accountId: number, parentId: number, name: string): Row | undefined {
    if (parentId === 0 && name.toUpperCase() === "INBOX") {
      return this.#sql.get(
        "SELECT * FROM mailboxes WHERE account_id = ? AND role = 'inbox'",
        accountId,
      );
    }
    return this.#sql.get(
      "SELECT * FROM mailboxes WHERE account_id = ? AND parent_id = ? AND name = ?",
      accountId,
      parentId,
      name,
    );
  }

  isDescendant(mailboxId: number, ancestorId: number): boolean {
    let current = mailboxId;
    for (let depth = 0; depth < 1000 && current !== 0; depth++) {
      const row = this.#sql.get("SELECT parent_id FROM mailboxes WHERE id = ?", current);
      if (!row) return false;
      current = row.parent_id as number;
      if (current === ancestorId) return true;
    }
    return false;
  }

  /** The mailbox row when it is the account's; not_found otherwise. */
  owned(accountId: number, mailboxId: number): Row {
    const row = this.#sql.get(
      "SELECT * FROM mailboxes WHERE id = ? AND account_id = ?",
      mailboxId,
      accountId,
    );
    if (!row) throw new StoreError("not_found", `no mailbox with id ${mailboxId}`);
    return row;
  }

  #mailbox(id: number): Mailbox | null {
    const row = this.#sql.get("SELECT * FROM mailboxes WHERE id = ?", id);
    return row ? toMailbox(row) : null;
  }
}

/** A new UIDVALIDITY: seconds since the epoch, so a re-created mailbox never repeats one. */
let lastUidValidity = 0;
function uidValidity(): number {
  lastUidValidity = Math.max(lastUidValidity + 1, Math.floor(Date.now() / 1000) & 0x7fffffff);
  return lastUidValidity;
}

function splitPath(path: string): string[] {
  const levels = path.split("/");
  if (levels.some((level) => level === "")) {
    throw new StoreError("invalid", `bad mailbox name "${path}"`);
  }
  return levels;
}

function keywordsOf(row: Row): string[] {
  const text = row.keywords as string | null;
  return text ? text.split(" ") : [];
}

export function applyChange(before: string[], change: KeywordChange): string[] {
  const lower = (list: string[]) => list.map((k) => k.toLowerCase());
  if (change.set) return [...new Set(lower(change.set))];
  const result = new Set(before);
  for (const keyword of lower(change.add ?? [])) result.add(keyword);
  for (const keyword of lower(change.remove ?? [])) result.delete(keyword);
  return [...result];
}

export function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((k) => set.has(k));
}

function toMailboxMessage(row: Row): MailboxMessage {
  return {
    uid: row.uid as number,
    emailId: row.email_id as number,
    modseq: row.modseq as number,
    keywords: keywordsOf(row).sort(),
    size: row.size as number,
    receivedAt: new Date(row.received_at as number),
    savedAt: new Date(row.saved_at as number),
    threadId: row.thread_id as number,
  };
}

export function toMailbox(row: Row): Mailbox {
  return {
    id: row.id as number,
    accountId: row.account_id as number,
    parentId: row.parent_id as number,
    name: row.name as string,
    role: (row.role as MailboxRole | null) ?? null,
    uidValidity: row.uid_validity as number,
    uidNext: row.uid_next as number,
    highestModseq: row.highest_modseq as number,
    subscribed: row.subscribed === 1,
    sortOrder: row.sort_order as number,
  };
}
