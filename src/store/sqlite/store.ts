/**
 * The embedded store on node:sqlite.
 *
 * Implementation notes:
 * - WAL with synchronous=FULL: a committed transaction survives kill -9 and power loss. Callers
 *   may acknowledge a write (SMTP 250, IMAP OK) only after the promise of that write resolves.
 * - insertEmail is group-committed: emails queued in the same turn of the event loop share one
 *   transaction, each inside its own SAVEPOINT so one failure (quota) does not fail the others.
 * - Every change to mail bumps the account modseq exactly once per committed email and writes a
 *   change-log row in the same transaction.
 * - node:sqlite is synchronous; nothing here awaits while a transaction is open.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { migrate } from "./migrations.ts";
import { SqliteQueue } from "./queue.ts";
import { SqliteMailboxOps, toMailbox } from "./mailbox_ops.ts";
import { SqliteEmailOps } from "./email_ops.ts";
import { SqliteDavStore } from "./dav_store.ts";
import { SqliteSpamStore } from "./spam_store.ts";
import { SqliteAcmeStore } from "./acme_store.ts";
import { attempt, nextId, referenceBlob, type Row, Sql } from "./sql.ts";
import {
  type Account,
  type Alias,
  type AttemptResult,
  type Change,
  type DkimKey,
  type Domain,
  type EmailAddressRecord,
  type EmailContent,
  type EmailUpdate,
  type FullTextField,
  type HeaderField,
  type KeywordChange,
  type Mailbox,
  type MailboxMessage,
  type MailboxRole,
  type MailboxSummary,
  type MailboxUpdate,
  type Membership,
  type NewAccount,
  type NewEmail,
  type NewQueuedMessage,
  type QueuedMessage,
  type SearchFields,
  type Store,
  type StoredEmail,
  StoreError,
  type Upload,
} from "../types.ts";

/**
 * SearchFields over one row (the columns of `searchFields`), its JSON columns parsed on first
 * use: SORT by date over 100,000 messages never parses an address.
 */
class StoredSearchFields implements SearchFields {
  readonly #row: unknown[];
  #parsed: unknown[] = [];

  constructor(row: unknown[]) {
    this.#row = row;
  }

  #json<T>(index: number, empty: T): T {
    if (!(index in this.#parsed)) {
      const value = this.#row[index];
      this.#parsed[index] = typeof value === "string" && value !== "" ? JSON.parse(value) : empty;
    }
    return this.#parsed[index] as T;
  }

  get id(): number {
    return this.#row[0] as number;
  }
  get subject(): string {
    return this.#row[1] as string;
  }
  get baseSubject(): string {
    return this.#row[2] as string;
  }
  get messageId(): string | null {
    return (this.#row[3] as string | null) ?? null;
  }
  get inReplyTo(): string[] {
    return this.#json(4, []);
  }
  get references(): string[] {
    return this.#json(5, []);
  }
  get from(): EmailAddressRecord[] {
    return this.#json(6, []);
  }
  get to(): EmailAddressRecord[] {
    return this.#json(7, []);
  }
  get cc(): EmailAddressRecord[] {
    return this.#json(8, []);
  }
  get bcc(): EmailAddressRecord[] {
    return this.#json(9, []);
  }
  get sentAt(): Date | null {
    // Memoised: SORT (DATE) reads it at every comparison.
    if (!(10 in this.#parsed)) {
      const value = this.#row[10];
      this.#parsed[10] = value == null ? null : new Date(value as number);
    }
    return this.#parsed[10] as Date | null;
  }
  get blobHash(): string {
    return this.#row[11] as string;
  }
}

/** The emails column holding each address field (JSON [{name, email}]). */
const ADDRESS_COLUMNS = { from: "from_", to: "to_", cc: "cc", bcc: "bcc" } as const;

interface PendingInsert {
  email: NewEmail;
  resolve: (stored: StoredEmail) => void;
  reject: (error: unknown) => void;
}

export interface SqliteStoreOptions {
  path: string;
  /** How long a connection waits for another process's lock (ms). */
  busyTimeoutMs?: number;
}

export class SqliteStore implements Store {
  readonly db: DatabaseSync;
  readonly appliedMigrations: number[];
  #pending: PendingInsert[] = [];
  #flushScheduled = false;
  #closed = false;
  readonly #sql: Sql;
  readonly #queue: SqliteQueue;
  readonly #mailboxes: SqliteMailboxOps;
  readonly #emails: SqliteEmailOps;
  readonly dav: SqliteDavStore;
  readonly spam: SqliteSpamStore;
  readonly acme: SqliteAcmeStore;

  constructor(options: SqliteStoreOptions) {
    this.db = new DatabaseSync(options.path, { enableForeignKeyConstraints: true });
    // The database holds password hashes: owner-only, whatever the umask (SQLite gives the
    // -wal and -shm files the same mode).
    if (options.path !== ":memory:") Deno.chmodSync(options.path, 0o600);
    this.db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.exec("PRAGMA foreign_keys = ON");
    this.appliedMigrations = migrate(this.db);
    this.#sql = new Sql(this.db);
    this.#queue = new SqliteQueue(this.#sql);
    this.#mailboxes = new SqliteMailboxOps(this.#sql, {
      bumpModseq: (accountId) => this.#bumpModseq(accountId),
      logChange: (...args) => this.#logChange(...args),
    });
    this.#emails = new SqliteEmailOps(this.#sql, {
      bumpModseq: (accountId) => this.#bumpModseq(accountId),
      logChange: (...args) => this.#logChange(...args),
    }, this.#mailboxes);
    this.dav = new SqliteDavStore(this.#sql, (accountId) => this.#bumpModseq(accountId));
    this.spam = new SqliteSpamStore(this.#sql);
    this.acme = new SqliteAcmeStore(this.#sql);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#pending.length > 0) await this.#flushNow();
    this.#closed = true;
    this.#sql.clear();
    this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.db.close();
  }

  // ---- domains ----

  createDomain(name: string, dkimKeys: DkimKey[] = []): Promise<Domain> {
    return attempt(() =>
      this.#sql.transaction(() => {
        if (this.#sql.get("SELECT 1 FROM domains WHERE name = ?", name)) {
          throw new StoreError("conflict", `domain ${name} already exists`);
        }
        const result = this.#sql.run(
          "INSERT INTO domains (name, created_at) VALUES (?, ?)",
          name.toLowerCase(),
          Date.now(),
        );
        const id = Number(result.lastInsertRowid);
        this.#insertDkimKeys(id, dkimKeys);
        return toDomain(this.#sql.get("SELECT * FROM domains WHERE id = ?", id)!);
      })
    );
  }

