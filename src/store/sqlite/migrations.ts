/**
 * Numbered, forward-only schema migrations. Each runs in its own transaction and bumps
 * PRAGMA user_version; a database whose version is newer than the last migration here was written
 * by a newer Postern and is refused. Never edit a migration that has shipped: add a new one.
 */
import type { DatabaseSync } from "node:sqlite";

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description:
      "mail model: directory, mailboxes, emails, memberships, threads, changes, blobs, FTS",
    sql: `
      CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at INTEGER NOT NULL
      );

      -- Users, groups and lists. For users, name is the login address (local@domain).
      CREATE TABLE principals (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('user', 'group', 'list')),
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        display_name TEXT NOT NULL DEFAULT '',
        quota INTEGER NOT NULL DEFAULT 0,          -- bytes; 0 = unlimited
        used_bytes INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        modseq INTEGER NOT NULL DEFAULT 0,         -- per-account change counter (JMAP state, IMAP MODSEQ)
        created_at INTEGER NOT NULL
      );

      CREATE TABLE credentials (
        id INTEGER PRIMARY KEY,
        principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('password', 'app_password', 'api_key')),
        label TEXT NOT NULL DEFAULT '',
        secret TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE INDEX credentials_principal ON credentials(principal_id, kind);

      CREATE TABLE group_members (
        group_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        member_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, member_id)
      ) WITHOUT ROWID;

      -- address is local@domain, or @domain for a catch-all. target is an address.
      CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL COLLATE NOCASE,
        target TEXT NOT NULL COLLATE NOCASE,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        created_at INTEGER NOT NULL,
        UNIQUE (address, target)
      );

      CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        parent_id INTEGER NOT NULL DEFAULT 0,      -- 0 = top level
        name TEXT NOT NULL,                        -- leaf name, UTF-8
        role TEXT,                                 -- inbox, sent, drafts, junk, trash, archive
        uid_validity INTEGER NOT NULL,
        uid_next INTEGER NOT NULL DEFAULT 1,
        highest_modseq INTEGER NOT NULL DEFAULT 0,
        subscribed INTEGER NOT NULL DEFAULT 1,
        sort_order INTEGER NOT NULL DEFAULT 0,
        created_modseq INTEGER NOT NULL DEFAULT 0,
        updated_modseq INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, parent_id, name)
      );
      CREATE UNIQUE INDEX mailboxes_role ON mailboxes(account_id, role) WHERE role IS NOT NULL;

      CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,                     -- SHA-256, lowercase hex
        size INTEGER NOT NULL,
        refcount INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE
      );

      CREATE TABLE emails (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        blob_hash TEXT NOT NULL REFERENCES blobs(hash),
        thread_id INTEGER NOT NULL,
        size INTEGER NOT NULL,                     -- exact octets as stored
        received_at INTEGER NOT NULL,              -- ms since epoch (IMAP INTERNALDATE, JMAP receivedAt)
        sent_at INTEGER,                           -- Date header, ms since epoch
        message_id TEXT,
        in_reply_to TEXT,                          -- JSON array
        references_ TEXT,                          -- JSON array
        subject TEXT NOT NULL DEFAULT '',
        base_subject TEXT NOT NULL DEFAULT '',
        from_ TEXT,                                -- JSON [{name,email}]
        sender TEXT,
        reply_to TEXT,
        to_ TEXT,
        cc TEXT,
        bcc TEXT,
        preview TEXT NOT NULL DEFAULT '',
        has_attachment INTEGER NOT NULL DEFAULT 0,
        mime TEXT NOT NULL,                        -- JSON MIME tree with byte offsets
        created_modseq INTEGER NOT NULL,
        updated_modseq INTEGER NOT NULL
      );
      CREATE INDEX emails_account_thread ON emails(account_id, thread_id);
      CREATE INDEX emails_account_received ON emails(account_id, received_at);
      CREATE INDEX emails_blob ON emails(blob_hash);

      CREATE TABLE email_keywords (
        email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
        keyword TEXT NOT NULL,
        PRIMARY KEY (email_id, keyword)
      ) WITHOUT ROWID;

      -- One row per (mailbox, email): the IMAP view. An email can sit in several mailboxes.
      CREATE TABLE mailbox_messages (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        email_id INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
        modseq INTEGER NOT NULL,
        saved_at INTEGER NOT NULL,                 -- IMAP SAVEDATE
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX mailbox_messages_email ON mailbox_messages(email_id);
      CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);

      -- Expunged UIDs with the modseq of their removal (IMAP QRESYNC VANISHED).
      CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;

      -- Message-IDs seen per account (a message's own id and those it references) → thread.
      CREATE TABLE thread_refs (
        account_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        thread_id INTEGER NOT NULL,
        PRIMARY KEY (account_id, message_id)
      ) WITHOUT ROWID;
      CREATE INDEX thread_refs_thread ON thread_refs(account_id, thread_id);

      -- Change log: answers JMAP /changes, IMAP CONDSTORE/QRESYNC and DAV sync tokens.
      CREATE TABLE changes (
        account_id INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        type TEXT NOT NULL,                        -- Email, Mailbox, Thread, ...
        object_id INTEGER NOT NULL,
        change TEXT NOT NULL CHECK (change IN ('created', 'updated', 'destroyed')),
        PRIMARY KEY (account_id, modseq, type, object_id)
      ) WITHOUT ROWID;

      CREATE VIRTUAL TABLE email_fts USING fts5(
        subject, addresses, body,
        content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
      );
    `,
  },
  {
    version: 2,
    description: "DKIM signing keys per domain",
    sql: `
      CREATE TABLE dkim_keys (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
        private_key TEXT NOT NULL,                 -- PKCS#8 PEM
        public_key TEXT NOT NULL,                  -- base64, as published in the p= tag
        created_at INTEGER NOT NULL,
        UNIQUE (domain_id, selector)
      );
    `,
  },
  {
    version: 3,
    description: "outbound queue: messages and per-recipient delivery state",
    sql: `
      CREATE TABLE queue_messages (
        id INTEGER PRIMARY KEY,
        blob_hash TEXT NOT NULL,                   -- holds one reference in blobs.refcount
        size INTEGER NOT NULL,
        return_path TEXT NOT NULL,                 -- '' = null reverse-path
        envelope_id TEXT,                          -- RFC 3461 ENVID (decoded)
        ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
        body TEXT NOT NULL CHECK (body IN ('7BIT', '8BITMIME', 'BINARYMIME')),
        smtputf8 INTEGER NOT NULL,
        require_tls INTEGER NOT NULL,
        source TEXT NOT NULL,
        arrived_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        delay_notified INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE queue_recipients (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        orcpt TEXT,
        notify TEXT NOT NULL DEFAULT '',           -- comma-separated RFC 3461 NOTIFY values
        status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,    -- a worker holds it until then
        last_attempt_at INTEGER,
        last_reply TEXT,
        last_host TEXT
      );
      CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt_at);
      CREATE INDEX queue_recipients_message ON queue_recipients(message_id);
    `,
  },
  {
    version: 4,
    description: "IMAP ENVELOPE and BODYSTRUCTURE computed at delivery (NULL: computed on FETCH)",
    sql: `
      ALTER TABLE emails ADD COLUMN imap_envelope TEXT;       -- byte string, without the parentheses
      ALTER TABLE emails ADD COLUMN imap_bodystructure TEXT;  -- byte string, extension data included
    `,
  },
  {
    version: 5,
    description: "covering index for listing a mailbox without reading the (wide) email rows",
    sql: `
      CREATE INDEX emails_listing ON emails(id, size, received_at, thread_id);
    `,
  },
  {
    version: 6,
    description: "JMAP: uploads and objects kept as JSON (identities, submissions, vacation, push)",
    sql: `
      -- Blobs uploaded through JMAP; each holds one blob reference until it expires.
      CREATE TABLE uploads (
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        blob_hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        type TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, blob_hash)
      ) WITHOUT ROWID;
      CREATE INDEX uploads_expiry ON uploads(expires_at);

      CREATE TABLE jmap_objects (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        type TEXT NOT NULL,                        -- Identity, EmailSubmission, ...
        data TEXT NOT NULL                         -- JSON
      );
      CREATE INDEX jmap_objects_account ON jmap_objects(account_id, type);
    `,
  },
  {
    version: 7,
    description: "covering index for JMAP's account listing (no wide email rows read)",
    sql: `
      CREATE INDEX emails_jmap_listing
        ON emails(account_id, id, thread_id, received_at, size, sent_at, has_attachment);
    `,
  },
  {
    version: 8,
    description: "ids of emails, threads, mailboxes and JMAP objects are never reused",
    sql: `
      -- The next id per table (sql.ts nextId). SQLite alone reuses the highest id once its row
      -- is deleted; JMAP ids must never name two different objects.
      CREATE TABLE id_counters (
        name TEXT PRIMARY KEY,
        next INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO id_counters SELECT 'emails', coalesce(max(id), 0) + 1 FROM emails;
      INSERT INTO id_counters SELECT 'threads', coalesce(max(id), 0) + 1 FROM threads;
      INSERT INTO id_counters SELECT 'mailboxes', coalesce(max(id), 0) + 1 FROM mailboxes;
      INSERT INTO id_counters SELECT 'jmap_objects', coalesce(max(id), 0) + 1 FROM jmap_objects;
    `,
  },
  {
    version: 9,
    description: "Sieve scripts per account (ManageSieve), at most one of them active",
    sql: `
      CREATE TABLE sieve_scripts (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        name TEXT NOT NULL,                        -- NFC, compared octet by octet (RFC 5804 1.6)
        content TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (account_id, name)
      );
      -- One active script per account (RFC 5804 2.8).
      CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(account_id) WHERE active = 1;
    `,
  },
  {
    version: 10,
    description: "DAV: calendars, address books and files as one tree of nodes per account",
    sql: `
      CREATE TABLE dav_nodes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES dav_nodes(id) ON DELETE CASCADE, -- NULL: a root
        name TEXT NOT NULL,                        -- NFC (src/dav/paths.ts)
        kind TEXT NOT NULL,                        -- root, collection, calendar, ..., resource
        content_type TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        blob_hash TEXT,                            -- files
        content TEXT,                              -- calendar and address objects
        etag TEXT,
        uid TEXT,
        component TEXT,
        time_start INTEGER,
        time_end INTEGER,
        props TEXT,                                -- JSON: Clark name -> XML
        modseq INTEGER NOT NULL,                   -- collections: CTag and sync base
        sync_floor INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX dav_nodes_name ON dav_nodes(account_id, coalesce(parent_id, 0), name);
      CREATE INDEX dav_nodes_parent ON dav_nodes(parent_id, modseq);
      CREATE INDEX dav_nodes_uid ON dav_nodes(parent_id, uid) WHERE uid IS NOT NULL;
      CREATE INDEX dav_nodes_blob ON dav_nodes(blob_hash) WHERE blob_hash IS NOT NULL;

      -- Members removed from a collection, for sync-collection (RFC 6578).
      CREATE TABLE dav_tombstones (
        collection_id INTEGER NOT NULL REFERENCES dav_nodes(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        modseq INTEGER NOT NULL,
        removed_at INTEGER NOT NULL,
        PRIMARY KEY (collection_id, name)
      ) WITHOUT ROWID;
      CREATE INDEX dav_tombstones_modseq ON dav_tombstones(collection_id, modseq);

      -- A collection shared with another local account (RFC 3744 grant).
      CREATE TABLE dav_shares (
        collection_id INTEGER NOT NULL REFERENCES dav_nodes(id) ON DELETE CASCADE,
        sharee_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        access TEXT NOT NULL CHECK (access IN ('read', 'read-write')),
        PRIMARY KEY (collection_id, sharee_id)
      ) WITHOUT ROWID;
      CREATE INDEX dav_shares_sharee ON dav_shares(sharee_id);
    `,
  },
  {
    version: 11,
    description: "spam filter: classifier tokens, learnt messages, sender reputation, greylisting",
    sql: `
      -- Token counts of a classifier model: 0 is the global model, any other number an account.
      CREATE TABLE spam_tokens (
        model INTEGER NOT NULL,
        token INTEGER NOT NULL,                    -- 52-bit hash (src/spam/tokenize.ts)
        ham INTEGER NOT NULL DEFAULT 0,
        spam INTEGER NOT NULL DEFAULT 0,
        day INTEGER NOT NULL,                      -- days since 1970 when last learnt
        weight REAL NOT NULL DEFAULT 0,            -- logistic weight (global model only)
        wsum REAL NOT NULL DEFAULT 0,              -- Σ step·update, for the averaged weight
        PRIMARY KEY (model, token)
      ) WITHOUT ROWID;
      -- Messages learnt by each model.
      CREATE TABLE spam_models (
        model INTEGER PRIMARY KEY,
        ham INTEGER NOT NULL DEFAULT 0,
        spam INTEGER NOT NULL DEFAULT 0,
        bias REAL NOT NULL DEFAULT 0,              -- logistic bias (global model only)
        wbias REAL NOT NULL DEFAULT 0,             -- Σ step·update of the bias
        updates INTEGER NOT NULL DEFAULT 0         -- logistic steps taken
      );
      -- Which message (content hash) a model learnt as what, so a judgement counts once and a
      -- changed mind is unlearnt first.
      CREATE TABLE spam_learnt (
        model INTEGER NOT NULL,
        key TEXT NOT NULL,
        judgement TEXT NOT NULL CHECK (judgement IN ('spam', 'ham')),
        at INTEGER NOT NULL,
        delta REAL,                                -- the logistic step's update, to undo it
        step INTEGER,                              -- and its number
        PRIMARY KEY (model, key)
      ) WITHOUT ROWID;
      CREATE TRIGGER spam_models_gone AFTER DELETE ON principals BEGIN
        DELETE FROM spam_tokens WHERE model = old.id;
        DELETE FROM spam_models WHERE model = old.id;
        DELETE FROM spam_learnt WHERE model = old.id;
      END;
      -- Per-account reputation of sender addresses and domains.
      CREATE TABLE spam_senders (
        account_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
        identity TEXT NOT NULL,
        ham INTEGER NOT NULL DEFAULT 0,
        spam INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (account_id, identity)
      ) WITHOUT ROWID;
      -- Greylisting triplets (hashed network, sender, recipient).
      CREATE TABLE spam_greylist (
        key TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE INDEX spam_greylist_seen ON spam_greylist(last_seen);
    `,
  },
  {
    version: 12,
    description: "ACME: account keys per directory, issued certificates",
    sql: `
      CREATE TABLE acme_accounts (
        directory TEXT PRIMARY KEY,
        key_jwk TEXT NOT NULL,                     -- the account's private key (JWK)
        url TEXT NOT NULL DEFAULT '',              -- account URL, the JWS kid
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE acme_certificates (
        id INTEGER PRIMARY KEY,
        directory TEXT NOT NULL,
        names TEXT NOT NULL,                       -- JSON array, in order
        certificate_pem TEXT NOT NULL,             -- leaf first, then the chain
        key_pem TEXT NOT NULL,
        not_after INTEGER NOT NULL,
        issued_at INTEGER NOT NULL
      );
      CREATE INDEX acme_certificates_directory ON acme_certificates(directory, id);
    `,
  },
  {
    version: 13,
    description: "two-step sign-in: one TOTP secret per account (src/directory/totp.ts)",
    sql: `
      CREATE TABLE totp_secrets (
        principal_id INTEGER PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
        secret BLOB NOT NULL,                      -- the shared secret (20 bytes)
        last_step INTEGER NOT NULL DEFAULT 0,      -- the last time step accepted (no replays)
        created_at INTEGER NOT NULL
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export class SchemaTooNewError extends Error {
  constructor(readonly found: number) {
    super(
      `the database is at schema version ${found}, but this Postern only knows up to ` +
        `${LATEST_VERSION}: it was written by a newer Postern. Run that version, or restore a backup.`,
    );
  }
}

/** Applies pending migrations, each in its own transaction. Returns the versions applied. */
export function migrate(db: DatabaseSync): number[] {
  const current = (db.prepare("PRAGMA user_version").get() as { user_version: number })
    .user_version;
  if (current > LATEST_VERSION) throw new SchemaTooNewError(current);
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw new Error(`migration ${migration.version} (${migration.description}) failed`, {
        cause: error,
      });
    }
    applied.push(migration.version);
  }
  return applied;
}