  addDkimKeys(domainId: number, keys: DkimKey[]): Promise<void> {
    return attempt(() => this.#sql.transaction(() => this.#insertDkimKeys(domainId, keys)));
  }

  #insertDkimKeys(domainId: number, keys: DkimKey[]) {
    for (const key of keys) {
      this.#sql.run(
        `INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        domainId,
        key.selector,
        key.algorithm,
        key.privateKey,
        key.publicKey,
        key.createdAt.getTime(),
      );
    }
  }

  listDkimKeys(domainId: number): Promise<DkimKey[]> {
    return attempt(() =>
      this.#sql.all("SELECT * FROM dkim_keys WHERE domain_id = ? ORDER BY id", domainId).map((
        row,
      ) => ({
        selector: row.selector as string,
        algorithm: row.algorithm as DkimKey["algorithm"],
        privateKey: row.private_key as string,
        publicKey: row.public_key as string,
        createdAt: new Date(row.created_at as number),
      }))
    );
  }

  getDomain(name: string): Promise<Domain | null> {
    return attempt(() => {
      const row = this.#sql.get("SELECT * FROM domains WHERE name = ?", name);
      return row ? toDomain(row) : null;
    });
  }

  listDomains(): Promise<Domain[]> {
    return attempt(() => this.#sql.all("SELECT * FROM domains ORDER BY name").map(toDomain));
  }

  deleteDomain(name: string): Promise<void> {
    return attempt(() =>
      this.#sql.transaction(() => {
        const domain = this.#sql.get("SELECT id FROM domains WHERE name = ?", name);
        if (!domain) throw new StoreError("not_found", `no domain ${name}`);
        const accounts = this.#sql.get(
          "SELECT count(*) AS n FROM principals WHERE domain_id = ?",
          domain.id,
        )!.n as number;
        const aliases = this.#sql.get(
          "SELECT count(*) AS n FROM aliases WHERE domain_id = ?",
          domain.id,
        )!.n as number;
        if (accounts > 0 || aliases > 0) {
          throw new StoreError(
            "conflict",
            `domain ${name} still has ${accounts} account(s) and ${aliases} alias(es); ` +
              `delete them first`,
          );
        }
        this.#sql.run("DELETE FROM domains WHERE id = ?", domain.id);
      })
    );
  }

  // ---- accounts ----

  createAccount(account: NewAccount): Promise<Account> {
    return attempt(() =>
      this.#sql.transaction(() => {
        if (this.#sql.get("SELECT 1 FROM principals WHERE name = ?", account.address)) {
          throw new StoreError("conflict", `account ${account.address} already exists`);
        }
        if (this.#sql.get("SELECT 1 FROM aliases WHERE address = ?", account.address)) {
          throw new StoreError("conflict", `${account.address} is already an alias`);
        }
        const now = Date.now();
        const id = Number(
          this.#sql.run(
            `INSERT INTO principals (kind, name, domain_id, display_name, quota, created_at)
             VALUES ('user', ?, ?, ?, ?, ?)`,
            account.address.toLowerCase(),
            account.domainId,
            account.displayName,
            account.quota,
            now,
          ).lastInsertRowid,
        );
        if (account.passwordHash !== null) {
          this.#sql.run(
            `INSERT INTO credentials (principal_id, kind, secret, created_at)
             VALUES (?, 'password', ?, ?)`,
            id,
            account.passwordHash,
            now,
          );
        }
        const uidValidity = Math.floor(now / 1000) & 0x7fffffff;
        account.mailboxes.forEach((mailbox, index) => {
          const modseq = this.#bumpModseq(id);
          const mailboxId = nextId(this.#sql, "mailboxes");
          this.#sql.run(
            `INSERT INTO mailboxes (id, account_id, name, role, uid_validity, sort_order,
               created_modseq, updated_modseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            mailboxId,
            id,
            mailbox.name,
            mailbox.role,
            uidValidity,
            index,
            modseq,
            modseq,
          );
          this.#logChange(id, modseq, "Mailbox", mailboxId, "created");
        });
        return toAccount(this.#sql.get("SELECT * FROM principals WHERE id = ?", id)!);
      })
    );
  }

  getAccount(address: string): Promise<Account | null> {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT * FROM principals WHERE name = ? AND kind = 'user'",
        address,
      );
      return row ? toAccount(row) : null;
    });
  }

  getAccountById(id: number): Promise<Account | null> {
    return attempt(() => {
      const row = this.#sql.get("SELECT * FROM principals WHERE id = ?", id);
      return row ? toAccount(row) : null;
    });
  }

  listAccounts(domainId?: number): Promise<Account[]> {
    return attempt(() =>
      (domainId === undefined
        ? this.#sql.all("SELECT * FROM principals WHERE kind = 'user' ORDER BY name")
        : this.#sql.all(
          "SELECT * FROM principals WHERE kind = 'user' AND domain_id = ? ORDER BY name",
          domainId,
        )).map(toAccount)
    );
  }

  deleteAccount(id: number): Promise<void> {
    return attempt(() =>
      this.#sql.transaction(() => {
        const account = this.#sql.get("SELECT name FROM principals WHERE id = ?", id);
        if (!account) throw new StoreError("not_found", `no account with id ${id}`);
        this.#sql.run(
          `UPDATE blobs SET refcount = refcount - (
             SELECT count(*) FROM emails WHERE emails.blob_hash = blobs.hash AND account_id = ?)
           WHERE hash IN (SELECT blob_hash FROM emails WHERE account_id = ?)`,
          id,
          id,
        );
        this.#sql.run(
          "DELETE FROM email_fts WHERE rowid IN (SELECT id FROM emails WHERE account_id = ?)",
          id,
        );
        this.#sql.run(
          `DELETE FROM mailbox_messages WHERE mailbox_id IN
             (SELECT id FROM mailboxes WHERE account_id = ?)`,
          id,
        );
        this.#sql.run(
          "DELETE FROM email_keywords WHERE email_id IN (SELECT id FROM emails WHERE account_id = ?)",
          id,
        );
        this.#sql.run("DELETE FROM emails WHERE account_id = ?", id);
        this.#sql.run(
          `UPDATE blobs SET refcount = refcount - 1
           WHERE hash IN (SELECT blob_hash FROM uploads WHERE account_id = ?)`,
          id,
        );
        this.#sql.run("DELETE FROM uploads WHERE account_id = ?", id);
        this.#sql.run(
          `UPDATE blobs SET refcount = refcount - (
             SELECT count(*) FROM dav_nodes WHERE dav_nodes.blob_hash = blobs.hash AND account_id = ?)
           WHERE hash IN (SELECT blob_hash FROM dav_nodes WHERE account_id = ?)`,
          id,
          id,
        );
        this.#sql.run("DELETE FROM dav_nodes WHERE account_id = ?", id);
        this.#sql.run("DELETE FROM jmap_objects WHERE account_id = ?", id);
        this.#sql.run(
          "DELETE FROM expunged WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)",
          id,
        );
        this.#sql.run("DELETE FROM mailboxes WHERE account_id = ?", id);
        this.#sql.run("DELETE FROM threads WHERE account_id = ?", id);
        this.#sql.run("DELETE FROM thread_refs WHERE account_id = ?", id);
        this.#sql.run("DELETE FROM changes WHERE account_id = ?", id);
        this.#sql.run("DELETE FROM aliases WHERE target = ?", account.name);
        this.#sql.run("DELETE FROM principals WHERE id = ?", id);
      })
    );
  }

  getPasswordHash(accountId: number): Promise<string | null> {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT secret FROM credentials WHERE principal_id = ? AND kind = 'password' LIMIT 1",
        accountId,
      );
      return row ? row.secret as string : null;
    });
  }

  setPasswordHash(accountId: number, hash: string): Promise<void> {
    return attempt(() =>
      this.#sql.transaction(() => {
        this.#sql.run(
          "DELETE FROM credentials WHERE principal_id = ? AND kind = 'password'",
          accountId,
        );
        this.#sql.run(
          `INSERT INTO credentials (principal_id, kind, secret, created_at)
           VALUES (?, 'password', ?, ?)`,
          accountId,
          hash,
          Date.now(),
        );
      })
    );
  }

  updateAccount(
    accountId: number,
    changes: { displayName?: string; quota?: number; disabled?: boolean },
  ): Promise<boolean> {
    return attempt(() => {
      const { displayName, quota, disabled } = changes;
      return this.#sql.run(
        `UPDATE principals SET display_name = coalesce(?, display_name),
           quota = coalesce(?, quota), disabled = coalesce(?, disabled)
         WHERE id = ? AND kind = 'user'`,
        displayName ?? null,
        quota ?? null,
        disabled === undefined ? null : disabled ? 1 : 0,
        accountId,
      ).changes > 0;
    });
  }

  // ---- aliases ----

  addAlias(address: string, target: string, domainId: number): Promise<Alias> {
    return attempt(() => {
      if (this.#sql.get("SELECT 1 FROM principals WHERE name = ?", address)) {
        throw new StoreError("conflict", `${address} is an account; an alias cannot shadow it`);
      }
      if (
        this.#sql.get("SELECT 1 FROM aliases WHERE address = ? AND target = ?", address, target)
      ) {
        throw new StoreError("conflict", `alias ${address} -> ${target} already exists`);
      }
      const id = this.#sql.run(
        "INSERT INTO aliases (address, target, domain_id, created_at) VALUES (?, ?, ?, ?)",
        address.toLowerCase(),
        target.toLowerCase(),
        domainId,
        Date.now(),
      ).lastInsertRowid;
      return toAlias(this.#sql.get("SELECT * FROM aliases WHERE id = ?", id)!);
    });
  }

  listAliases(domainId?: number): Promise<Alias[]> {
    return attempt(() =>
      (domainId === undefined
        ? this.#sql.all("SELECT * FROM aliases ORDER BY address, target")
        : this.#sql.all(
          "SELECT * FROM aliases WHERE domain_id = ? ORDER BY address, target",
          domainId,
        )).map(toAlias)
    );
  }

  deleteAlias(address: string, target?: string): Promise<number> {
    return attempt(() =>
      Number(
        (target === undefined
          ? this.#sql.run("DELETE FROM aliases WHERE address = ?", address)
          : this.#sql.run("DELETE FROM aliases WHERE address = ? AND target = ?", address, target))
          .changes,
      )
    );
  }

  aliasTargets(address: string): Promise<string[]> {
    return attempt(() =>
      this.#sql.all("SELECT target FROM aliases WHERE address = ? ORDER BY target", address).map((
        row,
      ) => row.target as string)
    );
  }

  // ---- mailboxes ----

  listMailboxes(
    accountId: number,
    options: { counts?: boolean; onlyCounts?: number } = {},
  ): Promise<MailboxSummary[]> {
    return attempt(() => {
      const counts = options.counts ?? true;
      const only = options.onlyCounts;
      // Correlated counts for every mailbox, for one (onlyCounts), or none.
      const guard = counts ? (only === undefined ? "1" : "m.id = ?") : "0";
      const params = counts && only !== undefined ? [only, only, only] : [];
      const rows = this.#sql.all(
        `SELECT m.*,
           CASE WHEN ${guard} THEN (SELECT count(*) FROM mailbox_messages mm
             WHERE mm.mailbox_id = m.id) ELSE 0 END AS messages,
           CASE WHEN ${guard} THEN (SELECT count(*) FROM mailbox_messages mm
             WHERE mm.mailbox_id = m.id AND NOT EXISTS (SELECT 1 FROM email_keywords k
               WHERE k.email_id = mm.email_id AND k.keyword = '$seen')) ELSE 0 END AS unseen,
           CASE WHEN ${guard} THEN (SELECT coalesce(sum(e.size), 0) FROM mailbox_messages mm
             JOIN emails e ON e.id = mm.email_id WHERE mm.mailbox_id = m.id) ELSE 0 END AS size
         FROM mailboxes m WHERE m.account_id = ? ORDER BY m.sort_order, m.name`,
        ...params,
        accountId,
      );
      const byId = new Map(rows.map((row) => [row.id as number, row]));
      const pathOf = (row: Row): string => {
        const parent = byId.get(row.parent_id as number);
        return parent ? `${pathOf(parent)}/${row.name}` : row.name as string;
      };
      return rows.map((row) => ({
        ...toMailbox(row),
        path: pathOf(row),
        messages: row.messages as number,
        unseen: row.unseen as number,
        size: row.size as number,
      }));
    });
  }

  // ---- IMAP mailbox operations (sqlite/mailbox_ops.ts) ----

  createMailbox(accountId: number, path: string, role: MailboxRole | null = null) {
    return attempt(() => this.#mailboxes.createMailbox(accountId, path, role));
  }

  renameMailbox(accountId: number, mailboxId: number, newPath: string): Promise<void> {
    return attempt(() => this.#mailboxes.renameMailbox(accountId, mailboxId, newPath));
  }

  deleteMailbox(accountId: number, mailboxId: number): Promise<void> {
    return attempt(() => this.#mailboxes.deleteMailbox(accountId, mailboxId));
  }

  setSubscribed(accountId: number, mailboxId: number, subscribed: boolean): Promise<void> {
    return attempt(() => this.#mailboxes.setSubscribed(accountId, mailboxId, subscribed));
  }

  getMailbox(accountId: number, mailboxId: number): Promise<Mailbox | null> {
    return attempt(() => this.#mailboxes.getMailbox(accountId, mailboxId));
  }

  mailboxMessages(
    accountId: number,
    mailboxId: number,
    uids?: number[],
  ): Promise<MailboxMessage[]> {
    return attempt(() => this.#mailboxes.mailboxMessages(accountId, mailboxId, uids));
  }

  changedMessages(
    accountId: number,
    mailboxId: number,
    modseq: number,
  ): Promise<MailboxMessage[]> {
    return attempt(() => this.#mailboxes.changedMessages(accountId, mailboxId, modseq));
  }

  expungedSince(accountId: number, mailboxId: number, modseq: number): Promise<number[]> {
    return attempt(() => this.#mailboxes.expungedSince(accountId, mailboxId, modseq));
  }

  updateKeywords(
    accountId: number,
    mailboxId: number,
    uids: number[],
    change: KeywordChange,
    unchangedSince?: number,
  ) {
    return attempt(() =>
      this.#mailboxes.updateKeywords(accountId, mailboxId, uids, change, unchangedSince)
    );
  }

  expunge(accountId: number, mailboxId: number, uids: number[]): Promise<number[]> {
    return attempt(() => this.#mailboxes.expunge(accountId, mailboxId, uids));
  }

  copyMessages(accountId: number, fromMailboxId: number, uids: number[], toMailboxId: number) {
    return attempt(() => this.#mailboxes.copy(accountId, fromMailboxId, uids, toMailboxId));
  }

  moveMessages(accountId: number, fromMailboxId: number, uids: number[], toMailboxId: number) {
    return attempt(() => this.#mailboxes.move(accountId, fromMailboxId, uids, toMailboxId));
  }

  // ---- emails ----

  insertEmail(email: NewEmail): Promise<StoredEmail> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ email, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setTimeout(() => this.#flushNow(), 0);
      }
    });
  }

  #flushNow(): Promise<void> {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return Promise.resolve();
    const outcomes: ({ ok: true; value: StoredEmail } | { ok: false; error: unknown })[] = [];
    try {
      this.#sql.transaction(() => {
        for (const item of batch) {
          this.#sql.run("SAVEPOINT email");
          try {
            outcomes.push({ ok: true, value: this.#insertEmailNow(item.email) });
            this.#sql.run("RELEASE email");
          } catch (error) {
            this.db.exec("ROLLBACK TO email");
            this.db.exec("RELEASE email");
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return Promise.resolve();
    }
    batch.forEach((item, index) => {
      const outcome = outcomes[index];
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
    return Promise.resolve();
  }

  #insertEmailNow(email: NewEmail): StoredEmail {
    const account = this.#sql.get(
      "SELECT quota, used_bytes FROM principals WHERE id = ?",
      email.accountId,
    );
    if (!account) throw new StoreError("not_found", `no account with id ${email.accountId}`);
    const quota = account.quota as number;
    if (quota > 0 && (account.used_bytes as number) + email.size > quota) {
      throw new StoreError("quota", "mailbox is over its storage quota");
    }
    let mailboxIds = email.mailboxIds;
    if (mailboxIds.length === 0) {
      const inbox = this.#sql.get(
        "SELECT id FROM mailboxes WHERE account_id = ? AND role = 'inbox'",
        email.accountId,
      );
      if (!inbox) throw new StoreError("not_found", "the account has no inbox");
      mailboxIds = [inbox.id as number];
    }
    const modseq = this.#bumpModseq(email.accountId);
    const threadId = this.#assignThread(email, modseq);

    const now = Date.now();
    referenceBlob(this.#sql, email.blobHash, email.size, email.blobWritten);
    const json = (value: unknown[]) => value.length ? JSON.stringify(value) : null;
    const id = nextId(this.#sql, "emails");
    this.#sql.run(
      `INSERT INTO emails (id, account_id, blob_hash, thread_id, size, received_at, sent_at,
           message_id, in_reply_to, references_, subject, base_subject, from_, sender, reply_to,
           to_, cc, bcc, preview, has_attachment, mime, created_modseq, updated_modseq,
           imap_envelope, imap_bodystructure)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      email.accountId,
      email.blobHash,
      threadId,
      email.size,
      email.receivedAt.getTime(),
      email.sentAt?.getTime() ?? null,
      email.messageId,
      json(email.inReplyTo),
      json(email.references),
      email.subject,
      email.baseSubject,
      json(email.from),
      json(email.sender),
      json(email.replyTo),
      json(email.to),
      json(email.cc),
      json(email.bcc),
      email.preview,
      email.hasAttachment ? 1 : 0,
      email.mime,
      modseq,
      modseq,
      email.imap?.envelope ?? null,
      email.imap?.bodyStructure ?? null,
    );
    for (const keyword of new Set(email.keywords.map((k) => k.toLowerCase()))) {
      this.#sql.run("INSERT INTO email_keywords (email_id, keyword) VALUES (?, ?)", id, keyword);
    }
    const memberships: Membership[] = [];
    for (const mailboxId of new Set(mailboxIds)) {
      const mailbox = this.#sql.get(
        "SELECT uid_next FROM mailboxes WHERE id = ? AND account_id = ?",
        mailboxId,
        email.accountId,
      );
      if (!mailbox) throw new StoreError("not_found", `no mailbox with id ${mailboxId}`);
      const uid = mailbox.uid_next as number;
      this.#sql.run(
        "UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?",
        uid + 1,
        modseq,
        mailboxId,
      );
      this.#sql.run(
        `INSERT INTO mailbox_messages (mailbox_id, uid, email_id, modseq, saved_at)
         VALUES (?, ?, ?, ?, ?)`,
        mailboxId,
        uid,
        id,
        modseq,
        now,
      );
      this.#logChange(email.accountId, modseq, "Mailbox", mailboxId, "updated");
      memberships.push({ mailboxId, uid, modseq });
    }
    this.#sql.run(
      "INSERT INTO email_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
      id,
      email.fts.subject,
      email.fts.addresses,
      email.fts.body,
    );
    this.#sql.run(
      "UPDATE principals SET used_bytes = used_bytes + ? WHERE id = ?",
      email.size,
      email.accountId,
    );
    this.#logChange(email.accountId, modseq, "Email", id, "created");
    return {
      id,
      accountId: email.accountId,
      threadId,
      blobHash: email.blobHash,
      size: email.size,
      receivedAt: email.receivedAt,
      subject: email.subject,
      keywords: [...new Set(email.keywords.map((k) => k.toLowerCase()))],
      memberships,
      modseq,
    };
  }

  /**
   * Threads by Message-ID: the message joins the thread of any message it references or that
   * references it; when it links several threads they are merged into the oldest.
   */
  #assignThread(email: NewEmail, modseq: number): number {
    const ids = [...new Set([email.messageId, ...email.inReplyTo, ...email.references])]
      .filter((id): id is string => !!id);
    const found = new Set<number>();
    for (const messageId of ids) {
      const row = this.#sql.get(
        "SELECT thread_id FROM thread_refs WHERE account_id = ? AND message_id = ?",
        email.accountId,
        messageId,
      );
      if (row) found.add(row.thread_id as number);
    }
    let threadId: number;
    if (found.size === 0) {
      threadId = nextId(this.#sql, "threads");
      this.#sql.run(
        "INSERT INTO threads (id, account_id) VALUES (?, ?)",
        threadId,
        email.accountId,
      );
      this.#logChange(email.accountId, modseq, "Thread", threadId, "created");
    } else {
      const sorted = [...found].sort((a, b) => a - b);
      threadId = sorted[0];
      for (const other of sorted.slice(1)) {
        for (const row of this.#sql.all("SELECT id FROM emails WHERE thread_id = ?", other)) {
          this.#sql.run(
            "UPDATE emails SET thread_id = ?, updated_modseq = ? WHERE id = ?",
            threadId,
            modseq,
            row.id,
          );
          this.#logChange(email.accountId, modseq, "Email", row.id as number, "updated");
        }
        this.#sql.run(
          "UPDATE thread_refs SET thread_id = ? WHERE account_id = ? AND thread_id = ?",
          threadId,
          email.accountId,
          other,
        );
        this.#sql.run("DELETE FROM threads WHERE id = ?", other);
        this.#logChange(email.accountId, modseq, "Thread", other, "destroyed");
      }
      this.#logChange(email.accountId, modseq, "Thread", threadId, "updated");
    }
    for (const messageId of ids) {
      this.#sql.run(
        `INSERT INTO thread_refs (account_id, message_id, thread_id) VALUES (?, ?, ?)
         ON CONFLICT (account_id, message_id) DO NOTHING`,
        email.accountId,
        messageId,
        threadId,
      );
    }
    return threadId;
  }

  #bumpModseq(accountId: number): number {
    const row = this.#sql.get(
      "UPDATE principals SET modseq = modseq + 1 WHERE id = ? RETURNING modseq",
      accountId,
    );
    if (!row) throw new StoreError("not_found", `no account with id ${accountId}`);
    return row.modseq as number;
  }

  #logChange(
    accountId: number,
    modseq: number,
    type: string,
    objectId: number,
    change: Change["change"],
  ) {
    this.#sql.run(
      `INSERT INTO changes (account_id, modseq, type, object_id, change) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET change = CASE
         WHEN changes.change = 'created' AND excluded.change = 'updated' THEN 'created'
         ELSE excluded.change END`,
      accountId,
      modseq,
      type,
      objectId,
      change,
    );
  }

  emailsByMessageId(accountId: number, messageId: string): Promise<StoredEmail[]> {
    return attempt(() => {
      // thread_refs finds the thread by its index; the thread's emails are few.
      const rows = this.#sql.all(
        `SELECT e.* FROM thread_refs t
           JOIN emails e ON e.account_id = t.account_id AND e.thread_id = t.thread_id
          WHERE t.account_id = ? AND t.message_id = ? AND e.message_id = ?`,
        accountId,
        messageId,
        messageId,
      );
      return this.#toStoredEmails(rows);
    });
  }

  getEmail(accountId: number, id: number): Promise<StoredEmail | null> {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT * FROM emails WHERE id = ? AND account_id = ?",
        id,
        accountId,
      );
      return row ? this.#toStoredEmails([row])[0] : null;
    });
  }

  listEmails(accountId: number): Promise<StoredEmail[]> {
    return attempt(() =>
      this.#toStoredEmails(
        this.#sql.all("SELECT * FROM emails WHERE account_id = ? ORDER BY id", accountId),
      )
    );
  }

  #toStoredEmails(rows: Row[]): StoredEmail[] {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id as number);
    const placeholders = ids.map(() => "?").join(",");
    const keywords = new Map<number, string[]>();
    for (
      const row of this.db.prepare(
        `SELECT email_id, keyword FROM email_keywords WHERE email_id IN (${placeholders})`,
      ).all(...ids) as Row[]
    ) {
      const list = keywords.get(row.email_id as number) ?? [];
      list.push(row.keyword as string);
      keywords.set(row.email_id as number, list);
    }
    const memberships = new Map<number, Membership[]>();
    for (
      const row of this.db.prepare(
        `SELECT email_id, mailbox_id, uid, modseq FROM mailbox_messages
         WHERE email_id IN (${placeholders}) ORDER BY mailbox_id`,
      ).all(...ids) as Row[]
    ) {
      const list = memberships.get(row.email_id as number) ?? [];
      list.push({
        mailboxId: row.mailbox_id as number,
        uid: row.uid as number,
        modseq: row.modseq as number,
      });
      memberships.set(row.email_id as number, list);
    }
    return rows.map((row) => ({
      id: row.id as number,
      accountId: row.account_id as number,
      threadId: row.thread_id as number,
      blobHash: row.blob_hash as string,
      size: row.size as number,
      receivedAt: new Date(row.received_at as number),
      subject: row.subject as string,
      keywords: keywords.get(row.id as number) ?? [],
      memberships: memberships.get(row.id as number) ?? [],
      modseq: row.updated_modseq as number,
    }));
  }

  changesSince(accountId: number, modseq: number, limit = 10_000): Promise<Change[]> {
    return attempt(() =>
      this.#sql.all(
        `SELECT modseq, type, object_id, change FROM changes
         WHERE account_id = ? AND modseq > ? ORDER BY modseq, type, object_id LIMIT ?`,
        accountId,
        modseq,
        limit,
      ).map((row) => ({
        modseq: row.modseq as number,
        type: row.type as string,
        objectId: row.object_id as number,
        change: row.change as Change["change"],
      }))
    );
  }

  emailContent(accountId: number, emailId: number): Promise<EmailContent | null> {
    return attempt(() => {
      const row = this.#sql.get(
        `SELECT blob_hash, mime, preview, imap_envelope, imap_bodystructure
         FROM emails WHERE id = ? AND account_id = ?`,
        emailId,
        accountId,
      );
      if (!row) return null;
      const envelope = row.imap_envelope as string | null;
      const bodyStructure = row.imap_bodystructure as string | null;
      return {
        blobHash: row.blob_hash as string,
        mime: row.mime as string,
        preview: row.preview as string,
        imap: envelope !== null && bodyStructure !== null ? { envelope, bodyStructure } : null,
      };
    });
  }

  searchFields(accountId: number, emailIds: number[]): Promise<SearchFields[]> {
    return attempt(() => {
      const columns = `id, subject, base_subject, message_id, in_reply_to, references_, from_,
        to_, cc, bcc, sent_at, blob_hash`;
      if (emailIds.length > 2000) {
        // Most of a big mailbox (SORT, THREAD, SEARCH SENTBEFORE over 1:*): one scan of the
        // account's emails beats a query per 500 ids.
        const wanted = new Set(emailIds);
        return this.#sql.arrays(`SELECT ${columns} FROM emails WHERE account_id = ?`, accountId)
          .filter((row) => wanted.has(row[0] as number))
          .map((row) => new StoredSearchFields(row));
      }
      const out: SearchFields[] = [];
      // In slices, so the statement text (and the statement cache) stays bounded.
      for (let i = 0; i < emailIds.length; i += 500) {
        const slice = emailIds.slice(i, i + 500);
        const statement = this.db.prepare(
          `SELECT ${columns} FROM emails
           WHERE account_id = ? AND id IN (${slice.map(() => "?").join(",")})`,
        );
        (statement as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
        for (const row of statement.all(accountId, ...slice) as unknown as unknown[][]) {
          out.push(new StoredSearchFields(row));
        }
      }
      return out;
    });
  }

  fullTextMatch(accountId: number, field: FullTextField, text: string): Promise<Set<number>> {
    return attempt(() => {
      const words = text.match(/[\p{L}\p{N}]+/gu) ?? [];
      if (words.length === 0) {
        // Nothing indexable (punctuation only): every email matches, as a substring would.
        return new Set(
          this.#sql.all("SELECT id FROM emails WHERE account_id = ?", accountId)
            .map((row) => row.id as number),
        );
      }
      const column = field ? `${field} : ` : "";
      const query = words.map((word) => `${column}"${word.replaceAll('"', '""')}"*`).join(" AND ");
      const rows = this.#sql.all(
        `SELECT e.id FROM email_fts f JOIN emails e ON e.id = f.rowid
         WHERE email_fts MATCH ? AND e.account_id = ?`,
        query,
        accountId,
      );
      return new Set(rows.map((row) => row.id as number));
    });
  }

  headerContains(accountId: number, field: HeaderField, needle: string): Promise<Set<number>> {
    return attempt(() => {
      if (/[^\x20-\x7e]/.test(needle)) {
        throw new StoreError("invalid", "headerContains takes printable ASCII only");
      }
      const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      // SQLite's LIKE folds ASCII case only: exactly JavaScript's toLowerCase().includes() for
      // an ASCII needle (bar exotic letters that lower-case into ASCII, like the Kelvin sign).
      const rows = field === "subject"
        ? this.#sql.all(
          "SELECT id FROM emails WHERE account_id = ? AND subject LIKE ? ESCAPE '\\'",
          accountId,
          pattern,
        )
        : this.#sql.all(
          `SELECT e.id FROM emails e WHERE e.account_id = ? AND EXISTS (
             SELECT 1 FROM json_each(e.${ADDRESS_COLUMNS[field]}) a
             WHERE coalesce(a.value ->> 'name', '') || ' <' || coalesce(a.value ->> 'email', '')
               || '>' LIKE ? ESCAPE '\\')`,
          accountId,
          pattern,
        );
      return new Set(rows.map((row) => row.id as number));
    });
  }

  collectBlobs(remove: (hash: string) => void): Promise<number> {
    return attempt(() => {
      // The rows go in a full commit before any file: it also makes durable the relaxed
      // commits (expunges) that dropped the references, so no email can come back after a
      // crash pointing at a removed file.
      const hashes = this.#sql.transaction(() => {
        const rows = this.#sql.all("SELECT hash FROM blobs WHERE refcount <= 0");
        for (const row of rows) this.#sql.run("DELETE FROM blobs WHERE hash = ?", row.hash);
        return rows.map((row) => row.hash as string);
      });
      for (const hash of hashes) remove(hash);
      return hashes.length;
    });
  }

  blobKnown(hash: string): Promise<boolean> {
    return attempt(() => !!this.#sql.get("SELECT 1 FROM blobs WHERE hash = ?", hash));
  }

  // ---- outbound queue (sqlite/queue.ts) ----

  enqueue(message: NewQueuedMessage): Promise<QueuedMessage> {
    return attempt(() => this.#queue.enqueue(message));
  }

  claimDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    return attempt(() => this.#queue.claimDue(now, limit, leaseMs));
  }

  recordAttempts(results: AttemptResult[], at: Date): Promise<void> {
    return attempt(() => this.#queue.recordAttempts(results, at));
  }

  markDelayNotified(messageId: number): Promise<void> {
    return attempt(() => this.#queue.markDelayNotified(messageId));
  }

  removeFinished(messageId: number): Promise<boolean> {
    return attempt(() => this.#queue.removeFinished(messageId));
  }

  releaseLeases(): Promise<void> {
    return attempt(() => this.#queue.releaseLeases());
  }

  getQueued(id: number): Promise<QueuedMessage | null> {
    return attempt(() => this.#queue.get(id));
  }

  listQueue(): Promise<QueuedMessage[]> {
    return attempt(() => this.#queue.list());
  }

  queueCounts(): Promise<{ messages: number; recipients: number }> {
    return attempt(() => this.#queue.counts());
  }

  retryQueued(now: Date, messageId?: number): Promise<number> {
    return attempt(() => this.#queue.retry(now, messageId));
  }

  deleteQueued(id: number): Promise<boolean> {
    return attempt(() => this.#queue.delete(id));
  }

  nextQueueDue(now: Date): Promise<Date | null> {
    return attempt(() => this.#queue.nextDue(now));
  }

  // ---- JMAP (email_ops.ts) ----

  accountModseq(accountId: number): Promise<number> {
    return attempt(() => this.#emails.accountModseq(accountId));
  }

  changesOfTypes(accountId: number, types: string[], modseq: number, limit: number) {
    return attempt(() => this.#emails.changesOfTypes(accountId, types, modseq, limit));
  }

  jmapEmails(accountId: number, ids: number[], options: { mime?: boolean } = {}) {
    return attempt(() => this.#emails.jmapEmails(accountId, ids, options.mime ?? true));
  }

  emailListing(accountId: number, ids?: number[]) {
    return attempt(() => this.#emails.emailListing(accountId, ids));
  }

  updateEmails(accountId: number, updates: EmailUpdate[]) {
    return attempt(() => this.#emails.updateEmails(accountId, updates));
  }

  destroyEmails(accountId: number, ids: number[]) {
    return attempt(() => this.#emails.destroyEmails(accountId, ids));
  }

  threadEmails(accountId: number, threadIds: number[]) {
    return attempt(() => this.#emails.threadEmails(accountId, threadIds));
  }

  mailboxCounts(accountId: number) {
    return attempt(() => this.#emails.mailboxCounts(accountId));
  }

  updateMailbox(accountId: number, mailboxId: number, update: MailboxUpdate) {
    return attempt(() => this.#emails.updateMailbox(accountId, mailboxId, update));
  }

  fullTextCandidates(field: FullTextField, text: string): Promise<number[] | null> {
    return attempt(() => {
      const query = ftsQuery(field, text);
      if (query === null) return null; // nothing indexable: every email matches
      return this.#sql.arrays("SELECT rowid FROM email_fts WHERE email_fts MATCH ?", query)
        .map((row) => row[0] as number);
    });
  }

  fullTextPage(
    field: FullTextField,
    text: string,
    from: number,
    limit: number,
    descending: boolean,
  ): Promise<number[] | null> {
    return attempt(() => {
      const query = ftsQuery(field, text);
      if (query === null) return null;
      // FTS5 walks its doclists in rowid order either way: a page costs the page.
      const sql = descending
        ? "SELECT rowid FROM email_fts WHERE email_fts MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?"
        : "SELECT rowid FROM email_fts WHERE email_fts MATCH ? AND rowid > ? ORDER BY rowid LIMIT ?";
      return this.#sql.arrays(sql, query, from, limit).map((row) => row[0] as number);
    });
  }

  emailContentByBlob(accountId: number, hash: string) {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT mime FROM emails WHERE blob_hash = ? AND account_id = ? LIMIT 1",
        hash,
        accountId,
      );
      return row ? { mime: row.mime as string } : null;
    });
  }

  accountHasBlob(accountId: number, hash: string) {
    return attempt(() => this.#emails.accountHasBlob(accountId, hash));
  }

  addUpload(accountId: number, upload: Upload, written: boolean) {
    return attempt(() => this.#emails.addUpload(accountId, upload, written));
  }

  getUpload(accountId: number, hash: string) {
    return attempt(() => this.#emails.getUpload(accountId, hash));
  }

  expireUploads(now: Date) {
    return attempt(() => this.#emails.expireUploads(now));
  }

  listObjects(accountId: number, type: string) {
    return attempt(() => this.#emails.listObjects(accountId, type));
  }

  putObject(accountId: number, type: string, id: number | null, data: string) {
    return attempt(() => this.#emails.putObject(accountId, type, id, data));
  }

  deleteObject(accountId: number, type: string, id: number) {
    return attempt(() => this.#emails.deleteObject(accountId, type, id));
  }

  integrityCheck(): Promise<string> {
    return attempt(() =>
      this.#sql.all("PRAGMA integrity_check").map((row) => Object.values(row)[0]).join("\n")
    );
  }

  // ---- API tokens (src/directory/tokens.ts) and blob lookups (src/jmap/blob.ts) ----

  createApiKey(
    accountId: number,
    label: string,
    secretHash: string,
  ): Promise<import("../types.ts").ApiKey> {
    return attempt(() => {
      const createdAt = Date.now();
      const id = Number(
        this.#sql.run(
          `INSERT INTO credentials (principal_id, kind, label, secret, created_at)
           VALUES (?, 'api_key', ?, ?, ?)`,
          accountId,
          label,
          secretHash,
          createdAt,
        ).lastInsertRowid,
      );
      return { id, accountId, label, createdAt: new Date(createdAt), lastUsedAt: null };
    });
  }

  listApiKeys(accountId: number): Promise<import("../types.ts").ApiKey[]> {
    return attempt(() =>
      this.#sql.all(
        `SELECT * FROM credentials WHERE principal_id = ? AND kind = 'api_key' ORDER BY id`,
        accountId,
      ).map((row) => {
        const { secretHash: _, ...key } = toApiKey(row);
        return key;
      })
    );
  }

  getApiKey(id: number): Promise<import("../types.ts").StoredApiKey | null> {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT * FROM credentials WHERE id = ? AND kind = 'api_key'",
        id,
      );
      return row ? toApiKey(row) : null;
    });
  }

  deleteApiKey(id: number): Promise<boolean> {
    return attempt(() =>
      Number(
        this.#sql.run("DELETE FROM credentials WHERE id = ? AND kind = 'api_key'", id).changes,
      ) > 0
    );
  }

  touchApiKey(id: number, at: Date): Promise<void> {
    return attempt(() => {
      this.#sql.run(
        "UPDATE credentials SET last_used_at = ? WHERE id = ? AND kind = 'api_key'",
        at.getTime(),
        id,
      );
    });
  }

  // ---- app passwords (src/directory/app_passwords.ts) ----

  createAppPassword(
    accountId: number,
    name: string,
    hash: string,
  ): Promise<import("../types.ts").AppPassword> {
    return attempt(() => {
      const createdAt = Date.now();
      const id = Number(
        this.#sql.run(
          `INSERT INTO credentials (principal_id, kind, label, secret, created_at)
           VALUES (?, 'app_password', ?, ?, ?)`,
          accountId,
          name,
          hash,
          createdAt,
        ).lastInsertRowid,
      );
      return { id, accountId, name, createdAt: new Date(createdAt), lastUsedAt: null };
    });
  }

  listAppPasswords(accountId: number): Promise<import("../types.ts").AppPassword[]> {
    return attempt(() =>
      this.#sql.all(
        `SELECT * FROM credentials WHERE principal_id = ? AND kind = 'app_password' ORDER BY id`,
        accountId,
      ).map((row) => {
        const { hash: _, ...appPassword } = toAppPassword(row);
        return appPassword;
      })
    );
  }

  getAppPassword(id: number): Promise<import("../types.ts").StoredAppPassword | null> {
    return attempt(() => {
      const row = this.#sql.get(
        "SELECT * FROM credentials WHERE id = ? AND kind = 'app_password'",
        id,
      );
      return row ? toAppPassword(row) : null;
    });
  }

  deleteAppPassword(accountId: number, id: number): Promise<boolean> {
    return attempt(() =>
      Number(
        this.#sql.run(
          "DELETE FROM credentials WHERE id = ? AND principal_id = ? AND kind = 'app_password'",
          id,
          accountId,
        ).changes,
      ) > 0
    );
  }

  touchAppPassword(id: number, at: Date): Promise<void> {
    return attempt(() => {
      this.#sql.run(
        "UPDATE credentials SET last_used_at = ? WHERE id = ? AND kind = 'app_password'",
        at.getTime(),
        id,
      );
    });
  }

  // ---- two-step sign-in (src/directory/totp.ts) ----

  getTotpSecret(accountId: number): Promise<import("../types.ts").TotpSecret | null> {
    return attempt(() => {
      const row = this.#sql.get("SELECT * FROM totp_secrets WHERE principal_id = ?", accountId);
      if (!row) return null;
      return {
        secret: new Uint8Array(row.secret as Uint8Array),
        lastStep: row.last_step as number,
        createdAt: new Date(row.created_at as number),
      };
    });
  }

  setTotpSecret(accountId: number, secret: Uint8Array, lastStep: number): Promise<void> {
    return attempt(() => {
      this.#sql.run(
        `INSERT INTO totp_secrets (principal_id, secret, last_step, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (principal_id) DO UPDATE
           SET secret = excluded.secret, last_step = excluded.last_step,
               created_at = excluded.created_at`,
        accountId,
        secret,
        lastStep,
        Date.now(),
      );
    });
  }

  deleteTotpSecret(accountId: number): Promise<boolean> {
    return attempt(() =>
      Number(this.#sql.run("DELETE FROM totp_secrets WHERE principal_id = ?", accountId).changes) >
        0
    );
  }

  acceptTotpStep(accountId: number, step: number): Promise<boolean> {
    return attempt(() =>
      Number(
        this.#sql.run(
          "UPDATE totp_secrets SET last_step = ? WHERE principal_id = ? AND last_step < ?",
          step,
          accountId,
          step,
        ).changes,
      ) > 0
    );
  }

  listTotpAccountIds(): Promise<number[]> {
    return attempt(() =>
      this.#sql.all("SELECT principal_id FROM totp_secrets ORDER BY principal_id")
        .map((row) => row.principal_id as number)
    );
  }

  emailsByBlob(accountId: number, hashes: string[]): Promise<import("../types.ts").EmailBlobRef[]> {
    return attempt(() => {
      const unique = [...new Set(hashes)];
      if (unique.length === 0) return [];
      const refs = new Map<number, import("../types.ts").EmailBlobRef>();
      for (let i = 0; i < unique.length; i += 500) {
        const slice = unique.slice(i, i + 500);
        const marks = slice.map(() => "?").join(",");
        for (
          const row of this.#sql.db.prepare(
            `SELECT e.id, e.blob_hash, e.thread_id, m.mailbox_id FROM emails e
             LEFT JOIN mailbox_messages m ON m.email_id = e.id
             WHERE e.account_id = ? AND e.blob_hash IN (${marks}) ORDER BY e.id, m.mailbox_id`,
          ).all(accountId, ...slice)
        ) {
          const emailId = row.id as number;
          let ref = refs.get(emailId);
          if (!ref) {
            ref = {
              emailId,
              blobHash: row.blob_hash as string,
              threadId: row.thread_id as number,
              mailboxIds: [],
            };
            refs.set(emailId, ref);
          }
          if (row.mailbox_id !== null) ref.mailboxIds.push(row.mailbox_id as number);
        }
      }
      return [...refs.values()];
    });
  }

  // ---- Sieve scripts (src/sieve/scripts.ts) ----

  listSieveScripts(accountId: number): Promise<import("../types.ts").SieveScriptEntry[]> {
    return attempt(() =>
      this.#sql.all(
        `SELECT id, name, active, length(CAST(content AS BLOB)) AS size, updated_at
         FROM sieve_scripts WHERE account_id = ? ORDER BY CAST(name AS BLOB)`,
        accountId,
      ).map((row) => ({
        id: row.id as number,
        name: row.name as string,
        active: row.active === 1,
        size: row.size as number,
        updatedAt: new Date(row.updated_at as number),
      }))
    );
  }

  getSieveScript(
    accountId: number,
    name: string,
  ): Promise<import("../types.ts").SieveScript | null> {
    return attempt(() => {
      const row = this.#sql.get(
        `SELECT *, length(CAST(content AS BLOB)) AS size FROM sieve_scripts
         WHERE account_id = ? AND name = ?`,
        accountId,
        name,
      );
      return row ? toSieveScript(row) : null;
    });
  }

  getActiveSieveScript(accountId: number): Promise<import("../types.ts").SieveScript | null> {
    return attempt(() => {
      const row = this.#sql.get(
        `SELECT *, length(CAST(content AS BLOB)) AS size FROM sieve_scripts
         WHERE account_id = ? AND active = 1`,
        accountId,
      );
      return row ? toSieveScript(row) : null;
    });
  }

  putSieveScript(
    accountId: number,
    name: string,
    content: string,
    maxScripts: number,
  ): Promise<{ created: boolean; id: number }> {
    return attempt(() =>
      this.#sql.transaction(() => {
        const now = Date.now();
        const updated = this.#sql.get(
          `UPDATE sieve_scripts SET content = ?, updated_at = ? WHERE account_id = ? AND name = ?
           RETURNING id`,
          content,
          now,
          accountId,
          name,
        );
        if (updated) {
          this.#logSieveChange(accountId, updated.id as number, "updated");
          return { created: false, id: updated.id as number };
        }
        const count = this.#sql.get(
          "SELECT count(*) AS n FROM sieve_scripts WHERE account_id = ?",
          accountId,
        )!.n as number;
        if (count >= maxScripts) {
          throw new StoreError("quota", `the account already has ${count} Sieve scripts`);
        }
        // A JMAP id is never reused: above every row and every id the change log still names.
        const id = this.#sql.get(
          `SELECT max(
             coalesce((SELECT max(id) FROM sieve_scripts), 0),
             coalesce((SELECT max(object_id) FROM changes
                       WHERE account_id = ? AND type = 'SieveScript'), 0)) + 1 AS id`,
          accountId,
        )!.id as number;
        this.#sql.run(
          `INSERT INTO sieve_scripts (id, account_id, name, content, active, created_at, updated_at)
           VALUES (?, ?, ?, ?, 0, ?, ?)`,
          id,
          accountId,
          name,
          content,
          now,
          now,
        );
        this.#logSieveChange(accountId, id, "created");
        return { created: true, id };
      })
    );
  }

  renameSieveScript(accountId: number, from: string, to: string): Promise<void> {
    return attempt(() =>
      this.#sql.transaction(() => {
        const exists = (name: string) =>
          this.#sql.get(
            "SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?",
            accountId,
            name,
          ) !== undefined;
        if (!exists(from)) throw new StoreError("not_found", "no such Sieve script");
        if (exists(to)) throw new StoreError("conflict", "a Sieve script has that name");
        const row = this.#sql.get(
          `UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE account_id = ? AND name = ?
           RETURNING id`,
          to,
          Date.now(),
          accountId,
          from,
        )!;
        this.#logSieveChange(accountId, row.id as number, "updated");
      })
    );
  }

  deleteSieveScript(
    accountId: number,
    name: string,
  ): Promise<"deleted" | "not_found" | "active"> {
    return attempt(() =>
      this.#sql.transaction(() => {
        const row = this.#sql.get(
          "SELECT id, active FROM sieve_scripts WHERE account_id = ? AND name = ?",
          accountId,
          name,
        );
        if (!row) return "not_found" as const;
        if (row.active === 1) return "active" as const;
        this.#sql.run(
          "DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?",
          accountId,
          name,
        );
        this.#logSieveChange(accountId, row.id as number, "destroyed");
        return "deleted" as const;
      })
    );
  }

  setActiveSieveScript(accountId: number, name: string | null): Promise<boolean> {
    return attempt(() =>
      this.#sql.transaction(() => {
        if (
          name !== null &&
          !this.#sql.get(
            "SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?",
            accountId,
            name,
          )
        ) {
          return false;
        }
        const before = this.#sql.get(
          "SELECT id, name FROM sieve_scripts WHERE account_id = ? AND active = 1",
          accountId,
        );
        if ((before?.name ?? null) === name) return true;
        this.#sql.run(
          "UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1",
          accountId,
        );
        if (before) this.#logSieveChange(accountId, before.id as number, "updated");
        if (name !== null) {
          const after = this.#sql.get(
            "UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ? RETURNING id",
            accountId,
            name,
          )!;
          this.#logSieveChange(accountId, after.id as number, "updated");
        }
        return true;
      })
    );
  }

  /** One modseq per script change (JMAP SieveScript/changes), inside the caller's transaction. */
  #logSieveChange(accountId: number, id: number, change: Change["change"]): void {
    this.#logChange(accountId, this.#bumpModseq(accountId), "SieveScript", id, change);
  }
}

function toSieveScript(row: Row): import("../types.ts").SieveScript {
  return {
    id: row.id as number,
    name: row.name as string,
    content: row.content as string,
    active: row.active === 1,
    size: row.size as number,
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
}

function toApiKey(row: Row): import("../types.ts").StoredApiKey {
  return {
    id: row.id as number,
    accountId: row.principal_id as number,
    label: row.label as string,
    createdAt: new Date(row.created_at as number),
    lastUsedAt: row.last_used_at == null ? null : new Date(row.last_used_at as number),
    secretHash: row.secret as string,
  };
}

function toAppPassword(row: Row): import("../types.ts").StoredAppPassword {
  return {
    id: row.id as number,
    accountId: row.principal_id as number,
    name: row.label as string,
    createdAt: new Date(row.created_at as number),
    lastUsedAt: row.last_used_at == null ? null : new Date(row.last_used_at as number),
    hash: row.secret as string,
  };
}

/** An FTS5 query matching every word of `text` as a prefix, or null when it has no word. */
function ftsQuery(field: FullTextField, text: string): string | null {
  const words = text.match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) return null;
  const column = field ? `${field} : ` : "";
  return words.map((word) => `${column}"${word.replaceAll('"', '""')}"*`).join(" AND ");
}

function toDomain(row: Row): Domain {
  return {
    id: row.id as number,
    name: row.name as string,
    createdAt: new Date(row.created_at as number),
  };
}

function toAccount(row: Row): Account {
  return {
    id: row.id as number,
    address: row.name as string,
    domainId: row.domain_id as number,
    displayName: row.display_name as string,
    quota: row.quota as number,
    usedBytes: row.used_bytes as number,
    disabled: row.disabled === 1,
    createdAt: new Date(row.created_at as number),
  };
}

function toAlias(row: Row): Alias {
  return { id: row.id as number, address: row.address as string, target: row.target as string };
}
